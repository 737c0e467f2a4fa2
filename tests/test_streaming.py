"""LSTMStream: a sequence fed in pieces gives the hidden states of one forward pass over all of it."""
import numpy as np
import pytest

from minikws import _backend
from minikws.errors import MinikwsError
from minikws.streaming import LSTMStream

BACKENDS = [
    "numpy",
    pytest.param("cython", marks=pytest.mark.skipif(
        _backend.kernel() is None, reason="minikws._lstm_kernel is not built (no C compiler)")),
]
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def rel_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-300))


def make_params(rng, sizes, dtype):
    """A stacked LSTM's params dict for layer sizes [D, H1, H2, ...]."""
    params = {}
    for k, (n_in, H) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"l{k}.Wx"] = (0.5 * rng.standard_normal((n_in, 4 * H))).astype(dtype)
        params[f"l{k}.Wh"] = (0.5 * rng.standard_normal((H, 4 * H))).astype(dtype)
        params[f"l{k}.b"] = (0.1 * rng.standard_normal(4 * H)).astype(dtype)
    return params


def full_forward(params, x):
    """The whole sequence at once, layer after layer, with minikws.nn's NumPy backend."""
    from minikws.nn.lstm import lstm_forward

    k = 0
    while f"l{k}.Wx" in params:
        x, _, _ = lstm_forward(x, None, None, params[f"l{k}.Wx"], params[f"l{k}.Wh"],
                               params[f"l{k}.b"], backend="numpy")
        k += 1
    return x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 3])
def test_chunks_and_frames_equal_the_full_forward(B, dtype, backend):
    rng = np.random.default_rng(B)
    params = make_params(rng, [4, 6, 5], dtype)
    x = rng.standard_normal((13, B, 4)).astype(dtype)
    want = full_forward(params, x)

    stream = LSTMStream(params, batch_size=B, backend=backend)
    assert stream.backend == backend and stream.num_layers == 2
    pieces, start = [], 0
    for size in (1, 4, 3, 5):
        pieces.append(stream.feed(x[start:start + size]))
        start += size
    assert rel_error(np.concatenate(pieces), want) <= TOL[dtype]

    stream.reset()
    frames = np.stack([stream.step(x[t]) for t in range(len(x))])
    assert frames.shape == want.shape and frames.dtype == dtype
    assert rel_error(frames, want) <= TOL[dtype]
    # the state after the last frame is the final state of the top layer
    assert rel_error(stream.state[-1][0], want[-1]) <= TOL[dtype]


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_stream_shapes_and_reset(backend):
    rng = np.random.default_rng(5)
    params = make_params(rng, [3, 4], np.float32)
    x = rng.standard_normal((6, 3)).astype(np.float32)
    stream = LSTMStream(params, backend=backend)
    first = stream.feed(x)
    assert first.shape == (6, 4)
    assert stream.step(x[0]).shape == (4,)
    stream.reset()
    np.testing.assert_array_equal(stream.feed(x), first)  # same start, same numbers


def test_state_is_a_copy_and_params_are_live():
    rng = np.random.default_rng(6)
    params = make_params(rng, [3, 4], np.float64)

    class Holder:  # anything with a params dict, as minikws.nn.LSTM
        pass

    holder = Holder()
    holder.params = params
    stream = LSTMStream(holder, backend="numpy")
    stream.feed(rng.standard_normal((2, 3)))
    h, c = stream.state[0]
    h[...] = 99.0
    assert not np.any(stream.state[0][0] == 99.0)
    stream.reset()
    x = rng.standard_normal((1, 3))
    before = stream.feed(x)
    params["l0.b"][:] += 1.0  # e.g. an optimizer step: the stream uses the arrays themselves
    stream.reset()
    assert not np.allclose(stream.feed(x), before)


@pytest.mark.parametrize(
    "params,match",
    [
        ({}, "^params:"),
        ({"l0.Wx": np.zeros((3, 8)), "l0.Wh": np.zeros((2, 8))}, "^params: layer 0"),
        ({"l0.Wx": np.zeros((3, 8)), "l0.Wh": np.zeros((2, 8)), "l0.b": np.zeros(7)}, "^params:"),
        ({"l0.Wx": np.zeros((3, 8)), "l0.Wh": np.zeros((2, 8)), "l0.b": np.zeros(8),
          "l1.Wx": np.zeros((5, 8)), "l1.Wh": np.zeros((2, 8)), "l1.b": np.zeros(8)},
         "^params: layer 1 takes 5 inputs"),
        ({"l0.Wx": np.zeros((3, 8)), "l0.Wh": np.zeros((2, 8), np.float32), "l0.b": np.zeros(8)},
         "mixes dtypes"),
    ],
)
def test_bad_params_raise(params, match):
    with pytest.raises(MinikwsError, match=match):
        LSTMStream(params, backend="numpy")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_frames_raise(backend):
    params = make_params(np.random.default_rng(0), [3, 4], np.float32)
    stream = LSTMStream(params, backend=backend)
    for bad in (np.zeros((2, 5), np.float32), np.zeros((0, 3), np.float32),
                np.zeros((2, 3), np.float64), np.zeros((2, 2, 3), np.float32), [[0.0, 0.0, 0.0]],
                np.full((2, 3), np.nan, np.float32)):
        with pytest.raises(MinikwsError, match="^x:"):
            stream.feed(bad)
    with pytest.raises(MinikwsError, match="^batch_size:"):
        stream.reset(batch_size=0)
    with pytest.raises(MinikwsError, match="^lstm:"):
        LSTMStream([1, 2, 3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_of_a_minikws_lstm_module(backend):
    from minikws.nn import LSTM

    lstm = LSTM(5, 7, num_layers=2, dtype=np.float64, rng=np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((9, 2, 5))
    want, _ = lstm.forward(x, train=False)
    stream = LSTMStream(lstm, batch_size=2, backend=backend)
    got = np.concatenate([stream.feed(x[:4]), stream.feed(x[4:])])
    assert rel_error(got, want) <= 1e-12
