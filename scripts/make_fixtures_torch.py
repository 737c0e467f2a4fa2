"""Write the PyTorch golden fixtures that tests/test_torch_parity.py reads without torch.

Run by hand, in an environment with torch (2.13.0 CPU was used), from the repository root::

    PYTHONPATH=. python scripts/make_fixtures_torch.py

Writes, in float64 and deterministically (fixed seeds):

* tests/fixtures/torch_lstm.npz -- ``torch.nn.LSTM`` (time-major) for several small shapes, including
  T = B = D = H = 1: inputs, initial states, the weights in torch's layout, outputs, (hT, cT), and the
  gradients of L = sum(out * dout) + sum(hT * dhT) + sum(cT * dcT) for random upstream gradients with
  respect to the input, h0, c0 and every weight. Keys ``"case{i}.{name}"``; ``"num_cases"``.
* tests/fixtures/torch_cross_entropy.npz -- ``F.cross_entropy`` on utterance (B, C) and frame (T, B, C)
  logits, with ``ignore_index`` (-100) positions and logits of +-1e4; the loss and d loss / d logits.
* tests/fixtures/torch_optim.npz -- ``optim.AdamW``, ``optim.Adam`` and ``optim.SGD`` (momentum) over a
  stored sequence of 200 changing gradients and learning rates, with the parameters after every step;
  and ``clip_grad_norm_`` on a few gradient dicts.
"""
import argparse
import os
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures")

# (T, B, D, H, num_layers): the degenerate sizes, a typical small one, a long thin one, one layer.
LSTM_CASES = [
    (1, 1, 1, 1, 2),
    (5, 3, 4, 6, 2),
    (9, 1, 3, 2, 2),
    (3, 4, 2, 1, 2),
    (4, 2, 3, 5, 1),
]


def _np(t):
    return t.detach().numpy().copy()


def lstm_fixture(seed=0):
    rng = np.random.default_rng(seed)
    out = {"num_cases": np.array(len(LSTM_CASES))}
    for i, (T, B, D, H, L) in enumerate(LSTM_CASES):
        torch.manual_seed(seed + i)
        lstm = torch.nn.LSTM(D, H, num_layers=L).double()
        with torch.no_grad():  # wider than torch's U(-1/sqrt(H), 1/sqrt(H)) so the gates saturate a bit
            for p in lstm.parameters():
                p.copy_(torch.from_numpy(rng.uniform(-1.5, 1.5, size=tuple(p.shape))))
        x = torch.from_numpy(rng.standard_normal((T, B, D))).requires_grad_()
        h0 = torch.from_numpy(rng.standard_normal((L, B, H))).requires_grad_()
        c0 = torch.from_numpy(rng.standard_normal((L, B, H))).requires_grad_()
        y, (hT, cT) = lstm(x, (h0, c0))
        dout = rng.standard_normal((T, B, H))
        dhT, dcT = rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H))
        loss = ((y * torch.from_numpy(dout)).sum() + (hT * torch.from_numpy(dhT)).sum()
                + (cT * torch.from_numpy(dcT)).sum())
        loss.backward()
        c = {"shape": np.array([T, B, D, H, L]), "x": _np(x), "h0": _np(h0), "c0": _np(c0),
             "out": _np(y), "hT": _np(hT), "cT": _np(cT), "dout": dout, "dhT": dhT, "dcT": dcT,
             "dx": _np(x.grad), "dh0": _np(h0.grad), "dc0": _np(c0.grad)}
        for name, p in lstm.named_parameters():  # weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...
            c[name] = _np(p)
            c["d" + name] = _np(p.grad)
        out.update({f"case{i}.{k}": v for k, v in c.items()})
    return out


def cross_entropy_fixture(seed=1):
    rng = np.random.default_rng(seed)
    cases = {}
    # utterance logits (B, C), every target counted
    z = rng.standard_normal((6, 5)) * 3
    z[1] = [1e4, -1e4, 0, 5, -5]  # a saturated softmax: target 0 gives 0 loss, others 2e4
    z[4] = [-1e4, -1e4, -1e4, -1e4, 1e4]
    cases["utt"] = (z, np.array([2, 0, 4, 1, 3, 0]))
    # the same with a target at the wrong extreme: a huge but finite loss
    cases["utt_extreme"] = (z.copy(), np.array([2, 1, 4, 1, 0, 0]))
    # one utterance, two classes
    cases["utt_b1"] = (rng.standard_normal((1, 2)), np.array([1]))
    # frame logits (T, B, C) with padded frames marked -100 (ignore_index)
    T, B, C = 7, 3, 4
    z = rng.standard_normal((T, B, C)) * 2
    z[2, 1] = [1e4, -1e4, 3, 0]
    z[5, 0] = [-1e4, -1e4, -1e4, 1e4]
    y = rng.integers(0, C, size=(T, B))
    lengths = np.array([7, 4, 2])
    y[np.arange(T)[:, None] >= lengths[None, :]] = -100
    z[6, 2] = [1e4, -1e4, 0, 0]  # extreme logits at an ignored frame must not matter
    cases["frame"] = (z, y)
    out = {}
    for name, (z, y) in cases.items():
        zt = torch.from_numpy(z).requires_grad_()
        yt = torch.from_numpy(y)
        if z.ndim == 3:  # torch wants the classes on axis 1: (B, C, T) against (B, T)
            loss = F.cross_entropy(zt.permute(1, 2, 0), yt.permute(1, 0), ignore_index=-100)
        else:
            loss = F.cross_entropy(zt, yt, ignore_index=-100)
        loss.backward()
        out.update({f"{name}.logits": z, f"{name}.targets": y.astype(np.int64),
                    f"{name}.mask": y != -100, f"{name}.loss": np.array(loss.item()),
                    f"{name}.dlogits": _np(zt.grad)})
    return out


