"""minikws.features against librosa and python_speech_features (golden fixtures), scipy, and invariants."""
import doctest
import inspect
import json
import os
import re

import numpy as np
import pytest
import scipy.fft
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from minikws import features
from minikws.errors import MinikwsError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _load(name):
    with np.load(os.path.join(FIXTURES, name), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


LIBROSA = _load("librosa_mfcc.npz")
LIBROSA_STAGES = _load("librosa_stages.npz")
PSF = _load("psf_mfcc.npz")
PSF_STAGES = _load("psf_stages.npz")


def _cases(fx):
    n = sum(1 for k in fx if k.endswith("_out"))
    return [(fx[str(fx[f"case{i}_signal"])], json.loads(str(fx[f"case{i}_kwargs"])), fx[f"case{i}_out"])
            for i in range(n)]


def _rel(a, b):
    """Largest difference relative to the largest magnitude of the reference."""
    return float(np.abs(a - b).max() / np.abs(b).max())


def _signal(rng, shape, dtype=np.float32):
    return (0.3 * rng.standard_normal(shape)).astype(dtype)


# The readable mfcc (the stages composed) and the fast one (cache-blocked, batched): every test of the
# librosa convention runs on both.
MFCCS = pytest.mark.parametrize("mfcc", [features.mfcc, features.mfcc_batch], ids=["readable", "fast"])


# ------------------------------------------------------------------------------------- golden parity

@pytest.mark.parametrize("y, kw, expected", _cases(LIBROSA),
                         ids=[f"{json.loads(str(LIBROSA[f'case{i}_kwargs']))['sr']}-{i}"
                              for i in range(len(_cases(LIBROSA)))])
@MFCCS
def test_mfcc_matches_librosa(mfcc, y, kw, expected):
    assert y.dtype == np.float32
    out = mfcc(y, **kw)
    assert out.dtype == np.float32
    assert out.shape == expected.shape
    assert _rel(out, expected) <= 1e-4


@pytest.mark.parametrize("y, kw, expected", _cases(PSF),
                         ids=[f"{json.loads(str(PSF[f'case{i}_kwargs']))['samplerate']}-{i}"
                              for i in range(len(_cases(PSF)))])
def test_mfcc_htk_matches_python_speech_features(y, kw, expected):
    out = features.mfcc_htk(y.astype(np.float64), **kw)
    assert out.dtype == np.float64 and out.shape == expected.shape
    assert _rel(out, expected) <= 1e-6


def test_mel_scales_match_librosa():
    s = LIBROSA_STAGES
    np.testing.assert_allclose(features.hz_to_mel(s["hz"]), s["mel_slaney"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(features.hz_to_mel(s["hz"], htk=True), s["mel_htk"], rtol=1e-12)
    np.testing.assert_allclose(features.mel_to_hz(s["mel"]), s["hz_slaney"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(features.mel_to_hz(s["mel"] * 100, htk=True), s["hz_htk"], rtol=1e-12,
                               atol=1e-9)
    assert isinstance(features.hz_to_mel(1000.0), float) and features.hz_to_mel(1000.0) == pytest.approx(15.0)


@pytest.mark.parametrize("b", range(4))
def test_mel_filterbank_matches_librosa(b):
    kw = json.loads(str(LIBROSA_STAGES[f"bank{b}_kwargs"]))
    W = features.mel_filterbank(**kw, dtype=np.float64)
    np.testing.assert_allclose(W, LIBROSA_STAGES[f"bank{b}"], rtol=1e-10, atol=1e-12)


def test_spectrogram_melspectrogram_db_match_librosa():
    s = LIBROSA_STAGES
    y = s["spec_signal"]
    P = features.spectrogram(y, n_fft=512, hop_length=160, win_length=400)
    assert P.dtype == np.float32 and P.shape == s["spec_power"].shape
    assert _rel(P, s["spec_power"]) <= 1e-5
    E = features.melspectrogram(y, sr=16000, n_fft=512, hop_length=160, win_length=400, n_mels=40)
    assert _rel(E, s["spec_mel"]) <= 1e-5
    np.testing.assert_allclose(features.power_to_db(s["spec_mel"]), s["spec_db"], atol=1e-3)


@pytest.mark.parametrize("b", range(3))
def test_htk_filterbank_matches_python_speech_features(b):
    kw = json.loads(str(PSF_STAGES[f"bank{b}_kwargs"]))
    np.testing.assert_array_equal(features.htk_filterbank(**kw), PSF_STAGES[f"bank{b}"])


def test_delta_and_lifter_match_python_speech_features():
    C = PSF_STAGES["feat"]
    np.testing.assert_allclose(features.delta(C, N=1), PSF_STAGES["delta1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(features.delta(C, N=2), PSF_STAGES["delta2"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(features.delta(C, N=2, order=2), PSF_STAGES["delta_delta2"], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(features.lifter(C, L=22), PSF_STAGES["lifter22"], rtol=1e-14)


# ------------------------------------------------------------------------------- fast == readable

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y, kw", [case[:2] for case in _cases(LIBROSA)],
                         ids=[f"case{i}" for i in range(len(_cases(LIBROSA)))])
def test_fast_equals_readable_on_the_librosa_grid(y, kw, dtype):
    y = y.astype(dtype)
    fast, readable = features.mfcc_batch(y, **kw), features.mfcc(y, **kw)
    assert fast.dtype == readable.dtype == dtype and fast.shape == readable.shape
    assert _rel(fast, readable) <= (1e-5 if dtype == np.float32 else 1e-10)
    # a batch: the clip, a quiet copy and a time-reversed copy, each with its own top_db floor
    Y = np.stack([y, 1e-3 * y, y[::-1]])
    fast = features.mfcc_batch(Y, **kw)
    for b in range(3):
        assert _rel(fast[b], features.mfcc(Y[b], **kw)) <= (1e-5 if dtype == np.float32 else 1e-10)


def test_fast_and_readable_take_the_same_arguments():
    assert inspect.signature(features.mfcc_batch) == inspect.signature(features.mfcc)


def test_readable_mfcc_is_the_stage_functions_composed(rng, monkeypatch):
    """The readable mfcc calls each public stage once, in the pipeline's order, and only those."""
    from minikws.features import cepstrum

    calls = []
    stages = ("frame", "get_window", "power_spectrum", "mel_filterbank", "power_to_db", "dct_matrix",
              "_lifter")
    for name in stages:
        def spy(*args, _name=name, _stage=getattr(cepstrum, name), **kwargs):
            calls.append(_name)
            return _stage(*args, **kwargs)
        monkeypatch.setattr(cepstrum, name, spy)
    y = _signal(rng, 2000)
    out = features.mfcc(y, lifter=22)
    assert calls == list(stages)
    np.testing.assert_allclose(out, features.mfcc_batch(y, lifter=22), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kw", [
    {},
    dict(center=False, htk=True, n_mels=26, n_mfcc=20, fmin=100.0, fmax=7000.0, lifter=22),
    dict(n_fft=400, win_length=None, power=1.0, norm=None, mel_norm=None, window="blackman"),
    dict(pad_mode="edge", top_db=None, window="rectangular"),
])
@MFCCS
def test_mfcc_equals_the_stages_composed(rng, kw, mfcc):
    y = _signal(rng, 3000, np.float64)
    get = lambda k, d: kw.get(k, d)  # noqa: E731
    E = features.melspectrogram(
        y, sr=16000, n_fft=get("n_fft", 512), hop_length=160, win_length=get("win_length", 400),
        window=get("window", "hann"), center=get("center", True), pad_mode=get("pad_mode", "constant"),
        power=get("power", 2.0), n_mels=get("n_mels", 40), fmin=get("fmin", 0.0), fmax=get("fmax", None),
        htk=get("htk", False), norm=get("mel_norm", "slaney"))
    C = features.power_to_db(E, top_db=get("top_db", 80.0)) @ features.dct_matrix(
        get("n_mels", 40), get("n_mfcc", 13), norm=get("norm", "ortho"))
    if get("lifter", 0):
        C = features.lifter(C, L=kw["lifter"], offset=1)
    out = mfcc(y, **kw)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, C, rtol=1e-9, atol=1e-9)


@MFCCS
def test_mfcc_window_array_equals_named_window(rng, mfcc):
    y = _signal(rng, 2000)
    w = features.get_window("hamming", 300)
    np.testing.assert_allclose(mfcc(y, window=w, win_length=300),
                               mfcc(y, window="hamming", win_length=300), rtol=1e-5, atol=1e-4)


def test_mfcc_htk_readable_stages(rng):
    y = _signal(rng, 4000, np.float64)
    frames = features.frame(np.pad(features.preemphasis(y, coef=0.97), (0, 80)), frame_length=400,
                            hop_length=160)
    P = features.power_spectrum(frames, n_fft=512) / 512
    W = features.htk_filterbank(nfilt=26, nfft=512, samplerate=16000)
    C = features.lifter(features.log_floor(P @ W.T) @ features.dct_matrix(26, 13), L=22)
    C[:, 0] = np.log(P.sum(axis=1))
    np.testing.assert_allclose(features.mfcc_htk(y), C, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------ batching

@MFCCS
def test_batched_equals_clip_by_clip(rng, mfcc):
    Y = _signal(rng, (2, 3, 4000))
    Y[0, 1] *= 1e-4  # quiet clip: its own top_db floor, not the loudest clip's
    Y[1, 2, 1000:3000] = 0.0  # digital silence in the middle
    out = mfcc(Y)
    assert out.shape == (2, 3, features.num_frames(4000), 13) and out.dtype == np.float32
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], mfcc(Y[i, j]), rtol=1e-5, atol=1e-4)


def test_batched_top_db_floor_is_per_clip(rng):
    loud, quiet = _signal(rng, 3000), 1e-3 * _signal(rng, 3000)
    quiet[1000:2000] = 0.0
    both = features.power_to_db(features.melspectrogram(np.stack([loud, quiet])))
    alone = features.power_to_db(features.melspectrogram(quiet))
    np.testing.assert_allclose(both[1], alone, atol=1e-4)
    assert (both[1] < both[0].max() - 80.0).any()  # a floor shared with the loud clip would clip these


def test_mfcc_htk_batched(rng):
    Y = _signal(rng, (3, 2000), np.float64)
    out = features.mfcc_htk(Y, samplerate=8000)
    for i in range(3):
        np.testing.assert_allclose(out[i], features.mfcc_htk(Y[i], samplerate=8000), rtol=1e-12)


# -------------------------------------------------------------------------------- stage known answers

@pytest.mark.parametrize("name, scipy_name", [("hann", "hann"), ("hamming", "hamming"),
                                              ("blackman", "blackman"), ("rectangular", "boxcar")])
@pytest.mark.parametrize("L, N", [(400, 512), (401, 512), (256, 256), (7, 10)])
def test_get_window_is_periodic_and_centred(name, scipy_name, L, N):
    w = features.get_window(name, L, n_fft=N)
    ref = scipy.signal.get_window(scipy_name, L, fftbins=True)
    lpad = (N - L) // 2
    assert w.shape == (N,) and not w.flags.writeable
    np.testing.assert_allclose(w[lpad:lpad + L], ref, atol=1e-15)
    assert not w[:lpad].any() and not w[lpad + L:].any()


@pytest.mark.parametrize("norm", ["ortho", None])
def test_dct_matrix_matches_scipy(rng, norm):
    L = rng.standard_normal((5, 40))
    np.testing.assert_allclose(L @ features.dct_matrix(40, 13, norm=norm),
                               scipy.fft.dct(L, type=2, norm=norm, axis=-1)[:, :13], rtol=1e-12, atol=1e-12)


def test_dct_ortho_is_orthogonal():
    D = features.dct_matrix(26)
    np.testing.assert_allclose(D.T @ D, np.eye(26), atol=1e-12)


def test_power_spectrum_parseval(rng):
    x = rng.standard_normal((4, 64))
    P = features.power_spectrum(x)
    full = P.sum(-1) + P[:, 1:-1].sum(-1)  # bins 1..N/2-1 appear twice in the full spectrum
    np.testing.assert_allclose(full / 64, (x ** 2).sum(-1), rtol=1e-12)


def test_preemphasis_known_answer():
    y = np.array([1.0, 2.0, 3.0, 5.0])
    np.testing.assert_allclose(features.preemphasis(y, coef=0.5), [1.0, 1.5, 2.0, 3.5])
    np.testing.assert_array_equal(features.preemphasis(y, coef=0.0), y)


def test_log_floor_replaces_only_zeros():
    E = np.array([0.0, 1e-300, 1.0])
    out = features.log_floor(E)
    assert out[0] == np.log(np.finfo(np.float64).eps) and out[1] == np.log(1e-300) and out[2] == 0.0


def test_power_to_db_known_answer():
    E = np.array([[1.0, 10.0, 100.0], [1e-20, 0.0, 1e-3]])
    L = features.power_to_db(E, top_db=None)
    np.testing.assert_allclose(L, [[0, 10, 20], [-100, -100, -30]], atol=1e-10)
    np.testing.assert_allclose(features.power_to_db(E, top_db=40.0).min(), -20.0)
    np.testing.assert_allclose(features.power_to_db(E, ref=10.0, top_db=None)[0], [-10, 0, 10])


def test_cmvn_normalises_and_respects_lengths(rng):
    C = rng.standard_normal((2, 30, 5)) * 3 + 7
    out = features.cmvn(C)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-12)
    padded = C.copy()
    padded[0, 20:] = 0.0
    out = features.cmvn(padded, lengths=np.array([20, 30]))
    np.testing.assert_allclose(out[0, :20], features.cmvn(C[0, :20]), atol=1e-12)
    assert not out[0, 20:].any()
    np.testing.assert_allclose(features.cmvn(C, variance=False).std(axis=1), C.std(axis=1))
    assert np.isfinite(features.cmvn(np.ones((4, 3)))).all()


def _running_cmn_loop(C, W):
    """eq. mfcc-cmn-running written as its recursion, one frame at a time."""
    out, m = np.empty_like(C), np.zeros(C.shape[:-2] + C.shape[-1:])
    for t in range(C.shape[-2]):
        m = m + (C[..., t, :] - m) / min(t + 1, W)
        out[..., t, :] = C[..., t, :] - m
    return out, m


@pytest.mark.parametrize("F, W", [(1, 5), (7, 5), (5, 5), (60, 100), (250, 20)])
def test_running_cmn_matches_its_recursion(rng, F, W):
    C = rng.standard_normal((3, F, 4)) * 2 + 5
    out, (m, t) = features.running_cmn(C, window=W)
    ref, m_ref = _running_cmn_loop(C, W)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m, m_ref, rtol=0, atol=1e-12)
    assert t == F
    # the first frame is always 0: it is its own mean
    assert not out[:, 0].any()


@pytest.mark.parametrize("cuts", [(1,), (3, 4, 30), (10, 11, 12, 13)])
def test_running_cmn_in_chunks_equals_one_call(rng, cuts):
    C = rng.standard_normal((2, 40, 3)).astype(np.float32)
    whole, (m_whole, t_whole) = features.running_cmn(C, window=8)
    parts, state = [], None
    for a, b in zip((0,) + cuts, cuts + (40,)):
        out, state = features.running_cmn(C[:, a:b], window=8, state=state)
        parts.append(out)
    assert parts[0].dtype == np.float32
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-6)
    np.testing.assert_allclose(state[0], m_whole, atol=1e-12)
    assert state[1] == t_whole == 40


