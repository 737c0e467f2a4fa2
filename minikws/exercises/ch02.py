"""Exercises of chapter 2, the LSTM forward pass (tutorials/02_lstm_forward.ipynb).

    02.gates       split a_t into [a_i, a_f, a_g, a_o] and apply sigma, sigma, tanh, sigma  :eq:`lstm-gates`
    02.lstm_step   one step: (x_t, h_{t-1}, c_{t-1}) -> (h_t, c_t)   :eq:`lstm-gates`, :eq:`lstm-cell`,
                   :eq:`lstm-hidden`
"""
import numpy as np

from minikws import nn
from minikws.exercises.core import call, compare, exercise

# (B, D, H): the general case first (the best diagnosis), then B = 1 and H = 1.
_SHAPES = [(4, 5, 3), (1, 3, 2), (3, 2, 1), (1, 1, 4)]
_GATES = ("i", "f", "g", "o")
_NAMES = {"i": "the input gate i", "f": "the forget gate f", "g": "the candidate g", "o": "the output gate o"}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@exercise("02.gates", title="lstm_gates(a): (i, f, g, o) from the (B, 4H) pre-activations",
          reference=nn.lstm_gates,
          diagnoses=("outputs", "shape", "wrong nonlinearity", "block order", "raises"))
def check_gates(student, rng):
    for B, _, H in _SHAPES:
        a = rng.standard_normal((B, 4 * H)) * 2
        blocks = {k: a[:, n * H:(n + 1) * H] for n, k in enumerate(_GATES)}
        got = call(student, a, outputs=_GATES)
        expected = nn.lstm_gates(a)
        for n, k in enumerate(_GATES):
            own = np.tanh if k == "g" else _sigmoid
            other = _sigmoid if k == "g" else np.tanh
            mistakes = {f"applies {'the sigmoid' if k == 'g' else 'tanh'} to its block: {_NAMES[k]} "
                        f"uses {'tanh' if k == 'g' else 'the sigmoid'}": other(blocks[k])}
            for m, j in enumerate(_GATES):
                if j != k:
                    mistakes[f"is computed from block {m} ({_NAMES[j]}'s pre-activations); {_NAMES[k]} "
                             f"is block {n} of [i, f, g, o], columns {n}H .. {n + 1}H"] = own(blocks[j])
            compare(k, got[n], expected[n], where=f" for a of shape {a.shape}", mistakes=mistakes)
    return f"{len(_SHAPES)} shapes (B = 1 and H = 1 included)"


def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM step (h_t, c_t): :func:`minikws.nn.lstm_step_forward` without its cache."""
    h, c, _ = nn.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return h, c


@exercise("02.lstm_step", title="lstm_step(x, h_prev, c_prev, Wx, Wh, b): (h_t, c_t) of one LSTM step",
          reference=lstm_step,
          diagnoses=("outputs", "shape", "h c swapped", "missing forget term", "missing input term",
                     "h without tanh", "gate order", "missing recurrent term", "missing bias", "raises"))
def check_lstm_step(student, rng):
    for B, D, H in _SHAPES:
        x = rng.standard_normal((B, D))
        h_prev = rng.standard_normal((B, H)) * 0.5
        c_prev = rng.standard_normal((B, H))
        Wx = rng.standard_normal((D, 4 * H)) * 0.7
        Wh = rng.standard_normal((H, 4 * H)) * 0.7
        b = rng.standard_normal(4 * H) * 0.5
        where = f" for B={B}, D={D}, H={H}"
        h_got, c_got = call(student, x, h_prev, c_prev, Wx, Wh, b, outputs=("h", "c"))
        h_ref, c_ref = lstm_step(x, h_prev, c_prev, Wx, Wh, b)

        a = x @ Wx + h_prev @ Wh + b
        i, f, g, o = nn.lstm_gates(a)
        c_tf = _sigmoid(a[:, 2 * H:3 * H]) * c_prev + i * np.tanh(a[:, H:2 * H])  # read as [i, g, f, o]
        o_ifog, g_ifog = _sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])  # blocks read as [i, f, o, g]
        c_ifog = f * c_prev + i * g_ifog
        i_nh, f_nh, g_nh, o_nh = nn.lstm_gates(x @ Wx + b)
        i_nb, f_nb, g_nb, o_nb = nn.lstm_gates(x @ Wx + h_prev @ Wh)
        compare("c", c_got, c_ref, where=where, mistakes={
            "is h_t: return (h, c) in that order": h_ref,
            "is missing the forget term f_t * c_{t-1} (eq. lstm-cell)": i * g,
            "is missing the input term i_t * g_t (eq. lstm-cell)": f * c_prev,
            "reads the gate blocks in the wrong order: minikws (and PyTorch) use [i, f, g, o]; "
            "this is [i, g, f, o] (TensorFlow's order)": c_tf,
            "reads the gate blocks in the wrong order: minikws (and PyTorch) use [i, f, g, o]; "
            "this is [i, f, o, g]": c_ifog,
            "is missing the recurrent term h_{t-1} W_h in a_t (eq. lstm-gates)":
                f_nh * c_prev + i_nh * g_nh,
            "is missing the bias b in a_t (eq. lstm-gates)": f_nb * c_prev + i_nb * g_nb,
        })
        compare("h", h_got, h_ref, where=where, mistakes={
            "is c_t: return (h, c) in that order": c_ref,
            "is o_t * c_t: the hidden state squashes the cell, h_t = o_t * tanh(c_t) (eq. lstm-hidden)":
                o * c_ref,
            "reads the gate blocks in the wrong order: the output gate is the last block of [i, f, g, o]":
                o_ifog * np.tanh(c_ref),
        })
    return f"{len(_SHAPES)} shapes (B = 1 and H = 1 included)"
