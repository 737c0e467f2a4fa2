"""Compare minikws with PyTorch live, in float64, on many random shapes and seeds.

The golden fixtures (tests/test_torch_parity.py) pin a few shapes; this script is the independent
check on any shapes: it draws shapes, weights and data at random (always including T = B = H = 1 and a
large H), runs torch and minikws side by side, prints the largest relative error of each quantity and
exits with status 1 if any exceeds the threshold (default 1e-8). Needs torch::

    PYTHONPATH=. python scripts/compare_torch.py [--trials 40] [--seed 0] [--tol 1e-8]

Relative error is ``minikws.gradcheck.rel_error``: max |a - b| / max(|a| + |b|) over the array.
The LSTM weights are drawn from U(-s, s) with s up to 2 (torch's default is 1/sqrt(H)), where the
recurrence amplifies rounding errors; the "(ref)" lines show how far torch moves from itself when x is
perturbed by about one rounding error -- a floor no implementation can beat -- and are not checked.
"""
import argparse
import sys
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from minikws import _backend
from minikws.gradcheck import rel_error
from minikws.nn import LSTM, lstm_backward, lstm_forward, lstm_from_torch, softmax_cross_entropy
from minikws.optim import SGD, Adam, AdamW, clip_grad_norm


def _t(a, grad=False):
    return torch.from_numpy(np.array(a, dtype=np.float64)).requires_grad_(grad)


def _np(t):
    return t.detach().numpy()


def lstm_shapes(rng, trials):
    """(T, B, D, H, layers): the fixed corner cases, then random draws."""
    fixed = [(1, 1, 1, 1, 1), (1, 1, 1, 1, 2), (1, 5, 3, 1, 2), (7, 1, 2, 1, 1), (3, 2, 40, 128, 2),
             (2, 3, 5, 257, 1)]
    drawn = []
    for _ in range(trials):
        H = int(rng.choice([1, 2, 3, int(rng.integers(4, 33)), int(rng.integers(33, 160))]))
        drawn.append((int(rng.integers(1, 25)), int(rng.integers(1, 9)), int(rng.integers(1, 21)), H,
                      int(rng.integers(1, 3))))
    return fixed + drawn


def compare_lstm(rng, T, B, D, H, L, backends, errs):
    lstm = torch.nn.LSTM(D, H, num_layers=L).double()
    scale = rng.uniform(0.2, 2.0)  # from nearly linear gates to saturated ones
    with torch.no_grad():
        for p in lstm.parameters():
            p.copy_(_t(rng.uniform(-scale, scale, size=tuple(p.shape))))
    x = _t(rng.standard_normal((T, B, D)), grad=True)
    h0 = _t(rng.standard_normal((L, B, H)), grad=True)
    c0 = _t(rng.standard_normal((L, B, H)), grad=True)
    y, (hT, cT) = lstm(x, (h0, c0))
    dout, dhT, dcT = (rng.standard_normal(s) for s in ((T, B, H), (L, B, H), (L, B, H)))
    ((y * _t(dout)).sum() + (hT * _t(dhT)).sum() + (cT * _t(dcT)).sum()).backward()
    # the problem's own sensitivity: torch against itself on x perturbed by about one rounding error
    with torch.no_grad():
        y_pert, _ = lstm(_t(_np(x) * (1 + 1e-16 * rng.standard_normal((T, B, D)))), (h0, c0))
    errs[f"(ref) lstm{L} torch vs torch(x(1+1e-16z)) out"].append(rel_error(_np(y_pert), _np(y)))
    layers = [lstm_from_torch(*(_np(getattr(lstm, f"{w}_l{k}")).copy()
                                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))) for k in range(L)]
    tag = f"lstm{L}"
    for backend in backends:
        # functional pairs, layer by layer
        inp, caches = _np(x), []
        for k, (Wx, Wh, b) in enumerate(layers):
            inp, (h_k, c_k), cache = lstm_forward(inp, _np(h0)[k], _np(c0)[k], Wx, Wh, b, backend=backend)
            errs[f"{tag} {backend} hT,cT"].append(max(rel_error(h_k, _np(hT)[k]), rel_error(c_k, _np(cT)[k])))
            caches.append(cache)
        errs[f"{tag} {backend} out"].append(rel_error(inp, _np(y)))
        dh = dout
        grads = {}
        for k in range(L - 1, -1, -1):
            dh, dh0, dc0, dWx, dWh, db = lstm_backward(dh, caches[k], dhT[k], dcT[k])
            grads[k] = (dWx, dWh, db)
            errs[f"{tag} {backend} dh0,dc0"].append(max(rel_error(dh0, _np(h0.grad)[k]),
                                                        rel_error(dc0, _np(c0.grad)[k])))
        errs[f"{tag} {backend} dx"].append(rel_error(dh, _np(x.grad)))
        for k, (dWx, dWh, db) in grads.items():
            errs[f"{tag} {backend} dWx,dWh,db"].append(max(
                rel_error(dWx.T, _np(getattr(lstm, f"weight_ih_l{k}").grad)),
                rel_error(dWh.T, _np(getattr(lstm, f"weight_hh_l{k}").grad)),
                rel_error(db, _np(getattr(lstm, f"bias_ih_l{k}").grad)),
                rel_error(db, _np(getattr(lstm, f"bias_hh_l{k}").grad))))
        # the module over the same weights
        m = LSTM(D, H, num_layers=L, dtype=np.float64, backend=backend)
        for k, (Wx, Wh, b) in enumerate(layers):
            m.params[f"l{k}.Wx"][...], m.params[f"l{k}.Wh"][...], m.params[f"l{k}.b"][...] = Wx, Wh, b
        m.zero_grad()
        hm, _ = m.forward(_np(x), state=[(_np(h0)[k], _np(c0)[k]) for k in range(L)])
        dxm = m.backward(dout, dstate=[(dhT[k], dcT[k]) for k in range(L)])
        errs[f"{tag} {backend} module out,dx,dW"].append(max(
            [rel_error(hm, _np(y)), rel_error(dxm, _np(x.grad))]
            + [rel_error(m.grads[f"l{k}.Wh"].T, _np(getattr(lstm, f"weight_hh_l{k}").grad))
               for k in range(L)]))