def test_running_cmn_is_causal_and_removes_a_constant_channel(rng):
    C = rng.standard_normal((30, 6))
    out = features.running_cmn(C, window=10)[0]
    padded = np.concatenate([C, np.zeros((9, 6))])
    np.testing.assert_array_equal(features.running_cmn(padded, window=10)[0][:30], out)
    # a constant added to every frame (a fixed channel gain) is removed exactly, even past W frames
    shifted = features.running_cmn(C + rng.standard_normal(6) * 10, window=10)[0]
    np.testing.assert_allclose(shifted, out, atol=1e-12)


def test_running_cmn_makes_mfcc_gain_invariant(rng):
    y = rng.standard_normal(16000) * np.hanning(16000)
    a = features.running_cmn(features.mfcc(y, sr=16000, n_mfcc=13))[0]
    b = features.running_cmn(features.mfcc(0.05 * y, sr=16000, n_mfcc=13))[0]
    # a gain moves every log-mel band by the same dB, i.e. only c0, by a constant: removed
    np.testing.assert_allclose(a, b, atol=1e-8)
    assert np.abs(a).max() > 1


def test_running_cmn_rejects_bad_arguments(rng):
    C = rng.standard_normal((5, 3))
    with pytest.raises(MinikwsError, match="window"):
        features.running_cmn(C, window=0)
    with pytest.raises(MinikwsError, match="C:"):
        features.running_cmn(np.ones(4))
    with pytest.raises(MinikwsError, match="state"):
        features.running_cmn(C, state=(np.zeros(4), 3))
    with pytest.raises(MinikwsError, match="state"):
        features.running_cmn(C, state="nope")
    with pytest.raises(MinikwsError, match="NaN"):
        features.running_cmn(np.full((2, 3), np.nan))


