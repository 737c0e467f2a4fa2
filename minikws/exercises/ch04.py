"""Exercises of chapter 4, softmax cross-entropy and the output-feedback head.

    04.log_softmax      log softmax by the log-sum-exp with the maximum taken out  :eq:`log-softmax`
    04.softmax_ce       mean cross-entropy of (B, C) logits and its gradient p - onehot  :eq:`softmax-ce-grad`
    04.masked_loss      the same over (T, B, C) frames with padded frames masked out  :eq:`softmax-ce`
"""
import numpy as np

from minikws import nn
from minikws.exercises.core import (Incorrect, call, compare, exercise, numerical_gradient, read_rel_error,
                                   rel_error)

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
                        "the maximum of each row before exponentiating (eq. log-sum-exp)")
    compare("log_softmax(z)", got, nn.log_softmax(z), where=" for logits of order 1e4")
    return f"{len(_SHAPES)} shapes of logits, and logits of 1e4"


def _onehot(targets, C):
    return (np.arange(C) == np.asarray(targets)[..., None]).astype(np.float64)


def _check_ce(student, logits, targets, mask, where):
    """Compare loss and dlogits with the reference, naming the usual mistakes; return the gradient check."""
    loss, dlogits = call(student, logits, targets, mask, outputs=("loss", "dlogits"))
    want_loss, want_d = nn.softmax_cross_entropy(logits, targets, mask)
    C = logits.shape[-1]
    m = np.ones(targets.shape) if mask is None else mask.astype(np.float64)
    N, positions = m.sum(), m.size
    p = nn.softmax(logits)
    y = _onehot(np.where(m > 0, targets, 0), C)
    log_p_y = np.sum(nn.log_softmax(logits) * y, axis=-1)
    every = _onehot(np.where(targets >= 0, targets, C - 1), C)  # targets -1 picked as the last class
    loss_mistakes = {
        "has the wrong sign: the cross-entropy is MINUS the mean log-probability of the target":
            float(np.sum(m * log_p_y) / N),
        "is a sum, not a mean: divide by the number of counted positions N (eq. softmax-ce)":
            -float(np.sum(m * log_p_y)),
    }
    if mask is not None:
        loss_mistakes.update({
            "divides by all T*B positions; divide by N, the number of unmasked ones (eq. softmax-ce)":
                -float(np.sum(m * log_p_y)) / positions,
            "counts the padded frames: positions where mask is 0 must not enter the loss":
                -float(np.sum(nn.log_softmax(logits) * every)) / positions,
        })
    if np.ndim(loss) != 0:
        compare("loss", loss, np.float64(want_loss), where=where)
    compare("loss", loss, want_loss, where=where, mistakes=loss_mistakes)
    grad_mistakes = {
        "has the wrong sign: it is p - onehot(y), not onehot(y) - p (eq. softmax-ce-grad)": (y - p) * m[..., None] / N,
        "is missing the division by N: the loss is a mean (eq. softmax-ce-grad)": (p - y) * m[..., None],
        "is missing the one-hot term: subtract 1 at the target class (eq. softmax-ce-grad)": p * m[..., None] / N,
    }
    if mask is not None:
        grad_mistakes.update({
            "is not zero at the padded frames: multiply by the mask (eq. softmax-ce-grad)":
                (p - every) / positions,
            "divides by all T*B positions; divide by N, the number of unmasked ones (eq. softmax-ce-grad)":
                (p - y) * m[..., None] / positions,
        })
        if dlogits.shape == want_d.shape and not np.allclose(dlogits[mask == 0], 0):
            raise Incorrect(f"dlogits{where} is not zero at the padded frames (mask 0): multiply by the "
                            "mask; padded frames do not enter the loss (eq. softmax-ce-grad)")
    compare("dlogits", dlogits, want_d, where=where, mistakes=grad_mistakes)
    num = numerical_gradient(lambda z: nn.softmax_cross_entropy(z, targets, mask)[0], logits)
    return rel_error(dlogits, num)


@exercise("04.softmax_ce",
          title="softmax_cross_entropy(logits, targets, mask=None) -> (loss, dlogits) for (B, C) logits",
          reference=nn.softmax_cross_entropy,
          diagnoses=("loss sign", "sum not mean", "gradient sign", "missing 1/N", "missing onehot",
                     "overflow", "shape", "raises"))
def check_softmax_ce(student, rng):
    worst = 0.0
    for _, B, C in _SHAPES:
        logits = 3 * rng.standard_normal((B, C))
        targets = rng.integers(0, C, size=B)
        worst = max(worst, _check_ce(student, logits, targets, None, f" for logits of shape {logits.shape}"))
    logits = rng.standard_normal((3, 4)) + np.array([1e4, -1e4, 0.0, 5e3])
    loss, dlogits = call(student, logits, np.array([1, 0, 3]), None, outputs=("loss", "dlogits"))
    if not (np.isfinite(loss) and np.isfinite(dlogits).all()):
        raise Incorrect("the loss or dlogits is NaN or inf for logits of order 1e4: compute log p by the "
                        "log-sum-exp with the maximum taken out (eq. log-softmax)")
    _check_ce(student, logits, np.array([1, 0, 3]), None, " for logits of order 1e4")
    return (f"{len(_SHAPES)} shapes and logits of 1e4; relative error of dlogits against numerical "
            f"gradients {worst:.0e}, {read_rel_error(worst)}")


@exercise("04.masked_loss",
          title="softmax_cross_entropy(logits, targets, mask) -> (loss, dlogits) over (T, B, C) frames, "
                "padded frames masked",
          reference=nn.softmax_cross_entropy,
          diagnoses=("mask ignored", "divided by T*B", "gradient not masked", "gradient sign", "raises"))
def check_masked_loss(student, rng):
    worst = 0.0
    for T, B, C in _SHAPES:
        logits = 3 * rng.standard_normal((T, B, C))
        targets = rng.integers(0, C, size=(T, B))
        lengths = rng.integers(1, T + 1, size=B)  # each utterance at least one frame long
        if T > 1:
            lengths[0] = T - 1 if T > 2 else 1  # at least one padded frame when there is room
        mask = np.arange(T)[:, None] < lengths[None, :]
        targets[~mask] = -1  # padded frames carry no class
        where = f" for logits of shape {logits.shape} with {int((~mask).sum())} padded frames"
        worst = max(worst, _check_ce(student, logits, targets, mask, where))
    return (f"{len(_SHAPES)} shapes with padded frames; relative error of dlogits against numerical "
            f"gradients {worst:.0e}, {read_rel_error(worst)}")
