"""The output-feedback head o_t = softmax([h_t; o_{t-1}] W + b): gradients through the feedback, answers."""
import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import check
from minikws.nn import feedback_backward, feedback_forward, softmax, temporal_affine_forward


def fb_errors(h, W, b, o0):
    inputs = dict(h=h, W=W, b=b) if o0 is None else dict(h=h, W=W, b=b, o0=o0)
    names = ("h", "W", "b", "o0")

    def bwd(dout, cache):
        grads = dict(zip(names, feedback_backward(dout, cache)))
        return {k: v for k, v in grads.items() if k in inputs}

    return check(lambda **p: feedback_forward(**p), bwd, inputs)


@pytest.mark.parametrize("T,B,H,C", [(1, 1, 1, 1), (1, 2, 3, 2), (5, 1, 1, 3), (4, 3, 5, 4)])
@pytest.mark.parametrize("given_o0", [True, False])
def test_gradients_through_the_feedback(rng, T, B, H, C, given_o0):
    o0 = softmax(rng.standard_normal((B, C))) if given_o0 else None
    errors = fb_errors(rng.standard_normal((T, B, H)), rng.standard_normal((H + C, C)),
                       rng.standard_normal(C), o0)
    assert max(errors.values()) <= 1e-7, errors


def test_outputs_are_probabilities_and_follow_the_recurrence(rng):
    T, B, H, C = 4, 2, 3, 5
    h, W, b = rng.standard_normal((T, B, H)), rng.standard_normal((H + C, C)), rng.standard_normal(C)
    o, _ = feedback_forward(h, W, b)
    np.testing.assert_allclose(o.sum(axis=-1), 1, rtol=1e-14)
    o_prev = np.zeros((B, C))
    for t in range(T):
        o_prev = softmax(np.concatenate([h[t], o_prev], axis=1) @ W + b)
        np.testing.assert_allclose(o[t], o_prev, rtol=1e-13)


def test_without_feedback_weights_it_is_a_per_frame_softmax(rng):
    T, B, H, C = 3, 2, 4, 3
    h, W, b = rng.standard_normal((T, B, H)), rng.standard_normal((H + C, C)), rng.standard_normal(C)
    W[H:] = 0
    o, cache = feedback_forward(h, W, b, o0=softmax(rng.standard_normal((B, C))))
    np.testing.assert_allclose(o, softmax(temporal_affine_forward(h, W[:H], b)[0]), rtol=1e-13)
    # Without feedback, the loss at step 1 does not reach h at step 0; with it, it does.
    do = np.zeros((T, B, C))
    do[1] = rng.standard_normal((B, C))
    dh, _, _, do0 = feedback_backward(do, cache)
    np.testing.assert_array_equal(dh[0], 0)
    np.testing.assert_array_equal(do0, 0)
    W[H:] = rng.standard_normal((C, C))
    o, cache = feedback_forward(h, W, b)
    dh, _, _, do0 = feedback_backward(do, cache)
    assert np.abs(dh[0]).max() > 1e-3 and np.abs(do0).max() > 1e-3


def test_float32(rng):
    h = rng.standard_normal((3, 2, 4)).astype(np.float32)
    W, b = rng.standard_normal((7, 3)).astype(np.float32), np.zeros(3, dtype=np.float32)
    o, cache = feedback_forward(h, W, b)
    assert o.dtype == np.float32
    assert all(g.dtype == np.float32 for g in feedback_backward(np.ones_like(o), cache))


def test_bad_arguments_raise(rng):
    h, W, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((7, 3)), rng.standard_normal(3)
    with pytest.raises(MinikwsError, match=r"W: expected shape \(H\+C, C\) with H=4 from h and C=3 from b"):
        feedback_forward(h, W[:6], b)
    with pytest.raises(MinikwsError, match=r"o0: expected shape \(B, C\) = \(2, 3\), got \(3, 3\)"):
        feedback_forward(h, W, b, o0=np.zeros((3, 3)))
    with pytest.raises(MinikwsError, match=r"mixed dtypes"):
        feedback_forward(h.astype(np.float32), W, b)
    with pytest.raises(MinikwsError, match=r"h: contains NaN"):
        feedback_forward(np.full_like(h, np.nan), W, b)
    o, cache = feedback_forward(h, W, b)
    with pytest.raises(MinikwsError, match=r"do: expected shape \(T, B, C\) = \(3, 2, 3\)"):
        feedback_backward(np.zeros((3, 2, 4)), cache)
