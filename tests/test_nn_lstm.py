"""LSTM step and sequence: gradient checks, a hand-computed step, step loop = sequence, backends, errors."""
import math
import warnings

import numpy as np
import pytest

from minikws import _backend
from minikws.errors import MinikwsError
from minikws.gradcheck import check, numerical_gradient, rel_error
from minikws.nn import (
    LSTMCache,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)

SHAPES = [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 1), (4, 2, 3, 5), (3, 2, 1, 2)]  # (T, B, D, H)
HAS_KERNEL = _backend.kernel() is not None
BACKENDS = ["numpy"] + (["cython"] if HAS_KERNEL else [])


def params(rng, T, B, D, H, dtype=np.float64):
    def r(*s, scale=1.0):
        return (scale * rng.standard_normal(s)).astype(dtype)

    return dict(x=r(T, B, D), h0=r(B, H), c0=r(B, H), Wx=r(D, 4 * H, scale=0.5),
                Wh=r(H, 4 * H, scale=0.5), b=r(4 * H, scale=0.5))


@pytest.mark.parametrize("T,B,D,H", SHAPES)
def test_step_gradients(rng, T, B, D, H):
    p = params(rng, T, B, D, H)
    inputs = dict(x=p["x"][0], h_prev=p["h0"], c_prev=p["c0"], Wx=p["Wx"], Wh=p["Wh"], b=p["b"])

    def fwd(**q):
        h, c, cache = lstm_step_forward(**q)
        return (h, c), cache

    def bwd(dout, cache):
        return dict(zip(("x", "h_prev", "c_prev", "Wx", "Wh", "b"), lstm_step_backward(*dout, cache)))

    errors = check(fwd, bwd, inputs)
    assert len(errors) == 6
    assert max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("final_grads", [True, False])
@pytest.mark.parametrize("T,B,D,H", SHAPES)
def test_sequence_gradients(rng, T, B, D, H, final_grads, backend):
    inputs = params(rng, T, B, D, H)

    def fwd(**q):
        h, (hT, cT), cache = lstm_forward(**q, backend=backend)
        return ((h, hT, cT) if final_grads else h), cache

    def bwd(dout, cache):
        if final_grads:
            grads = lstm_backward(dout[0], cache, dhT=dout[1], dcT=dout[2])
        else:
            grads = lstm_backward(dout, cache)
        return dict(zip(("x", "h0", "c0", "Wx", "Wh", "b"), grads))

    errors = check(fwd, bwd, inputs, seed=T * 100 + H)
    assert max(errors.values()) <= 1e-7, errors


def test_hand_computed_step():
    # D = H = 1, x = 1, h_prev = 0: the pre-activations are the weights, one per gate block [i, f, g, o].
    a = np.array([[math.log(3), -math.log(3), math.log(2), 0.0]])  # i = 3/4, f = 1/4, g = 0.6, o = 1/2
    x, h_prev, c_prev = np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0)
    h, c, cache = lstm_step_forward(x, h_prev, c_prev, a, np.zeros((1, 4)), np.zeros(4))
    np.testing.assert_allclose(cache.gates, [[0.75, 0.25, 0.6, 0.5]], rtol=1e-15)
    assert c[0, 0] == pytest.approx(0.25 * 2 + 0.75 * 0.6, rel=1e-15)  # 0.95
    assert h[0, 0] == pytest.approx(0.5 * math.tanh(0.95), rel=1e-15)
    # dh = 1: dc = o (1 - tanh^2 c); dc_prev = dc f; db_o = tanh(c) o (1 - o)
    dx, dh_prev, dc_prev, dWx, dWh, db = lstm_step_backward(np.ones((1, 1)), np.zeros((1, 1)), cache)
    dc = 0.5 * (1 - math.tanh(0.95) ** 2)
    assert dc_prev[0, 0] == pytest.approx(dc * 0.25, rel=1e-14)
    np.testing.assert_allclose(
        db, [dc * 0.6 * 0.75 * 0.25, dc * 2 * 0.25 * 0.75, dc * 0.75 * (1 - 0.36), math.tanh(0.95) * 0.25],
        rtol=1e-14)
    np.testing.assert_allclose(dWx, db[None], rtol=1e-14)  # x = 1
    np.testing.assert_array_equal(dWh, np.zeros((1, 4)))  # h_prev = 0


