"""Pruning and int8 quantization: size on disk, held-out accuracy and inference speed, side by side.

    python benchmarks/bench_compress.py [--epochs 40] [--fine-tune 5] [--out benchmarks/compress.png]

Trains the demo's model on the built-in synthesized set (the same settings as ``minikws demo``), then
derives from it, in the same run: int8; 50, 70 and 90 % unstructured pruning; 25 and 50 % of the hidden
units removed; 50 % pruning + int8. Every pruned model is fine-tuned for ``--fine-tune`` epochs with its
masks held. For each it prints the model file's size, the accuracy on the test split (voices never
heard in training) and the median time of (a) classifying the test clips from their features and
(b) 100 frames fed one call per frame with the state carried, as a live detector runs; and it plots
accuracy against size.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from minikws import compress, datasets, io
from minikws.train import TrainConfig, evaluate_on_dataset, featurize_dataset, fine_tune, train_on_dataset


def median_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(name, model, dataset, test_feats, folder):
    path = os.path.join(folder, name.replace(" ", "_").replace("%", "pc").replace("+", "_") + ".npz")
    io.save_model(model, path)
    acc = float(evaluate_on_dataset(model, dataset, subset="test")[0]["accuracy"])
    clip = median_time(lambda: model.logits_features(test_feats, batch_size=64), repeat=3)
    frames = np.ascontiguousarray(model.pad([test_feats[0]] * 1, dtype=model.dtype)[0])
    frames = np.concatenate([frames] * (100 // frames.shape[0] + 1))[:100]

    def stream():
        state = None
        for t in range(100):
            _, state, _ = model.forward_frames(frames[t:t + 1], state=state)

    per_frame = median_time(stream) / 100
    return {"name": name, "bytes": os.path.getsize(path), "accuracy": acc, "clip_ms": 1e3 * clip / len(test_feats),
            "frame_us": 1e6 * per_frame, "sparsity": compress.sparsity(model.params) if not isinstance(
                model, compress.Int8KWSModel) else None, "hidden": model.hidden_size}


def plot(rows, path):
    """Accuracy against file size, one point per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.2), dpi=120)
    markers = "osD^vP*Xh"
    for i, r in enumerate(rows):  # a legend, not labels beside the points: sizes cluster
        ax.scatter(r["bytes"] / 1e3, r["accuracy"], s=40, marker=markers[i % len(markers)], label=r["name"])
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.1, y=0.08)
    ax.set_xlabel("model file size (kB, log scale)")
    ax.set_ylabel("accuracy on held-out voices")
    ax.set_title("Pruning and int8: accuracy against size")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--fine-tune", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "compress.png"))
    args = parser.parse_args(argv)
    data = datasets.synthesize_commands(seed=args.seed)
    t0 = time.perf_counter()
    base, _ = train_on_dataset(data, config=TrainConfig(epochs=args.epochs, seed=args.seed), progress=False,
                               log=lambda line: None)
    print(f"trained the float model in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    test = data.select("test")
    test_feats = featurize_dataset(base, test.audio, sr=data.sr)
    calib = featurize_dataset(base, data.select("train").audio[:256], sr=data.sr)

    def pruned(fraction, structured=False, tune=True):
        m = io.load_model(base_path)
        if structured:
            m, masks = compress.prune_units(m, fraction), None
        else:
            masks = compress.magnitude_masks(m.params, fraction, scope="global")  # minikws compress's default
            compress.apply_masks(m.params, masks)
        if tune and args.fine_tune:
            fine_tune(m, data, epochs=args.fine_tune, masks=masks, seed=args.seed, log=lambda line: None)
        return m

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base_path = os.path.join(folder, "base.npz")
        io.save_model(base, base_path)
        variants = [("float32", lambda: base), ("int8", lambda: compress.quantize_model(base, calib))]
        for f in (0.5, 0.7, 0.9):
            variants.append((f"{f:.0%} unstructured", lambda f=f: pruned(f)))
        for f in (0.25, 0.5):
            variants.append((f"{f:.0%} units removed", lambda f=f: pruned(f, structured=True)))
        variants.append(("50% unstructured + int8", lambda: compress.quantize_model(pruned(0.5), calib)))
        for name, make in variants:
            rows.append(measure(name, make(), data, test_feats, folder))
            r = rows[-1]
            print(f"{r['name']:<26} {r['bytes'] / 1e3:8.1f} kB  accuracy {r['accuracy']:.4f}  "
                  f"clip {r['clip_ms']:.3f} ms  frame {r['frame_us']:.0f} us", flush=True)
    ref = rows[0]
    print("\n| model | size (kB) | size / float32 | test accuracy | change (points) | clip (ms) | frame (us) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['bytes'] / 1e3:.1f} | {r['bytes'] / ref['bytes']:.0%} | {r['accuracy']:.4f} | "
              f"{100 * (r['accuracy'] - ref['accuracy']):+.1f} | {r['clip_ms']:.3f} | {r['frame_us']:.0f} |")
    plot(rows, args.out)
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main()
