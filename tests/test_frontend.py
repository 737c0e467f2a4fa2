"""FrontEnd: clips and streams give the same frames; the causal floor; settings and state checks."""
import numpy as np
import pytest

from minikws.defaults import DEFAULTS
from minikws.errors import MinikwsError
from minikws.features import mfcc_batch as mfcc, running_cmn  # the front end uses the fast path, bit for bit
from minikws.frontend import FrontEnd, FrontEndState, default_feature_settings

SR = 8000  # default features at 8 kHz: n_fft 256, hop 160 (20 ms), window 200


def speechlike(seed=0, seconds=1.0):
    """A clip with silence, a loud burst and noise: frames on the floor, and frames far above it."""
    rng = np.random.default_rng(seed)
    S = int(seconds * SR)
    y = 0.05 * rng.standard_normal(S)
    y[: S // 5] = 0.0  # exact digital silence: only the floor decides these frames
    t = np.arange(S // 4) / SR
    y[S // 2: S // 2 + len(t)] += 0.5 * np.sin(2 * np.pi * 300 * t) * np.hanning(len(t))
    return y.astype(np.float32)


def chunked(fe, y, sizes, rng=None):
    """Push ``y`` in chunks (an int: that size; "random": sizes 1..700), flush; every push's frames."""
    state, parts, counts, i = fe.new_state(), [], [], 0
    while i < len(y):
        n = int(rng.integers(1, 700)) if sizes == "random" else sizes
        frames, state = fe.push(y[i:i + n], state)
        i += n
        parts.append(frames)
        counts.append((min(i, len(y)), sum(len(p) for p in parts)))
    last, state = fe.flush(state)
    parts.append(last)
    return np.concatenate(parts), counts, state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cmn_window", [0, 4])
@pytest.mark.parametrize("sizes", [1, 159, 160, "random"])
def test_chunked_audio_gives_the_clip_paths_frames(dtype, cmn_window, sizes):
    fe = FrontEnd(sr=SR, cmn_window=cmn_window, dtype=dtype)
    y = speechlike(seed=3)
    clip = fe.featurize(y)[0]
    assert clip.shape == (1 + len(y) // fe.hop_length, 13) and clip.dtype == dtype
    got, counts, state = chunked(fe, y, sizes, rng=np.random.default_rng(7))
    assert got.shape == clip.shape and got.dtype == dtype
    # the same frames up to rounding (the MFCC of a frame does not depend on its neighbours)
    scale = np.abs(clip).max()
    tol = {np.float32: 2e-7, np.float64: 1e-14}[dtype] * scale
    np.testing.assert_allclose(got, clip, rtol=0, atol=tol)
    # each frame arrives as soon as its last sample has: after n samples, 1 + (n + N/2 - N) // h frames
    N, h = fe.n_fft, fe.hop_length
    for n, emitted in counts:
        assert emitted == (0 if n + N // 2 < N else 1 + (n + N // 2 - N) // h)
    np.testing.assert_array_equal(state.pending, fe.new_state().pending)  # flush starts a new stream
    assert state.cmn is None


def test_clip_frames_are_librosa_centred_mfcc_with_the_absolute_floor_then_the_running_cmn():
    fe = FrontEnd(sr=SR, cmn_window=5)
    y = speechlike(seed=1)
    kw = default_feature_settings(SR)
    assert kw["top_db"] is None and kw["amin"] == pytest.approx(10 ** (DEFAULTS.log_floor_db / 10))
    want = running_cmn(mfcc(y, sr=SR, center=True, **kw), window=5)[0]
    np.testing.assert_array_equal(fe.featurize(y)[0], want)


def test_silence_sits_on_the_floor():
    """Exact zeros give L = 10 log10(a) = -80 dB in every band (eq. frontend-log-floor): with the
    orthonormal DCT, c0 = -80 sqrt(M) and every other coefficient 0."""
    fe = FrontEnd(sr=SR, cmn_window=0, dtype=np.float64)
    C = fe.featurize(np.zeros(2000))[0]
    M = fe.features["n_mels"]
    np.testing.assert_allclose(C[:, 0], DEFAULTS.log_floor_db * np.sqrt(M), rtol=1e-12)
    np.testing.assert_allclose(C[:, 1:], 0.0, atol=1e-10)


def test_a_frame_does_not_depend_on_louder_audio_after_it():
    """The causal floor: frames that end before a loud sound are the same with or without it. With
    librosa's per-clip top_db floor (a format-2 model) the loud end raises the floor of the silence."""
    y = speechlike(seed=2)
    loud = np.concatenate([y, 0.9 * np.sign(np.sin(np.arange(4000) * 0.3)).astype(np.float32)])
    for fe, same in ((FrontEnd(sr=SR, cmn_window=0), True),
                     (FrontEnd(sr=SR, cmn_window=0, features={**default_feature_settings(SR),
                                                                "top_db": 80.0, "amin": 1e-10}), False)):
        a, b = fe.featurize([y, loud])
        done = (len(y) + fe.n_fft // 2 - fe.n_fft) // fe.hop_length + 1  # frames inside y's samples
        assert np.array_equal(a[:done], b[:done]) is same, fe
    assert not fe.streamable
    with pytest.raises(MinikwsError, match="top_db=80.0 below its own maximum"):
        fe.push(y, fe.new_state())


def test_featurize_batches_do_not_mix_clips():
    fe = FrontEnd(sr=SR, cmn_window=4)
    rng = np.random.default_rng(0)
    clips = [(a * rng.standard_normal(n)).astype(np.float32) for a, n in ((0.01, 3000), (0.5, 3000),
                                                                          (0.1, 1234))]
    together = fe.featurize(clips)
    for clip, feats in zip(clips, together):
        np.testing.assert_array_equal(feats, fe.featurize(clip)[0])


def test_config_round_trip_and_bad_settings():
    fe = FrontEnd(sr=16000, cmn_window=9, dtype=np.float64)
    back = FrontEnd.from_config(fe.get_config(), dtype=np.float64)
    assert back.get_config() == fe.get_config() == {"sr": 16000, "features": default_feature_settings(16000),
                                                     "cmn_window": 9}
    assert (back.hop_length, back.n_fft, back.num_coefficients) == (320, 512, 13)
    partial = FrontEnd(sr=16000, features={"n_mfcc": 6})  # mfcc's defaults, the causal floor
    assert partial.features == {"n_mfcc": 6, "top_db": None, "amin": 1e-8} and partial.streamable
    for bad, match in ((dict(features={"n_mfcc": 5, "bogus": 1}), "unknown settings"),
                       (dict(features={"n_fft": 256}), "'n_mfcc' is required"),
                       (dict(features={"n_mfcc": 5, "win_length": 600, "n_fft": 512}), "win_length"),
                       (dict(sr=100), "sr"), (dict(cmn_window=-1), "cmn_window"),
                       (dict(dtype=np.int16), "dtype")):
        with pytest.raises(MinikwsError, match=match):
            FrontEnd(**bad)
    with pytest.raises(MinikwsError, match="unexpected"):
        FrontEnd.from_config({**fe.get_config(), "extra": 1})


def test_bad_stream_inputs():
    fe = FrontEnd(sr=SR)
    state = fe.new_state()
    assert isinstance(state, FrontEndState) and state.pending.shape == (fe.n_fft // 2,)
    with pytest.raises(MinikwsError, match="samples: expected 1 dimensions"):
        fe.push(np.zeros((2, 100), np.float32), state)
    with pytest.raises(MinikwsError, match="samples: expected dtype float32 or float64"):
        fe.push(np.zeros(100, np.int16), state)
    with pytest.raises(MinikwsError, match="samples: contains NaN"):
        fe.push(np.full(10, np.nan, np.float32), state)
    with pytest.raises(MinikwsError, match="state: expected a FrontEndState"):
        fe.push(np.zeros(10, np.float32), (None, None))
    with pytest.raises(MinikwsError, match="state: pending samples are float64"):
        fe.push(np.zeros(10, np.float32), FrontEnd(sr=SR, dtype=np.float64).new_state())
    frames, same = fe.push(np.zeros(0, np.float32), state)  # nothing pushed, nothing computed
    assert frames.shape == (0, 13)
    np.testing.assert_array_equal(same.pending, state.pending)
