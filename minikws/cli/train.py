"""minikws train: train a keyword spotter on a folder of recordings or the built-in synthesized set."""
import os

from minikws.defaults import DEFAULTS

DATASET_KINDS = ("auto", "folders", "speech-commands", "fsdd")


def add_data_arguments(p, *, required):
    p.add_argument("--data", metavar="DIR", required=required,
                   help="folder of recordings" + ("" if required else
                                                  " (default: the built-in synthesized commands)"))
    p.add_argument("--dataset", choices=DATASET_KINDS, default="auto",
                   help="layout of --data: a folder per label, Speech Commands (with its split lists), "
                        "or the Free Spoken Digit Dataset; auto detects it (default)")


def load_data(root, kind):
    """The data set at ``root`` in layout ``kind`` (one of DATASET_KINDS)."""
    from minikws import datasets
    from minikws.errors import MinikwsError

    if not os.path.isdir(root):
        raise MinikwsError(f"--data {root}: no such folder")
    return datasets.load_dataset(root, kind=kind)


def add_parser(p):
    add_data_arguments(p, required=False)
    p.add_argument("--out", metavar="MODEL.npz", required=True, help="where to write the trained model")
    p.add_argument("--epochs", type=int, default=None, help=f"maximum epochs (default: {DEFAULTS.epochs})")
    p.add_argument("--hidden", type=int, default=DEFAULTS.hidden_size,
                   help=f"LSTM hidden units per layer (default: {DEFAULTS.hidden_size})")
    p.add_argument("--layers", type=int, default=DEFAULTS.num_layers,
                   help=f"stacked LSTM layers (default: {DEFAULTS.num_layers})")
    p.add_argument("--lr", type=float, default=None, help=f"peak learning rate of AdamW (default: {DEFAULTS.lr:g})")
    p.add_argument("--batch-size", type=int, default=None, help=f"clips per step (default: {DEFAULTS.batch_size})")
    p.add_argument("--dropout", type=float, default=DEFAULTS.dropout,
                   help=f"dropout probability (default: {DEFAULTS.dropout:g})")
    p.add_argument("--cmn-window", type=int, default=DEFAULTS.cmn_window, metavar="FRAMES",
                   help="running cepstral mean normalisation window; 0 turns it off "
                        f"(default: {DEFAULTS.cmn_window})")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a better validation accuracy (0: never)")
    p.add_argument("--no-augment", action="store_true",
                   help="train on the clips as they are: no waveform perturbation, no SpecAugment masks")
    p.add_argument("--seed", type=int, default=DEFAULTS.seed,
                   help=f"seed of every random choice (default: {DEFAULTS.seed})")
    p.add_argument("--checkpoint", metavar="CKPT.npz",
                   help="checkpoint written after every epoch (default: OUT with .ckpt.npz)")
    p.add_argument("--resume", metavar="CKPT.npz",
                   help="continue the run saved in this checkpoint (same data and settings)")
    p.add_argument("--per-word", type=int, default=None,
                   help="built-in set only: clips per word to synthesize")
    p.add_argument("--plots", metavar="DIR", help="write training curves and confusion matrix PNGs here")
    p.add_argument("--backend", choices=("auto", "numpy", "cython"), default="auto",
                   help="LSTM implementation (default: the compiled kernel when built)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="end with one JSON line of the results")


def _checkpoint_path(out):
    base = out[:-4] if out.endswith(".npz") else out
    return base + ".ckpt.npz"


def training_config(args, **defaults):
    """A TrainConfig from the options that were given, other fields from ``defaults``/TrainConfig."""
    from minikws.train import TrainConfig

    fields = dict(defaults)
    for name in ("epochs", "lr", "batch_size", "patience"):
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    fields["seed"] = args.seed
    if getattr(args, "no_augment", False):
        fields["spec_augment"] = fields["wave_augment"] = False
    return TrainConfig(**fields)


def report(model, dataset, *, as_json, plots=None, history=None, extra=None):
    """Print the test split's classification report and confusion matrix; return the metrics dict."""
    import json

    from minikws import metrics
    from minikws.train import evaluate_on_dataset

    result, y_true, y_pred = evaluate_on_dataset(model, dataset, subset="test")
    print(f"test split: {result['support']} clips, accuracy {result['accuracy']:.4f}")
    print(metrics.classification_report(y_true, y_pred, classes=model.classes, digits=4))
    print(metrics.format_confusion_matrix(result["confusion_matrix"], classes=model.classes))
    if plots:
        os.makedirs(plots, exist_ok=True)
        metrics.plot_confusion_matrix(result["confusion_matrix"], classes=model.classes,
                                      path=os.path.join(plots, "confusion_matrix.png"))
        if history:
            metrics.plot_training_curves(history, path=os.path.join(plots, "training_curves.png"))
        print(f"plots written to {plots}")
    if as_json:
        print(json.dumps({**(extra or {}), **result}))
    return result


def run(args):
    import json
    import time

    import numpy as np

    from minikws import datasets, io
    from minikws._validate import check_positive_int
    from minikws.errors import MinikwsError
    from minikws.train import train_on_dataset

    t0 = time.perf_counter()
    out = os.fspath(args.out)
    if os.path.isdir(out):
        raise MinikwsError(f"--out {out}: is a folder; give a file name such as model.npz")
    if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise MinikwsError(f"--out {out}: folder {os.path.dirname(os.path.abspath(out))} does not exist")
    check_positive_int("--hidden", args.hidden)
    check_positive_int("--layers", args.layers)
    check_positive_int("--cmn-window", args.cmn_window, minimum=0)
    if args.resume and not os.path.isfile(args.resume):
        raise MinikwsError(f"--resume {args.resume}: no such checkpoint")
    if args.data is None:
        kw = {} if args.per_word is None else {"per_word": check_positive_int("--per-word", args.per_word)}
        dataset = datasets.synthesize_commands(seed=args.seed, **kw)
    else:
        if args.per_word is not None:
            raise MinikwsError("--per-word: only for the built-in synthesized set (without --data)")
        dataset = load_data(args.data, args.dataset)
    config = training_config(args)
    checkpoint = args.checkpoint or args.resume or _checkpoint_path(out)
    progress = False if args.no_progress else None
    model, trainer = train_on_dataset(
        dataset, hidden_size=args.hidden, num_layers=args.layers, dropout=args.dropout,
        cmn_window=args.cmn_window, config=config, checkpoint=checkpoint, resume=args.resume,
        progress=progress, backend=args.backend)
    io.save_model(model, out)
    print(f"model written to {out} ({model.num_parameters()} parameters, best epoch "
          f"{trainer.best_epoch}); checkpoint {checkpoint}")
    test = None
    if len(dataset.select("test").audio):
        test = report(model, dataset, as_json=False, plots=args.plots, history=trainer.history)
    elif args.plots:
        from minikws import metrics

        os.makedirs(args.plots, exist_ok=True)
        metrics.plot_training_curves(trainer.history, path=os.path.join(args.plots, "training_curves.png"))
    if args.json:
        val = [v for v in trainer.history["val_accuracy"] if v is not None]
        summary = {"model": out, "checkpoint": checkpoint, "best_epoch": trainer.best_epoch,
                   "epochs": len(trainer.history["epoch"]),
                   "val_accuracy": float(np.max(val)) if val else None,
                   "accuracy": test["accuracy"] if test else None,
                   "per_class": test["per_class"] if test else None,
                   "seconds": round(time.perf_counter() - t0, 3)}
        print(json.dumps(summary))
    return 0
