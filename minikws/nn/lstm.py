"""The LSTM layer: one step and a whole sequence, forward and back through time.

Time-major throughout. Shapes use the package legend: T time steps, B batch, D input features,
H hidden units. The four gate blocks of every weight matrix are in PyTorch's order [i, f, g, o], so
``Wx = weight_ih.T``, ``Wh = weight_hh.T`` and ``b = bias_ih + bias_hh`` of a ``torch.nn.LSTM`` layer
(see :func:`minikws.nn.init.lstm_from_torch`).

Read :func:`lstm_step_forward` / :func:`lstm_step_backward` first: they are the equations, one step at a
time. :func:`lstm_forward` / :func:`lstm_backward` compute exactly the same thing over T steps, arranged
so that NumPy does the work in few, large calls: the input projection of all steps is one matrix product,
and after the backward loop the weight gradients are one matrix product each.
"""
from typing import NamedTuple

import numpy as np

from minikws import _backend
from minikws._validate import check_float_array, check_same_dtype, check_shape
from minikws.errors import MinikwsError

__all__ = [
    "LSTMStepCache",
    "LSTMCache",
    "sigmoid",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_gate_grads",
    "lstm_forward",
    "lstm_backward",
]


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs from one :func:`lstm_step_forward`.

    x (B, D), h_prev (B, H), c_prev (B, H), Wx (D, 4H), Wh (H, 4H), c (B, H) the new cell state c_t,
    gates (B, 4H) the activated gates [i, f, g, o].
    """

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    c: np.ndarray
    gates: np.ndarray


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs from one :func:`lstm_forward`.

    x (T, B, D), h0 (B, H), c0 (B, H), Wx (D, 4H), Wh (H, 4H), h (T, B, H) every h_t, c (T, B, H) every
    c_t, gates (T, B, 4H) every step's activated gates [i, f, g, o], and backend ("numpy" or "cython"),
    the implementation that ran forward and will run backward.
    """

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    h: np.ndarray
    c: np.ndarray
    gates: np.ndarray
    backend: str


