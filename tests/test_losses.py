"""softmax, log_softmax and softmax cross-entropy: known answers, stability, masks, gradients, errors."""
import math
import warnings

import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import check
from minikws.nn import log_softmax, softmax, softmax_cross_entropy


def ce_errors(logits, targets, mask=None):
    def fwd(logits):
        return softmax_cross_entropy(logits, targets, mask)

    return check(fwd, lambda dloss, dlogits: {"logits": dloss * dlogits}, dict(logits=logits))


@pytest.mark.parametrize("B,C", [(1, 1), (1, 2), (4, 3), (7, 12)])
def test_utterance_gradients(rng, B, C):
    errors = ce_errors(3 * rng.standard_normal((B, C)), rng.integers(0, C, B))
    assert errors["logits"] <= 1e-7


@pytest.mark.parametrize("T,B,C", [(1, 1, 2), (4, 3, 5), (6, 2, 12)])
def test_frame_gradients_with_mask(rng, T, B, C):
    mask = np.ones((T, B), dtype=bool)
    mask[T // 2 + 1:, 0] = False
    targets = np.where(mask, rng.integers(0, C, (T, B)), -1)
    assert ce_errors(3 * rng.standard_normal((T, B, C)), targets, mask)["logits"] <= 1e-7


def test_initial_loss_is_log_C(rng):
    for C in (2, 12, 35):
        loss, _ = softmax_cross_entropy(np.zeros((8, C)), rng.integers(0, C, 8))
        assert loss == pytest.approx(math.log(C), rel=1e-14)
        loss, _ = softmax_cross_entropy(1e-3 * rng.standard_normal((20, 8, C)), rng.integers(0, C, (20, 8)))
        assert loss == pytest.approx(math.log(C), rel=1e-2)


def test_known_answer():
    loss, dlogits = softmax_cross_entropy(np.array([[0.0, math.log(3)]]), np.array([1]))  # p = [1/4, 3/4]
    assert loss == pytest.approx(-math.log(0.75), rel=1e-15)
    np.testing.assert_allclose(dlogits, [[0.25, -0.25]], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_logits_are_finite(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(z)
        lp = log_softmax(z)
        loss, dlogits = softmax_cross_entropy(z, np.array([1, 2]))
    assert p.dtype == lp.dtype == dlogits.dtype == dtype
    np.testing.assert_allclose(p, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(lp[0], [0, -2e4, -1e4], rtol=1e-6)
    assert loss == pytest.approx((2e4 + math.log(3)) / 2, rel=1e-6)
    assert np.isfinite(dlogits).all()
    np.testing.assert_allclose(dlogits.sum(axis=-1), 0, atol=1e-6)


def test_softmax_and_log_softmax_agree(rng):
    z = 5 * rng.standard_normal((3, 4, 6))
    for axis in (-1, 0, 1):
        p = softmax(z, axis=axis)
        np.testing.assert_allclose(p.sum(axis=axis), 1, rtol=1e-14)
        np.testing.assert_allclose(log_softmax(z, axis=axis), np.log(p), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(p, softmax(z + 100.0, axis=axis), rtol=1e-12)  # shift invariance


def test_mask_is_a_mean_over_unmasked_positions(rng):
    T, B, C = 5, 3, 4
    logits, targets = rng.standard_normal((T, B, C)), rng.integers(0, C, (T, B))
    mask = np.ones((T, B), dtype=bool)
    mask[3:, 1] = False
    loss, dlogits = softmax_cross_entropy(logits, np.where(mask, targets, 99), mask)
    sub_loss, sub_grad = softmax_cross_entropy(logits[mask], targets[mask])  # (N, C), N unmasked rows
    assert loss == pytest.approx(sub_loss, rel=1e-14)
    np.testing.assert_allclose(dlogits[mask], sub_grad, rtol=1e-14)
    np.testing.assert_array_equal(dlogits[~mask], 0)
    loss01, dlogits01 = softmax_cross_entropy(logits, targets, mask.astype(np.int64))
    assert loss01 == loss
    np.testing.assert_array_equal(dlogits01, softmax_cross_entropy(logits, targets, mask)[1])


def test_bad_arguments_raise(rng):
    logits = rng.standard_normal((4, 3))
    with pytest.raises(MinikwsError, match=r"targets: expected class indices in \[0, 3\), got 3"):
        softmax_cross_entropy(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(MinikwsError, match=r"targets: expected class indices"):
        softmax_cross_entropy(logits, np.array([0, -1, 2, 1]))
    with pytest.raises(MinikwsError, match=r"mask: no position is unmasked"):
        softmax_cross_entropy(logits, np.array([0, 1, 2, 1]), np.zeros(4, dtype=bool))
    with pytest.raises(MinikwsError,
                       match=r"targets: expected shape \(B,\) from logits \(4, 3\) = \(4,\), got \(5,\)"):
        softmax_cross_entropy(logits, np.zeros(5, dtype=np.int64))
    with pytest.raises(MinikwsError, match=r"targets: expected an integer array, got float64"):
        softmax_cross_entropy(logits, np.zeros(4))
    with pytest.raises(MinikwsError, match=r"mask: expected shape"):
        softmax_cross_entropy(logits, np.zeros(4, dtype=np.int64), np.ones(3, dtype=bool))
    with pytest.raises(MinikwsError, match=r"mask: expected booleans or 0/1"):
        softmax_cross_entropy(logits, np.zeros(4, dtype=np.int64), np.full(4, 0.5))
    with pytest.raises(MinikwsError, match=r"logits: contains NaN"):
        softmax_cross_entropy(np.full((4, 3), np.nan), np.zeros(4, dtype=np.int64))
    with pytest.raises(MinikwsError, match=r"logits: expected 2 or 3 dimensions"):
        softmax_cross_entropy(np.zeros(3), np.zeros((), dtype=np.int64))
    with pytest.raises(MinikwsError, match=r"z: expected dtype float32 or float64"):
        softmax(np.zeros(3, dtype=np.int64))
