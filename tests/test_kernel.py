"""The compiled LSTM kernel (minikws._lstm_kernel) against readable NumPy.

Two references: a small float64 loop kept in this file (written from the equations, independent of
minikws.nn), for the kernel's own functions; and minikws.nn's NumPy backend, for the dispatch users go
through (``lstm_forward(..., backend="cython")`` vs ``backend="numpy"``). Tolerances: 1e-12 relative in
float64, 1e-5 in float32 (the kernel's sigmoid/tanh are its own polynomials, exact to a few ulp).
"""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import minikws
from minikws import _backend
from minikws.errors import MinikwsError
from minikws.gradcheck import rel_error
from minikws.nn.lstm import lstm_backward as nn_lstm_backward
from minikws.nn.lstm import lstm_forward as nn_lstm_forward

K = _backend.kernel()
# A compiled extension next to the package: then the kernel was built and must import.
BUILT = [f for f in glob.glob(os.path.join(os.path.dirname(minikws.__file__), "_lstm_kernel.*"))
         if f.endswith((".so", ".pyd"))]
needs_kernel = pytest.mark.skipif(
    K is None and not BUILT,
    reason="minikws._lstm_kernel is not built (no C compiler at install time); "
    "build it with `python setup.py build_ext --inplace` to test the Cython backend",
)

TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.skipif(not BUILT, reason="no compiled kernel next to the package")
def test_built_kernel_imports():
    # A kernel that was built and fails to import is a broken build, not a missing compiler.
    assert K is not None, f"{BUILT[0]} exists but does not import: {_backend._kernel_error}"


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI must have built the kernel")
def test_kernel_is_built_in_ci():
    # Everywhere else a missing compiler only means the NumPy backend; in CI it means a broken build
    # that would otherwise skip every test below.
    assert _backend.kernel() is not None, f"minikws._lstm_kernel not built: {_backend._kernel_error}"


SHAPES = [(1, 1, 1, 1), (1, 3, 2, 5), (4, 1, 3, 1), (6, 2, 5, 7), (3, 5, 1, 33), (2, 1, 4, 40)]


def sigma(a):
    return 0.5 * np.tanh(0.5 * a) + 0.5


def ref_forward(x, h0, c0, Wx, Wh, b):
    """The equations, one step at a time, in float64: returns h, c, gates (activated [i,f,g,o])."""
    x, h0, c0, Wx, Wh, b = (np.asarray(a, np.float64) for a in (x, h0, c0, Wx, Wh, b))
    T, B, _ = x.shape
    H = Wh.shape[0]
    h, c, gates = np.empty((T, B, H)), np.empty((T, B, H)), np.empty((T, B, 4 * H))
    h_prev, c_prev = h0, c0
    for t in range(T):
        a = x[t] @ Wx + h_prev @ Wh + b  # lstm-gates
        i, f, o = sigma(a[:, :H]), sigma(a[:, H:2 * H]), sigma(a[:, 3 * H:])
        g = np.tanh(a[:, 2 * H:3 * H])
        c_prev = f * c_prev + i * g  # lstm-cell
        h_prev = o * np.tanh(c_prev)  # lstm-hidden
        h[t], c[t], gates[t] = h_prev, c_prev, np.concatenate([i, f, g, o], axis=1)
    return h, c, gates


