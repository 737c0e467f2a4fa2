"""minikws compress: prune and/or quantize a trained model, fine-tune it, and report what it cost.

Unstructured pruning (``--prune F``) zeroes the fraction F of weights with the smallest magnitude;
``--structured`` removes that fraction of each LSTM layer's hidden units instead, giving a smaller
model that runs faster. ``--fine-tune N`` retrains N epochs with the pruned weights held at zero.
``--quantize int8`` stores int8 weights (about 4x smaller) and runs int8 products, with activation
scales calibrated on ``--calibrate`` training clips. Without ``--data`` the built-in synthesized set is
used, as ``minikws train`` does. Sizes, sparsity and validation accuracy before and after are printed.
"""


def add_parser(p):
    from minikws.cli.train import add_data_arguments

    p.add_argument("--model", metavar="MODEL.npz", required=True, help="a model written by minikws train")
    p.add_argument("--out", metavar="OUT.npz", required=True, help="where to write the compressed model")
    p.add_argument("--prune", type=float, metavar="FRACTION",
                   help="share of weights (or, with --structured, of hidden units) to remove, in [0, 1)")
    p.add_argument("--structured", action="store_true",
                   help="remove whole hidden units of every LSTM layer instead of single weights")
    p.add_argument("--scope", choices=("layer", "global"), default="global",
                   help="unstructured pruning: one threshold for the whole model (default; on the demo's model "
                        "it kept 0.3-0.4 points more accuracy at 50 %%) or one per matrix")
    p.add_argument("--gradual", action="store_true",
                   help="with --fine-tune: prune along the cubic schedule while fine-tuning, not all at once")
    p.add_argument("--quantize", choices=("int8",), help="store and run the weights in int8")
    p.add_argument("--fine-tune", type=int, default=0, metavar="EPOCHS",
                   help="epochs of fine-tuning after pruning, masks held (default: 0)")
    p.add_argument("--lr", type=float, default=2e-3, help="fine-tuning's peak learning rate (default: 2e-3)")
    p.add_argument("--calibrate", type=int, default=256, metavar="N",
                   help="training clips whose activations set the int8 scales (default: 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the built-in set and of fine-tuning (default: 0)")
    add_data_arguments(p, required=False)
    p.add_argument("--json", action="store_true", help="end with one JSON line of the figures")


def run(args):
    import json
    import os

    from minikws import compress, datasets, io
    from minikws.cli import _args
    from minikws.cli.train import load_data
    from minikws.errors import MinikwsError
    from minikws.train import evaluate_on_dataset, fine_tune

    # every argument before any work
    _args.input_file("--model", args.model)
    if args.prune is not None:
        _args.real("--prune", args.prune, low=0.0, high=1.0, high_open=True)
    if args.structured and args.prune is None:
        raise MinikwsError("--structured: give the share of units to remove with --prune")
    if args.prune is None and args.quantize is None:
        raise MinikwsError("nothing to do: give --prune FRACTION and/or --quantize int8")
    _args.positive_int("--fine-tune", args.fine_tune, minimum=0)
    if args.fine_tune and args.prune is None:
        raise MinikwsError("--fine-tune: fine-tuning follows pruning; give --prune too")
    if args.gradual and (not args.fine_tune or args.structured):
        raise MinikwsError("--gradual: prunes while fine-tuning; give --fine-tune EPOCHS, without --structured")
    _args.real("--lr", args.lr, low=0.0, low_open=True)
    _args.positive_int("--calibrate", args.calibrate)
    _args.seed("--seed", args.seed)
    _args.output_file("--out", args.out)
    if os.path.abspath(args.out) == os.path.abspath(args.model):
        raise MinikwsError(f"--out {args.out}: is the input model; write the compressed one elsewhere")
    model = io.load_model(args.model)
    if isinstance(model, compress.Int8KWSModel):
        raise MinikwsError(f"--model {args.model}: is already an int8 model; compress its float original")
    if args.structured:
        removed = int(round(args.prune * model.hidden_size))
        if removed >= model.hidden_size:
            raise MinikwsError(f"--prune {args.prune:g}: would remove {removed} of the model's "
                               f"{model.hidden_size} units per layer; at least one must stay")
    dataset = load_data(args.data, args.dataset) if args.data else \
        datasets.synthesize_commands(seed=args.seed, sr=model.sr)
    if tuple(dataset.classes) != tuple(model.classes):
        raise MinikwsError(f"--data: its classes {list(dataset.classes)} are not the model's {list(model.classes)}")
    subset = "validation" if len(dataset.select("validation").audio) else "test"

    def accuracy(m):
        return float(evaluate_on_dataset(m, dataset, subset=subset)[0]["accuracy"])

    before = accuracy(model)
    sizes = {"before_bytes": os.path.getsize(args.model)}
    figures = {"accuracy_before": before, "subset": subset}
    if args.prune is not None:
        if args.structured:
            model = compress.prune_units(model, args.prune)
            masks = None
        elif not args.gradual:
            masks = compress.magnitude_masks(model.params, args.prune, scope=args.scope)
            compress.apply_masks(model.params, masks)
        if not args.gradual:
            figures["pruned_accuracy"] = accuracy(model)
        if args.fine_tune:
            fine_tune(model, dataset, epochs=args.fine_tune, lr=args.lr, seed=args.seed,
                      **({"gradual": args.prune, "scope": args.scope} if args.gradual else {"masks": masks}))
            figures["fine_tuned_accuracy"] = accuracy(model)
        figures["hidden_size"] = model.hidden_size
        figures["sparsity"] = compress.sparsity(model.params)
    if args.quantize:
        feats = model.featurize(dataset.select("train").audio[:args.calibrate], sr=dataset.sr)
        model = compress.quantize_model(model, feats)
    figures["accuracy_after"] = accuracy(model)
    io.save_model(model, args.out)
    sizes["after_bytes"] = os.path.getsize(args.out)
    figures.update(sizes)
    print(f"model: {args.model} ({sizes['before_bytes'] / 1e3:.1f} kB) -> {args.out} "
          f"({sizes['after_bytes'] / 1e3:.1f} kB, {sizes['after_bytes'] / sizes['before_bytes']:.0%})")
    if args.prune is not None:
        what = f"hidden units {model.hidden_size}" if args.structured else f"sparsity {figures['sparsity']:.1%}"
        pruned = "" if args.gradual else f" -> {figures['pruned_accuracy']:.4f} after pruning"
        print(f"pruned: {what}; {subset} accuracy {before:.4f}{pruned}"
              + (f" -> {figures['fine_tuned_accuracy']:.4f} after {args.fine_tune} epochs of "
                 f"{'gradual pruning and ' if args.gradual else ''}fine-tuning" if args.fine_tune else ""))
    if args.quantize:
        print("quantized: int8 weights per output channel, int8 activations, int32 accumulation")
    print(f"{subset} accuracy: {before:.4f} before, {figures['accuracy_after']:.4f} after")
    if args.json:
        print(json.dumps(figures))
    return 0
