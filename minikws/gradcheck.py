"""Numerical gradients that prove each backward formula.

A backward pass is right when it agrees with centred finite differences of its forward pass. For a
forward map :math:`y = f(x)` and an upstream gradient :math:`\\bar y` (random, so that every output
counts), the gradient of the scalar :math:`\\langle \\bar y, f(x) \\rangle` with respect to each entry of x is

.. math::
   :label: centred-difference

   \\frac{\\partial}{\\partial x_j} \\langle \\bar y, f(x) \\rangle \\approx
   \\frac{\\langle \\bar y, f(x + h e_j) \\rangle - \\langle \\bar y, f(x - h e_j) \\rangle}{2h}

with an error of order :math:`h^2`. In float64 with h = 1e-6 the rounding error is about
:math:`10^{-16} / h = 10^{-10}`, so a correct backward gives a relative error (:func:`rel_error`) below
1e-7 and a wrong one typically 1e-2 or more. Run checks in float64 only.

:func:`check` compares a forward/backward pair on every input; :func:`check_layers` runs it on every
layer of :mod:`minikws.nn` (the ``minikws gradcheck`` command prints the result).
"""
import numpy as np

from minikws._validate import check_seed
from minikws.errors import MinikwsError

__all__ = ["numerical_gradient", "rel_error", "check", "check_layers", "THRESHOLD"]

#: A relative error above this fails ``minikws gradcheck`` (the tests hold the layers to 1e-7).
THRESHOLD = 1e-6


def _contract(out, df):
    """<df, out>, for an array, a scalar or a tuple of them; df None means out is a scalar."""
    if isinstance(out, tuple):
        if not isinstance(df, tuple) or len(df) != len(out):
            raise MinikwsError(f"df: expected a tuple of {len(out)} arrays like the outputs of f")
        return sum(_contract(o, d) for o, d in zip(out, df))
    if df is None:
        if np.ndim(out) != 0:
            raise MinikwsError(f"df: required when f returns an array (got shape {np.shape(out)})")
        return float(out)
    if np.shape(out) != np.shape(df):
        raise MinikwsError(f"df: expected shape {np.shape(out)} like f's output, got {np.shape(df)}")
    return float(np.sum(np.asarray(out, dtype=np.float64) * df))


