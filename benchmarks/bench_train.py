"""Train minikws and an equal-size PyTorch LSTM on the same clips, side by side; accuracy and wall time.

Both sides get the same waveforms, splits, MFCC settings, model size (LSTM x layers -> Linear, the label
read at each clip's last valid frame), batch size, epochs, batch composition (the same length buckets
from the same seeds), optimizer (AdamW, warm-up + cosine, clipping at 5) and dropout. Wall time includes
feature extraction: minikws.features.mfcc_batch on one side, librosa.feature.mfcc on the other (both
followed by the same running CMN, minikws.features.running_cmn, unless --cmn-window 0). PyTorch runs
in a process of its own with the reference environment (torch is not a minikws dependency).

    python benchmarks/bench_train.py                       # built-in synthesized commands
    python benchmarks/bench_train.py --data FSDD --dataset fsdd --epochs 20
    python benchmarks/bench_train.py --per-word 40 --epochs 3 --ref-python /work/venv-ref/bin/python

Augmentation is on by default, as in `minikws train`: every epoch both sides train on the same freshly
augmented waveforms (minikws.pipeline.augment_block, a NumPy function of the seed, the epoch and the
block), featurized again every epoch: minikws by its data workers (minikws.pipeline.AugmentedEpochs,
one per core, preparing the next epoch while one trains), torch by a DataLoader with as many workers
over the same blocks, then librosa. SpecAugment's masks (drawn inside minikws' trainer) and early
stopping are off on both sides (same epochs, same clips); `--no-augment` trains on fixed features. Each
side keeps its best validation epoch; CPU utilisation is (user + system time) / wall time of the side's
process and its workers. torch's LSTM has two bias vectors per layer (bias_ih, bias_hh), minikws one (their
sum), hence 512 more parameters at H = 64 x 2 layers for the same function.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _as_is(item):
    return item


def _cpu_seconds():
    """User + system time of this process and its reaped children (data workers), s."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


