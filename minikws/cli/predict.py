"""minikws predict: the most probable label of each WAV file, with its probability."""


def add_parser(p):
    p.add_argument("--model", metavar="MODEL.npz", required=True, help="a model written by minikws train")
    p.add_argument("files", nargs="+", metavar="FILE.wav", help="recordings to classify")
    p.add_argument("--top", type=int, default=1, help="also list the next most probable labels (default: 1)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args):
    """Predict every file; a file that cannot be read is reported on its own line and skipped.

    Returns 1 if any file failed, 0 otherwise; a bad model file is a usage error (status 2).
    """
    import json

    import numpy as np

    from minikws import audio, io
    from minikws._validate import check_positive_int
    from minikws.errors import MinikwsError

    top = check_positive_int("--top", args.top)
    model = io.load_model(args.model)
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
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, OSError) and exc.strerror:
                msg = exc.strerror
            if args.json:
                print(json.dumps({"file": path, "error": msg}), flush=True)
            else:
                print(f"{path}\terror: {msg}", flush=True)
            continue
        order = np.argsort(-probs, kind="stable")[:top]
        best = int(order[0])
        if args.json:
            print(json.dumps({"file": path, "label": model.classes[best], "probability": float(probs[best]),
                              "top": [{"label": model.classes[k], "probability": float(probs[k])}
                                      for k in order]}), flush=True)
        else:
            others = "".join(f"\t{model.classes[k]} {probs[k]:.3f}" for k in order[1:])
            print(f"{path}\t{model.classes[best]}\t{probs[best]:.3f}{others}", flush=True)
    return 1 if failed else 0
