"""minikws export: a trained model as an ONNX graph, with its feature settings as JSON beside it."""


def add_parser(p):
    p.add_argument("--model", metavar="MODEL.npz", required=True, help="a model written by minikws train or compress")
    p.add_argument("--onnx", metavar="MODEL.onnx", required=True,
                   help="the graph to write (the feature settings go to the same name with .json)")
    p.epilog = ("The graph takes the feature frames (T, B, K) that KWSModel.featurize returns and gives every "
                "frame's logits (T, B, C); an int8 model is exported with its weights dequantized.")


def run(args):
    import os

    import numpy as np

    from minikws import export, io
    from minikws.cli import _args

    _args.input_file("--model", args.model)
    _args.output_file("--onnx", args.onnx)
    settings = (args.onnx[:-5] if args.onnx.endswith(".onnx") else args.onnx) + ".json"
    _args.output_file("--onnx", settings)
    model = io.load_model(args.model)
    export.to_onnx(model, args.onnx, settings_path=settings)
    print(f"{args.onnx}: {os.path.getsize(args.onnx) / 1e3:.1f} kB, input features (T, B, "
          f"{model.mean.shape[0]}) float32, output logits (T, B, {model.num_classes}); settings in {settings}")
    try:
        import onnxruntime
    except ImportError:
        return 0
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((20, 2, model.mean.shape[0])) * model.std + model.mean).astype(np.float32)
    got = onnxruntime.InferenceSession(args.onnx, providers=["CPUExecutionProvider"]).run(
        ["logits"], {"features": x})[0]
    want = model.forward_frames(x)[0]
    note = " (the graph holds the dequantized weights and does not round activations)" \
        if model.get_config().get("quantization") else ""
    print(f"checked in ONNX Runtime on random frames: largest logit difference from minikws "
          f"{float(np.abs(got - want).max()):.1e}{note}")
    return 0