# ----------------------------------------------------------------------------------- torch side
def torch_worker(data_path, settings_path):
    """Runs under the reference interpreter: librosa MFCC + torch.nn.LSTM, prints one JSON line."""
    import librosa
    import torch

    from minikws.features import running_cmn  # numpy only, like length_batches
    from minikws.pipeline import BLOCK, augment_block  # numpy only: the same augmented waveforms
    from minikws.train import length_batches  # numpy only: the same batches as the minikws side

    t0 = time.perf_counter()
    s = json.load(open(settings_path))
    with np.load(data_path, allow_pickle=False) as z:
        audio, lengths, labels, subset = z["audio"], z["lengths"], z["labels"], z["subset"]
        noises = [z[k] for k in sorted(k for k in z.files if k.startswith("noise_"))]
    sr, feat = s["sr"], s["features"]
    torch.manual_seed(s["seed"])
    torch.set_num_threads(s["threads"])

    def featurize(clips):
        """librosa MFCC (clips of equal length in one batched call, as minikws does), then the CMN."""
        groups = {}
        for n, y in enumerate(clips):
            groups.setdefault(len(y), []).append(n)
        out = [None] * len(clips)
        for L, idx in groups.items():
            for start in range(0, len(idx), 256):
                part = idx[start:start + 256]
                M = librosa.feature.mfcc(y=np.stack([clips[n] for n in part]), sr=sr, n_mfcc=feat["n_mfcc"],
                                         n_fft=feat["n_fft"], hop_length=feat["hop_length"],
                                         win_length=feat["win_length"], n_mels=feat["n_mels"],
                                         fmin=feat.get("fmin", 0.0), fmax=feat.get("fmax"))
                for j, n in enumerate(part):
                    F = M[j].T  # (F, K)
                    if s["cmn_window"]:  # the same running CMN as KWSModel (NumPy; no torch involved)
                        F = running_cmn(F, window=s["cmn_window"])[0]
                    out[n] = np.ascontiguousarray(F.astype(np.float32))
        return out

    clips = [audio[n, :L] for n, L in enumerate(lengths)]
    feats = featurize(clips)
    t_feat = time.perf_counter() - t0

    tr = np.flatnonzero(subset == "train")
    va = np.flatnonzero(subset == "validation")
    te = np.flatnonzero(subset == "test")
    frames = np.concatenate([feats[i] for i in tr])
    mean, std = frames.mean(0), np.maximum(frames.std(0), 1e-5)
    K, H, C = feat["n_mfcc"], s["hidden"], s["num_classes"]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(K, H, num_layers=s["layers"], dropout=s["dropout"])
            self.drop = torch.nn.Dropout(s["dropout"])
            self.fc = torch.nn.Linear(H, C)

        def forward(self, x, lens):
            h, _ = self.lstm(x)
            last = h[lens - 1, torch.arange(x.shape[1])]
            return self.fc(self.drop(last))

    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])

    def pad(idx):
        L = np.array([feats[i].shape[0] for i in idx])
        x = np.zeros((L.max(), len(idx), K), dtype=np.float32)
        for b, i in enumerate(idx):
            x[: L[b], b] = (feats[i] - mean) / std
        return torch.from_numpy(x), torch.from_numpy(L)

    def evaluate(idx):
        net.eval()
        correct = 0
        with torch.no_grad():
            order = idx[np.argsort([feats[i].shape[0] for i in idx], kind="stable")]
            for start in range(0, len(order), 128):
                part = order[start:start + 128]
                x, L = pad(part)
                correct += int((net(x, L).argmax(1).numpy() == labels[part]).sum())
        net.train()
        return correct / len(idx)

    tr_lengths = np.array([feats[i].shape[0] for i in tr])
    steps = int(np.ceil(len(tr) / s["batch_size"]))
    total = s["epochs"] * steps
    warmup = min(int(round(s["warmup_epochs"] * steps)), total - 1)
    lr_min = s["lr"] * s["min_lr_ratio"]

    def lr_at(step):
        if step < warmup:
            return s["lr"] * (step + 1) / warmup
        p = (step - warmup) / max(1, total - 1 - warmup)
        return lr_min + 0.5 * (s["lr"] - lr_min) * (1 + np.cos(np.pi * min(p, 1.0)))

    tr_clips = [clips[i] for i in tr]

    class Blocks(torch.utils.data.Dataset):  # one item = one block of augmented, featurized clips
        def __init__(self, epoch):
            self.epoch = epoch

        def __len__(self):
            return -(-len(tr) // BLOCK)

        def __getitem__(self, b):
            return featurize(augment_block(tr_clips, self.epoch, b, seed=s["seed"], sr=sr, noises=noises))

    best_val, best_state, step = -1.0, None, 0
    for epoch in range(s["epochs"]):
        rng = np.random.default_rng([s["seed"], epoch])
        if s["augment"]:  # this epoch's features of the training clips, in the order of tr
            loader = torch.utils.data.DataLoader(Blocks(epoch), batch_size=None, num_workers=s["workers"],
                                                 collate_fn=_as_is)
            for n, f in zip(tr, (f for block in loader for f in block)):
                feats[n] = f
        for b in length_batches(tr_lengths, batch_size=s["batch_size"], rng=rng):
            idx = tr[b]
            x, L = pad(idx)
            loss = torch.nn.functional.cross_entropy(net(x, L), torch.from_numpy(labels[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), s["clip_norm"])
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.step()
            step += 1
        val = evaluate(va) if len(va) else 0.0
        if val > best_val:
            best_val, best_state = val, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    acc = evaluate(te)
    print(json.dumps({"accuracy": acc, "val_accuracy": best_val, "seconds": time.perf_counter() - t0,
                      "feature_seconds": t_feat, "cpu": _cpu_seconds(),
                      "parameters": sum(p.numel() for p in net.parameters())}))


# --------------------------------------------------------------------------------- minikws side
def run_minikws(dataset, args, settings):
    """What ``minikws train`` runs (train_on_dataset: data workers, kernel), with the shared settings."""
    from minikws.train import TrainConfig, evaluate_on_dataset, train_on_dataset

    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=0,
                         seed=args.seed, warmup_epochs=settings["warmup_epochs"],
                         min_lr_ratio=settings["min_lr_ratio"], weight_decay=settings["weight_decay"],
                         clip_norm=settings["clip_norm"], spec_augment=False, wave_augment=settings["augment"])
    model, trainer = train_on_dataset(dataset, hidden_size=args.hidden, num_layers=args.layers,
                                      dropout=args.dropout, features=settings["features"],
                                      cmn_window=settings["cmn_window"], config=config, progress=False,
                                      log=lambda line: None, backend=args.backend, workers=settings["workers"])
    result, _, _ = evaluate_on_dataset(model, dataset, subset="test")
    val_acc = max(v for v in trainer.history["val_accuracy"] if v is not None)
    seconds = time.perf_counter() - t0
    feature_seconds = seconds - sum(trainer.history["seconds"])  # before the first epoch, and the test
    return {"accuracy": result["accuracy"], "val_accuracy": val_acc, "seconds": seconds,
            "feature_seconds": feature_seconds, "cpu": _cpu_seconds() - cpu0,
            "parameters": model.num_parameters()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="a folder of recordings (default: the built-in synthesized set)")
    p.add_argument("--dataset", default="auto", help="layout of --data (auto, folders, speech-commands, fsdd)")
    p.add_argument("--per-word", type=int, default=None, help="synthesized set: clips per word")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--cmn-window", type=int, default=100,
                   help="running CMN window in frames on both sides, 0 = off (default: KWSModel's 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (minikws: BLAS default)")
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="train on fixed features (default: wave augmentation every epoch, both sides)")
    p.add_argument("--workers", type=int, default=None,
                   help="data workers of each side (default: minikws.pipeline.default_workers())")
    p.add_argument("--backend", default="auto", help="minikws LSTM backend")
    p.add_argument("--ref-python", default=sys.executable,
                   help="interpreter with torch and librosa")
    p.add_argument("--torch-worker", nargs=2, metavar=("DATA", "SETTINGS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_worker:
        torch_worker(*args.torch_worker)
        return

    from minikws import datasets
    from minikws.models import default_feature_settings
    from minikws.pipeline import default_workers

    t0 = time.perf_counter()
    if args.data:
        dataset = datasets.load_dataset(args.data, kind=args.dataset)
    else:
        kw = {} if args.per_word is None else {"per_word": args.per_word}
        dataset = datasets.synthesize_commands(seed=args.seed, **kw)
    t_data = time.perf_counter() - t0
    settings = {"sr": int(dataset.sr), "features": default_feature_settings(int(dataset.sr)),
                "cmn_window": args.cmn_window,
                "hidden": args.hidden, "layers": args.layers, "dropout": args.dropout,
                "num_classes": len(dataset.classes), "epochs": args.epochs, "batch_size": args.batch_size,
                "lr": args.lr, "weight_decay": 1e-2, "warmup_epochs": 1.0, "min_lr_ratio": 0.02,
                "clip_norm": 5.0, "seed": args.seed, "threads": args.threads, "augment": args.augment,
                "workers": default_workers() if args.workers is None else args.workers}
    counts = {s: int((dataset.subset == s).sum()) for s in ("train", "validation", "test")}
    print(f"data: {len(dataset.audio)} clips, {len(dataset.classes)} classes, {dataset.sr} Hz, {counts} "
          f"(loaded/synthesized in {t_data:.1f}s, not timed below)")
    print(f"model: MFCC {settings['features']['n_mfcc']} -> running CMN {args.cmn_window} -> LSTM "
          f"{args.hidden} x {args.layers} -> Linear; batch {args.batch_size}, {args.epochs} epochs, "
          f"AdamW lr {args.lr}; " + (f"wave augmentation every epoch, {settings['workers']} data workers"
                                      if args.augment else "no augmentation"))

    results = {"minikws": run_minikws(dataset, args, settings)}
    if os.path.exists(args.ref_python):
        with tempfile.TemporaryDirectory() as tmp:
            lengths = np.array([len(a) for a in dataset.audio])
            audio = np.zeros((len(lengths), lengths.max()), dtype=np.float32)
            for n, a in enumerate(dataset.audio):
                audio[n, : len(a)] = a
            data_path, settings_path = os.path.join(tmp, "data.npz"), os.path.join(tmp, "settings.json")
            noises = {f"noise_{i:03d}": np.asarray(v, np.float32)
                      for i, (_, v) in enumerate(sorted(dataset.noise.items()))}
            np.savez(data_path, audio=audio, lengths=lengths, labels=np.asarray(dataset.labels, np.int64),
                     subset=np.asarray(dataset.subset).astype(str), **noises)
            json.dump(settings, open(settings_path, "w"))
            env = {**os.environ, "PYTHONPATH": ROOT}
            proc = subprocess.run([args.ref_python, os.path.abspath(__file__), "--torch-worker", data_path,
                                   settings_path], capture_output=True, text=True, env=env)
            if proc.returncode == 0:
                results["torch"] = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                print(f"torch side failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    else:
        print(f"{args.ref_python} not found: PyTorch side skipped", file=sys.stderr)

    print(f"\n{'':10} {'params':>8} {'features s':>11} {'total s':>9} {'CPU util':>9} {'val acc':>8} "
          f"{'test acc':>9}")
    for name, r in results.items():
        print(f"{name:10} {r['parameters']:>8} {r['feature_seconds']:>11.1f} {r['seconds']:>9.1f} "
              f"{r['cpu'] / r['seconds']:>9.2f} {r['val_accuracy']:>8.4f} {r['accuracy']:>9.4f}")
    if "torch" in results:
        print(f"\nwall time minikws / torch = {results['minikws']['seconds'] / results['torch']['seconds']:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
