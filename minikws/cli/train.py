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


# The flags that --resume takes from the checkpoint when they are not given: None in the parser, so that
# a flag the user typed can be told from one left out; the defaults are filled in after that.
MODEL_DEFAULTS = {"hidden": DEFAULTS.hidden_size, "layers": DEFAULTS.num_layers,
                  "dropout": DEFAULTS.dropout, "cmn_window": DEFAULTS.cmn_window}
TRAIN_DEFAULTS = {"epochs": DEFAULTS.epochs, "lr": DEFAULTS.lr, "batch_size": DEFAULTS.batch_size,
                  "patience": DEFAULTS.patience, "seed": DEFAULTS.seed}


def add_parser(p):
    add_data_arguments(p, required=False)
    p.add_argument("--out", metavar="MODEL.npz",
                   help="where to write the trained model (required, except with --resume: the run's own)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"maximum epochs (default: {DEFAULTS.epochs}; with --resume, more than the run "
                        f"planned extends it)")
    p.add_argument("--hidden", type=int, default=None,
                   help=f"LSTM hidden units per layer (default: {DEFAULTS.hidden_size})")
    p.add_argument("--layers", type=int, default=None,
                   help=f"stacked LSTM layers (default: {DEFAULTS.num_layers})")
    p.add_argument("--lr", type=float, default=None,
                   help=f"peak learning rate of AdamW, reached after {DEFAULTS.warmup_epochs:g} epoch(s) "
                        f"of warm-up and decayed on a cosine (default: {DEFAULTS.lr:g}; a small LSTM "
                        f"trained from scratch wants about 1e-3 to 1e-2, not the 2e-5 used to fine-tune "
                        f"a pretrained model)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"clips per step (default: {DEFAULTS.batch_size})")
    p.add_argument("--dropout", type=float, default=None,
                   help=f"dropout probability in [0, 1) (default: {DEFAULTS.dropout:g})")
    p.add_argument("--cmn-window", type=int, default=None, metavar="FRAMES",
                   help="running cepstral mean normalisation window; 0 turns it off "
                        f"(default: {DEFAULTS.cmn_window})")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without a better validation accuracy (0: never; "
                        f"default: {DEFAULTS.patience})")
    p.add_argument("--no-augment", action="store_true", default=None,
                   help="train on the clips as they are: no waveform perturbation, no SpecAugment masks")
    p.add_argument("--seed", type=int, default=None,
                   help=f"seed of every random choice (default: {DEFAULTS.seed})")
    p.add_argument("--checkpoint", metavar="CKPT.npz",
                   help="checkpoint written after every epoch (default: OUT with .ckpt.npz); a fresh run "
                        "refuses to replace the checkpoint of an unfinished one")
    p.add_argument("--resume", metavar="CKPT.npz",
                   help="continue the run saved in this checkpoint, with its data and settings (flags "
                        "left out are taken from it; --epochs may grow)")
    p.add_argument("--per-word", type=int, default=None,
                   help="built-in set only: clips per word to synthesize (at least 6)")
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
    for name in ("epochs", "lr", "batch_size", "patience", "seed"):
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = value
    if getattr(args, "no_augment", False):
        fields["spec_augment"] = fields["wave_augment"] = False
    return TrainConfig(**fields)


_FLAG_OF_MODEL = {"hidden": "hidden_size", "layers": "num_layers", "dropout": "dropout",
                  "cmn_window": "cmn_window"}
_FLAG_OF_TRAIN = {"lr": "lr", "batch_size": "batch_size", "patience": "patience", "seed": "seed"}


def _flag(name):
    return "--" + name.replace("_", "-")


def _from_checkpoint(args, ck, path):
    """Fill the flags left out from the checkpoint's settings; refuse flags that contradict them.

    Returns the TrainConfig fields of the run and its ``run`` record (data, dataset, per_word, out).
    """
    from minikws.errors import MinikwsError

    model = ck.model.get_config()
    config = dict(ck.trainer.get("config") or {})
    run = dict(ck.trainer.get("run") or {})

    def take(name, stored):
        given = getattr(args, name)
        if given is None:
            setattr(args, name, stored)
        elif given != stored:
            raise MinikwsError(f"{_flag(name)} {given}: the run in {path} has {stored}; leave the flag "
                               f"out to resume it (only --epochs may change)")

    frontend = model.get("frontend", model)  # format 3 keeps the front end's settings apart
    for name, key in _FLAG_OF_MODEL.items():
        take(name, frontend[key] if key == "cmn_window" else model[key])
    for name, key in _FLAG_OF_TRAIN.items():
        if key in config:
            take(name, config[key])
    augmented = config.get("wave_augment", True) or config.get("spec_augment", True)
    if args.no_augment and augmented:
        raise MinikwsError(f"--no-augment: the run in {path} was trained with augmentation; leave the "
                           f"flag out to resume it")
    args.no_augment = not augmented
    if args.epochs is None:
        args.epochs = config.get("epochs")
    elif args.epochs < ck.epoch:
        raise MinikwsError(f"--epochs {args.epochs}: the run in {path} has already completed {ck.epoch} "
                           f"epochs")
    if "data" in run:
        if args.data is None and run["data"] is not None:
            if not os.path.isdir(run["data"]):
                raise MinikwsError(f"--resume {path}: the run's data folder {run['data']} is gone; give "
                                   f"--data")
            args.data = run["data"]
        elif args.data is not None and run["data"] is None:
            raise MinikwsError(f"--data {args.data}: the run in {path} was trained on the built-in "
                               f"synthesized set; leave --data out to resume it")
        if args.dataset == "auto" and run.get("dataset"):
            args.dataset = run["dataset"]
        take("per_word", run.get("per_word"))
        if args.out is None:
            args.out = run.get("out")
    return config


def _existing_checkpoint(path):
    """Refuse to replace an unfinished run's checkpoint; a finished run's is replaced (the trainer says
    so when it starts)."""
    from minikws import io
    from minikws.errors import MinikwsError

    try:
        ck = io.load_checkpoint(path)
    except io.ModelFileError:
        raise MinikwsError(f"--checkpoint {path}: exists and is not a minikws checkpoint; give another "
                           f"--checkpoint or remove it") from None
    config = ck.trainer.get("config") or {}
    best, patience = ck.trainer.get("best_epoch"), config.get("patience", 0)
    finished = ck.epoch >= config.get("epochs", 0) or (patience and best and ck.epoch - best >= patience)
    if not finished:
        raise MinikwsError(f"--checkpoint {path}: holds an unfinished run ({ck.epoch} of "
                           f"{config.get('epochs')} epochs); continue it with --resume {path}, or give "
                           f"another --checkpoint")


def check_common(args, *, batch_size, classes=12):
    """The checks train and demo share, run before any data is made or read."""
    from minikws.cli import _args

    _args.seed("--seed", args.seed)
    _args.positive_int("--epochs", args.epochs)
    _args.model_size("--hidden", args.hidden, "--layers", args.layers, batch=batch_size, classes=classes)
    _args.per_word("--per-word", args.per_word)
    _args.output_file("--out", args.out)
    _args.output_folder("--plots", args.plots)


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


def _interrupted(checkpoint, started):
    """What to tell a user who pressed Ctrl-C: where the run is saved and how to continue it.

    ``started`` is the run's start (``time.time()``): a checkpoint older than that is an earlier run's.
    """
    from minikws import io

    nothing = "minikws train: interrupted before the first epoch ended; nothing was saved"
    try:
        if os.path.getmtime(checkpoint) < started:
            return nothing
        ck = io.load_checkpoint(checkpoint)
    except (OSError, io.ModelFileError):
        return nothing
    total = (ck.trainer.get("config") or {}).get("epochs")
    return (f"minikws train: interrupted after epoch {ck.epoch} of {total}; continue with "
            f"`minikws train --resume {checkpoint}` (add --epochs N to train longer)")


def run(args):
    import json
    import sys
    import time

    import numpy as np

    from minikws import datasets, io
    from minikws.cli import _args
    from minikws.errors import MinikwsError
    from minikws.train import train_on_dataset

    t0, started = time.perf_counter(), time.time()
    if args.resume:
        _args.input_file("--resume", args.resume)
        _from_checkpoint(args, io.load_checkpoint(args.resume), args.resume)
    if args.out is None:
        raise MinikwsError("--out: required (where to write the trained model)")
    for name, value in {**MODEL_DEFAULTS, **TRAIN_DEFAULTS}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    out = os.fspath(args.out)
    check_common(args, batch_size=min(args.batch_size or 1, 256))
    _args.positive_int("--batch-size", args.batch_size)
    _args.real("--lr", args.lr, low=0, low_open=True)
    _args.real("--dropout", args.dropout, low=0, high=1, high_open=True)
    _args.positive_int("--patience", args.patience, minimum=0)
    _args.positive_int("--cmn-window", args.cmn_window, minimum=0)
    if args.data is not None and args.per_word is not None:
        raise MinikwsError("--per-word: only for the built-in synthesized set (without --data)")
    if args.data is not None and not os.path.isdir(args.data):
        raise MinikwsError(f"--data {args.data}: no such folder")
    checkpoint = args.checkpoint or args.resume or _checkpoint_path(out)
    _args.output_file("--checkpoint", checkpoint)
    if not args.resume and os.path.exists(checkpoint):
        _existing_checkpoint(checkpoint)
    config = training_config(args)
    if args.data is None:
        kw = {} if args.per_word is None else {"per_word": args.per_word}
        print("synthesizing the built-in command set with espeak-ng ...", file=sys.stderr, flush=True)
        dataset = datasets.synthesize_commands(seed=args.seed, **kw)
        print(f"synthesized {len(dataset.audio)} clips of {len(dataset.classes)} classes in "
              f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    else:
        dataset = load_data(args.data, args.dataset)
    run_info = {"data": None if args.data is None else os.path.abspath(args.data),
                "dataset": args.dataset, "per_word": args.per_word, "out": os.path.abspath(out)}
    progress = False if args.no_progress else None
    try:
        model, trainer = train_on_dataset(
            dataset, hidden_size=args.hidden, num_layers=args.layers, dropout=args.dropout,
            cmn_window=args.cmn_window, config=config, checkpoint=checkpoint, resume=args.resume,
            progress=progress, backend=args.backend, run_info=run_info)
    except KeyboardInterrupt:
        print(_interrupted(checkpoint, started), file=sys.stderr)
        return 130
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
