"""Grading submitted notebooks: each runs in a fresh kernel with a time limit; the checks report back.

:func:`grade_notebook` executes a notebook with nbclient (errors allowed, so that one failed exercise
does not stop the rest), with ``MINIKWS_EXERCISES_REPORT`` pointing the kernel's checks at a file of
JSON lines (see :mod:`minikws.exercises.core`). The exercises expected of a notebook are those of the
chapter named by its file name (``03_...ipynb`` -> every ``03.*`` exercise), plus any other exercise
name its cells mention. Each gets one result:

    pass             the check printed "correct"
    fail             the check raised Incorrect; the message says what is wrong
    not attempted    the function still raises NotImplementedError
    error            never checked: the notebook could not be read, timed out, lost its kernel, or
                     raised before the check (the message says which)

The score is the number of passes out of the number expected.
"""
import os
import pathlib
import re
import subprocess
import tempfile
import time

from minikws import exercises
from minikws.errors import MinikwsError

__all__ = ["grade_notebook", "find_notebooks", "expected_exercises"]

_CHAPTER = re.compile(r"(?:^|[^0-9])(\d\d)_")


def find_notebooks(paths):
    """The .ipynb files named by ``paths`` (files, or folders searched recursively), sorted, each once."""
    found = []
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.is_file():
            found.append(p)
        else:
            raise MinikwsError(f"{p}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise MinikwsError(f"{', '.join(map(str, paths))}: no .ipynb notebook found")
    return unique


def expected_exercises(path, text=""):
    """Names of the exercises a notebook should check: its chapter's (from the file name) and those it names."""
    known = {e.name for e in exercises.list()}
    names = set()
    match = _CHAPTER.search(pathlib.Path(path).name)
    if match:
        names |= {e.name for e in exercises.list(chapter=match.group(1))}
    names |= {n for n in known if f'"{n}"' in text or f"'{n}'" in text}
    return sorted(names)


def _cell_errors(nb):
    """(cell index, "Name: value") of every error output except the checks' own Incorrect."""
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") != "Incorrect":
                errors.append((i, f"{out.get('ename')}: {out.get('evalue')}"))
    return errors


def grade_notebook(path, *, timeout=120.0, kernel_name="python3"):
    """Run one notebook in a fresh kernel and collect its exercises' results.

    Parameters
    ----------
    path : str or Path
    timeout : float
        Seconds for the whole notebook; a notebook still running then is stopped.
    kernel_name : str

    Returns
    -------
    dict
        ``{"file", "score", "max", "results": {name: {"status", "message"}}, "problem", "seconds"}``;
        ``problem`` is None or one line on what stopped the notebook (unreadable, timed out, crashed).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = pathlib.Path(path)
    start = time.monotonic()
    problem = None
    reported = {}
    try:
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(cell.source for cell in nb.cells)
    except Exception as exc:  # not JSON, not a notebook, unreadable: reported, the rest still graded
        nb, text = None, ""
        problem = f"could not read the notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    expected = expected_exercises(path, text)

    if nb is not None:
        with tempfile.TemporaryDirectory() as tmp:
            report = pathlib.Path(tmp) / "report.jsonl"
            env = dict(os.environ, MINIKWS_EXERCISES_REPORT=str(report), MPLBACKEND="Agg")
            deadline = start + timeout
            client = NotebookClient(
                nb, kernel_name=kernel_name, allow_errors=True, timeout=int(timeout) + 1,
                timeout_func=lambda cell: max(1, int(deadline - time.monotonic()) + 1),
                resources={"metadata": {"path": str(path.parent.resolve())}},
            )
            try:
                client.execute(env=env, stderr=subprocess.DEVNULL)  # the kernel's own log lines
            except CellTimeoutError:
                problem = f"timed out: still running after {timeout:g} s"
            except DeadKernelError:
                problem = "the kernel died (the notebook crashed it or ran out of memory)"
            except Exception as exc:
                problem = f"could not run ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            if report.exists():
                import json
                for line in report.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    reported[row["name"]] = {"status": row["status"], "message": row["message"]}
        errors = _cell_errors(nb)
    else:
        errors = []

    results = {}
    for name in sorted(set(expected) | set(reported)):
        if name in reported:
            results[name] = reported[name]
            continue
        if problem:
            why = problem
        elif errors:
            cell, what = errors[0]
            why = f"the notebook raised {what} in cell {cell}"
        else:
            why = "the notebook never ran its check"
        results[name] = {"status": "error", "message": f"not checked: {why}"}
    score = sum(r["status"] == "pass" for r in results.values())
    return {"file": str(path), "score": score, "max": len(results), "results": results, "problem": problem,
            "seconds": round(time.monotonic() - start, 1)}