OPTIM_SHAPES = {"W": (3, 4), "b": (4,), "s": (1,)}
OPTIM_CASES = {
    "adamw": ("AdamW", dict(betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)),
    "adamw_default": ("AdamW", dict()),
    "adam_l2": ("Adam", dict(betas=(0.8, 0.999), eps=1e-6, weight_decay=0.05)),
    "sgd_momentum": ("SGD", dict(momentum=0.9, weight_decay=1e-3)),
    "sgd": ("SGD", dict()),
}


def optim_fixture(seed=2, steps=200):
    rng = np.random.default_rng(seed)
    out = {"steps": np.array(steps)}
    names = sorted(OPTIM_SHAPES)
    for case, (cls, kw) in OPTIM_CASES.items():
        init = {k: rng.standard_normal(OPTIM_SHAPES[k]) for k in names}
        # gradients that change sign and scale over three orders of magnitude, some exactly zero
        scale = 10.0 ** rng.uniform(-2, 1, size=steps)
        grads = {k: rng.standard_normal((steps,) + OPTIM_SHAPES[k]) * scale.reshape((-1,) + (1,) * len(
            OPTIM_SHAPES[k])) for k in names}
        grads["b"][::17, 1] = 0.0
        base = 1e-2 if cls != "SGD" else 5e-2
        lrs = base * np.minimum(1.0, (np.arange(steps) + 1) / 20) * (0.5 + 0.5 * np.cos(
            np.pi * np.arange(steps) / steps))
        params = {k: torch.from_numpy(init[k].copy()).requires_grad_() for k in names}
        opt = getattr(torch.optim, cls)([params[k] for k in names], lr=float(lrs[0]), **kw)
        traj = {k: np.empty((steps,) + OPTIM_SHAPES[k]) for k in names}
        for s in range(steps):
            for g in opt.param_groups:
                g["lr"] = float(lrs[s])
            for k in names:
                params[k].grad = torch.from_numpy(grads[k][s].copy())
            opt.step()
            for k in names:
                traj[k][s] = _np(params[k])
        hyper = {"betas": np.array(kw.get("betas", (0.9, 0.999))), "eps": np.array(kw.get("eps", 1e-8)),
                 "weight_decay": np.array(kw.get("weight_decay", 1e-2 if cls == "AdamW" else 0.0)),
                 "momentum": np.array(kw.get("momentum", 0.0))}
        out[f"{case}.class"] = np.array(cls)
        out.update({f"{case}.{h}": v for h, v in hyper.items()})
        out[f"{case}.lr"] = lrs
        for k in names:
            out[f"{case}.init.{k}"] = init[k]
            out[f"{case}.grads.{k}"] = grads[k]
            out[f"{case}.params.{k}"] = traj[k]
    # clip_grad_norm_: below, above and far above the threshold
    for i, (factor, max_norm) in enumerate([(0.1, 1.0), (3.0, 1.0), (1e3, 0.5)]):
        g = {k: rng.standard_normal(OPTIM_SHAPES[k]) * factor for k in names}
        ts = [torch.from_numpy(g[k].copy()).requires_grad_() for k in names]
        for t in ts:
            t.grad = t.detach().clone()
        total = torch.nn.utils.clip_grad_norm_(ts, max_norm)
        out[f"clip{i}.max_norm"] = np.array(max_norm)
        out[f"clip{i}.total_norm"] = np.array(total.item())
        for k, t in zip(names, ts):
            out[f"clip{i}.grads.{k}"] = g[k]
            out[f"clip{i}.clipped.{k}"] = _np(t.grad)
    out["num_clip"] = np.array(3)
    return out


def _atomic_savez(path, arrays):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=FIXTURES, help="folder to write into (default: tests/fixtures)")
    args = parser.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for name, make in (("lstm", lstm_fixture), ("cross_entropy", cross_entropy_fixture),
                       ("optim", optim_fixture)):
        arrays = make()
        for k, v in arrays.items():
            assert v.dtype != object, k
        path = os.path.join(args.out, f"torch_{name}.npz")
        _atomic_savez(path, arrays)
        print(f"{path}: {len(arrays)} arrays, {os.path.getsize(path) / 1024:.1f} KiB")
    print(f"torch {torch.__version__}")


if __name__ == "__main__":
    main()
