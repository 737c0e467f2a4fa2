"""KWSModel: known answers, padding masked, gradients, state, audio in (streaming: test_streaming.py)."""
import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import numerical_gradient, rel_error
from minikws.models import KWSModel, default_feature_settings

CLASSES = ("yes", "no", "up", "_silence_")


def small(dtype=np.float64, dropout=0.0, **kw):
    kw.setdefault("features", {"n_mfcc": 5, "n_fft": 256, "hop_length": 80, "win_length": 200,
                               "n_mels": 20, "fmin": 20.0, "fmax": 4000.0})
    kw.setdefault("sr", 8000)
    return KWSModel(classes=CLASSES, hidden_size=6, num_layers=2, dropout=dropout, dtype=dtype,
                    seed=3, backend="numpy", **kw)


def batch(model, T=7, B=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, model.mean.shape[0])).astype(model.dtype)
    lengths = np.array([T, 2, 5][:B], dtype=np.int64)
    return x, lengths


def test_initial_loss_is_log_C():
    m = small()
    m.fc.params["W"][...] *= 1e-3  # near-zero logits: the known answer is exactly ln C
    x, lengths = batch(m)
    loss, logits, _, _ = m.loss(x, lengths, np.array([0, 1, 2]))
    assert loss == pytest.approx(np.log(len(CLASSES)), rel=1e-3)
    assert logits.shape == (3, len(CLASSES))


def test_padding_cannot_change_a_clips_output():
    m = small(dtype=np.float32)
    x, lengths = batch(m)
    logits, _ = m.forward(x, lengths)
    garbage = x.copy()
    for b, L in enumerate(lengths):
        garbage[L:, b] = 1e3 * np.random.default_rng(b).standard_normal(garbage[L:, b].shape)
    longer = np.concatenate([garbage, np.full((4, 3, x.shape[2]), 7.0, x.dtype)])
    np.testing.assert_array_equal(m.forward(garbage, lengths)[0], logits)
    np.testing.assert_allclose(m.forward(longer, lengths)[0], logits, rtol=1e-6, atol=1e-6)
    for b, L in enumerate(lengths):  # the same as the clip on its own, unpadded
        alone, _ = m.forward(x[:L, b:b + 1], np.array([L]))
        np.testing.assert_allclose(alone[0], logits[b], rtol=1e-5, atol=1e-6)


def test_utterance_logits_are_the_frame_logits_at_the_last_frame():
    m = small()
    x, lengths = batch(m)
    frames, state, _ = m.forward_frames(x)
    logits, _ = m.forward(x, lengths)
    np.testing.assert_allclose(logits, frames[lengths - 1, np.arange(3)], rtol=1e-12)
    assert frames.shape == (7, 3, len(CLASSES)) and len(state) == 2


def _gradcheck(m, x, lengths, y, frames=False, seed=None):
    """Compare every analytic gradient of the loss with centred differences (float64)."""
    from minikws.nn.losses import softmax_cross_entropy

    def loss_of():
        rng = None if seed is None else np.random.default_rng(seed)
        train = seed is not None
        if frames:
            logits, _, cache = m.forward_frames(x, train=train, rng=rng)
            yy = np.broadcast_to(y, logits.shape[:2]).astype(np.int64)
            return softmax_cross_entropy(logits, np.ascontiguousarray(yy))[0]
        return m.loss(x, lengths, y, train=train, rng=rng)[0]

    rng = None if seed is None else np.random.default_rng(seed)
    m.zero_grad()
    if frames:
        logits, _, cache = m.forward_frames(x, train=seed is not None, rng=rng)
        yy = np.ascontiguousarray(np.broadcast_to(y, logits.shape[:2]).astype(np.int64))
        dx = m.backward_frames(softmax_cross_entropy(logits, yy)[1], cache)
    else:
        _, _, dlogits, cache = m.loss(x, lengths, y, train=seed is not None, rng=rng)
        dx = m.backward(dlogits, cache)
    def loss_at(array):
        """The loss as a function of one array's values (numerical_gradient passes perturbed copies)."""
        def f(value):
            saved = array.copy()
            array[...] = value
            try:
                return loss_of()
            finally:
                array[...] = saved
        return f

    errors = {name: rel_error(numerical_gradient(loss_at(p), p), m.grads[name])
              for name, p in m.params.items()}
    errors["x"] = rel_error(numerical_gradient(loss_at(x), x), dx)
    return errors


@pytest.mark.parametrize("dropout_seed", [None, 11])
def test_gradients_utterance(dropout_seed):
    m = small(dropout=0.3 if dropout_seed else 0.0)
    m.mean[...] = 0.2
    m.std[...] = 1.7
    x, lengths = batch(m, T=5)
    lengths = np.array([5, 2, 4])
    errors = _gradcheck(m, x, lengths, np.array([0, 3, 1]), seed=dropout_seed)
    assert max(errors.values()) <= 1e-7, errors


def test_gradients_frames():
    m = small()
    x, _ = batch(m, T=4, B=2)
    errors = _gradcheck(m, x, None, np.array([2, 1]), frames=True)
    assert max(errors.values()) <= 1e-7, errors


def test_params_are_the_models_own_arrays():
    m = small()
    x, lengths = batch(m)
    before, _ = m.forward(x, lengths)
    m.params["fc.b"][...] += 1.0  # what an optimizer or a pruning step does: in place
    after, _ = m.forward(x, lengths)
    np.testing.assert_allclose(after, before + 1.0, rtol=1e-12)
    assert set(m.params) == {"lstm.l0.Wx", "lstm.l0.Wh", "lstm.l0.b", "lstm.l1.Wx", "lstm.l1.Wh",
                             "lstm.l1.b", "fc.W", "fc.b"}
    assert m.num_parameters() == sum(p.size for p in m.params.values())