@pytest.mark.parametrize("T,B,D,H", SHAPES)
def test_sequence_equals_step_loop(rng, T, B, D, H):
    p = params(rng, T, B, D, H)
    h, (hT, cT), cache = lstm_forward(**p, backend="numpy")
    assert isinstance(cache, LSTMCache) and cache.backend == "numpy"
    hs, caches, h_t, c_t = [], [], p["h0"], p["c0"]
    for t in range(T):
        h_t, c_t, step_cache = lstm_step_forward(p["x"][t], h_t, c_t, p["Wx"], p["Wh"], p["b"])
        hs.append(h_t)
        caches.append(step_cache)
    np.testing.assert_allclose(h, np.stack(hs), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cache.c, np.stack([sc.c for sc in caches]), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cache.gates, np.stack([sc.gates for sc in caches]), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(hT, h[-1])
    np.testing.assert_array_equal(cT, cache.c[-1])

    dh, dhT, dcT = rng.standard_normal(h.shape), rng.standard_normal(hT.shape), rng.standard_normal(cT.shape)
    seq = lstm_backward(dh, cache, dhT, dcT)
    dx, dWx, dWh, db = [], 0, 0, 0
    dh_next, dc_next = dhT, dcT
    for t in range(T - 1, -1, -1):
        dx_t, dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(dh[t] + dh_next, dc_next, caches[t])
        dx.insert(0, dx_t)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    for got, want in zip(seq, (np.stack(dx), dh_next, dc_next, dWx, dWh, db)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_zero_initial_state_by_default(rng):
    p = params(rng, 3, 2, 4, 3)
    h_none, _, cache = lstm_forward(p["x"], None, None, p["Wx"], p["Wh"], p["b"], backend="numpy")
    zeros = np.zeros((2, 3))
    h_zero, _, _ = lstm_forward(p["x"], zeros, zeros, p["Wx"], p["Wh"], p["b"], backend="numpy")
    np.testing.assert_array_equal(h_none, h_zero)
    np.testing.assert_array_equal(cache.h0, zeros)
    # the gradients with respect to the zero initial state are real ones, not placeholders: those of
    # an explicit zero state, and the centred differences of <dh, h> at h0 = c0 = 0
    dh = rng.standard_normal(h_none.shape)
    dx, dh0, dc0, *_ = lstm_backward(dh, cache)
    _, dh0_zero, dc0_zero, *_ = lstm_backward(dh, lstm_forward(p["x"], zeros, zeros, p["Wx"], p["Wh"], p["b"],
                                                               backend="numpy")[2])
    np.testing.assert_array_equal(dh0, dh0_zero)
    np.testing.assert_array_equal(dc0, dc0_zero)
    for which, got in (("h0", dh0), ("c0", dc0)):
        def f(s, which=which):
            state = {"h0": zeros, "c0": zeros, which: s}
            return lstm_forward(p["x"], state["h0"], state["c0"], p["Wx"], p["Wh"], p["b"], backend="numpy")[0]

        want = numerical_gradient(f, zeros.copy(), dh)
        assert rel_error(got, want) <= 1e-7, which
        assert np.abs(want).max() > 1e-3  # the initial state does matter to h


@pytest.mark.skipif(not HAS_KERNEL, reason="compiled kernel not built")
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_backends_agree(rng, dtype, tol):
    p = params(rng, 6, 3, 4, 5, dtype)
    h_n, s_n, c_n = lstm_forward(**p, backend="numpy")
    h_c, s_c, c_c = lstm_forward(**p, backend="cython")
    assert c_n.backend == "numpy" and c_c.backend == "cython"
    assert h_c.dtype == dtype
    np.testing.assert_allclose(h_c, h_n, rtol=tol, atol=tol)
    np.testing.assert_allclose(s_c[1], s_n[1], rtol=tol, atol=tol)
    dh = rng.standard_normal(h_n.shape).astype(dtype)
    dcT = rng.standard_normal(s_n[1].shape).astype(dtype)
    for g_c, g_n in zip(lstm_backward(dh, c_c, dcT=dcT), lstm_backward(dh, c_n, dcT=dcT)):
        assert g_c.dtype == dtype
        np.testing.assert_allclose(g_c, g_n, rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_does_not_write_into_its_inputs(rng, backend):
    p = params(rng, 4, 2, 3, 3)
    h, _, cache = lstm_forward(**p, backend=backend)
    dh, dhT, dcT = rng.standard_normal(h.shape), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    copies = [a.copy() for a in (dh, dhT, dcT, *cache[:8])]
    lstm_backward(dh, cache, dhT, dcT)
    for a, before in zip((dh, dhT, dcT, *cache[:8]), copies):
        np.testing.assert_array_equal(a, before)


def test_float32_stays_float32(rng):
    p = params(rng, 3, 2, 4, 3, np.float32)
    h, (hT, cT), cache = lstm_forward(**p, backend="numpy")
    assert h.dtype == hT.dtype == cT.dtype == cache.gates.dtype == np.float32
    assert all(g.dtype == np.float32 for g in lstm_backward(np.ones_like(h), cache))


def test_sigmoid_is_stable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (np.float32, np.float64):
            s = sigmoid(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype))
            assert s.dtype == dtype
            np.testing.assert_allclose(s, [0, 1 / (1 + np.exp(50.0)), 0.5, 1 / (1 + np.exp(-50.0)), 1],
                                       rtol=1e-6, atol=np.finfo(dtype).eps)


def test_saturated_gates_stay_finite(rng):
    p = params(rng, 5, 2, 3, 4)
    p["x"] = p["x"] * 1e4
    h, _, cache = lstm_forward(**p, backend="numpy")
    grads = lstm_backward(np.ones_like(h), cache)
    assert np.isfinite(h).all() and all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "change,match",
    [
        (dict(Wx=np.zeros((5, 12))), r"Wx: expected shape \(D, 4H\).*\(5, 12\)"),
        (dict(Wh=np.zeros((3, 10))), r"Wh: expected shape"),
        (dict(b=np.zeros(8)), r"b: expected shape \(4H,\)"),
        (dict(h0=np.zeros((3, 3))), r"h0: expected shape \(B, H\) = \(2, 3\), got \(3, 3\)"),
        (dict(c0=np.zeros((2,))), r"c0: expected 2 dimensions"),
        (dict(x=np.zeros((2, 4))), r"x: expected 3 dimensions"),
        (dict(x=np.zeros((0, 2, 4))), r"x: expected T >= 1"),
        (dict(x=np.zeros((3, 2, 4), dtype=np.float32)), r"mixed dtypes: x float32"),
        (dict(x=np.zeros((3, 2, 4), dtype=np.int64)), r"x: expected dtype float32 or float64"),
        (dict(x=np.full((3, 2, 4), np.nan)), r"x: contains NaN"),
        (dict(Wh=np.full((3, 12), np.inf)), r"Wh: contains NaN or infinite"),
        (dict(x=[[[0.0] * 4] * 2] * 3), r"x: expected a numpy array, got list"),
        (dict(backend="gpu"), r"backend: expected one of"),
    ],
)
def test_forward_rejects_bad_arguments(rng, change, match):
    p = params(rng, 3, 2, 4, 3)
    p.update(change)
    with pytest.raises(ValueError, match=match):
        lstm_forward(**p)


def test_backward_rejects_bad_arguments(rng):
    p = params(rng, 3, 2, 4, 3)
    h, _, cache = lstm_forward(**p, backend="numpy")
    with pytest.raises(MinikwsError, match=r"dh: expected shape \(T, B, H\) = \(3, 2, 3\), got \(3, 2, 4\)"):
        lstm_backward(np.zeros((3, 2, 4)), cache)
    with pytest.raises(MinikwsError, match=r"dcT: expected shape"):
        lstm_backward(np.zeros_like(h), cache, dcT=np.zeros((2, 4)))
    with pytest.raises(MinikwsError, match=r"mixed dtypes"):
        lstm_backward(np.zeros_like(h, dtype=np.float32), cache)
    with pytest.raises(MinikwsError, match=r"dh: contains NaN"):
        lstm_backward(np.full_like(h, np.nan), cache)
    with pytest.raises(MinikwsError, match=r"cache: expected the LSTMCache"):
        lstm_backward(np.zeros_like(h), tuple(cache))
    _, _, step_cache = lstm_step_forward(p["x"][0], p["h0"], p["c0"], p["Wx"], p["Wh"], p["b"])
    with pytest.raises(MinikwsError, match=r"dc: expected shape \(B, H\)"):
        lstm_step_backward(np.zeros((2, 3)), np.zeros((3, 2)), step_cache)
    with pytest.raises(MinikwsError, match=r"Wx: expected shape \(D, 4H\)"):
        lstm_step_forward(p["x"][0], p["h0"], p["c0"], p["Wx"][:3], p["Wh"], p["b"])
