"""minikws against PyTorch's golden fixtures (float64, <= 1e-10 relative), without torch installed.

The fixtures are written by ``scripts/make_fixtures_torch.py`` (run by hand with torch); see its
docstring for what each file holds. ``scripts/compare_torch.py`` repeats these comparisons live, on
random shapes, where torch is installed.
"""
import os

import numpy as np
import pytest

from minikws import _backend
from minikws.gradcheck import rel_error
from minikws.nn import LSTM, lstm_backward, lstm_forward, lstm_from_torch, softmax_cross_entropy
from minikws.optim import SGD, Adam, AdamW, clip_grad_norm

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
TOL = 1e-10
BACKENDS = ["numpy"] + (["cython"] if _backend.kernel() is not None else [])


def load(name):
    with np.load(os.path.join(FIXTURES, f"torch_{name}.npz"), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


LSTM_FX = load("lstm")
CE_FX = load("cross_entropy")
OPTIM_FX = load("optim")


def case(fx, prefix):
    n = len(prefix) + 1
    return {k[n:]: v for k, v in fx.items() if k.startswith(prefix + ".")}


def assert_close(name, got, want, tol=TOL):
    assert np.shape(got) == np.shape(want), f"{name}: shape {np.shape(got)} != torch's {np.shape(want)}"
    err = rel_error(got, want)
    assert err <= tol, f"{name}: relative error {err:.2e} > {tol:.0e}"


def test_fixtures_are_small_float64_and_pickle_free():
    total = sum(os.path.getsize(os.path.join(FIXTURES, f"torch_{n}.npz"))
                for n in ("lstm", "cross_entropy", "optim"))
    assert total < 1_000_000
    for fx in (LSTM_FX, CE_FX, OPTIM_FX):
        for k, v in fx.items():
            assert v.dtype != object, k
            if v.dtype.kind == "f":
                assert v.dtype == np.float64, k


def lstm_layers(c):
    """Convert each torch layer of a fixture case to minikws' (Wx, Wh, b)."""
    L = int(c["shape"][4])
    return [lstm_from_torch(c[f"weight_ih_l{k}"], c[f"weight_hh_l{k}"], c[f"bias_ih_l{k}"],
                            c[f"bias_hh_l{k}"]) for k in range(L)]


def check_layer_grads(c, k, dWx, dWh, db, label):
    assert_close(f"{label} dweight_ih_l{k}", dWx.T, c[f"dweight_ih_l{k}"])
    assert_close(f"{label} dweight_hh_l{k}", dWh.T, c[f"dweight_hh_l{k}"])
    # b = bias_ih + bias_hh, so both torch biases have the gradient of b
    assert_close(f"{label} dbias_ih_l{k}", db, c[f"dbias_ih_l{k}"])
    assert_close(f"{label} dbias_hh_l{k}", db, c[f"dbias_hh_l{k}"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("i", range(int(LSTM_FX["num_cases"])))
def test_lstm_functional_matches_torch(i, backend):
    c = case(LSTM_FX, f"case{i}")
    T, B, D, H, L = (int(v) for v in c["shape"])
    label = f"case{i} (T,B,D,H,L)={T, B, D, H, L} {backend}"
    layers = lstm_layers(c)
    # forward, layer by layer: layer k reads layer k-1's hidden states
    inp, caches = c["x"], []
    for k, (Wx, Wh, b) in enumerate(layers):
        inp, (hT, cT), cache = lstm_forward(inp, c["h0"][k], c["c0"][k], Wx, Wh, b, backend=backend)
        assert_close(f"{label} hT[{k}]", hT, c["hT"][k])
        assert_close(f"{label} cT[{k}]", cT, c["cT"][k])
        caches.append(cache)
    assert_close(f"{label} out", inp, c["out"])
    # backward, last layer first: dx of layer k is the upstream dh of layer k-1
    dh = c["dout"]
    for k in range(L - 1, -1, -1):
        dh, dh0, dc0, dWx, dWh, db = lstm_backward(dh, caches[k], c["dhT"][k], c["dcT"][k])
        assert_close(f"{label} dh0[{k}]", dh0, c["dh0"][k])
        assert_close(f"{label} dc0[{k}]", dc0, c["dc0"][k])
        check_layer_grads(c, k, dWx, dWh, db, label)
    assert_close(f"{label} dx", dh, c["dx"])


@pytest.mark.parametrize("i", range(int(LSTM_FX["num_cases"])))
def test_lstm_module_matches_torch(i):
    c = case(LSTM_FX, f"case{i}")
    T, B, D, H, L = (int(v) for v in c["shape"])
    label = f"case{i} module"
    m = LSTM(D, H, num_layers=L, dtype=np.float64, backend="numpy")
    for k, (Wx, Wh, b) in enumerate(lstm_layers(c)):
        m.params[f"l{k}.Wx"][...] = Wx
        m.params[f"l{k}.Wh"][...] = Wh
        m.params[f"l{k}.b"][...] = b
    m.zero_grad()
    h, state = m.forward(c["x"], state=[(c["h0"][k], c["c0"][k]) for k in range(L)], train=True)
    assert_close(f"{label} out", h, c["out"])
    for k in range(L):
        assert_close(f"{label} hT[{k}]", state[k][0], c["hT"][k])
        assert_close(f"{label} cT[{k}]", state[k][1], c["cT"][k])
    dx = m.backward(c["dout"], dstate=[(c["dhT"][k], c["dcT"][k]) for k in range(L)])
    assert_close(f"{label} dx", dx, c["dx"])
    for k in range(L):
        assert_close(f"{label} dh0[{k}]", m.dstate[k][0], c["dh0"][k])
        assert_close(f"{label} dc0[{k}]", m.dstate[k][1], c["dc0"][k])
        check_layer_grads(c, k, m.grads[f"l{k}.Wx"], m.grads[f"l{k}.Wh"], m.grads[f"l{k}.b"], label)


CE_CASES = sorted({k.split(".")[0] for k in CE_FX})


@pytest.mark.parametrize("name", CE_CASES)
def test_cross_entropy_matches_torch(name):
    c = case(CE_FX, name)
    mask = None if c["mask"].all() else c["mask"]
    loss, dlogits = softmax_cross_entropy(c["logits"], c["targets"], mask=mask)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    assert_close(f"{name} loss", loss, c["loss"])
    assert_close(f"{name} dlogits", dlogits, c["dlogits"])


def test_cross_entropy_fixture_covers_masks_and_extremes():
    assert (CE_FX["frame.targets"] == -100).any() and CE_FX["frame.logits"].ndim == 3
    assert CE_FX["utt_extreme.loss"] > 1e3  # a target at -1e4 against +1e4: huge but finite
    assert max(np.abs(CE_FX[f"{n}.logits"]).max() for n in CE_CASES) == 1e4


def make_optimizer(c, params):
    cls = str(c["class"])
    if cls == "SGD":
        return SGD(params, lr=float(c["lr"][0]), momentum=float(c["momentum"]),
                   weight_decay=float(c["weight_decay"]))
    opt = {"Adam": Adam, "AdamW": AdamW}[cls]
    return opt(params, lr=float(c["lr"][0]), betas=tuple(float(b) for b in c["betas"]),
               eps=float(c["eps"]), weight_decay=float(c["weight_decay"]))


OPTIM_CASES = sorted({k.split(".")[0] for k in OPTIM_FX if k.endswith(".class")})


@pytest.mark.parametrize("name", OPTIM_CASES)
def test_optimizer_trajectory_matches_torch(name):
    c = case(OPTIM_FX, name)
    names = sorted(k[len("init."):] for k in c if k.startswith("init."))
    params = {k: c[f"init.{k}"].copy() for k in names}
    opt = make_optimizer(c, params)
    steps = int(OPTIM_FX["steps"])
    assert steps == 200
    got = {k: np.empty_like(c[f"params.{k}"]) for k in names}
    for s in range(steps):
        opt.lr = float(c["lr"][s])
        opt.step({k: c[f"grads.{k}"][s] for k in names})
        for k in names:
            got[k][s] = params[k]
    for k in names:
        assert_close(f"{name} params[{k}] after step 1", got[k][0], c[f"params.{k}"][0])
        assert_close(f"{name} params[{k}] over 200 steps", got[k], c[f"params.{k}"])


@pytest.mark.parametrize("i", range(int(OPTIM_FX["num_clip"])))
def test_clip_grad_norm_matches_torch(i):
    c = case(OPTIM_FX, f"clip{i}")
    names = sorted(k[len("grads."):] for k in c if k.startswith("grads."))
    grads = {k: c[f"grads.{k}"].copy() for k in names}
    total = clip_grad_norm(grads, float(c["max_norm"]))
    assert_close(f"clip{i} total_norm", total, c["total_norm"])
    for k in names:
        assert_close(f"clip{i} grads[{k}]", grads[k], c[f"clipped.{k}"])