def ref_backward(dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates):
    """Back-propagation through time, one step at a time, in float64."""
    dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates = (
        np.asarray(a, np.float64) for a in (dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates)
    )
    T = x.shape[0]
    dx, dWx, dWh = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    db = np.zeros(Wh.shape[1])
    dh_next, dc_next = dhT, dcT
    for t in reversed(range(T)):
        i, f, g, o = np.split(gates[t], 4, axis=1)
        c_prev, h_prev = (c0, h0) if t == 0 else (c[t - 1], h[t - 1])
        tc = np.tanh(c[t])
        dh_t = dh[t] + dh_next  # lstm-bptt-h
        dc_t = dc_next + dh_t * o * (1 - tc**2)  # lstm-bptt-c
        da = np.concatenate(  # lstm-bptt-gates
            [dc_t * g * i * (1 - i), dc_t * c_prev * f * (1 - f), dc_t * i * (1 - g**2),
             dh_t * tc * o * (1 - o)], axis=1)
        dx[t] = da @ Wx.T
        dWx += x[t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next, dc_next = da @ Wh.T, dc_t * f
    return dx, dh_next, dc_next, dWx, dWh, db


def make(rng, T, B, D, H, dtype, scale=0.5):
    """Random x, h0, c0, Wx, Wh, b of one dtype, C-contiguous."""
    shapes = [(T, B, D), (B, H), (B, H), (D, 4 * H), (H, 4 * H), (4 * H,)]
    return [(scale * rng.standard_normal(s)).astype(dtype) for s in shapes]


# -------------------------------------------------------------------------------------------------
# The kernel's own functions against the float64 reference above.
# -------------------------------------------------------------------------------------------------
@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_backward_match_reference(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    args = make(rng, *shape, dtype)
    out = K.lstm_forward(*args)
    for name, got, want in zip(("h", "c", "gates"), out, ref_forward(*args)):
        assert got.dtype == dtype and got.shape == want.shape
        assert rel_error(got, want) <= TOL[dtype], name
    T, B, _, H = shape
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    dhT, dcT = rng.standard_normal((2, B, H)).astype(dtype)
    dh_before = dh.copy()
    grads = K.lstm_backward(dh, dhT, dcT, *args[:5], *out)
    want = ref_backward(dh, dhT, dcT, *args[:5], *out)
    for name, got, w in zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), grads, want):
        assert got.dtype == dtype and got.shape == w.shape, name
        assert rel_error(got, w) <= TOL[dtype], name
    np.testing.assert_array_equal(dh, dh_before)  # the upstream gradient is never written


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturated_gates_stay_finite(dtype):
    # pre-activations of +-1e4 overflow a naive exp(-a); the kernel clamps before its exp
    rng = np.random.default_rng(7)
    x, h0, c0, Wx, Wh, b = make(rng, 5, 3, 4, 6, dtype)
    Wx *= dtype(2e4)
    h, c, gates = K.lstm_forward(x, h0, c0, Wx, Wh, b)
    assert np.isfinite(h).all() and np.isfinite(c).all()
    assert gates.min() >= -1 and gates.max() <= 1
    ref = ref_forward(x, h0, c0, Wx, Wh, b)
    assert rel_error(h, ref[0]) <= TOL[dtype]
    assert rel_error(gates, ref[2]) <= TOL[dtype]
    grads = K.lstm_backward(np.ones_like(h), h0, c0, x, h0, c0, Wx, Wh, h, c, gates)
    assert all(np.isfinite(g).all() for g in grads)


@needs_kernel
@pytest.mark.parametrize("dtype,limit,eps", [(np.float64, 800.0, 2.3e-16), (np.float32, 100.0, 1.2e-7)])
def test_cell_sigmoid_and_tanh_accuracy(dtype, limit, eps):
    # With x = 0 and h0 = 0 the pre-activations are the bias, so gates[0, 0] = sigma(b) / tanh(b).
    # Every value, far beyond where exp overflows, is within a few ulp of NumPy's (absolutely), and
    # near 0, where tanh(a) ~ a, relatively too (the kernel builds tanh from expm1, not from exp).
    H = 4001
    grid = np.concatenate([np.linspace(-limit, limit, H - 1000), np.geomspace(1e-30, 1.0, 500),
                           -np.geomspace(1e-30, 1.0, 500)]).astype(dtype)
    b = np.concatenate([grid, grid, grid, grid])
    zeros = np.zeros((1, H), dtype)
    _, _, gates = K.lstm_forward(np.zeros((1, 1, 1), dtype), zeros, zeros,
                                 np.zeros((1, 4 * H), dtype), np.zeros((H, 4 * H), dtype), b)
    g = np.float64(grid)
    sig = 0.5 * np.tanh(0.5 * g) + 0.5
    for block, want in zip(np.split(gates[0, 0], 4), (sig, sig, np.tanh(g), sig)):
        assert np.max(np.abs(block - want)) <= 4 * eps
    small = (np.abs(g) < 0.5) & (g != 0)
    tanh_block = np.float64(np.split(gates[0, 0], 4)[2])
    rel = np.abs(tanh_block[small] - np.tanh(g[small])) / np.abs(np.tanh(g[small]))
    assert rel.max() <= 8 * eps