def test_delta_of_a_ramp_is_its_slope():
    C = np.arange(20.0)[:, None] * np.array([1.0, -2.0])
    np.testing.assert_allclose(features.delta(C, N=2)[2:-2], np.tile([1.0, -2.0], (16, 1)))


def test_lifter_offsets():
    C = np.ones((1, 4))
    np.testing.assert_allclose(features.lifter(C, L=2, offset=0), [[1, 2, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(features.lifter(C, L=2, offset=1), [[2, 1, 0, 1]], atol=1e-12)
    np.testing.assert_array_equal(features.lifter(C, L=0), C)


@MFCCS
def test_num_frames_vector_and_mfcc_agree(rng, mfcc):
    S = np.array([1, 159, 160, 16000])
    np.testing.assert_array_equal(features.num_frames(S), 1 + S // 160)
    assert features.num_frames(500, center=False) == 0 and features.num_frames(512, center=False) == 1
    for n in (1, 300, 1601):
        for center in (True, False):
            if features.num_frames(n, center=center):
                assert mfcc(_signal(rng, n), center=center).shape[0] == \
                    features.num_frames(n, center=center)


def test_cached_matrices_are_read_only_and_shared():
    W = features.mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    assert W is features.mel_filterbank(sr=16000, n_fft=512, n_mels=40)
    assert not W.flags.writeable and not features.dct_matrix(40, 13).flags.writeable
    with pytest.raises(ValueError):
        W[0, 0] = 1.0


# ------------------------------------------------------------------------------------ property tests

@settings(max_examples=60, deadline=None)
@given(S=st.integers(1, 300), N=st.integers(1, 64), h=st.integers(1, 40), center=st.booleans(),
       mode=st.sampled_from(["constant", "reflect", "edge"]))
def test_frame_property(S, N, h, center, mode):
    y = np.arange(1.0, S + 1.0)
    F = features.num_frames(S, n_fft=N, hop_length=h, center=center)
    if F == 0 or (mode == "reflect" and center and S < 2):
        return
    frames = features.frame(y, frame_length=N, hop_length=h, center=center, pad_mode=mode)
    padded = np.pad(y, N // 2, mode=mode) if center else y
    assert frames.shape == (F, N) and not frames.flags.writeable
    for t in (0, F // 2, F - 1):
        np.testing.assert_array_equal(frames[t], padded[t * h:t * h + N])
    assert F * h + N > padded.size  # no further whole frame fits


_banks = dict(sr=st.sampled_from([8000, 16000, 22050, 44100]), n_fft=st.sampled_from([1024, 2048, 4096]),
              n_mels=st.integers(4, 40), fmin=st.floats(0, 300), top=st.floats(0.5, 1.0), htk=st.booleans())


@settings(max_examples=40, deadline=None)
@given(**_banks)
def test_filterbank_rows_nonnegative_peaking_at_centres(sr, n_fft, n_mels, fmin, top, htk):
    fmax = max(fmin + 500.0, top * sr / 2)
    W = features.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=min(fmax, sr / 2),
                                htk=htk, dtype=np.float64)
    f = features.fft_frequencies(sr=sr, n_fft=n_fft)
    centres = features.mel_frequencies(n_mels + 2, fmin=fmin, fmax=min(fmax, sr / 2), htk=htk)[1:-1]
    assert (W >= 0).all()
    for m in range(n_mels):
        if W[m].any():
            assert abs(f[np.argmax(W[m])] - centres[m]) <= sr / n_fft


@settings(max_examples=40, deadline=None)
@given(**_banks)
def test_slaney_filter_area_is_one(sr, n_fft, n_mels, fmin, top, htk):
    fmax = min(max(fmin + 500.0, top * sr / 2), sr / 2)
    W = features.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                                dtype=np.float64)
    edges = features.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    df = sr / n_fft
    for m in range(n_mels):
        width = edges[m + 2] - edges[m]
        if width >= 20 * df:  # the sum over bins approximates the integral to O(df / width)
            assert abs(W[m].sum() * df - 1.0) <= 2 * df / width


@settings(max_examples=60, deadline=None)
@given(f=st.lists(st.floats(0, 1e5), min_size=1, max_size=20), htk=st.booleans())
def test_mel_round_trip_and_monotone(f, htk):
    f = np.sort(np.array(f))
    m = features.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(features.mel_to_hz(m, htk=htk), f, rtol=1e-11, atol=1e-9)
    assert (np.diff(m) >= 0).all()


# ------------------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("kw, word", [
    (dict(n_mfcc=41), "n_mfcc"), (dict(win_length=600), "win_length"), (dict(fmax=9000.0), "fmax"),
    (dict(fmin=5000.0, fmax=4000.0), "fmin"), (dict(window="kaiser"), "window"),
    (dict(pad_mode="wrap"), "pad_mode"), (dict(dct_type=3), "dct_type"), (dict(norm="l1"), "norm"),
    (dict(mel_norm=2), "mel_norm"), (dict(lifter=-1), "lifter"), (dict(top_db=-5), "top_db"),
    (dict(amin=0), "amin"), (dict(hop_length=0), "hop_length"), (dict(power=0), "power"),
    (dict(center=False, n_fft=4096, win_length=400), "fewer than one frame"),
    (dict(window=np.hanning(300), win_length=400), "window"),
    (dict(window=np.hanning(400).astype(np.int16)), "window"),
])
@MFCCS
def test_mfcc_bad_arguments(rng, kw, word, mfcc):
    with pytest.raises(MinikwsError, match=word):
        mfcc(_signal(rng, 2000), **kw)


@pytest.mark.parametrize("y, word", [
    (np.zeros(100, dtype=np.int16), "dtype"), (np.array([0.0, np.nan] * 300), "NaN"),
    (np.zeros((3, 0)), "S >= 1"), ([0.0] * 600, "numpy array"), (np.array(1.0), "S >= 1"),
])
def test_mfcc_bad_signal(y, word):
    with pytest.raises(MinikwsError, match=word):
        features.mfcc(y)
    with pytest.raises(MinikwsError, match=word):
        features.mfcc_batch(y)
    with pytest.raises(MinikwsError, match=word):
        features.mfcc_htk(y)


def test_mfcc_htk_bad_arguments(rng):
    y = _signal(rng, 2000, np.float64)
    with pytest.raises(MinikwsError, match="numcep"):
        features.mfcc_htk(y, numcep=30)
    with pytest.raises(MinikwsError, match="winlen"):
        features.mfcc_htk(y, winlen=1e-6)
    with pytest.raises(MinikwsError, match="fmax"):
        features.mfcc_htk(y, highfreq=9000)


def test_docstring_defaults_agree_with_signatures():
    """Every "(default X)" or "(X, ...)" a Parameters entry names must be the signature's default."""
    pattern = re.compile(r"^    (\w+) : .*\n        .*?\((\d+(?:\.\d+)?)(?=[,):]| =)", re.M)
    params = inspect.signature(features.mfcc).parameters
    found = {m.group(1): float(m.group(2)) for m in pattern.finditer(features.mfcc.__doc__)}
    assert set(found) >= {"n_mfcc", "n_fft", "hop_length", "win_length", "n_mels", "top_db"}
    for name, value in found.items():
        assert float(params[name].default) == value, name


@pytest.mark.parametrize("module", ["cepstrum", "normalize"])
def test_docstring_examples(module):
    import importlib

    result = doctest.testmod(importlib.import_module(f"minikws.features.{module}"))
    assert result.attempted > 0 and result.failed == 0
