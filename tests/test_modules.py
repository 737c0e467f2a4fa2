"""Modules LSTM and Linear over the functional core, and initialisation / PyTorch conversion."""
import numpy as np
import pytest

from minikws import _backend
from minikws.errors import MinikwsError
from minikws.gradcheck import check
from minikws.nn import (
    LSTM,
    Linear,
    affine_forward,
    dropout_forward,
    lstm_backward,
    lstm_forward,
    lstm_from_torch,
    lstm_params,
    lstm_to_torch,
    orthogonal,
    xavier_uniform,
)

BACKENDS = ["numpy"] + (["cython"] if _backend.kernel() is not None else [])


def test_lstm_params_names_and_count():
    m = LSTM(40, 128, num_layers=2)
    shapes = {k: v.shape for k, v in m.params.items()}
    assert shapes == {"l0.Wx": (40, 512), "l0.Wh": (128, 512), "l0.b": (512,),
                      "l1.Wx": (128, 512), "l1.Wh": (128, 512), "l1.b": (512,)}
    assert set(m.grads) == set(m.params)
    # torch.nn.LSTM(40, 128, 2) has 4H(D + H + 2) + 4H(H + H + 2) parameters, two biases per layer.
    assert m.num_parameters() == 512 * (40 + 128 + 1) + 512 * (128 + 128 + 1)
    assert all(v.dtype == np.float32 for v in m.params.values())


@pytest.mark.parametrize("backend", BACKENDS)
def test_module_grads_equal_functional_grads(rng, backend):
    T, B, D, H = 5, 3, 4, 6
    m = LSTM(D, H, num_layers=2, dtype=np.float64, rng=rng, backend=backend)
    x, dh = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, H))
    h, state = m.forward(x)
    dx = m.backward(dh)

    p = m.params
    layer0 = (p["l0.Wx"], p["l0.Wh"], p["l0.b"])
    layer1 = (p["l1.Wx"], p["l1.Wh"], p["l1.b"])
    h0, (h0T, c0T), cache0 = lstm_forward(x, None, None, *layer0, backend=backend)
    h1, (h1T, c1T), cache1 = lstm_forward(h0, None, None, *layer1, backend=backend)
    np.testing.assert_array_equal(h, h1)
    np.testing.assert_array_equal(state[0][1], c0T)
    np.testing.assert_array_equal(state[1][0], h1T)
    dh0, _, _, dWx1, dWh1, db1 = lstm_backward(dh, cache1)
    dx_f, _, _, dWx0, dWh0, db0 = lstm_backward(dh0, cache0)
    np.testing.assert_array_equal(dx, dx_f)
    want = {"l0.Wx": dWx0, "l0.Wh": dWh0, "l0.b": db0, "l1.Wx": dWx1, "l1.Wh": dWh1, "l1.b": db1}
    for name, g in want.items():
        np.testing.assert_array_equal(m.grads[name], g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_carried_across_chunks_equals_one_pass(rng, backend):
    T, B, D, H = 9, 2, 3, 4
    m = LSTM(D, H, num_layers=3, dropout=0.5, dtype=np.float64, rng=rng, backend=backend)
    x = rng.standard_normal((T, B, D))
    h_full, state_full = m.forward(x, train=False)
    h_a, state = m.forward(x[:4], train=False)
    h_b, state = m.forward(x[4:], state=state, train=False)
    np.testing.assert_allclose(np.concatenate([h_a, h_b]), h_full, rtol=1e-13, atol=1e-15)
    for (h1, c1), (h2, c2) in zip(state, state_full):
        np.testing.assert_allclose(h1, h2, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(c1, c2, rtol=1e-13, atol=1e-15)


def test_module_gradcheck_with_dropout_and_state(rng):
    T, B, D, H, seed = 3, 2, 3, 2, 5
    m = LSTM(D, H, num_layers=2, dropout=0.4, dtype=np.float64, rng=rng, backend="numpy")

    def fwd(x, **params):
        for k, v in params.items():
            np.copyto(m.params[k], v)
        m.rng = np.random.default_rng(seed)
        h, state = m.forward(x, state=[(s0h, s0c), (s1h, s1c)])
        return (h, *state[1]), None

    def bwd(dout, cache):
        m.zero_grad()
        dx = m.backward(dout[0], dstate=[(None, None), dout[1:]])
        return {"x": dx, **{k: g.copy() for k, g in m.grads.items()}}

    s0h, s0c, s1h, s1c = (rng.standard_normal((B, H)) for _ in range(4))
    inputs = {"x": rng.standard_normal((T, B, D)), **{k: v.copy() for k, v in m.params.items()}}
    errors = check(fwd, bwd, inputs)
    assert len(errors) == 7 and max(errors.values()) <= 1e-7, errors


def test_dropout_between_layers_only_in_training(rng):
    m = LSTM(3, 4, num_layers=2, dropout=0.5, dtype=np.float64, rng=rng, backend="numpy")
    x = rng.standard_normal((5, 2, 3))
    e1, _ = m.forward(x, train=False)
    e2, _ = m.forward(x, train=False)
    t1, _ = m.forward(x, train=True)
    np.testing.assert_array_equal(e1, e2)
    assert not np.allclose(t1, e1)
    # Training output = layer 1 run on the dropped-out output of layer 0, with the same generator state.
    m.rng = np.random.default_rng(11)
    t2, _ = m.forward(x, train=True)
    p = m.params
    h0, _, _ = lstm_forward(x, None, None, p["l0.Wx"], p["l0.Wh"], p["l0.b"], backend="numpy")
    h0d, _ = dropout_forward(h0, 0.5, np.random.default_rng(11))
    h1, _, _ = lstm_forward(h0d, None, None, p["l1.Wx"], p["l1.Wh"], p["l1.b"], backend="numpy")
    np.testing.assert_array_equal(t2, h1)


def test_grads_accumulate_until_zero_grad(rng):
    m = LSTM(3, 2, num_layers=1, dtype=np.float64, rng=rng, backend="numpy")
    x, dh = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 2))
    m.forward(x)
    m.backward(dh)
    once = {k: g.copy() for k, g in m.grads.items()}
    m.forward(x)
    m.backward(dh)
    for k in once:
        np.testing.assert_allclose(m.grads[k], 2 * once[k], rtol=1e-14)
    held = m.grads["l0.b"]
    m.zero_grad()
    assert m.grads["l0.b"] is held and not held.any()