# The per-step products through the packed W_h (csrc/lstm_gemm.c), at every micro-kernel level this
# CPU has (2 = AVX-512, 1 = AVX2, 0 = portable C), on shapes that hit the kernel's edges: H = 1; 4H
# and H not multiples of the 32-float / 16-double panel (H = 7, 33); B below, at and above the rows
# of one register block (1, 3, 9, 17) so that partial row blocks run too.
PACKED_SHAPES = [(5, 1, 3, 1), (4, 3, 2, 7), (3, 9, 4, 33), (2, 17, 5, 40), (6, 2, 3, 8),
                 (3, 32, 4, 16)]
GEMM_LEVELS = list(range(K.gemm_level() + 1)) if K is not None else [0]


@pytest.fixture
def packed_level(request):
    """Force the packed per-step product (even for T = 1) at micro-kernel level request.param."""
    old_steps = K._set_packed_min_steps(1)
    old_level = K._set_gemm_level(request.param)
    assert K.gemm_level() == request.param
    yield request.param
    K._set_gemm_level(old_level)
    K._set_packed_min_steps(old_steps)


@needs_kernel
@pytest.mark.parametrize("packed_level", GEMM_LEVELS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", PACKED_SHAPES)
def test_packed_per_step_product_matches_reference(shape, dtype, packed_level):
    rng = np.random.default_rng(sum(shape) + 5)
    args = make(rng, *shape, dtype)
    out = K.lstm_forward(*args)
    for name, got, want in zip(("h", "c", "gates"), out, ref_forward(*args)):
        assert rel_error(got, want) <= TOL[dtype], name
    T, B, _, H = shape
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    dhT, dcT = rng.standard_normal((2, B, H)).astype(dtype)
    grads = K.lstm_backward(dh, dhT, dcT, *args[:5], *out)
    want = ref_backward(dh, dhT, dcT, *args[:5], *out)
    for name, got, w in zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), grads, want):
        assert rel_error(got, w) <= TOL[dtype], name
    h = args[1].copy()
    c = args[2].copy()
    assert rel_error(K.lstm_infer(args[0], h, c, *args[3:]), out[0]) <= TOL[dtype]


