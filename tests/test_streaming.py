"""Stream: a clip's audio pushed in chunks gives the clip path's per-frame outputs (front end + LSTM)."""
import numpy as np
import pytest

from minikws import _backend
from minikws.errors import MinikwsError
from minikws.frontend import default_feature_settings
from minikws.gradcheck import rel_error
from minikws.models import KWSModel
from minikws.streaming import LinearHead, Stream, StreamState

BACKENDS = ["numpy", "cython"]  # the kernel is built in CI: a kernel that fails to import fails here
TOL = {np.float64: 1e-10, np.float32: 2e-5}
SR = 8000  # default features at 8 kHz: hop 160 samples, n_fft 256


def model(dtype=np.float64, cmn_window=4, seed=0):
    """A model with weights large enough that the LSTM is far from linear, and real statistics."""
    m = KWSModel(classes=("yes", "no", "_silence_"), sr=SR, cmn_window=cmn_window, hidden_size=7,
                 num_layers=2, dtype=dtype, seed=seed)
    for p in m.params.values():
        p *= 3.0
    feats = m.featurize([clip(s) for s in range(3)])
    m.fit_normalization(feats)
    return m


def clip(seed=0, seconds=1.0):
    rng = np.random.default_rng(seed)
    S = int(seconds * SR)
    y = 0.05 * rng.standard_normal(S)
    y[: S // 6] = 0.0
    t = np.arange(S // 3) / SR
    y[S // 3: S // 3 + len(t)] += 0.4 * np.sin(2 * np.pi * (200 + 300 * t) * t) * np.hanning(len(t))
    return y.astype(np.float32)


def clip_path(m, y):
    """The per-frame logits of the whole clip: forward_frames on featurize's frames -> (F, C)."""
    logits, _, _ = m.forward_frames(m.featurize(y)[0][:, None, :])
    return logits[:, 0]


def push_all(stream, y, sizes, rng):
    outs, i = [], 0
    while i < len(y):
        n = int(rng.integers(1, 500)) if sizes == "random" else sizes
        outs.append(stream.push(y[i:i + n]))
        i += n
    outs.append(stream.flush())
    return np.concatenate(outs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [1, 159, 160, "random"])
def test_chunked_audio_gives_the_clip_paths_per_frame_logits(backend, dtype, sizes):
    m = model(dtype)
    y = clip(5)
    want = clip_path(m, y)
    assert want.shape[0] > 3 * m.cmn_window  # past the CMN window: the running mean is a moving average
    stream = Stream(m, backend=backend)
    assert stream.backend == backend
    got = push_all(stream, y, sizes, np.random.default_rng(1))
    assert got.shape == want.shape and got.dtype == dtype
    assert rel_error(got, want) <= TOL[dtype]
    assert np.ptp(want, axis=0).min() > 0.5  # the logits move: a stream stuck at one value would fail


def test_flush_ends_the_utterance_and_the_next_one_starts_afresh():
    m = model()
    stream = Stream(m, backend="numpy")
    a, b = clip(1, 0.6), clip(2, 0.8)
    first = push_all(stream, a, 160, None)
    second = push_all(stream, b, 333, None)
    assert rel_error(first, clip_path(m, a)) <= TOL[np.float64]
    assert rel_error(second, clip_path(m, b)) <= TOL[np.float64]
    stream.push(a[:1000])
    stream.reset()  # forgets the half-pushed utterance
    assert rel_error(push_all(stream, b, 1000, None), clip_path(m, b)) <= TOL[np.float64]


def test_state_holds_the_front_end_and_each_layers_h_c_and_is_a_copy():
    m = model()
    stream = Stream(m, backend="numpy")
    assert stream.push(clip()[:100]).shape == (0, 3)  # 100 + 128 padding samples < one 256-sample frame
    out = stream.push(clip()[100:1000])
    assert out.shape == (1 + (1000 + 128 - 256) // 160, 3)
    state = stream.state
    assert isinstance(state, StreamState) and state.head is None
    assert len(state.lstm) == 2 and all(h.shape == c.shape == (1, 7) for h, c in state.lstm)
    assert state.frontend.cmn[1] == out.shape[0]  # the running mean has seen every frame
    state.lstm[0][0][...] = 99.0
    assert not np.any(stream.state.lstm[0][0] == 99.0)


def test_the_head_is_pluggable_and_sees_the_top_layers_hidden_states():
    """A head with a state of its own (here: the frame count and the running maximum of h) gets every
    h_t of the top LSTM layer, the model's own, in order."""

    class MaxHead:
        def new_state(self):
            return (0, None)

        def forward(self, h, state):
            n, top = state
            running = np.maximum.accumulate(h if top is None else np.vstack([top, h]), axis=0)
            return running[-len(h):], (n + len(h), running[-1])

    m = model()
    y = clip(3)
    h_clip, _ = m.lstm.forward((m.featurize(y)[0][:, None, :] - m.mean) / m.std, train=False)
    stream = Stream(m, head=MaxHead(), backend="numpy")
    got = np.concatenate([stream.push(y[:2500]), stream.push(y[2500:])])
    assert stream.state.head[0] == len(got)
    want = np.maximum.accumulate(h_clip[:len(got), 0], axis=0)
    assert rel_error(got, want) <= 1e-12
    hidden = Stream(m, backend="numpy").hidden(y[:2500])
    assert rel_error(hidden, h_clip[:len(hidden), 0]) <= 1e-12


def test_linear_head_uses_the_models_live_weights():
    m = model()
    head = LinearHead(m)
    h = np.random.default_rng(0).standard_normal((4, 7))
    np.testing.assert_allclose(head.forward(h, None)[0], h @ m.fc.params["W"] + m.fc.params["b"])
    m.fc.params["b"][:] += 1.0  # an optimizer step changes the arrays in place; the head sees it
    np.testing.assert_allclose(head.forward(h, None)[0], h @ m.fc.params["W"] + m.fc.params["b"])


def test_a_model_with_the_per_clip_floor_cannot_stream_and_bad_chunks_are_refused():
    old = KWSModel(classes=("a", "b"), sr=SR, hidden_size=3, num_layers=1,
                   features={**default_feature_settings(SR), "top_db": 80.0, "amin": 1e-10})
    with pytest.raises(MinikwsError, match="cannot stream"):
        Stream(old)
    stream = Stream(model(), backend="numpy")
    with pytest.raises(MinikwsError, match="samples: expected 1 dimensions"):
        stream.push(np.zeros((10, 2)))
    with pytest.raises(MinikwsError, match="samples: expected dtype"):
        stream.push(np.zeros(10, np.int16))
    with pytest.raises(MinikwsError, match="backend"):
        Stream(model(), backend="gpu")


def test_the_backends_agree():
    if _backend.kernel() is None:
        pytest.fail("minikws._lstm_kernel is not built: run setup.py build_ext --inplace")
    m = model(np.float32)
    y = clip(4)
    a = push_all(Stream(m, backend="numpy"), y, 400, None)
    b = push_all(Stream(m, backend="cython"), y, 400, None)
    assert rel_error(a, b) <= 2e-5
