"""Exercises of chapter 4, softmax cross-entropy and the output-feedback head.

    04.log_softmax      log softmax by the log-sum-exp with the maximum taken out  :eq:`log-softmax`
    04.softmax_ce       mean cross-entropy of (B, C) logits and its gradient p - onehot  :eq:`softmax-ce-grad`
    04.masked_loss      the same over (T, B, C) frames with padded frames masked out  :eq:`softmax-ce`
"""
import numpy as np

from minikws import nn
from minikws.exercises.core import Incorrect, call, compare, exercise, numerical_gradient, read_rel_error

# (T, B, C) of the inputs; T = 1 and B = 1 included.
_SHAPES = [(6, 3, 5), (1, 1, 2), (1, 4, 3), (5, 1, 4)]  # the general case first: the best diagnosis


@exercise("04.log_softmax", title="log_softmax(z): the log of the softmax, stable at logits of 1e4",
          reference=nn.log_softmax,
          diagnoses=("shape", "nan", "overflow", "wrong axis", "missing shift", "raises"))
def check_log_softmax(student, rng):
    for T, B, C in _SHAPES:
        z = rng.standard_normal((B, C)) * 3
        where = f" for z of shape {z.shape}"
        got = call(student, z)
        expected = nn.log_softmax(z)
        wrong_axis = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
        compare("log_softmax(z)", got, expected, where=where,
                mistakes={} if B == 1 else {"is normalised over the batch axis; sum over the classes "
                                            "(the last axis) instead": wrong_axis})
        z3 = rng.standard_normal((T, B, C))
        compare("log_softmax(z)", call(student, z3), nn.log_softmax(z3), where=f" for z of shape {z3.shape}")
    # Large logits: exp(1e4) overflows unless the maximum is taken out first.
    z = rng.standard_normal((3, 4)) + np.array([1e4, -1e4, 0.0, 5e3])
    got = call(student, z)
    if not np.isfinite(got).all():
        raise Incorrect("log_softmax(z) gives NaN or inf for logits of order 1e4: exp overflows; subtract "
                        "the maximum of each row before exponentiating (log-sum-exp)")
    compare("log_softmax(z)", got, nn.log_softmax(z), where=" for logits of order 1e4")
    return f"{len(_SHAPES)} shapes of logits, and logits of 1e4"
