"""Affine, temporal affine and dropout: gradient checks, known answers, bad arguments."""
import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import check
from minikws.nn import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    temporal_affine_backward,
    temporal_affine_forward,
)


@pytest.mark.parametrize("N,D,M", [(1, 1, 1), (4, 3, 2), (1, 5, 3), (6, 1, 4)])
def test_affine_gradients(rng, N, D, M):
    inputs = dict(x=rng.standard_normal((N, D)), W=rng.standard_normal((D, M)), b=rng.standard_normal(M))
    errors = check(lambda **p: affine_forward(**p),
                   lambda d, c: dict(zip("xWb", affine_backward(d, c))), inputs)
    assert set(errors) == {"x", "W", "b"} and max(errors.values()) <= 1e-7, errors


@pytest.mark.parametrize("T,B,D,M", [(1, 1, 1, 1), (3, 2, 4, 5), (5, 1, 2, 3)])
def test_temporal_affine_gradients(rng, T, B, D, M):
    inputs = dict(x=rng.standard_normal((T, B, D)), W=rng.standard_normal((D, M)), b=rng.standard_normal(M))
    errors = check(lambda **p: temporal_affine_forward(**p),
                   lambda d, c: dict(zip("xWb", temporal_affine_backward(d, c))), inputs)
    assert max(errors.values()) <= 1e-7, errors


def test_temporal_affine_is_affine_at_every_step(rng):
    x, W, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((2, 5)), rng.standard_normal(5)
    out, _ = temporal_affine_forward(x, W, b)
    for t in range(4):
        np.testing.assert_allclose(out[t], affine_forward(x[t], W, b)[0], rtol=1e-14)


def test_affine_known_answer():
    W = np.array([[1.0, 0.0], [0.0, 3.0]])
    out, cache = affine_forward(np.array([[1.0, 2.0]]), W, np.array([0.5, -1]))
    np.testing.assert_array_equal(out, [[1.5, 5.0]])
    dx, dW, db = affine_backward(np.array([[1.0, 1.0]]), cache)
    np.testing.assert_array_equal(dx, [[1.0, 3.0]])
    np.testing.assert_array_equal(dW, [[1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(db, [1.0, 1.0])


@pytest.mark.parametrize("shape", [(1,), (3, 4), (2, 1, 5)])
def test_dropout_gradient_with_fixed_mask(rng, shape):
    errors = check(lambda x: dropout_forward(x, 0.3, np.random.default_rng(7)),
                   lambda d, c: {"x": dropout_backward(d, c)}, dict(x=rng.standard_normal(shape)))
    assert errors["x"] <= 1e-7


def test_dropout_statistics_and_scaling(rng):
    x = np.ones((200, 500), dtype=np.float32)
    out, cache = dropout_forward(x, 0.25, rng)
    assert out.dtype == np.float32
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01  # 100000 draws: 3 sigma is 0.004
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)  # inverted: E[out] = x
    np.testing.assert_array_equal(dropout_backward(np.ones_like(x), cache), out)


def test_dropout_is_identity_in_eval_and_for_p0(rng):
    x = rng.standard_normal((3, 4))
    for p, train in ((0.5, False), (0.0, True)):
        out, cache = dropout_forward(x, p, None, train=train)
        np.testing.assert_array_equal(out, x)
        d = rng.standard_normal(x.shape)
        dx = dropout_backward(d, cache)
        np.testing.assert_array_equal(dx, d)
        assert dx is not d


def test_dropout_is_reproducible():
    x = np.ones((5, 6))
    a, _ = dropout_forward(x, 0.5, np.random.default_rng(3))
    b, _ = dropout_forward(x, 0.5, np.random.default_rng(3))
    c, _ = dropout_forward(x, 0.5, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_arguments_raise(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    with pytest.raises(MinikwsError, match=r"W: expected shape \(D, M\) with D=3 from x = .*, got \(4, 2\)"):
        affine_forward(x, rng.standard_normal((4, 2)), b)
    with pytest.raises(MinikwsError, match=r"b: expected shape \(M,\) = \(2,\), got \(3,\)"):
        affine_forward(x, W, rng.standard_normal(3))
    with pytest.raises(MinikwsError, match=r"mixed dtypes"):
        affine_forward(x.astype(np.float32), W, b)
    with pytest.raises(MinikwsError, match=r"x: contains NaN"):
        affine_forward(np.full((4, 3), np.nan), W, b)
    with pytest.raises(MinikwsError, match=r"x: expected 3 dimensions"):
        temporal_affine_forward(x, W, b)
    _, cache = affine_forward(x, W, b)
    with pytest.raises(MinikwsError, match=r"dout: expected shape \(N, M\) = \(4, 2\), got \(4, 3\)"):
        affine_backward(np.zeros((4, 3)), cache)
    with pytest.raises(MinikwsError, match=r"dout: expected dtype float64"):
        affine_backward(np.zeros((4, 2), dtype=np.float32), cache)
    for p in (1.0, -0.1, "0.5", True):
        with pytest.raises(MinikwsError, match=r"p: expected a (number in \[0, 1\)|number, got)"):
            dropout_forward(x, p, rng)
    with pytest.raises(MinikwsError, match=r"rng: expected a numpy.random.Generator"):
        dropout_forward(x, 0.5, 42)
    _, cache = dropout_forward(x, 0.5, rng)
    with pytest.raises(MinikwsError, match=r"dout: expected shape"):
        dropout_backward(np.zeros((3, 4)), cache)
