"""Execute notebooks top to bottom, each in a fresh kernel, within a time budget.

    python scripts/run_notebooks.py tutorials/*.ipynb tutorials/solutions/*.ipynb
    python scripts/run_notebooks.py --in-place tutorials/solutions/*.ipynb   # keep the outputs

Each notebook runs in a kernel of its own, in its own folder, with matplotlib's Agg backend; a
notebook fails when a cell raises or when the whole run takes longer than ``--budget`` seconds
(default 120, the chapters' promise). ``--in-place`` writes the executed notebook back (CI does this
for the full notebooks, so that the book reuses their outputs instead of running them a second time).
The table at the end gives each notebook's time; the exit status is 1 if any failed.
"""
import argparse
import concurrent.futures
import os
import pathlib
import sys
import time


def run_one(path, budget, in_place):
    import nbclient
    import nbformat

    path = pathlib.Path(path)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=budget, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
        error = None
    except nbclient.exceptions.CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else "a cell raised"
    except nbclient.exceptions.CellTimeoutError:
        error = f"a cell ran past the {budget:g} s budget"
    except Exception as exc:  # a kernel that died, a notebook that does not parse
        error = f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - start
    if error is None and seconds > budget:
        error = f"took {seconds:.1f} s, over the {budget:g} s budget"
    if error is None and in_place:
        nbformat.write(nb, path)
    return str(path), seconds, error


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per notebook (default 120)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    parser.add_argument("--in-place", action="store_true", help="write the executed notebooks back")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    results = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, nb, args.budget, args.in_place) for nb in args.notebooks]
        for fut in concurrent.futures.as_completed(futures):
            path, seconds, error = fut.result()
            results.append((path, seconds, error))
            print(f"{'ok  ' if error is None else 'FAIL'} {seconds:6.1f} s  {path}"
                  + (f"\n       {error}" if error else ""), flush=True)
    failed = [r for r in results if r[2] is not None]
    total = sum(r[1] for r in results)
    print(f"notebooks: {len(results) - len(failed)} ran clean, {len(failed)} broke; {total:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