@needs_kernel
def test_packed_and_unpacked_paths_agree():
    # the same float64 sequence by the plain C loop (short calls) and by the packed micro-kernel:
    # only the grouping of the multiply-adds differs
    rng = np.random.default_rng(12)
    args = make(rng, 6, 5, 3, 20, np.float64)
    dh = rng.standard_normal((6, 5, 20))
    results = []
    for min_steps in (10**6, 1):
        old = K._set_packed_min_steps(min_steps)
        try:
            out = K.lstm_forward(*args)
            grads = K.lstm_backward(dh, args[1], args[2], *args[:5], *out)
        finally:
            K._set_packed_min_steps(old)
        results.append(out + grads)
    for name, a, b in zip("h c gates dx dh0 dc0 dWx dWh db".split(), *results):
        assert rel_error(a, b) <= 1e-13, name


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 2, 3, 17, 32])
@pytest.mark.parametrize("threads", [2, 3, 16])
def test_batch_split_over_threads_is_bitwise_identical(B, threads, dtype):
    # The rows of the batch are independent sequences: run on 1 thread or split into row ranges on
    # several (down to 1 row each, and more threads than rows), the arithmetic of each row is the
    # same, so every output is bitwise equal.
    rng = np.random.default_rng(B + threads)
    args = make(rng, 5, B, 3, 9, dtype)
    dh = rng.standard_normal((5, B, 9)).astype(dtype)
    dhT, dcT = rng.standard_normal((2, B, 9)).astype(dtype)
    results = []
    old_steps = K._set_packed_min_steps(1)
    try:
        for n in (1, threads):
            old = K._set_threads(n, 1)
            try:
                out = K.lstm_forward(*args)
                results.append(out + K.lstm_backward(dh, dhT, dcT, *args[:5], *out))
            finally:
                K._set_threads(*old)
    finally:
        K._set_packed_min_steps(old_steps)
    names = "h c gates dx dh0 dc0 dWx dWh db".split()
    for name, a, b in zip(names, *results):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name, got, want in zip(names[:3], results[1][:3], ref_forward(*args)):
        assert rel_error(got, want) <= TOL[dtype], name


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_products_on_threads_match_reference(dtype):
    # Large enough (>= 2^20 multiply-adds) for the products over all steps to run on threads: split
    # by column panels (x W_x, [x, H_prev]^T da) and by rows (da W_x^T, only 40 columns).
    rng = np.random.default_rng(21)
    args = make(rng, 8, 32, 40, 32, dtype)
    dh = rng.standard_normal((8, 32, 32)).astype(dtype)
    dhT, dcT = rng.standard_normal((2, 32, 32)).astype(dtype)
    results = []
    for n in (1, 2):
        old = K._set_threads(n)
        try:
            out = K.lstm_forward(*args)
            results.append(out + K.lstm_backward(dh, dhT, dcT, *args[:5], *out))
        finally:
            K._set_threads(*old)
    names = "h c gates dx dh0 dc0 dWx dWh db".split()
    for name, a, b in zip(names, *results):
        np.testing.assert_array_equal(a, b, err_msg=name)
    want = ref_forward(*args)
    want = want + ref_backward(dh, dhT, dcT, *args[:5], *want)
    for name, got, w in zip(names, results[1], want):
        assert rel_error(got, w) <= TOL[dtype], name


@needs_kernel
def test_concurrent_calls_from_python_threads_do_not_share_scratch():
    # The kernel releases the GIL and keeps its scratch arrays per thread: two Python threads
    # running different sequences at once get the results each gets alone.
    import threading

    rng = np.random.default_rng(5)
    problems = [make(rng, 12, 6, 4, 10 + k, np.float64) for k in range(2)]

    def run(args):
        out = K.lstm_forward(*args)
        dh = np.ones_like(out[0])
        return out + K.lstm_backward(dh, args[1], args[2], *args[:5], *out)

    alone = [run(args) for args in problems]
    together = [None, None]

    def worker(k):
        for _ in range(20):
            together[k] = run(problems[k])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@needs_kernel
def test_gemm_level_can_only_be_lowered():
    best = K.gemm_level()
    assert best in (0, 1, 2)
    old = K._set_gemm_level(best + 5)  # more than the CPU has: the best it has
    try:
        assert K.gemm_level() == best
        K._set_gemm_level(0)
        assert K.gemm_level() == 0
    finally:
        K._set_gemm_level(old)
    assert K.gemm_level() == old


@needs_kernel
@pytest.mark.parametrize("packed_min_steps", [1, 10**9])  # packed W_h in every chunk, or never
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B,H", [(1, 1), (1, 33), (1, 128), (3, 7)])
def test_infer_in_chunks_equals_full_forward(B, H, dtype, packed_min_steps):
    rng = np.random.default_rng(B * 100 + H)
    x, h0, c0, Wx, Wh, b = make(rng, 11, B, 5, H, dtype)
    h_full, c_full, _ = K.lstm_forward(x, h0, c0, Wx, Wh, b)
    old_steps = K._set_packed_min_steps(packed_min_steps)
    try:
        h, c = h0.copy(), c0.copy()
        pieces, start = [], 0
        for size in (1, 3, 2, 5):  # 1 + 3 + 2 + 5 = 11 frames, chunk lengths of both parities
            pieces.append(K.lstm_infer(x[start:start + size], h, c, Wx, Wh, b))
            start += size
    finally:
        K._set_packed_min_steps(old_steps)
    assert rel_error(np.concatenate(pieces), h_full) <= TOL[dtype]
    assert rel_error(h, h_full[-1]) <= TOL[dtype]
    assert rel_error(c, c_full[-1]) <= TOL[dtype]


