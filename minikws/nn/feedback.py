"""The article's output-feedback head: each step's class probabilities feed the next step.

Section 4.2 of the article reads the LSTM's hidden state together with the previous output,
``o_t = softmax(W_o [h_t; o_{t-1}] + b_o)``. Because o_{t-1} is an input of step t, the head is itself
a (small) recurrent network, and its backward pass runs back through time like the LSTM's.

Shapes use the package legend: T time steps, B batch, H hidden units, C classes.
"""
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_same_dtype, check_shape
from minikws.errors import MinikwsError
from minikws.nn.losses import softmax

__all__ = ["FeedbackCache", "feedback_forward", "feedback_backward"]


class FeedbackCache(NamedTuple):
    """h (T, B, H), W (H+C, C), o (T, B, C) every o_t, o0 (B, C) the initial output."""

    h: np.ndarray
    W: np.ndarray
    o: np.ndarray
    o0: np.ndarray


def feedback_forward(h, W, b, o0=None):
    r"""Run the output-feedback head over a sequence.

    Parameters
    ----------
    h : ndarray (T, B, H)
        Hidden states of the last LSTM layer.
    W : ndarray (H+C, C)
        Rows 0..H-1 act on h_t (:math:`W_h`), rows H..H+C-1 on o_{t-1} (:math:`W_o`).
    b : ndarray (C,)
    o0 : ndarray (B, C) or None
        The output "before" the first step; None means zeros (no previous decision).

    Returns
    -------
    o : ndarray (T, B, C)
        Class probabilities of every step.
    cache : FeedbackCache

    Notes
    -----
    .. math::
       :label: feedback-head

       z_t = [h_t;\, o_{t-1}]\, W + b = h_t W_h + o_{t-1} W_o + b, \qquad
       o_t = \text{softmax}(z_t)

    :math:`h_t W_h + b` does not depend on the recurrence and is one matrix product for all steps.
    """
    check_float_array("h", h, ndim=3)
    T, B, H = h.shape
    check_float_array("W", W, ndim=2)
    check_float_array("b", b, ndim=1)
    C = b.shape[0]
    if C == 0:
        raise MinikwsError("b: expected shape (C,) with C >= 1, got (0,)")
    check_shape("W", W, (H + C, C), f"(H+C, C) with H={H} from h and C={C} from b")
    if o0 is None:
        o0 = np.zeros((B, C), dtype=h.dtype)
    check_float_array("o0", o0, ndim=2)
    check_shape("o0", o0, (B, C), "(B, C)")
    check_same_dtype(h=h, W=W, b=b, o0=o0)

    W_h, W_o = W[:H], W[H:]
    z = (h.reshape(T * B, H) @ W_h + b).reshape(T, B, C)
    o = np.empty((T, B, C), dtype=h.dtype)
    o_prev = o0
    for t in range(T):
        z[t] += o_prev @ W_o  # [feedback-head]
        o[t] = softmax(z[t])
        o_prev = o[t]
    return o, FeedbackCache(h, W, o, o0)


def feedback_backward(do, cache):
    r"""Back-propagate through the feedback head, through time.

    Parameters
    ----------
    do : ndarray (T, B, C)
        Gradient of the loss with respect to every o_t coming from the loss (not from the feedback).
    cache : FeedbackCache

    Returns
    -------
    dh : ndarray (T, B, H)
    dW : ndarray (H+C, C)
    db : ndarray (C,)
    do0 : ndarray (B, C)
        Gradient with respect to the initial output o0.

    Notes
    -----
    From t = T down to 1, the gradient of o_t is ``do[t]`` plus what step t+1 sends back through
    :math:`o_t W_o`; the softmax Jacobian turns it into :math:`\delta z_t`:

    .. math::
       :label: feedback-bptt

       \delta o_t = \text{do}_t + \delta z_{t+1} W_o^\top, \qquad
       \delta z_t = o_t \odot \left(\delta o_t - \textstyle\sum_k (\delta o_t)_k (o_t)_k\right)

    .. math::
       :label: feedback-grad

       \delta W = \textstyle\sum_t [h_t;\, o_{t-1}]^\top \delta z_t, \qquad
       \delta b = \textstyle\sum_{t, \text{batch}} \delta z_t, \qquad
       \delta h_t = \delta z_t W_h^\top, \qquad \delta o_0 = \delta z_1 W_o^\top
    """
    if not isinstance(cache, FeedbackCache):
        got = type(cache).__name__
        raise MinikwsError(f"cache: expected the FeedbackCache of feedback_forward, got {got}")
    h, W, o, o0 = cache
    T, B, H = h.shape
    C = o.shape[2]
    check_float_array("do", do, ndim=3)
    check_shape("do", do, (T, B, C), "(T, B, C)")
    check_same_dtype(do=do, h=h)

    W_h, W_o = W[:H], W[H:]
    dz = np.empty((T, B, C), dtype=h.dtype)
    do_next = np.zeros((B, C), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        do_t = do[t] + do_next  # [feedback-bptt]
        dz[t] = o[t] * (do_t - (do_t * o[t]).sum(axis=-1, keepdims=True))
        do_next = dz[t] @ W_o.T

    dz2 = dz.reshape(T * B, C)  # [feedback-grad]
    o_prev = np.concatenate([o0[None], o[:-1]]).reshape(T * B, C)
    dW = np.concatenate([h.reshape(T * B, H).T @ dz2, o_prev.T @ dz2])
    db = dz2.sum(axis=0)
    dh = (dz2 @ W_h.T).reshape(T, B, H)
    return dh, dW, db, do_next