def compare_cross_entropy(rng, errs):
    frame = bool(rng.integers(0, 2))
    C = int(rng.choice([1, 2, int(rng.integers(3, 40))]))
    lead = (int(rng.integers(1, 30)), int(rng.integers(1, 9))) if frame else (int(rng.integers(1, 33)),)
    z = rng.standard_normal(lead + (C,)) * rng.uniform(0.1, 30)
    extreme = rng.random(lead) < 0.2  # rows of +-1e4
    z[extreme] = rng.choice([-1e4, 1e4], size=(int(extreme.sum()), C))
    y = rng.integers(0, C, size=lead)
    mask = rng.random(lead) < 0.7
    mask.flat[int(rng.integers(0, mask.size))] = True
    y_torch = np.where(mask, y, -100)
    zt = _t(z, grad=True)
    if frame:
        loss = F.cross_entropy(zt.permute(1, 2, 0), _t(y_torch).long().permute(1, 0), ignore_index=-100)
    else:
        loss = F.cross_entropy(zt, _t(y_torch).long(), ignore_index=-100)
    loss.backward()
    mine, dz = softmax_cross_entropy(z, np.where(mask, y, -1), mask=mask)
    tag = "xent frame (T,B,C)" if frame else "xent utterance (B,C)"
    errs[f"{tag} loss"].append(rel_error(mine, loss.item()))
    errs[f"{tag} dlogits"].append(rel_error(dz, _np(zt.grad)))


def compare_optimizer(rng, errs, steps=200):
    kind = str(rng.choice(["AdamW", "AdamW", "Adam", "SGD"]))
    shapes = [tuple(int(s) for s in rng.integers(1, 12, size=int(rng.integers(1, 3)))) for _ in range(3)]
    names = [f"p{i}" for i in range(len(shapes))]
    init = {n: rng.standard_normal(s) for n, s in zip(names, shapes)}
    if kind == "SGD":
        hyper = dict(momentum=float(rng.choice([0.0, rng.uniform(0.5, 0.99)])),
                     weight_decay=float(rng.choice([0.0, 1e-3])))
        base = 10.0 ** rng.uniform(-3, -1)
    else:
        hyper = dict(betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999))),
                     eps=float(10.0 ** rng.uniform(-10, -6)), weight_decay=float(rng.uniform(0, 0.3)))
        base = 10.0 ** rng.uniform(-4, -1)
    warm = int(rng.integers(0, 40))
    lrs = [base * min(1.0, (s + 1) / warm) if warm else base for s in range(steps)]
    tp = [_t(init[n].copy(), grad=True) for n in names]
    topt = getattr(torch.optim, kind)(tp, lr=lrs[0], **hyper)
    mine = {n: init[n].copy() for n in names}
    mopt = {"AdamW": AdamW, "Adam": Adam, "SGD": SGD}[kind](mine, lr=lrs[0], **hyper)
    clip = float(rng.choice([0.0, rng.uniform(0.1, 5)]))
    worst = 0.0
    for s in range(steps):
        g = {n: rng.standard_normal(init[n].shape) * 10.0 ** rng.uniform(-3, 1) for n in names}
        for t, n in zip(tp, names):
            t.grad = _t(g[n])
        if clip:
            tn = torch.nn.utils.clip_grad_norm_(tp, clip).item()
            mn = clip_grad_norm(g, clip)
            errs["clip_grad_norm total"].append(rel_error(mn, tn))
        for group in topt.param_groups:
            group["lr"] = lrs[s]
        mopt.lr = lrs[s]
        topt.step()
        mopt.step(g)
        worst = max(worst, max(rel_error(mine[n], _np(t)) for t, n in zip(tp, names)))
    errs[f"{kind} {steps} steps params"].append(worst)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="random draws of each kind (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    backends = ["numpy"] + (["cython"] if _backend.kernel() is not None else [])
    errs = defaultdict(list)
    shapes = lstm_shapes(rng, args.trials)
    for T, B, D, H, L in shapes:
        compare_lstm(rng, T, B, D, H, L, backends, errs)
    for _ in range(args.trials):
        compare_cross_entropy(rng, errs)
    for _ in range(args.trials):
        compare_optimizer(rng, errs)
    Hs = sorted({s[3] for s in shapes})
    print(f"torch {torch.__version__}; {len(shapes)} LSTM shapes (T 1-24, B 1-8, D 1-40, "
          f"H {Hs[0]}-{Hs[-1]}), {args.trials} cross-entropy and {args.trials} optimizer draws, "
          f"seed {args.seed}; backends {backends}")
    failed = []
    width = max(len(k) for k in errs)
    for key in sorted(errs):
        worst = max(errs[key])
        flag = "" if worst <= args.tol or key.startswith("(ref)") else "  FAIL"
        print(f"{key:<{width}}  n={len(errs[key]):<4d} max rel error {worst:.2e}{flag}")
        if flag:
            failed.append(key)
    if failed:
        print(f"FAILED (> {args.tol:g}): {', '.join(failed)}")
        return 1
    print(f"all <= {args.tol:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
