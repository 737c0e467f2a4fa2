"""minikws evaluate: score a trained model on the test split of a folder of recordings."""


def add_parser(p):
    from minikws.cli.train import add_data_arguments

    p.add_argument("--model", metavar="MODEL.npz", required=True,
                   help="a model written by minikws train (or a checkpoint: its best model)")
    add_data_arguments(p, required=True)
    p.add_argument("--subset", choices=("test", "validation", "train"), default="test",
                   help="which split to score (default: test)")
    p.add_argument("--plots", metavar="DIR", help="write the confusion matrix PNG here")
    p.add_argument("--json", action="store_true",
                   help="end with one JSON line: accuracy, per-class metrics, confusion matrix")


def run(args):
    import json
    import os
    import time

    from minikws import io, metrics
    from minikws.cli import _args
    from minikws.cli.train import load_data
    from minikws.compress import describe
    from minikws.errors import MinikwsError
    from minikws.train import evaluate_on_dataset

    t0 = time.perf_counter()
    if not os.path.isdir(args.data):
        raise MinikwsError(f"--data {args.data}: no such folder")
    _args.output_folder("--plots", args.plots)  # before the evaluation, not after it
    model = io.load_model(args.model)
    print(f"model {args.model}: {describe(model)}")
    if getattr(model, "task", "clip") == "stream":
        from minikws.errors import MinikwsError

        raise MinikwsError(f"--model {args.model}: a stream model (frame tags for continuous audio); "
                           "use minikws detect --labels")
    dataset = load_data(args.data, args.dataset)
    result, y_true, y_pred = evaluate_on_dataset(model, dataset, subset=args.subset)
    print(f"{args.subset} split of {args.data}: {result['support']} clips, accuracy {result['accuracy']:.4f}")
    print(metrics.classification_report(y_true, y_pred, classes=model.classes, digits=4))
    print(metrics.format_confusion_matrix(result["confusion_matrix"], classes=model.classes))
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        path = os.path.join(args.plots, "confusion_matrix.png")
        metrics.plot_confusion_matrix(result["confusion_matrix"], classes=model.classes, path=path)
        print(f"confusion matrix written to {path}")
    if args.json:
        print(json.dumps({"model": args.model, "data": args.data, "subset": args.subset, **result,
                          "seconds": round(time.perf_counter() - t0, 3)}))
    return 0