def test_state_dict_round_trip_and_validation(rng):
    a = LSTM(3, 4, rng=np.random.default_rng(1))
    b = LSTM(3, 4, rng=np.random.default_rng(2))
    assert not np.array_equal(a.params["l0.Wx"], b.params["l0.Wx"])
    held = b.params["l1.Wh"]
    b.load_state_dict(a.state_dict())
    assert b.params["l1.Wh"] is held  # in place: an optimizer holding the arrays keeps working
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    sd = a.state_dict()
    sd["l0.Wx"][:] = 7  # a copy, not the parameters
    assert not (a.params["l0.Wx"] == 7).all()
    with pytest.raises(MinikwsError,
                       match=r"state\['l0.Wx'\]: expected float32 \(3, 16\), got float32 \(4, 16\)"):
        b.load_state_dict({**sd, "l0.Wx": np.zeros((4, 16), np.float32)})
    with pytest.raises(MinikwsError, match=r"state\['l0.b'\]: expected float32 \(16,\), got float64"):
        b.load_state_dict({**sd, "l0.b": np.zeros(16)})
    with pytest.raises(MinikwsError, match=r"missing keys \['l1.b'\]"):
        b.load_state_dict({k: v for k, v in sd.items() if k != "l1.b"})
    with pytest.raises(MinikwsError, match=r"contains NaN"):
        b.load_state_dict({**sd, "l0.b": np.full(16, np.nan, np.float32)})


def test_lstm_module_errors(rng):
    with pytest.raises(MinikwsError, match=r"hidden_size: expected an integer >= 1"):
        LSTM(3, 0)
    with pytest.raises(MinikwsError, match=r"dropout: expected a number in \[0, 1\)"):
        LSTM(3, 4, dropout=1.0)
    with pytest.raises(MinikwsError, match=r"dtype: expected float32 or float64"):
        LSTM(3, 4, dtype=np.int32)
    with pytest.raises(MinikwsError, match=r"backend: expected one of"):
        LSTM(3, 4, backend="gpu")
    m = LSTM(3, 4)
    with pytest.raises(MinikwsError, match=r"backward: call forward first"):
        m.backward(np.zeros((2, 1, 4), np.float32))
    with pytest.raises(MinikwsError, match=r"mixed dtypes: x float64"):
        m.forward(np.zeros((2, 1, 3)))
    with pytest.raises(MinikwsError, match=r"Wx: expected shape \(D, 4H\)"):
        m.forward(np.zeros((2, 1, 5), np.float32))
    with pytest.raises(MinikwsError, match=r"state: expected a list of 2"):
        m.forward(np.zeros((2, 1, 3), np.float32), state=[(None, None)])