def numerical_gradient(f, x, df=None, h=1e-6):
    """Centred-difference gradient of ``<df, f(x)>`` with respect to x (equation above).

    Parameters
    ----------
    f : callable
        ``f(x)`` returns an array, a float, or a tuple of arrays. It is called 2 x.size times with an
        array of x's shape (a perturbed copy; x itself is not modified).
    x : ndarray
        float64.
    df : ndarray, tuple of ndarray, or None
        The upstream gradient, shaped like f's output; None when f returns a scalar.
    h : float
        The step.

    Returns
    -------
    grad : ndarray, shape of x, float64
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise MinikwsError(f"x: numerical gradients need a float64 array, got {got}")
    if not h > 0:
        raise MinikwsError(f"h: expected a positive step, got {h!r}")
    xp = x.copy()
    flat = xp.reshape(-1)  # a view: writing flat[j] perturbs xp
    grad = np.empty(x.size, dtype=np.float64)
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + h
        plus = _contract(f(xp), df)
        flat[j] = old - h
        minus = _contract(f(xp), df)
        flat[j] = old
        grad[j] = (plus - minus) / (2 * h)
    return grad.reshape(x.shape)


def rel_error(a, b):
    """Relative error ``max|a - b| / max(|a| + |b|)``, taken over all entries.

    The maxima are over the whole array (not entry by entry), so an entry that is zero analytically
    and 1e-11 numerically does not count as a 100 % error. Returns 0.0 when both are all zero.

    Parameters
    ----------
    a, b : ndarray or float, the same shape

    Returns
    -------
    float
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise MinikwsError(f"a, b: expected the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = float(np.max(np.abs(a) + np.abs(b)))
    return float(np.max(np.abs(a - b))) / max(scale, np.finfo(np.float64).tiny)


def _random_like(out, rng):
    if isinstance(out, tuple):
        return tuple(_random_like(o, rng) for o in out)
    if np.ndim(out) == 0:
        return None
    return rng.standard_normal(np.shape(out))


def _check_float64(inputs, names):
    for name in names:
        v = inputs[name]
        if not isinstance(v, np.ndarray) or v.dtype != np.float64:
            got = v.dtype if isinstance(v, np.ndarray) else type(v).__name__
            raise MinikwsError(f"inputs[{name!r}]: gradient checks need float64, got {got}; pass "
                               f"{name}.astype(np.float64) (float32 rounding, about 1e-7, would swamp "
                               f"the differences)")


def check(forward_fn, backward_fn, inputs, *, wrt=None, dout=None, seed=0, h=1e-6):
    """Compare a backward pass with numerical gradients of its forward pass, input by input.

    ``forward_fn`` and ``backward_fn`` follow one convention: forward returns ``(out, cache)`` and
    backward returns a dict of gradients by input name. The pairs of :mod:`minikws.nn` return what
    their layer needs (``lstm_forward`` returns ``(h, (hT, cT), cache)``, ``lstm_backward`` a tuple), so
    they are checked through two small adapters, as the example shows.

    Parameters
    ----------
    forward_fn : callable
        ``forward_fn(**inputs) -> (out, cache)``; ``out`` an array, a float or a tuple of arrays.
    backward_fn : callable
        ``backward_fn(dout, cache) -> dict`` name -> gradient of ``<dout, out>`` for that input.
    inputs : dict
        Keyword arguments of ``forward_fn``. Those checked must be float64 arrays.
    wrt : iterable of str, optional
        The inputs to check; default: every key ``backward_fn`` returns.
    dout : array, tuple or None
        Upstream gradient; default: standard normal draws (seeded by ``seed``), or none when out is a
        scalar (a loss).
    seed : int
    h : float
        Finite-difference step.

    Returns
    -------
    dict
        name -> relative error (:func:`rel_error`) of the analytic against the numerical gradient;
        below 1e-7 for a correct backward in float64, 1e-2 or more for a wrong one.

    Raises
    ------
    MinikwsError
        An input to check is not float64 ("gradient checks need float64"); ``forward_fn`` does not
        return a pair or ``backward_fn`` not a dict (the message says how to adapt them); ``wrt``
        names an unknown input.

    Examples
    --------
    The LSTM over a sequence (:func:`minikws.nn.lstm_forward` / :func:`minikws.nn.lstm_backward`),
    T = 4 steps, B = 2, D = 3, H = 5:

    >>> import numpy as np
    >>> from minikws import gradcheck, nn
    >>> rng = np.random.default_rng(0)
    >>> T, B, D, H = 4, 2, 3, 5
    >>> inputs = {"x": rng.standard_normal((T, B, D)), "Wx": 0.5 * rng.standard_normal((D, 4 * H)),
    ...           "Wh": 0.5 * rng.standard_normal((H, 4 * H)), "b": 0.1 * rng.standard_normal(4 * H)}
    >>> def forward(x, Wx, Wh, b):             # -> (out, cache)
    ...     h, _, cache = nn.lstm_forward(x, None, None, Wx, Wh, b, backend="numpy")
    ...     return h, cache
    >>> def backward(dh, cache):               # -> {input name: gradient}
    ...     dx, dh0, dc0, dWx, dWh, db = nn.lstm_backward(dh, cache)
    ...     return {"x": dx, "Wx": dWx, "Wh": dWh, "b": db}
    >>> errors = gradcheck.check(forward, backward, inputs)
    >>> sorted(errors), max(errors.values()) < 1e-7
    (['Wh', 'Wx', 'b', 'x'], True)
    """
    if not isinstance(inputs, dict):
        raise MinikwsError(f"inputs: expected a dict of keyword arguments, got {type(inputs).__name__}")
    if wrt is not None:
        wrt = list(wrt)
        _check_float64(inputs, [n for n in wrt if n in inputs])
    else:
        _check_float64(inputs, [n for n, v in inputs.items() if isinstance(v, np.ndarray)
                                and v.dtype.kind == "f"])
    result = forward_fn(**inputs)
    if not isinstance(result, tuple) or len(result) != 2:
        n = len(result) if isinstance(result, tuple) else 1
        raise MinikwsError(
            f"forward_fn: expected it to return (out, cache), got {n} value(s); wrap a forward that "
            f"returns more, e.g. for nn.lstm_forward: `h, _, cache = nn.lstm_forward(...); return h, "
            f"cache` (see help(minikws.gradcheck.check))")
    out, cache = result
    if dout is None:
        dout = _random_like(out, np.random.default_rng(seed))
    analytic = backward_fn(dout if dout is not None else 1.0, cache)
    if not isinstance(analytic, dict):
        raise MinikwsError(
            f"backward_fn: expected it to return a dict of gradients by input name, got "
            f"{type(analytic).__name__}; wrap it, e.g. for nn.lstm_backward: `dx, dh0, dc0, dWx, dWh, "
            f"db = nn.lstm_backward(dh, cache); return {{'x': dx, 'Wx': dWx, 'Wh': dWh, 'b': db}}`")
    names = list(analytic) if wrt is None else wrt
    errors = {}
    for name in names:
        if name not in analytic:
            raise MinikwsError(f"wrt: backward_fn returned no gradient for {name!r}")
        if name not in inputs:
            raise MinikwsError(f"wrt: {name!r} is not one of the inputs {sorted(inputs)}")

        def f(value, name=name):
            return forward_fn(**{**inputs, name: value})[0]

        numeric = numerical_gradient(f, inputs[name], dout, h=h)
        errors[name] = rel_error(analytic[name], numeric)
    return errors


# ---------------------------------------------------------------------------------------------------
# Every layer of minikws.nn, in float64 (what `minikws gradcheck` runs).
# ---------------------------------------------------------------------------------------------------
def _layer_checks(rng, seed):
    """Yield (layer name, forward_fn, backward_fn, inputs) for every layer and the loss."""
    from minikws import _backend
    from minikws import nn

    T, B, D, H, C = 4, 3, 4, 5, 3

    def r(*shape, scale=1.0):
        return scale * rng.standard_normal(shape)

    step = dict(x=r(B, D), h_prev=r(B, H), c_prev=r(B, H), Wx=r(D, 4 * H, scale=0.5),
                Wh=r(H, 4 * H, scale=0.5), b=r(4 * H, scale=0.5))

    def step_fwd(**p):
        h, c, cache = nn.lstm_step_forward(**p)
        return (h, c), cache

    def step_bwd(dout, cache):
        names = ("x", "h_prev", "c_prev", "Wx", "Wh", "b")
        return dict(zip(names, nn.lstm_step_backward(*dout, cache)))

    yield "lstm step", step_fwd, step_bwd, step

    seq = dict(x=r(T, B, D), h0=r(B, H), c0=r(B, H), Wx=r(D, 4 * H, scale=0.5),
               Wh=r(H, 4 * H, scale=0.5), b=r(4 * H, scale=0.5))
    backends = ["numpy"] + (["cython"] if _backend.kernel() is not None else [])
    for backend in backends:
        def seq_fwd(backend=backend, **p):
            h, (hT, cT), cache = nn.lstm_forward(**p, backend=backend)
            return (h, hT, cT), cache

        def seq_bwd(dout, cache):
            names = ("x", "h0", "c0", "Wx", "Wh", "b")
            return dict(zip(names, nn.lstm_backward(dout[0], cache, dhT=dout[1], dcT=dout[2])))

        yield f"lstm sequence ({backend})", seq_fwd, seq_bwd, seq

    def affine_fwd(**p):
        return nn.affine_forward(**p)

    def affine_bwd(dout, cache):
        return dict(zip(("x", "W", "b"), nn.affine_backward(dout, cache)))

    yield "affine", affine_fwd, affine_bwd, dict(x=r(B, D), W=r(D, C), b=r(C))

    def taffine_bwd(dout, cache):
        return dict(zip(("x", "W", "b"), nn.temporal_affine_backward(dout, cache)))

    yield ("temporal affine", lambda **p: nn.temporal_affine_forward(**p), taffine_bwd,
           dict(x=r(T, B, D), W=r(D, C), b=r(C)))

    def dropout_fwd(x):
        return nn.dropout_forward(x, 0.4, np.random.default_rng(seed))  # the same mask every call

    yield ("dropout (fixed mask)", dropout_fwd,
           lambda dout, cache: {"x": nn.dropout_backward(dout, cache)}, dict(x=r(T, B, D)))

    def ce_case(logits, targets, mask):
        def fwd(logits):
            loss, dlogits = nn.softmax_cross_entropy(logits, targets, mask)
            return loss, dlogits

        def bwd(dloss, dlogits):
            return {"logits": dloss * dlogits}

        return fwd, bwd, dict(logits=logits)

    targets = rng.integers(0, C, size=B)
    yield ("softmax CE (utterance)", *ce_case(r(B, C, scale=3.0), targets, None))
    targets = rng.integers(0, C, size=(T, B))
    mask = np.ones((T, B), dtype=bool)
    mask[T // 2:, 0] = False  # a shorter first utterance: its padded frames must not count
    targets[~mask] = -1
    yield ("softmax CE (frame, masked)", *ce_case(r(T, B, C, scale=3.0), targets, mask))

    def fb_fwd(**p):
        return nn.feedback_forward(**p)

    def fb_bwd(dout, cache):
        return dict(zip(("h", "W", "b", "o0"), nn.feedback_backward(dout, cache)))

    o0 = nn.softmax(r(B, C))
    yield "feedback head", fb_fwd, fb_bwd, dict(h=r(T, B, H), W=r(H + C, C), b=r(C), o0=o0)

    lstm = nn.LSTM(D, H, num_layers=2, dropout=0.3, dtype=np.float64, rng=np.random.default_rng(seed),
                   backend="numpy")
    state_names = ("h0.l0", "c0.l0", "h0.l1", "c0.l1")

    def lstm_module_fwd(**p):
        for name, value in lstm.params.items():
            np.copyto(value, p[name])
        lstm.rng = np.random.default_rng(seed)  # the same dropout mask every call
        s = [(p["h0.l0"], p["c0.l0"]), (p["h0.l1"], p["c0.l1"])]
        h, state = lstm.forward(p["x"], state=s, train=True)
        return (h, *state[0], *state[1]), None

    def lstm_module_bwd(dout, cache):
        lstm.zero_grad()
        dx = lstm.backward(dout[0], dstate=[dout[1:3], dout[3:5]])
        grads = {"x": dx, **{k: g.copy() for k, g in lstm.grads.items()}}
        grads.update(zip(state_names, (*lstm.dstate[0], *lstm.dstate[1])))
        return grads

    inputs = {"x": r(T, B, D), **{k: v.copy() for k, v in lstm.params.items()},
              **{name: r(B, H) for name in state_names}}
    yield "LSTM module (2 layers, dropout)", lstm_module_fwd, lstm_module_bwd, inputs

    linear = nn.Linear(D, C, dtype=np.float64, rng=np.random.default_rng(seed))

    def linear_fwd(x, W, b):
        np.copyto(linear.params["W"], W)
        np.copyto(linear.params["b"], b)
        return linear.forward(x), None

    def linear_bwd(dout, cache):
        linear.zero_grad()
        dx = linear.backward(dout)
        return {"x": dx, "W": linear.grads["W"].copy(), "b": linear.grads["b"].copy()}

    yield "Linear module", linear_fwd, linear_bwd, dict(x=r(T, B, D), W=r(D, C), b=r(C))


def check_layers(*, seed=0):
    """Gradient-check every layer of :mod:`minikws.nn` and the loss in float64.

    Parameters
    ----------
    seed : int
        Seeds the random inputs, upstream gradients and dropout masks.

    Returns
    -------
    list of dict
        One row per (layer, parameter): ``{"layer", "parameter", "rel_error", "passed"}``, where
        passed means ``rel_error <= THRESHOLD``.
    """
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    rows = []
    for layer, fwd, bwd, inputs in _layer_checks(rng, seed):
        for name, err in check(fwd, bwd, inputs, seed=seed).items():
            rows.append({"layer": layer, "parameter": name, "rel_error": err, "passed": err <= THRESHOLD})
    return rows