def sigmoid(a, out=None):
    r"""The logistic function, computed so that it cannot overflow.

    .. math::
       :label: sigmoid-tanh

       \sigma(a) = \frac{1}{1 + e^{-a}} = \tfrac12 \tanh(\tfrac12 a) + \tfrac12

    ``exp(-a)`` overflows for a < -710 (float64) or a < -89 (float32); ``tanh`` saturates instead.
    The result is accurate to machine epsilon in absolute terms (what a gate needs); far in the left
    tail, where sigma(a) < eps, it rounds to 0 rather than keeping relative precision.

    Parameters
    ----------
    a : ndarray
        Any shape.
    out : ndarray, optional
        Where to write the result (may be ``a`` itself).
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


# ---------------------------------------------------------------------------------------------------
# Argument checks (the same for the step and the sequence functions).
# ---------------------------------------------------------------------------------------------------
def _check_weights(Wx, Wh, b, D):
    check_float_array("Wx", Wx, ndim=2)
    check_float_array("Wh", Wh, ndim=2)
    check_float_array("b", b, ndim=1)
    H4 = Wh.shape[1]
    if H4 == 0 or H4 % 4:
        raise MinikwsError(f"Wh: expected shape (H, 4H), got {Wh.shape}")
    H = H4 // 4
    check_shape("Wh", Wh, (H, 4 * H), "(H, 4H)")
    check_shape("Wx", Wx, (D, 4 * H), f"(D, 4H) with D={D} from x and H={H} from Wh")
    check_shape("b", b, (4 * H,), "(4H,)")
    return H


def _check_state(name, s, B, H, dtype):
    if s is None:
        return np.zeros((B, H), dtype=dtype)
    check_float_array(name, s, ndim=2)
    return check_shape(name, s, (B, H), "(B, H)")


# ---------------------------------------------------------------------------------------------------
# One step: the equations as written.
# ---------------------------------------------------------------------------------------------------
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    r"""One LSTM step.

    Parameters
    ----------
    x : ndarray (B, D)
        Input x_t.
    h_prev, c_prev : ndarray (B, H)
        Previous hidden and cell states h_{t-1}, c_{t-1}.
    Wx : ndarray (D, 4H)
        Input weights, gate blocks [i, f, g, o].
    Wh : ndarray (H, 4H)
        Recurrent weights, gate blocks [i, f, g, o].
    b : ndarray (4H,)
        Bias, gate blocks [i, f, g, o].

    Returns
    -------
    h : ndarray (B, H)
        h_t.
    c : ndarray (B, H)
        c_t.
    cache : LSTMStepCache

    Notes
    -----
    .. math::
       :label: lstm-gates

       a_t = x_t W_x + h_{t-1} W_h + b = [a_i, a_f, a_g, a_o], \quad
       i_t = \sigma(a_i),\ f_t = \sigma(a_f),\ g_t = \tanh(a_g),\ o_t = \sigma(a_o)

    .. math::
       :label: lstm-cell

       c_t = f_t \odot c_{t-1} + i_t \odot g_t

    .. math::
       :label: lstm-hidden

       h_t = o_t \odot \tanh(c_t)
    """
    check_float_array("x", x, ndim=2)
    B, D = x.shape
    H = _check_weights(Wx, Wh, b, D)
    h_prev = _check_state("h_prev", h_prev, B, H, x.dtype)
    c_prev = _check_state("c_prev", c_prev, B, H, x.dtype)
    check_same_dtype(x=x, h_prev=h_prev, c_prev=c_prev, Wx=Wx, Wh=Wh, b=b)

    a = x @ Wx + h_prev @ Wh + b  # (lstm-gates)
    i_t = sigmoid(a[:, 0 * H:1 * H])
    f_t = sigmoid(a[:, 1 * H:2 * H])
    g_t = np.tanh(a[:, 2 * H:3 * H])
    o_t = sigmoid(a[:, 3 * H:4 * H])
    c_t = f_t * c_prev + i_t * g_t  # (lstm-cell)
    h_t = o_t * np.tanh(c_t)  # (lstm-hidden)
    gates = np.concatenate([i_t, f_t, g_t, o_t], axis=1)
    return h_t, c_t, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, c_t, gates)


def lstm_step_backward(dh, dc, cache):
    r"""Back-propagate through one LSTM step.

    Parameters
    ----------
    dh : ndarray (B, H)
        Gradient of the loss with respect to h_t (from above and from step t+1).
    dc : ndarray (B, H)
        Gradient with respect to c_t arriving from step t+1 (zeros at the last step).
    cache : LSTMStepCache
        From :func:`lstm_step_forward`.

    Returns
    -------
    dx : ndarray (B, D)
    dh_prev, dc_prev : ndarray (B, H)
    dWx : ndarray (D, 4H)
    dWh : ndarray (H, 4H)
    db : ndarray (4H,)

    Notes
    -----
    With :math:`\delta h_t` = ``dh`` and :math:`\delta c_t` the total gradient of the cell state:

    .. math::
       :label: lstm-bptt-c

       \delta c_t = \text{dc} + \delta h_t \odot o_t \odot (1 - \tanh^2 c_t), \qquad
       \delta c_{t-1} = \delta c_t \odot f_t

    .. math::
       :label: lstm-bptt-gates

       \delta a_i = \delta c_t \odot g_t \odot i_t(1-i_t),\quad
       \delta a_f = \delta c_t \odot c_{t-1} \odot f_t(1-f_t),\quad
       \delta a_g = \delta c_t \odot i_t \odot (1-g_t^2),\quad
       \delta a_o = \delta h_t \odot \tanh c_t \odot o_t(1-o_t)

    .. math::
       :label: lstm-bptt-h

       \delta x_t = \delta a_t W_x^\top, \qquad \delta h_{t-1} = \delta a_t W_h^\top

    .. math::
       :label: lstm-bptt-params

       \delta W_x = x_t^\top \delta a_t, \qquad \delta W_h = h_{t-1}^\top \delta a_t, \qquad
       \delta b = \textstyle\sum_{\text{batch}} \delta a_t
    """
    if not isinstance(cache, LSTMStepCache):
        got = type(cache).__name__
        raise MinikwsError(f"cache: expected the LSTMStepCache of lstm_step_forward, got {got}")
    x, h_prev, c_prev, Wx, Wh, c_t, gates = cache
    B, H = c_t.shape
    check_float_array("dh", dh, ndim=2)
    check_shape("dh", dh, (B, H), "(B, H)")
    check_float_array("dc", dc, ndim=2)
    check_shape("dc", dc, (B, H), "(B, H)")
    check_same_dtype(dh=dh, dc=dc, x=x)

    da, dc_prev = lstm_gate_grads(dh, dc, c_prev, c_t, gates)  # [lstm-bptt-c], [lstm-bptt-gates]
    dx = da @ Wx.T  # (lstm-bptt-h)
    dh_prev = da @ Wh.T
    dWx = x.T @ da  # (lstm-bptt-params)
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


def lstm_gate_grads(dh, dc, c_prev, c, gates):
    r"""The gradients of one step's gate pre-activations and of c_{t-1}: the core of BPTT.

    Parameters
    ----------
    dh : ndarray (B, H)
        Gradient of the loss with respect to h_t.
    dc : ndarray (B, H)
        Gradient with respect to c_t arriving from step t+1 (zeros at the last step).
    c_prev : ndarray (B, H)
        c_{t-1}.
    c : ndarray (B, H)
        c_t.
    gates : ndarray (B, 4H)
        The activated gates [i, f, g, o] of the step (``LSTMStepCache.gates``).

    Returns
    -------
    da : ndarray (B, 4H)
        Gradient with respect to the pre-activations a_t, blocks [i, f, g, o] :eq:`lstm-bptt-gates`.
    dc_prev : ndarray (B, H)
        Gradient with respect to c_{t-1} :eq:`lstm-bptt-c`.

    Notes
    -----
    Equations :eq:`lstm-bptt-c` and :eq:`lstm-bptt-gates`; :func:`lstm_step_backward` applies
    :eq:`lstm-bptt-h` and :eq:`lstm-bptt-params` to ``da``. A pure function of arrays (chapter 3's
    exercise ``03.gate_grads`` asks for it).
    """
    check_float_array("gates", gates, ndim=2)
    B, H4 = gates.shape
    if H4 == 0 or H4 % 4:
        raise MinikwsError(f"gates: expected shape (B, 4H), got {gates.shape}")
    H = H4 // 4
    for name, a in (("dh", dh), ("dc", dc), ("c_prev", c_prev), ("c", c)):
        check_float_array(name, a, ndim=2)
        check_shape(name, a, (B, H), "(B, H)")
    check_same_dtype(dh=dh, dc=dc, c_prev=c_prev, c=c, gates=gates)

    i_t, f_t, g_t, o_t = (gates[:, k * H:(k + 1) * H] for k in range(4))
    tanh_c = np.tanh(c)
    dc_t = dc + dh * o_t * (1 - tanh_c**2)  # [lstm-bptt-c]
    da = np.concatenate(
        [
            dc_t * g_t * i_t * (1 - i_t),  # [lstm-bptt-gates]
            dc_t * c_prev * f_t * (1 - f_t),
            dc_t * i_t * (1 - g_t**2),
            dh * tanh_c * o_t * (1 - o_t),
        ],
        axis=1,
    )
    dc_prev = dc_t * f_t  # [lstm-bptt-c]
    return da, dc_prev


# ---------------------------------------------------------------------------------------------------
# A whole sequence.
# ---------------------------------------------------------------------------------------------------
# sigma(a) = 0.5 tanh(0.5 a) + 0.5 (sigmoid-tanh), so all four gates of a step are ONE tanh of the
# pre-activations scaled by _SCALE per gate block [i, f, g, o], followed by t * _SCALE + _SHIFT.
_SCALE = np.array([0.5, 0.5, 1.0, 0.5])[:, None]
_SHIFT = np.array([0.5, 0.5, 0.0, 0.5])[:, None]


def lstm_forward(x, h0, c0, Wx, Wh, b, backend="auto"):
    r"""Run one LSTM layer over a sequence.

    Parameters
    ----------
    x : ndarray (T, B, D)
        Inputs x_1 .. x_T.
    h0, c0 : ndarray (B, H) or None
        Initial states (None means zeros).
    Wx : ndarray (D, 4H)
    Wh : ndarray (H, 4H)
    b : ndarray (4H,)
        Parameters, gate blocks [i, f, g, o] (PyTorch's order).
    backend : {"auto", "numpy", "cython"}
        "numpy" runs the loop below; "cython" the compiled kernel ``minikws._lstm_kernel``;
        "auto" the kernel when it is built.

    Returns
    -------
    h : ndarray (T, B, H)
        Every hidden state h_t.
    (hT, cT) : tuple of ndarray (B, H)
        The final states, to continue the sequence in a later call (streaming).
    cache : LSTMCache

    Notes
    -----
    Equations :eq:`lstm-gates`, :eq:`lstm-cell`, :eq:`lstm-hidden` for t = 1 .. T. The input half of
    the pre-activations, :math:`x_t W_x + b`, does not depend on the recurrence, so it is computed for all
    T steps as one (T B, D) x (D, 4H) matrix product before the loop; each step adds
    :math:`h_{t-1} W_h` and applies the gate nonlinearities in place.

    Raises
    ------
    MinikwsError
        If a shape, dtype or value (NaN, inf) is wrong; the message names the argument.
    """
    check_float_array("x", x, ndim=3)
    T, B, D = x.shape
    if T == 0 or B == 0:
        raise MinikwsError(f"x: expected T >= 1 and B >= 1, got shape {x.shape} (T, B, D)")
    H = _check_weights(Wx, Wh, b, D)
    h0 = _check_state("h0", h0, B, H, x.dtype)
    c0 = _check_state("c0", c0, B, H, x.dtype)
    check_same_dtype(x=x, h0=h0, c0=c0, Wx=Wx, Wh=Wh, b=b)

    which = _backend.resolve(backend)
    if which == "cython":
        args = [np.ascontiguousarray(a) for a in (x, h0, c0, Wx, Wh, b)]
        h, c, gates = _backend.kernel().lstm_forward(*args)
    else:
        h, c, gates = _lstm_forward_numpy(x, h0, c0, Wx, Wh, b)
    cache = LSTMCache(x, h0, c0, Wx, Wh, h, c, gates, which)
    return h, (h[-1].copy(), c[-1].copy()), cache


def _lstm_forward_numpy(x, h0, c0, Wx, Wh, b):
    """The NumPy loop of :func:`lstm_forward` on validated arguments; returns h, c, gates."""
    T, B, D = x.shape
    H = Wh.shape[0]
    dtype = x.dtype
    scale, shift = _SCALE.astype(dtype), _SHIFT.astype(dtype)

    # (lstm-gates), input half, for every step at once; the loop turns it into activated gates.
    gates = np.matmul(x.reshape(T * B, D), Wx).reshape(T, B, 4 * H)
    gates += b
    G = gates.reshape(T, B, 4, H)  # the same memory, one gate block per index of axis 2
    h = np.empty((T, B, H), dtype=dtype)
    c = np.empty((T, B, H), dtype=dtype)
    hWh = np.empty((B, 4, H), dtype=dtype)
    ig = np.empty((B, H), dtype=dtype)
    h_prev, c_prev = h0, c0
    for t in range(T):
        a = G[t]
        np.matmul(h_prev, Wh, out=hWh.reshape(B, 4 * H))
        a += hWh  # (lstm-gates)
        a *= scale  # i, f, o: sigmoid(a) = 0.5 tanh(0.5 a) + 0.5; g: tanh(a)
        np.tanh(a, out=a)
        a *= scale
        a += shift
        i_t, f_t, g_t, o_t = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
        np.multiply(f_t, c_prev, out=c[t])  # (lstm-cell)
        np.multiply(i_t, g_t, out=ig)
        c[t] += ig
        np.tanh(c[t], out=h[t])  # (lstm-hidden)
        h[t] *= o_t
        h_prev, c_prev = h[t], c[t]
    return h, c, gates


def lstm_backward(dh, cache, dhT=None, dcT=None):
    r"""Back-propagate through time over a whole sequence.

    Parameters
    ----------
    dh : ndarray (T, B, H)
        Gradient of the loss with respect to every h_t coming from above (not from the recurrence).
        It is read, never written.
    cache : LSTMCache
        From :func:`lstm_forward`; the same backend runs backward.
    dhT, dcT : ndarray (B, H) or None
        Gradients with respect to the final states returned by :func:`lstm_forward` (None: zeros).

    Returns
    -------
    dx : ndarray (T, B, D)
    dh0, dc0 : ndarray (B, H)
    dWx : ndarray (D, 4H)
    dWh : ndarray (H, 4H)
    db : ndarray (4H,)

    Notes
    -----
    Equations :eq:`lstm-bptt-c`, :eq:`lstm-bptt-gates`, :eq:`lstm-bptt-h` from t = T down to 1, where
    the gradient of h_t is ``dh[t]`` plus :math:`\delta a_{t+1} W_h^\top` from the step after it.
    The factors of :eq:`lstm-bptt-gates` that do not involve the upstream gradient (such as
    :math:`g_t \odot i_t(1-i_t)`) are computed for all steps before the loop, so that each step is a
    handful of element-wise products and one matrix product. The parameter gradients
    :eq:`lstm-bptt-params` summed over time are, with :math:`\delta a` stacked over all steps, one matrix
    product each after the loop:

    .. math::
       :label: lstm-bptt-sum

       \delta W_x = \textstyle\sum_t x_t^\top \delta a_t = X^\top \delta A, \qquad
       \delta W_h = [h_0, \ldots, h_{T-1}]^\top \delta A, \qquad
       \delta X = \delta A\, W_x^\top
    """
    if not isinstance(cache, LSTMCache):
        raise MinikwsError(f"cache: expected the LSTMCache of lstm_forward, got {type(cache).__name__}")
    x, h0, c0, Wx, Wh, h, c, gates, which = cache
    T, B, H = h.shape
    check_float_array("dh", dh, ndim=3)
    check_shape("dh", dh, (T, B, H), "(T, B, H)")
    dhT = _check_state("dhT", dhT, B, H, x.dtype)
    dcT = _check_state("dcT", dcT, B, H, x.dtype)
    check_same_dtype(dh=dh, dhT=dhT, dcT=dcT, x=x)

    if which == "cython":
        args = [np.ascontiguousarray(a) for a in (dh, dhT, dcT, x, h0, c0, Wx, Wh, h, c, gates)]
        return _backend.kernel().lstm_backward(*args)
    return _lstm_backward_numpy(dh, dhT, dcT, cache)


def _lstm_backward_numpy(dh, dhT, dcT, cache):
    """The NumPy loop of :func:`lstm_backward` on validated arguments."""
    x, h0, c0, Wx, Wh, h, c, gates, _ = cache
    T, B, D = x.shape
    H = h.shape[2]
    dtype = x.dtype

    G = gates.reshape(T, B, 4, H)
    i, f, g, o = G[:, :, 0], G[:, :, 1], G[:, :, 2], G[:, :, 3]
    tanh_c = np.tanh(c)

    # The local derivatives of (lstm-bptt-gates), for all steps at once, written into dA; the loop then
    # multiplies blocks i, f, g by dc_t and block o by dh_t in place, which turns dA into delta a.
    dA = np.empty((T, B, 4, H), dtype=dtype)
    dA_i, dA_f, dA_g, dA_o = dA[:, :, 0], dA[:, :, 1], dA[:, :, 2], dA[:, :, 3]
    np.subtract(1, i, out=dA_i)  # g i (1 - i)
    dA_i *= i
    dA_i *= g
    np.subtract(1, f, out=dA_f)  # c_{t-1} f (1 - f)
    dA_f *= f
    dA_f[0] *= c0
    dA_f[1:] *= c[:-1]
    np.square(g, out=dA_g)  # i (1 - g^2)
    np.subtract(1, dA_g, out=dA_g)
    dA_g *= i
    np.subtract(1, o, out=dA_o)  # tanh(c) o (1 - o)
    dA_o *= o
    dA_o *= tanh_c
    dh_dc = tanh_c  # the path from h_t to c_t in (lstm-bptt-c), o (1 - tanh^2 c), in tanh_c's memory
    np.square(dh_dc, out=dh_dc)
    np.subtract(1, dh_dc, out=dh_dc)
    dh_dc *= o
    WhT = np.ascontiguousarray(Wh.T)

    dh_t = np.empty((B, H), dtype=dtype)
    dc_t = np.empty((B, H), dtype=dtype)
    dh_next = dhT.copy()  # gradient reaching h_t from step t+1 (and from hT at the last step)
    dc_next = dcT.copy()
    for t in range(T - 1, -1, -1):
        np.add(dh[t], dh_next, out=dh_t)
        dA[t, :, 3] *= dh_t  # (lstm-bptt-gates), o
        np.multiply(dh_t, dh_dc[t], out=dc_t)  # (lstm-bptt-c)
        dc_t += dc_next
        dA[t, :, 0:3] *= dc_t[:, None, :]  # (lstm-bptt-gates), i, f, g
        np.multiply(dc_t, f[t], out=dc_next)  # (lstm-bptt-c): dc_{t-1}
        np.matmul(dA[t].reshape(B, 4 * H), WhT, out=dh_next)  # (lstm-bptt-h): dh_{t-1}

    # (lstm-bptt-sum): the parameter and input gradients of all steps, one matrix product each.
    dA = dA.reshape(T * B, 4 * H)
    dWx = x.reshape(T * B, D).T @ dA
    dWh = h[:-1].reshape((T - 1) * B, H).T @ dA[B:]  # h_{t-1} for t >= 2 ...
    dWh += h0.T @ dA[:B]  # ... and h_0 for t = 1
    db = dA.sum(axis=0)
    dx = (dA @ Wx.T).reshape(T, B, D)
    return dx, dh_next, dc_next, dWx, dWh, db
