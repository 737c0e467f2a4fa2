"""Exercises of chapter 7, the C kernel (tutorials/07_the_c_kernel.ipynb).

    07.fused_gate_preactivations   a_t = [x_t, h_{t-1}] [W_x; W_h] + b, all four gates at once  :eq:`lstm-gates`
"""
import numpy as np

from minikws import nn
from minikws.exercises.core import Incorrect, call, compare, exercise

# (B, D, H): D != H first, so that a swapped concatenation cannot pass by accident; then B = 1, H = 1.
_SHAPES = [(4, 5, 3), (1, 3, 2), (3, 2, 1), (1, 1, 4), (2, 4, 4)]


@exercise("07.fused_gate_preactivations",
          title="fused_gate_preactivations(x, h_prev, Wx, Wh, b): the (B, 4H) pre-activations of all gates",
          reference=nn.lstm_preactivations,
          diagnoses=("shape", "one gate only", "missing bias", "missing recurrent term", "missing input term",
                     "swapped stacking", "raises"))
def check_fused_gate_preactivations(student, rng):
    for B, D, H in _SHAPES:
        x = rng.standard_normal((B, D))
        h_prev = rng.standard_normal((B, H))
        Wx = rng.standard_normal((D, 4 * H))
        Wh = rng.standard_normal((H, 4 * H))
        b = rng.standard_normal(4 * H)
        where = f" for B={B}, D={D}, H={H}"
        got = call(student, x, h_prev, Wx, Wh, b)
        expected = nn.lstm_preactivations(x, h_prev, Wx, Wh, b)
        if got.shape == (B, H) and H > 1:
            raise Incorrect(f"a{where}: expected shape {expected.shape} (B, 4H), got {got.shape} (B, H): "
                            "one gate's block only; the columns of Wx and Wh hold all four gates "
                            "[i, f, g, o], so one product gives all of them")
        if got.shape == (4, B, H):
            raise Incorrect(f"a{where}: expected shape {expected.shape} (B, 4H), got {got.shape}: the four "
                            "gate blocks side by side along the last axis, not stacked")
        mistakes = {
            "is missing the bias b": x @ Wx + h_prev @ Wh,
            "is missing the recurrent term h_{t-1} W_h": x @ Wx + b,
            "is missing the input term x_t W_x": h_prev @ Wh + b,
            "stacks [h_prev, x] against [Wx; Wh]: the pieces of the input row and the blocks of rows "
            "of the weights must come in the same order": np.concatenate([h_prev, x], axis=1)
            @ np.concatenate([Wx, Wh], axis=0) + b,
        }
        compare("a", got, expected, where=where, mistakes=mistakes)
    return f"{len(_SHAPES)} shapes (B = 1 and H = 1 included)"
