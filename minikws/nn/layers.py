"""Affine (fully connected) layers and dropout, as forward/backward pairs.

Shapes use the package legend: T time steps, B batch, D input features; N is any number of rows and M
the number of outputs of an affine map.
"""
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_real, check_same_dtype, check_shape
from minikws.errors import MinikwsError

__all__ = [
    "AffineCache",
    "DropoutCache",
    "affine_forward",
    "affine_backward",
    "temporal_affine_forward",
    "temporal_affine_backward",
    "dropout_forward",
    "dropout_backward",
]


class AffineCache(NamedTuple):
    """x (N, D) or (T, B, D) and W (D, M) of an affine forward."""

    x: np.ndarray
    W: np.ndarray


class DropoutCache(NamedTuple):
    """mask: the kept-and-rescaled mask (same shape as x), or None when nothing was dropped."""

    mask: object
    p: float
    train: bool


def _check_affine(x, W, b, x_ndim):
    check_float_array("x", x, ndim=x_ndim)
    check_float_array("W", W, ndim=2)
    check_float_array("b", b, ndim=1)
    D = x.shape[-1]
    check_shape("W", W, (D, None), f"(D, M) with D={D} from x")
    check_shape("b", b, (W.shape[1],), "(M,)")
    check_same_dtype(x=x, W=W, b=b)


def _check_dout(dout, shape, dtype, legend):
    check_float_array("dout", dout)
    check_shape("dout", dout, shape, legend)
    if dout.dtype != dtype:
        raise MinikwsError(f"dout: expected dtype {dtype} like the forward input, got {dout.dtype}")


def affine_forward(x, W, b):
    r"""Fully connected layer.

    Parameters
    ----------
    x : ndarray (N, D)
    W : ndarray (D, M)
    b : ndarray (M,)

    Returns
    -------
    out : ndarray (N, M)
    cache : AffineCache

    Notes
    -----
    .. math::
       :label: affine

       \text{out} = x W + b
    """
    _check_affine(x, W, b, 2)
    return x @ W + b, AffineCache(x, W)


def affine_backward(dout, cache):
    r"""Gradients of :func:`affine_forward`.

    Parameters
    ----------
    dout : ndarray (N, M)
    cache : AffineCache

    Returns
    -------
    dx : ndarray (N, D)
    dW : ndarray (D, M)
    db : ndarray (M,)

    Notes
    -----
    .. math::
       :label: affine-grad

       \delta x = \delta\text{out}\, W^\top, \qquad \delta W = x^\top \delta\text{out}, \qquad
       \delta b = \textstyle\sum_n \delta\text{out}_n
    """
    x, W = cache
    _check_dout(dout, (x.shape[0], W.shape[1]), x.dtype, "(N, M)")
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def temporal_affine_forward(x, W, b):
    r"""The same affine map :eq:`affine` applied at every time step.

    Parameters
    ----------
    x : ndarray (T, B, D)
    W : ndarray (D, M)
    b : ndarray (M,)

    Returns
    -------
    out : ndarray (T, B, M)
    cache : AffineCache
    """
    _check_affine(x, W, b, 3)
    T, B, D = x.shape
    out = (x.reshape(T * B, D) @ W + b).reshape(T, B, W.shape[1])
    return out, AffineCache(x, W)


def temporal_affine_backward(dout, cache):
    r"""Gradients of :func:`temporal_affine_forward`: :eq:`affine-grad` summed over time and batch.

    Parameters
    ----------
    dout : ndarray (T, B, M)
    cache : AffineCache

    Returns
    -------
    dx : ndarray (T, B, D)
    dW : ndarray (D, M)
    db : ndarray (M,)
    """
    x, W = cache
    T, B, D = x.shape
    M = W.shape[1]
    _check_dout(dout, (T, B, M), x.dtype, "(T, B, M)")
    d2 = dout.reshape(T * B, M)
    x2 = x.reshape(T * B, D)
    return (d2 @ W.T).reshape(T, B, D), x2.T @ d2, d2.sum(axis=0)


def dropout_forward(x, p, rng, train=True):
    r"""Inverted dropout: zero each entry with probability p and scale the rest by 1/(1-p).

    Parameters
    ----------
    x : ndarray, any shape
    p : float
        Drop probability, 0 <= p < 1.
    rng : numpy.random.Generator or None
        Draws the mask; required when ``train`` and ``p > 0``.
    train : bool
        At evaluation (``train=False``) the layer is the identity.

    Returns
    -------
    out : ndarray, shape of x
    cache : DropoutCache

    Notes
    -----
    .. math::
       :label: dropout

       m \sim \text{Bernoulli}(1-p), \qquad \text{out} = \frac{m \odot x}{1-p}, \qquad
       \delta x = \frac{m \odot \delta\text{out}}{1-p}

    so that :math:`E[\text{out}] = x` and evaluation needs no rescaling.
    """
    check_float_array("x", x)
    p = check_real("p", p, low=0.0, high=1.0, high_open=True)
    if not train or p == 0:
        return x, DropoutCache(None, float(p), bool(train))
    if not isinstance(rng, np.random.Generator):
        raise MinikwsError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    mask /= x.dtype.type(1 - p)
    return x * mask, DropoutCache(mask, float(p), True)


def dropout_backward(dout, cache):
    """Gradient of :func:`dropout_forward` (equation :eq:`dropout`).

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : DropoutCache

    Returns
    -------
    dx : ndarray, shape of x
    """
    check_float_array("dout", dout)
    if cache.mask is None:
        return dout.copy()
    check_shape("dout", dout, cache.mask.shape)
    return dout * cache.mask
