"""Softmax, log-softmax and the softmax cross-entropy loss with its gradient.

Shapes use the package legend: T time steps, B batch, C classes. Logits are (B, C) for one decision per
utterance or (T, B, C) for one per frame; targets and masks have the logits' shape without C.
"""
import numpy as np

from minikws._validate import check_float_array, check_shape
from minikws.errors import MinikwsError

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy"]


def softmax(z, axis=-1):
    r"""Softmax along ``axis``, shifted by the maximum so that no exponential overflows.

    Parameters
    ----------
    z : ndarray (..., C)
        Logits (float32 or float64).
    axis : int
        The class axis.

    Returns
    -------
    p : ndarray (..., C)
        Probabilities, summing to 1 along ``axis``.

    Notes
    -----
    .. math::
       :label: softmax

       \text{softmax}(z)_k = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j

    The shift changes nothing mathematically; it makes every exponent <= 0.
    """
    check_float_array("z", z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(z, axis=-1):
    r"""Logarithm of the softmax, by the log-sum-exp with the maximum taken out.

    Parameters
    ----------
    z : ndarray (..., C)
    axis : int

    Returns
    -------
    log_p : ndarray (..., C)

    Notes
    -----
    .. math::
       :label: log-softmax

       \log \text{softmax}(z)_k = z_k - m - \log \sum_j e^{z_j - m}, \qquad m = \max_j z_j
    """
    check_float_array("z", z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(logits, targets, mask=None):
    r"""Mean cross-entropy of softmax(logits) against integer targets, and its gradient.

    Parameters
    ----------
    logits : ndarray (B, C) or (T, B, C)
        Unnormalised scores, float32 or float64, finite.
    targets : ndarray of int, (B,) or (T, B)
        Class indices in [0, C). Entries where ``mask`` is 0 are ignored and may hold anything
        (for example -1 at padded frames).
    mask : ndarray of bool or 0/1, shape of ``targets``, optional
        Which positions count. None: all of them. At least one must be set.

    Returns
    -------
    loss : float
        The mean over the N unmasked positions.
    dlogits : ndarray, shape of ``logits``
        Gradient of ``loss`` with respect to ``logits`` (zero at masked positions).

    Notes
    -----
    With :math:`p = \text{softmax}(z)` :eq:`softmax`, :math:`y` the targets and :math:`m_n` the mask:

    .. math::
       :label: softmax-ce

       L = -\frac{1}{N} \sum_n m_n \log p_{n, y_n}, \qquad N = \sum_n m_n

    .. math::
       :label: softmax-ce-grad

       \frac{\partial L}{\partial z_{n,k}} = \frac{m_n}{N} \left(p_{n,k} - [k = y_n]\right)

    :math:`\log p` comes from :eq:`log-softmax`, so logits of :math:`\pm 10^4` give a finite loss.
    """
    check_float_array("logits", logits, ndim=(2, 3))
    C = logits.shape[-1]
    if C == 0:
        raise MinikwsError(f"logits: expected at least one class, got shape {logits.shape}")
    lead = logits.shape[:-1]
    legend = "(B,)" if logits.ndim == 2 else "(T, B)"
    if not isinstance(targets, np.ndarray) or not np.issubdtype(targets.dtype, np.integer):
        got = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
        raise MinikwsError(f"targets: expected an integer array, got {got}")
    check_shape("targets", targets, lead, f"{legend} from logits {logits.shape}")
    if mask is None:
        m = np.ones(lead, dtype=bool)
    else:
        if not isinstance(mask, np.ndarray):
            raise MinikwsError(f"mask: expected a numpy array, got {type(mask).__name__}")
        check_shape("mask", mask, lead, f"{legend} like targets")
        if mask.dtype != bool and not np.isin(mask, (0, 1)).all():
            raise MinikwsError("mask: expected booleans or 0/1 values")
        m = mask.astype(bool)
    n = int(m.sum())
    if n == 0:
        raise MinikwsError("mask: no position is unmasked; the mean loss would be 0/0")
    bad = m & ((targets < 0) | (targets >= C))
    if bad.any():
        raise MinikwsError(
            f"targets: expected class indices in [0, {C}), got {targets[bad].flat[0]} at an unmasked position"
        )

    log_p = log_softmax(logits)
    y = np.where(m, targets, 0)  # any valid index at masked positions; their terms are zeroed below
    log_p_y = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    loss = -float(log_p_y[m].sum()) / n  # [softmax-ce]

    dlogits = np.exp(log_p)  # [softmax-ce-grad]: p - onehot(y), times m / N
    np.put_along_axis(dlogits, y[..., None], np.take_along_axis(dlogits, y[..., None], -1) - 1, -1)
    dlogits *= (m / n).astype(logits.dtype)[..., None]
    return loss, dlogits
