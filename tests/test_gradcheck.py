"""minikws.gradcheck: numerical gradients, relative error, check() catching wrong backwards, all layers."""
import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import THRESHOLD, check, check_layers, numerical_gradient, rel_error


def test_numerical_gradient_of_known_functions(rng):
    x = rng.standard_normal((3, 4))
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-7, atol=1e-7)
    A, df = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: A @ v, x, df), A.T @ df, rtol=1e-8)
    # a tuple of outputs contracts with a tuple of upstream gradients
    g = numerical_gradient(lambda v: (2 * v, v.sum(axis=0)), x, (df[:3], df[0]))
    np.testing.assert_allclose(g, 2 * df[:3] + df[0], rtol=1e-8)
    before = x.copy()
    numerical_gradient(lambda v: float(v.sum()), x)
    np.testing.assert_array_equal(x, before)  # x itself is never perturbed


def test_numerical_gradient_rejects_float32_and_missing_df(rng):
    with pytest.raises(MinikwsError, match=r"x: numerical gradients need a float64 array, got float32"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(3, np.float32))
    with pytest.raises(MinikwsError, match=r"df: required when f returns an array"):
        numerical_gradient(lambda v: v, np.ones(3))
    with pytest.raises(MinikwsError, match=r"df: expected shape \(3,\)"):
        numerical_gradient(lambda v: v, np.ones(3), np.ones(4))


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 0.0]), np.array([3.0, 1e-12])) == pytest.approx(2 / 4)
    # an analytic zero against a numerical 1e-12 next to O(1) entries is not an error
    assert rel_error(np.array([1.0, 0.0]), np.array([1.0, 1e-12])) < 1e-11
    assert rel_error(2.0, 2.0 + 4e-9) == pytest.approx(1e-9, rel=1e-6)
    with pytest.raises(MinikwsError, match=r"a, b: expected the same shape"):
        rel_error(np.ones(2), np.ones(3))


def test_check_passes_a_right_backward_and_catches_a_wrong_one(rng):
    inputs = dict(x=rng.standard_normal((4, 3)), W=rng.standard_normal((3, 2)))

    def fwd(x, W):
        return np.tanh(x @ W), (x, W)

    def right(dout, cache):
        x, W = cache
        da = dout * (1 - np.tanh(x @ W) ** 2)
        return {"x": da @ W.T, "W": x.T @ da}

    def wrong(dout, cache):  # forgets the tanh derivative
        x, W = cache
        return {"x": dout @ W.T, "W": x.T @ dout}

    good = check(fwd, right, inputs)
    assert set(good) == {"x", "W"} and max(good.values()) < 1e-8
    bad = check(fwd, wrong, inputs)
    assert min(bad.values()) > 1e-2
    assert set(check(fwd, right, inputs, wrt=["W"])) == {"W"}
    with pytest.raises(MinikwsError, match=r"wrt: backward_fn returned no gradient for 'b'"):
        check(fwd, right, inputs, wrt=["b"])


def test_check_of_a_scalar_loss(rng):
    def fwd(z):
        return float(np.sum(z**2)) / 2, z

    errors = check(fwd, lambda dloss, z: {"z": dloss * z}, dict(z=rng.standard_normal(5)))
    assert errors["z"] < 1e-8


def test_every_layer_passes():
    rows = check_layers(seed=0)
    layers = {row["layer"] for row in rows}
    for name in ["lstm step", "lstm sequence (numpy)", "affine", "temporal affine", "dropout (fixed mask)",
                 "softmax CE (utterance)", "softmax CE (frame, masked)", "feedback head",
                 "LSTM module (2 layers, dropout)", "Linear module"]:
        assert name in layers
    assert {"dhT", "dcT"}.isdisjoint(row["parameter"] for row in rows)  # inputs, not outputs
    worst = max(rows, key=lambda row: row["rel_error"])
    assert worst["rel_error"] <= 1e-7 < THRESHOLD, worst
    assert all(row["passed"] for row in rows)
    assert check_layers(seed=0) == rows  # deterministic


def test_check_explains_how_to_check_a_pair_of_minikws_nn():
    """gradcheck.check(nn.lstm_forward, nn.lstm_backward, ...) was a bare 'too many values to unpack'."""
    from minikws import nn

    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((3, 2, 4)), "h0": None, "c0": None,
              "Wx": rng.standard_normal((4, 8)), "Wh": rng.standard_normal((2, 8)), "b": np.zeros(8)}
    with pytest.raises(MinikwsError, match=r"forward_fn: expected it to return \(out, cache\), got 3 "
                                           r"value\(s\); wrap .*h, _, cache = nn.lstm_forward"):
        check(nn.lstm_forward, nn.lstm_backward, inputs)

    def forward(**kw):
        h, _, cache = nn.lstm_forward(**kw)
        return h, cache

    with pytest.raises(MinikwsError, match=r"backward_fn: expected it to return a dict .* got tuple"):
        check(forward, nn.lstm_backward, inputs)


def test_check_refuses_float32_inputs_by_name():
    x = np.ones((3, 2), dtype=np.float32)
    with pytest.raises(MinikwsError, match=r"^inputs\['x'\]: gradient checks need float64, got float32"):
        check(lambda x: (np.tanh(x), x), lambda d, c: {"x": d}, {"x": x})


def test_check_docstring_example_runs():
    import doctest

    from minikws import gradcheck

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    tests = [t for t in finder.find(gradcheck) if t.name.endswith(".check") and t.examples]
    assert tests, "gradcheck.check lost its example"
    for t in tests:
        runner.run(t)
    assert runner.summarize(verbose=False).failed == 0
