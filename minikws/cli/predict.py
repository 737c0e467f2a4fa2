"""minikws predict: the most probable label of each WAV file, with its probability.

Exit status: 0 when every file was classified; 2 when any could not be read (each such file is
reported in one line on stderr, and the others are still classified) or the model file is unusable.
A clip much shorter than a keyword, or a recording much longer than a clip, is classified with a
warning on stderr.
"""


def add_parser(p):
    p.add_argument("--model", metavar="MODEL.npz", required=True,
                   help="a model written by minikws train (or a checkpoint: its best model)")
    p.add_argument("files", nargs="+", metavar="FILE.wav", help="recordings to classify")
    p.add_argument("--top", type=int, default=1, help="also list the next most probable labels (default: 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.epilog = ("Exit status: 0 if every file was classified; 2 if a file could not be read (reported on "
                "stderr, the others still classified) or the model is unusable.")


def run(args):
    """Predict every file; a file that cannot be read is reported on stderr and skipped (status 2)."""
    import json
    import sys

    import numpy as np

    from minikws import audio, io
    from minikws._validate import check_positive_int
    from minikws.compress import Int8KWSModel, describe, sparsity
    from minikws.errors import MinikwsError

    top = check_positive_int("--top", args.top)
    model = io.load_model(args.model)
    if isinstance(model, Int8KWSModel) or sparsity(model.params) >= 0.01:  # say what a compressed model is
        print(f"minikws {args.command}: model {args.model}: {describe(model)}", file=sys.stderr, flush=True)
    if getattr(model, "task", "clip") == "stream":
        raise MinikwsError(f"--model {args.model}: a stream model (frame tags for continuous audio); "
                           "use minikws detect")
    failed = 0
    for path in args.files:
        try:
            y, sr = audio.load_wav(path)
            probs = model.predict_proba([y], sr=sr)[0]
        except (MinikwsError, OSError) as exc:
            failed += 1
            if isinstance(exc, OSError):
                msg = f"{path}: {exc.strerror or type(exc).__name__}"
            else:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                if not msg.startswith(path):
                    msg = f"{path}: {msg}"
            print(f"minikws predict: error: {msg}", file=sys.stderr, flush=True)
            continue
        warning = audio.duration_warning(path, y.size, sr)
        if warning:
            print(f"minikws predict: warning: {warning}", file=sys.stderr, flush=True)
        order = np.argsort(-probs, kind="stable")[:top]
        best = int(order[0])
        if args.json:
            print(json.dumps({"file": path, "label": model.classes[best], "probability": float(probs[best]),
                              "top": [{"label": model.classes[k], "probability": float(probs[k])}
                                      for k in order]}), flush=True)
        else:
            others = "".join(f"\t{model.classes[k]} {probs[k]:.3f}" for k in order[1:])
            print(f"{path}\t{model.classes[best]}\t{probs[best]:.3f}{others}", flush=True)
    return 2 if failed else 0
