"""``minikws exercises``: list the chapters' exercises, or grade submitted notebooks.

``minikws exercises list`` prints every exercise of :mod:`minikws.exercises`.
``minikws exercises grade PATH... [--json] [--timeout S]`` runs each notebook (a file, or every .ipynb
under a folder) in a fresh kernel with a time limit (:func:`minikws.exercises.grading.grade_notebook`)
and prints each exercise's result and a score per file; a notebook that cannot be read, crashes or
loops is reported and the others are still graded. With ``--json`` the output ends with one line
``{"submissions": [{"file", "score", "max", "results": {name: {"status", "message"}}}, ...]}``.
"""


def add_parser(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="print every exercise", description="Print every exercise.")
    ls.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    grade = sub.add_parser("grade", help="run submitted notebooks and score their exercises",
                           description="Run each notebook in a fresh kernel and score its exercises.")
    grade.add_argument("paths", nargs="+", metavar="PATH", help="a notebook, or a folder of them")
    grade.add_argument("--json", action="store_true",
                       help='end with one JSON line {"submissions": [...]}')
    grade.add_argument("--timeout", type=float, default=120.0, metavar="S",
                       help="seconds each notebook may run (default: 120)")


def _list(args):
    import json

    from minikws import exercises

    rows = exercises.list()
    if args.json:
        print(json.dumps({"exercises": [{"name": e.name, "chapter": e.chapter, "title": e.title,
                                         "reference": f"{e.reference.__module__}.{e.reference.__name__}"}
                                        for e in rows]}))
        return 0
    w = max(len(e.name) for e in rows)
    for e in rows:
        print(f"{e.name:<{w}}  {e.title}")
    print(f"{len(rows)} exercises in {len({e.chapter for e in rows})} chapters")
    return 0


def _grade(args):
    import json
    import math

    from minikws.errors import MinikwsError
    from minikws.exercises.grading import find_notebooks, grade_notebook

    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise MinikwsError(f"--timeout: expected a positive number of seconds, got {args.timeout:g}")
    notebooks = find_notebooks(args.paths)
    submissions = []
    for path in notebooks:
        sub = grade_notebook(path, timeout=args.timeout)
        submissions.append(sub)
        print(f"{sub['file']}: {sub['score']}/{sub['max']}  ({sub['seconds']:.1f} s)", flush=True)
        if sub["problem"]:
            print(f"  notebook: {sub['problem']}")
        w = max((len(n) for n in sub["results"]), default=0)
        for name, r in sub["results"].items():
            message = f"  {r['message']}" if r["message"] and r["status"] != "pass" else ""
            print(f"  {name:<{w}}  {r['status']:<13}{message}")
    total = sum(s["score"] for s in submissions)
    most = sum(s["max"] for s in submissions)
    print(f"{len(submissions)} notebooks graded: {total}/{most} exercises passed")
    if args.json:
        keep = ("file", "score", "max", "results", "problem")
        print(json.dumps({"submissions": [{k: s[k] for k in keep} for s in submissions]}))
    return 0


def run(args):
    return _list(args) if args.action == "list" else _grade(args)