@needs_kernel
def test_isa_names_an_instruction_set():
    names = {"x86-64-v4 (AVX-512)": 2, "x86-64-v3 (AVX2+FMA)": 1, "x86-64 baseline (SSE2)": 0,
             "portable C (single version)": 0}
    assert K.isa() in names
    # the cell's clones and the micro-kernel read the same CPU: the same level on x86-64
    if K.isa().startswith("x86-64"):
        assert K.gemm_level() == names[K.isa()]


# -------------------------------------------------------------------------------------------------
# Bad arguments: ValueError (MinikwsError) naming the argument, raised before C runs.
# -------------------------------------------------------------------------------------------------
def _good(dtype=np.float64):
    return make(np.random.default_rng(0), 3, 2, 4, 5, dtype)


def _bad_forward_cases():
    x, h0, c0, Wx, Wh, b = _good()
    yield "x", (np.zeros((0, 2, 4)), h0, c0, Wx, Wh, b)  # T = 0
    yield "x", (np.zeros((3, 0, 4)), h0, c0, Wx, Wh, b)  # B = 0
    yield "x", (x.astype(np.int64), h0, c0, Wx, Wh, b)
    yield "x", (x[0], h0, c0, Wx, Wh, b)
    yield "x", (x.tolist(), h0, c0, Wx, Wh, b)
    yield "h0", (x, h0.astype(np.float32), c0, Wx, Wh, b)  # mixed dtypes
    yield "c0", (x, h0, c0[:, :4], Wx, Wh, b)
    yield "Wx", (x, h0, c0, Wx[:3], Wh, b)
    yield "Wh", (x, h0, c0, Wx, Wh[:, :16], b)
    yield "Wh", (x, h0, c0, Wx, None, b)
    yield "b", (x, h0, c0, Wx, Wh, b[:-1])
    yield "x", (np.asfortranarray(x), h0, c0, Wx, Wh, b)  # not C-contiguous
    yield "Wx", (x, h0, c0, np.asfortranarray(Wx), Wh, b)


@needs_kernel
@pytest.mark.parametrize("name,args", list(_bad_forward_cases()))
def test_bad_forward_arguments_raise(name, args):
    with pytest.raises(MinikwsError, match=f"^{name}:"):
        K.lstm_forward(*args)
    with pytest.raises(ValueError):
        K.lstm_infer(*[a.copy(order="K") if isinstance(a, np.ndarray) else a for a in args])


@needs_kernel
def test_bad_backward_arguments_raise():
    x, h0, c0, Wx, Wh, b = _good()
    h, c, gates = K.lstm_forward(x, h0, c0, Wx, Wh, b)
    dh = np.ones_like(h)
    with pytest.raises(MinikwsError, match="^dh:"):
        K.lstm_backward(dh[:2], h0, c0, x, h0, c0, Wx, Wh, h, c, gates)
    with pytest.raises(MinikwsError, match="^dcT:"):
        K.lstm_backward(dh, h0, c0.astype(np.float32), x, h0, c0, Wx, Wh, h, c, gates)
    with pytest.raises(MinikwsError, match="^gates:"):
        K.lstm_backward(dh, h0, c0, x, h0, c0, Wx, Wh, h, c, gates[..., :-1])
    with pytest.raises(MinikwsError, match="^h:"):
        K.lstm_backward(dh, h0, c0, x, h0, c0, Wx, Wh, h[:, :, ::-1], c, gates)


@needs_kernel
def test_infer_state_must_be_writeable_and_separate():
    x, h0, c0, Wx, Wh, b = _good()
    h0.flags.writeable = False
    with pytest.raises(MinikwsError, match="^h:.*writeable"):
        K.lstm_infer(x, h0, c0, Wx, Wh, b)
    c = c0.copy()
    with pytest.raises(MinikwsError, match="overlap"):
        K.lstm_infer(x, c, c, Wx, Wh, b)


