"""The network: an LSTM, affine layers, dropout, softmax cross-entropy and the output-feedback head.

Every layer is a pair of functions in the style of CS231n: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``, with the cache a NamedTuple. The modules :class:`LSTM` and
:class:`Linear` hold ``params``/``grads`` dicts around those functions, like their PyTorch namesakes.

Where things live::

    lstm.py      lstm_step_forward/backward, lstm_forward/backward (BPTT; NumPy or the C kernel)
    layers.py    affine, temporal affine, dropout
    losses.py    softmax, log_softmax, softmax_cross_entropy
    feedback.py  the article's head o_t = softmax(W_o [h_t; o_{t-1}] + b_o)
    init.py      Xavier and orthogonal initialisation, LSTM weights to and from PyTorch
    modules.py   Module, LSTM, Linear

Shapes, time-major, in the package legend: T time steps, B batch, D input features, H hidden units,
C classes. float32 and float64 throughout, never mixed.

Equation labels (cited by the book; each appears in a ``.. math::`` block of the docstring named):

    sigmoid-tanh      sigmoid                                    lstm.sigmoid
    lstm-gates        a_t = x_t Wx + h_{t-1} Wh + b, i f g o     lstm.lstm_step_forward
    lstm-cell         c_t = f_t c_{t-1} + i_t g_t                lstm.lstm_step_forward
    lstm-hidden       h_t = o_t tanh(c_t)                        lstm.lstm_step_forward
    lstm-bptt-c       delta c_t and delta c_{t-1}                lstm.lstm_step_backward (lstm_gate_grads)
    lstm-bptt-gates   delta a_t, gate by gate                    lstm.lstm_step_backward (lstm_gate_grads)
    lstm-bptt-h       delta x_t, delta h_{t-1}                   lstm.lstm_step_backward
    lstm-bptt-params  delta Wx, delta Wh, delta b of one step    lstm.lstm_step_backward
    lstm-bptt-sum     the same summed over time, as one GEMM     lstm.lstm_backward
    affine            out = x W + b                              layers.affine_forward
    affine-grad       delta x, delta W, delta b                  layers.affine_backward
    dropout           inverted dropout and its gradient          layers.dropout_forward
    softmax           max-shifted softmax                        losses.softmax
    log-softmax       log-sum-exp                                losses.log_softmax
    softmax-ce        mean masked cross-entropy                  losses.softmax_cross_entropy
    softmax-ce-grad   (p - onehot) m / N                         losses.softmax_cross_entropy
    feedback-head     o_t = softmax([h_t; o_{t-1}] W + b)        feedback.feedback_forward
    feedback-bptt     delta o_t, delta z_t through time          feedback.feedback_backward
    feedback-grad     delta W, delta b, delta h, delta o_0       feedback.feedback_backward
    xavier            U(-a, a), a = sqrt(6 / (fan_in + fan_out)) init.xavier_uniform
    orthogonal        W = Q sign(diag R)                         init.orthogonal
"""
from minikws.nn.feedback import FeedbackCache, feedback_backward, feedback_forward
from minikws.nn.init import lstm_from_torch, lstm_params, lstm_to_torch, orthogonal, xavier_uniform
from minikws.nn.layers import (
    AffineCache,
    DropoutCache,
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    temporal_affine_backward,
    temporal_affine_forward,
)
from minikws.nn.losses import log_softmax, softmax, softmax_cross_entropy
from minikws.nn.lstm import (
    LSTMCache,
    LSTMStepCache,
    lstm_backward,
    lstm_forward,
    lstm_gate_grads,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
)
from minikws.nn.modules import LSTM, Linear, Module

__all__ = [
    "LSTMCache", "LSTMStepCache", "sigmoid",
    "lstm_step_forward", "lstm_step_backward", "lstm_gate_grads", "lstm_forward", "lstm_backward",
    "AffineCache", "DropoutCache",
    "affine_forward", "affine_backward", "temporal_affine_forward", "temporal_affine_backward",
    "dropout_forward", "dropout_backward",
    "softmax", "log_softmax", "softmax_cross_entropy",
    "FeedbackCache", "feedback_forward", "feedback_backward",
    "xavier_uniform", "orthogonal", "lstm_params", "lstm_from_torch", "lstm_to_torch",
    "Module", "LSTM", "Linear",
]
