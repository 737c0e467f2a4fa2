"""``minikws gradcheck``: check every backward formula of the network against numerical gradients.

Runs :func:`minikws.gradcheck.check_layers` (float64, every layer of :mod:`minikws.nn` and the loss),
prints one row per parameter, and exits with status 1 if any relative error exceeds
:data:`minikws.gradcheck.THRESHOLD`.
"""


def add_parser(p):
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")


def run(args):
    import json

    from minikws.cli import _args
    from minikws.gradcheck import THRESHOLD, check_layers

    _args.seed("--seed", args.seed)
    rows = check_layers(seed=args.seed)
    passed = all(row["passed"] for row in rows)
    if args.json:
        print(json.dumps({"seed": args.seed, "threshold": THRESHOLD, "passed": passed, "checks": rows}))
    else:
        w = max(len(row["layer"]) for row in rows)
        print(f"{'layer':<{w}}  {'parameter':<10}  {'rel error':>9}  pass")
        for row in rows:
            mark = "ok" if row["passed"] else "FAIL"
            print(f"{row['layer']:<{w}}  {row['parameter']:<10}  {row['rel_error']:9.1e}  {mark}")
        failed = sum(not row["passed"] for row in rows)
        verdict = "all passed" if passed else f"{failed} FAILED"
        print(f"{len(rows)} gradients checked in float64 (seed {args.seed}), "
              f"threshold {THRESHOLD:g}: {verdict}")
    return 0 if passed else 1