def test_linear(rng):
    lin = Linear(4, 3, dtype=np.float64, rng=rng)
    assert lin.params["W"].shape == (4, 3) and not lin.params["b"].any()
    x = rng.standard_normal((5, 2, 4))
    out = lin.forward(x)
    np.testing.assert_allclose(out, x @ lin.params["W"] + lin.params["b"], rtol=1e-14)
    one, _ = affine_forward(x[:1, 0], lin.params["W"], lin.params["b"])
    np.testing.assert_allclose(lin.forward(x[0, 0]), one[0])

    def fwd(x, W, b):
        np.copyto(lin.params["W"], W)
        np.copyto(lin.params["b"], b)
        return lin.forward(x), None

    def bwd(dout, cache):
        lin.zero_grad()
        dx = lin.backward(dout)
        return {"x": dx, "W": lin.grads["W"].copy(), "b": lin.grads["b"].copy()}

    for shape in [(1, 4), (5, 2, 4), (4,)]:
        inputs = dict(x=rng.standard_normal(shape), W=rng.standard_normal((4, 3)), b=rng.standard_normal(3))
        errors = check(fwd, bwd, inputs)
        assert max(errors.values()) <= 1e-7, (shape, errors)
    with pytest.raises(MinikwsError, match=r"x: expected shape \(\.\.\., 4\), got \(2, 5\)"):
        lin.forward(np.zeros((2, 5)))
    lin.forward(np.zeros((2, 4)))
    with pytest.raises(MinikwsError, match=r"dout: expected shape \(2, 3\)"):
        lin.backward(np.zeros((3, 3)))


def test_initialisers(rng):
    W = xavier_uniform((30, 50), rng, np.float64)
    a = np.sqrt(6 / 80)
    assert W.dtype == np.float64 and np.abs(W).max() <= a and np.abs(W).max() > 0.9 * a
    assert abs(W.var() - a * a / 3) < 0.1 * a * a / 3
    for shape in [(6, 6), (8, 3), (3, 8)]:
        Q = orthogonal(shape, rng, np.float64)
        small = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
        np.testing.assert_allclose(small, np.eye(min(shape)), atol=1e-12)
    assert orthogonal((4, 4), rng).dtype == np.float32
    np.testing.assert_array_equal(xavier_uniform((3, 4), np.random.default_rng(5)),
                                  xavier_uniform((3, 4), np.random.default_rng(5)))
    with pytest.raises(MinikwsError, match=r"rng: expected a numpy.random.Generator"):
        xavier_uniform((3, 4), 5)
    with pytest.raises(MinikwsError, match=r"shape: expected \(fan_in, fan_out\)"):
        orthogonal((3, 4, 5), rng)


def test_lstm_params_and_torch_conversion(rng):
    p = lstm_params(5, 3, rng, dtype=np.float64, forget_bias=1.5)
    assert p["Wx"].shape == (5, 12) and p["Wh"].shape == (3, 12)
    np.testing.assert_array_equal(p["b"], [0] * 3 + [1.5] * 3 + [0] * 6)
    for k in range(4):  # each recurrent gate block is orthogonal
        block = p["Wh"][:, 3 * k:3 * k + 3]
        np.testing.assert_allclose(block.T @ block, np.eye(3), atol=1e-12)
    weight_ih, weight_hh, bias_ih, bias_hh = lstm_to_torch(p["Wx"], p["Wh"], p["b"])
    assert weight_ih.shape == (12, 5) and weight_hh.shape == (12, 3)
    Wx, Wh, b = lstm_from_torch(weight_ih, weight_hh, 0.25 * bias_ih, 0.75 * bias_ih + bias_hh)
    np.testing.assert_array_equal(Wx, p["Wx"])
    np.testing.assert_array_equal(Wh, p["Wh"])
    np.testing.assert_allclose(b, p["b"], rtol=1e-15)
    assert Wx.flags.c_contiguous and Wh.flags.c_contiguous
    with pytest.raises(MinikwsError, match=r"weight_ih: expected shape \(4H, D\)"):
        lstm_from_torch(weight_ih[:8], weight_hh, bias_ih, bias_hh)
    with pytest.raises(MinikwsError, match=r"bias_hh: expected shape \(4H,\)"):
        lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh[:4])
