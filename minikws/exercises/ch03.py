"""Exercises of chapter 3, back-propagation through time (tutorials/03_backprop_through_time.ipynb).

    03.gate_grads          delta a_t gate by gate and delta c_{t-1}   :eq:`lstm-bptt-c`, :eq:`lstm-bptt-gates`
    03.lstm_step_backward  every gradient of one step                 :eq:`lstm-bptt-h`, :eq:`lstm-bptt-params`

Both are checked against the library (:func:`minikws.nn.lstm_gate_grads`,
:func:`minikws.nn.lstm_step_backward`) and against numerical gradients of :func:`minikws.nn.lstm_step_forward`.
"""
import numpy as np

from minikws import nn
from minikws.exercises.core import call, compare, exercise, numerical_gradient, read_rel_error, rel_error

# (B, D, H); B = 1 and H = 1 included. The general case first: it gives the best diagnosis.
_SHAPES = [(3, 4, 5), (1, 2, 3), (2, 3, 1)]

GATES = ("the input gate i", "the forget gate f", "the candidate g", "the output gate o")


def gate_blocks(H, rows=slice(None)):
    """The four gate blocks of a (..., 4H) array, for :func:`compare`'s ``blocks``."""
    return {name: np.s_[rows, k * H:(k + 1) * H] for k, name in enumerate(GATES)}


def _step(rng, B, D, H):
    """Random float64 inputs of one step, and the step's cache."""
    inputs = dict(x=rng.standard_normal((B, D)), h_prev=rng.standard_normal((B, H)),
                  c_prev=rng.standard_normal((B, H)), Wx=0.5 * rng.standard_normal((D, 4 * H)),
                  Wh=0.5 * rng.standard_normal((H, 4 * H)), b=0.5 * rng.standard_normal(4 * H))
    return inputs, nn.lstm_step_forward(**inputs)[2]


def _h_and_c_of(a, c_prev):
    """h_t and c_t as functions of the pre-activations a_t (B, 4H) and c_{t-1}, by the library's step."""
    B, H4 = a.shape
    H = H4 // 4
    h, c, _ = nn.lstm_step_forward(a, np.zeros((B, H)), c_prev, np.eye(H4), np.zeros((H, H4)), np.zeros(H4))
    return h, c


@exercise("03.gate_grads",
          title="lstm_gate_grads(dh, dc, c_prev, c, gates) -> (da, dc_prev): each gate's gradient and dc_{t-1}",
          reference=nn.lstm_gate_grads,
          diagnoses=("shape", "which gate", "missing h path", "missing dc", "c_t for c_prev",
                     "missing f in dc_prev", "sign", "nan", "raises"))
def check_gate_grads(student, rng):
    worst = 0.0
    for B, D, H in _SHAPES:
        p, cache = _step(rng, B, D, H)
        c_prev, c, gates = cache.c_prev, cache.c, cache.gates
        dh, dc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
        where = f" (B={B}, H={H})"
        da, dc_prev = call(student, dh, dc, c_prev, c, gates, outputs=("da", "dc_prev"))
        want_da, want_dc_prev = nn.lstm_gate_grads(dh, dc, c_prev, c, gates)

        # What common mistakes would give, to name them.
        i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
        tanh_c = np.tanh(c)
        through_h = dh * o * (1 - tanh_c**2)

        def da_with(dc_t, c_in_f=c_prev):
            return np.concatenate([dc_t * g * i * (1 - i), dc_t * c_in_f * f * (1 - f),
                                   dc_t * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1)

        compare("da", da, want_da, where=where, blocks=gate_blocks(H), mistakes={
            "leaves out the gradient that reaches c_t through h_t: delta c_t is dc plus "
            "dh * o_t * (1 - tanh^2 c_t) (eq. lstm-bptt-c)": da_with(dc),
            "leaves out dc, the gradient arriving at c_t from step t+1 (eq. lstm-bptt-c)": da_with(through_h),
            "uses c_t in the forget gate's gradient where (eq. lstm-bptt-gates) has c_{t-1}":
                da_with(dc + through_h, c_in_f=c),
        })
        compare("dc_prev", dc_prev, want_dc_prev, where=where, mistakes={
            "is missing the factor f_t: c_{t-1} reaches c_t only through f_t * c_{t-1}": dc + through_h,
            "leaves out the gradient that reaches c_t through h_t (eq. lstm-bptt-c)": dc * f,
        })
        # The calculus itself, against centred differences of the library's forward step.
        a = p["x"] @ p["Wx"] + p["h_prev"] @ p["Wh"] + p["b"]  # the pre-activations [lstm-gates]
        num_da = numerical_gradient(lambda a_: _h_and_c_of(a_, c_prev), a, (dh, dc))
        num_dc = numerical_gradient(lambda c_: _h_and_c_of(a, c_), c_prev, (dh, dc))
        worst = max(worst, rel_error(da, num_da), rel_error(dc_prev, num_dc))
    return (f"{len(_SHAPES)} shapes; relative error against numerical gradients {worst:.0e}, "
            f"{read_rel_error(worst)}")


@exercise("03.lstm_step_backward",
          title="lstm_step_backward(dh, dc, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db): one step of BPTT",
          reference=nn.lstm_step_backward,
          diagnoses=("which output", "transposed", "db not summed", "which gate", "sign", "raises"))
def check_lstm_step_backward(student, rng):
    names = ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db")
    worst = 0.0
    for B, D, H in _SHAPES:
        inputs, cache = _step(rng, B, D, H)
        dh, dc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
        where = f" (B={B}, D={D}, H={H})"
        got = call(student, dh, dc, cache, outputs=names)
        want = nn.lstm_step_backward(dh, dc, cache)
        da, _ = nn.lstm_gate_grads(dh, dc, cache.c_prev, cache.c, cache.gates)
        mistakes = {
            "dx": {"uses Wh where (eq. lstm-bptt-h) has Wx": da @ cache.Wh.T} if D == H else {},
            "dh_prev": {"is missing the recurrent path: delta h_{t-1} = delta a_t Wh^T (eq. lstm-bptt-h)":
                        np.zeros((B, H))},
            "dWh": {"uses x_t where (eq. lstm-bptt-params) has h_{t-1}": cache.x.T @ da} if D == H else {},
        }
        blocks = {"dWx": gate_blocks(H), "dWh": gate_blocks(H), "db": {
            name: np.s_[k * H:(k + 1) * H] for k, name in enumerate(GATES)}}
        for name, g, w in zip(names, got, want):
            compare(name, g, w, where=where, mistakes=mistakes.get(name), blocks=blocks.get(name))

        # Against numerical gradients of the forward step (the library's), input by input.
        for name, g in zip(("x", "h_prev", "c_prev", "Wx", "Wh", "b"), got):
            def f(value, name=name):
                h, c, _ = nn.lstm_step_forward(**{**inputs, name: value})
                return h, c
            worst = max(worst, rel_error(g, numerical_gradient(f, inputs[name], (dh, dc))))
    return (f"{len(_SHAPES)} shapes; relative error against numerical gradients {worst:.0e}, "
            f"{read_rel_error(worst)}")