def test_state_dict_round_trip_and_checks():
    a = small()
    a.mean[...] = 0.5
    b = KWSModel.from_config(a.get_config(), backend="numpy")
    b.load_state_dict(a.state_dict())
    x, lengths = batch(a)
    np.testing.assert_array_equal(a.forward(x, lengths)[0], b.forward(x, lengths)[0])
    state = a.state_dict()
    state["fc.W"] = state["fc.W"][:, :2]
    with pytest.raises(MinikwsError, match="fc.W"):
        b.load_state_dict(state)
    state = a.state_dict()
    state["norm.std"][0] = 0
    with pytest.raises(MinikwsError, match="norm.std"):
        b.load_state_dict(state)
    state = a.state_dict()
    del state["lstm.l1.b"]
    with pytest.raises(MinikwsError, match="missing"):
        b.load_state_dict(state)


def test_normalisation_from_training_frames():
    m = small()
    rng = np.random.default_rng(1)
    feats = [3.0 + 2.0 * rng.standard_normal((n, 5)) for n in (40, 60, 30)]
    m.fit_normalization(feats)
    frames = np.concatenate(feats)
    np.testing.assert_allclose(m.mean, frames.mean(axis=0))
    np.testing.assert_allclose(m.std, frames.std(axis=0))


@pytest.mark.parametrize("bad", [
    dict(classes=("only",)), dict(classes=("a", "a")), dict(hidden_size=0), dict(dropout=1.0),
    dict(dtype=np.int32), dict(features={"n_mfcc": 5, "bogus": 1}), dict(sr=100),
])
def test_bad_settings(bad):
    kw = dict(classes=CLASSES, backend="numpy")
    kw.update(bad)
    with pytest.raises(MinikwsError):
        KWSModel(**kw)


def test_bad_inputs():
    m = small()
    x, lengths = batch(m)
    with pytest.raises(MinikwsError, match="lengths"):
        m.forward(x, np.array([8, 1, 1]))
    with pytest.raises(MinikwsError, match="dtype"):
        m.forward(x.astype(np.float32), lengths)
    with pytest.raises(MinikwsError, match="K="):
        m.forward(x[:, :, :3], lengths)
    with pytest.raises(MinikwsError, match="rng"):
        small(dropout=0.2).forward(x, lengths, train=True)


def test_default_feature_settings_scale_with_the_rate():
    s16, s8 = default_feature_settings(16000), default_feature_settings(8000)
    assert (s16["win_length"], s16["hop_length"], s16["n_fft"]) == (400, 320, 512)
    assert (s8["win_length"], s8["hop_length"], s8["n_fft"]) == (200, 160, 256)
    assert s8["fmax"] == 4000 and s16["fmax"] == 8000


def test_featurize_resamples_and_refuses_rates_it_cannot_use():
    m = small()  # listens at 8 kHz
    t = np.arange(16000) / 16000
    y = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    direct = m.featurize([y[::2]], sr=8000)[0]
    via = m.featurize([y], sr=16000)[0]
    assert via.shape == direct.shape
    assert np.abs(via - direct).max() < 0.05 * np.abs(direct).max()
    with pytest.raises(MinikwsError, match="sr: 1000 Hz is too low"):
        m.featurize([y], sr=1000)
    with pytest.raises(MinikwsError, match=r"waveforms\[0\]: cannot resample 8001 Hz"):
        m.featurize([y], sr=8001)


def test_clips_shorter_than_a_window_are_featurized_with_zero_centre_padding():
    m = small()
    rng = np.random.default_rng(1)
    clips = [rng.uniform(-0.5, 0.5, n).astype(np.float32) for n in (1, 10, 129, 2000)]
    feats = m.featurize(clips)
    assert [f.shape[0] for f in feats] == [1, 1, 2, 26]  # 1 + n // hop frames with centre padding
    p = m.predict_proba(clips)
    assert p.shape == (4, len(CLASSES)) and np.allclose(p.sum(axis=1), 1.0)


def test_featurize_applies_the_running_cmn_and_it_is_stored():
    from minikws.features import mfcc_batch as mfcc, running_cmn

    rng = np.random.default_rng(3)
    y = (rng.standard_normal(6000) * 0.1).astype(np.float32)
    on = KWSModel(classes=CLASSES, sr=8000, cmn_window=7, hidden_size=4, num_layers=1)
    off = KWSModel(classes=CLASSES, sr=8000, cmn_window=0, hidden_size=4, num_layers=1)
    raw = mfcc(y, sr=8000, **off.features)
    np.testing.assert_array_equal(off.featurize(y)[0], raw.astype(np.float32))
    np.testing.assert_allclose(on.featurize(y)[0], running_cmn(raw, window=7)[0], rtol=0, atol=1e-5)
    # a gain on the clip moves only c0, by a constant, which the CMN removes
    np.testing.assert_allclose(on.featurize(0.1 * y)[0], on.featurize(y)[0], atol=1e-4)
    assert KWSModel.from_config(on.get_config()).cmn_window == 7
    with pytest.raises(MinikwsError, match="cmn_window"):
        KWSModel(classes=CLASSES, cmn_window=-1)
