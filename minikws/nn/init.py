"""Weight initialisation (Xavier, orthogonal) and conversion of LSTM weights to and from PyTorch.

Weights are stored (inputs, outputs), so a layer computes ``x @ W``; PyTorch stores the transpose.
Shapes use the package legend: D input features, H hidden units.
"""
import numpy as np

from minikws._validate import (
    FLOAT_DTYPES,
    check_float_array,
    check_positive_int,
    check_same_dtype,
    check_shape,
)
from minikws.errors import MinikwsError

__all__ = ["xavier_uniform", "orthogonal", "lstm_params", "lstm_from_torch", "lstm_to_torch"]


def _check_init_args(shape, rng, dtype):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(shape)
    if len(shape) != 2:
        raise MinikwsError(f"shape: expected (fan_in, fan_out), got {shape}")
    for n in shape:
        check_positive_int("shape", n)
    if not isinstance(rng, np.random.Generator):
        raise MinikwsError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise MinikwsError(f"dtype: expected float32 or float64, got {dtype}")
    return shape, dtype


def xavier_uniform(shape, rng, dtype=np.float32):
    r"""Glorot/Xavier uniform initialisation of a (fan_in, fan_out) matrix.

    Parameters
    ----------
    shape : tuple (fan_in, fan_out)
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    W : ndarray (fan_in, fan_out)

    Notes
    -----
    .. math::
       :label: xavier

       W_{jk} \sim U(-a, a), \qquad a = \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    which keeps the variance of activations and of gradients about equal from layer to layer.
    """
    shape, dtype = _check_init_args(shape, rng, dtype)
    a = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype=np.float32):
    r"""A random matrix with orthonormal rows or columns (whichever there are fewer of).

    Parameters
    ----------
    shape : tuple (rows, cols)
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    W : ndarray (rows, cols)

    Notes
    -----
    .. math::
       :label: orthogonal

       A = QR,\ A_{jk} \sim N(0, 1), \qquad W = Q\, \text{diag}(\text{sign}(R_{kk}))

    The sign correction makes W uniformly distributed (Haar). For recurrent weights, singular values of
    1 keep :math:`h_{t-1} W_h` from shrinking or growing the state at the start of training.
    """
    shape, dtype = _check_init_args(shape, rng, dtype)
    rows, cols = shape
    A = rng.standard_normal((max(rows, cols), min(rows, cols)))
    Q, R = np.linalg.qr(A)
    Q *= np.sign(np.diag(R))
    return (Q if rows >= cols else Q.T).astype(dtype)


def lstm_params(input_size, hidden_size, rng, dtype=np.float32, forget_bias=1.0):
    """Initial parameters of one LSTM layer, gate blocks [i, f, g, o].

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    rng : numpy.random.Generator
    dtype : float32 or float64
    forget_bias : float
        Initial bias of the forget gate; 1.0 makes f_t about 0.73, so the cell remembers from the start.

    Returns
    -------
    dict
        ``"Wx"`` (D, 4H): each gate block :func:`xavier_uniform`; ``"Wh"`` (H, 4H): each block
        :func:`orthogonal`; ``"b"`` (4H,): zeros except ``forget_bias`` in the f block.
    """
    D = check_positive_int("input_size", input_size)
    H = check_positive_int("hidden_size", hidden_size)
    if not np.isfinite(forget_bias):
        raise MinikwsError(f"forget_bias: expected a finite number, got {forget_bias!r}")
    Wx = np.concatenate([xavier_uniform((D, H), rng, dtype) for _ in range(4)], axis=1)
    Wh = np.concatenate([orthogonal((H, H), rng, dtype) for _ in range(4)], axis=1)
    b = np.zeros(4 * H, dtype=dtype)
    b[H:2 * H] = forget_bias
    return {"Wx": Wx, "Wh": Wh, "b": b}


def lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    """Convert one layer of ``torch.nn.LSTM`` (as NumPy arrays) to minikws' (Wx, Wh, b).

    Parameters
    ----------
    weight_ih : ndarray (4H, D)
        ``weight_ih_l{k}``.
    weight_hh : ndarray (4H, H)
        ``weight_hh_l{k}``.
    bias_ih, bias_hh : ndarray (4H,)

    Returns
    -------
    Wx : ndarray (D, 4H)
        ``weight_ih.T``.
    Wh : ndarray (H, 4H)
        ``weight_hh.T``.
    b : ndarray (4H,)
        ``bias_ih + bias_hh`` (they are only ever added).
    """
    check_float_array("weight_hh", weight_hh, ndim=2)
    H = weight_hh.shape[1]
    check_shape("weight_hh", weight_hh, (4 * H, H), "(4H, H)")
    check_float_array("weight_ih", weight_ih, ndim=2)
    check_shape("weight_ih", weight_ih, (4 * H, None), "(4H, D)")
    for name, v in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        check_float_array(name, v, ndim=1)
        check_shape(name, v, (4 * H,), "(4H,)")
    check_same_dtype(weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih, bias_hh=bias_hh)
    return np.ascontiguousarray(weight_ih.T), np.ascontiguousarray(weight_hh.T), bias_ih + bias_hh


def lstm_to_torch(Wx, Wh, b):
    """Convert minikws' (Wx, Wh, b) to ``torch.nn.LSTM``'s four arrays of one layer.

    Parameters
    ----------
    Wx : ndarray (D, 4H)
    Wh : ndarray (H, 4H)
    b : ndarray (4H,)

    Returns
    -------
    weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,) = b, bias_hh (4H,) = zeros
    """
    check_float_array("Wh", Wh, ndim=2)
    H = Wh.shape[0]
    check_shape("Wh", Wh, (H, 4 * H), "(H, 4H)")
    check_float_array("Wx", Wx, ndim=2)
    check_shape("Wx", Wx, (None, 4 * H), "(D, 4H)")
    check_float_array("b", b, ndim=1)
    check_shape("b", b, (4 * H,), "(4H,)")
    check_same_dtype(Wx=Wx, Wh=Wh, b=b)
    return np.ascontiguousarray(Wx.T), np.ascontiguousarray(Wh.T), b.copy(), np.zeros_like(b)