# -------------------------------------------------------------------------------------------------
# Through minikws.nn: backend="cython" equals backend="numpy". (Its gradients are checked numerically
# once, beside the NumPy backend's, in test_nn_lstm.py::test_sequence_gradients.)
# -------------------------------------------------------------------------------------------------
def _non_contiguous(rng, shape, dtype):
    """A strided view with the values of a random array of ``shape``."""
    big = (0.5 * rng.standard_normal(shape + (2,))).astype(dtype)
    return big[..., 1]


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("contiguous", [True, False])
def test_nn_cython_backend_equals_numpy(shape, dtype, contiguous):
    rng = np.random.default_rng(sum(shape) + 1)
    T, B, D, H = shape
    if contiguous:
        x, h0, c0, Wx, Wh, b = make(rng, T, B, D, H, dtype)
    else:
        x = _non_contiguous(rng, (T, B, D), dtype)
        h0, c0 = _non_contiguous(rng, (B, H), dtype), _non_contiguous(rng, (B, H), dtype)
        Wx = np.asfortranarray((0.5 * rng.standard_normal((D, 4 * H))).astype(dtype))
        Wh = (0.5 * rng.standard_normal((4 * H, H))).astype(dtype).T  # a transposed view
        b = _non_contiguous(rng, (4 * H,), dtype)
    out = {}
    for backend in ("numpy", "cython"):
        h, (hT, cT), cache = nn_lstm_forward(x, h0, c0, Wx, Wh, b, backend=backend)
        assert cache.backend == backend
        dh = np.random.default_rng(3).standard_normal(h.shape).astype(dtype)
        dhT = np.random.default_rng(4).standard_normal(hT.shape).astype(dtype)
        grads = nn_lstm_backward(dh, cache, dhT=dhT, dcT=None)
        out[backend] = (h, hT, cT, cache.c, cache.gates) + tuple(grads)
    names = "h hT cT c gates dx dh0 dc0 dWx dWh db".split()
    for name, a, w in zip(names, out["cython"], out["numpy"]):
        assert a.dtype == dtype and a.shape == w.shape, name
        assert rel_error(a, w) <= TOL[dtype], name


# -------------------------------------------------------------------------------------------------
# The thread pool: sized from the machine or MINIKWS_THREADS, and usable again in a forked child.
# -------------------------------------------------------------------------------------------------
def _threads_in_subprocess(value):
    env = {k: v for k, v in os.environ.items() if k != "MINIKWS_THREADS"}
    if value is not None:
        env["MINIKWS_THREADS"] = value
    code = "from minikws import _lstm_kernel as K; print(K.threads())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@needs_kernel
def test_thread_count_comes_from_the_machine_or_minikws_threads():
    machine = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert _threads_in_subprocess(None).stdout.split() == [str(min(machine, 16))]
    assert _threads_in_subprocess("3").stdout.split() == ["3"]
    assert _threads_in_subprocess("1").stdout.split() == ["1"]
    assert _threads_in_subprocess("99").stdout.split() == ["16"]  # the pool's MINIKWS_MAX_PARTS
    bad = _threads_in_subprocess("zero")
    assert bad.returncode != 0 and "MINIKWS_THREADS: expected a positive integer, got 'zero'" in bad.stderr


@needs_kernel
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_pool_works_in_a_forked_child():
    # The training data workers are forked from a process whose pool threads exist; the child has
    # none of them and must start its own (csrc/parallel.c's fork handler), not wait for them forever.
    import multiprocessing

    rng = np.random.default_rng(8)
    args = make(rng, 9, 32, 13, 16, np.float32)
    old_steps, old_threads = K._set_packed_min_steps(1), K._set_threads(4, 4)
    try:
        want = K.lstm_forward(*args)  # the parent's pool now has its threads
        with multiprocessing.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(K.lstm_forward, args).get(timeout=60)
    finally:
        K._set_packed_min_steps(old_steps)
        K._set_threads(*old_threads)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a, b)
