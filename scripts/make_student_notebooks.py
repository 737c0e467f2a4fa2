"""Write the student notebooks tutorials/NN_name.ipynb from the full ones in tutorials/solutions/.

Every solution block (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) becomes ``# YOUR CODE HERE`` and
``raise NotImplementedError``; outputs, execution counts and volatile metadata are stripped from both
versions and the kernel set to python3 (see minikws.exercises.notebooks). Run it after editing a full
notebook; ``--check`` changes nothing and exits 1 if a file is out of date (the tests run it).

    python scripts/make_student_notebooks.py [--check] [--tutorials DIR]
"""
import argparse
import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minikws.exercises.notebooks import normalize, problems, student_version  # noqa: E402


def _text(nb):
    return nbformat.writes(nb) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    parser.add_argument("--tutorials", type=pathlib.Path, default=ROOT / "tutorials",
                        help="the folder holding solutions/ (default: the repo's tutorials/)")
    args = parser.parse_args(argv)
    solutions = sorted((args.tutorials / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        print(f"no notebooks in {args.tutorials / 'solutions'}", file=sys.stderr)
        return 1
    stale = []
    for path in solutions:
        nb = nbformat.read(path, as_version=4)
        full = normalize(nb)
        student = student_version(full, name=path.name)
        for target, version in ((path, full), (args.tutorials / path.name, student)):
            want = _text(version)
            have = target.read_text(encoding="utf-8") if target.exists() else None
            if have != want:
                stale.append(target)
                if not args.check:
                    tmp = target.with_suffix(".ipynb.tmp")
                    tmp.write_text(want, encoding="utf-8")
                    tmp.replace(target)  # atomic: a reader never sees half a notebook
        for message in problems(full, name=path.name):
            print(message, file=sys.stderr)
            stale.append(path)
    for target in sorted(set(stale)):
        print(("out of date: " if args.check else "wrote ") + str(target.relative_to(args.tutorials.parent)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
