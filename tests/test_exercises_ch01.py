"""Chapter 1's exercises: each checker passes the library's function and names each mistake it claims to."""
import numpy as np
import pytest

from minikws import exercises, features
from minikws.exercises import Incorrect


def _check(name, fn):
    return exercises.get(name).check(fn, seed=0)


def test_chapter_1_registers_the_three_exercises_of_its_notebook():
    assert [e.name for e in exercises.list("01")] == ["01.dct_matrix", "01.mel_filterbank",
                                                        "01.power_spectrum"]


@pytest.mark.parametrize("name", ["01.power_spectrum", "01.mel_filterbank", "01.dct_matrix"])
def test_reference_passes(name, capsys):
    assert _check(name, exercises.get(name).reference) is True
    assert capsys.readouterr().out.startswith(f"{name}: correct")


@pytest.mark.parametrize("name", ["01.power_spectrum", "01.mel_filterbank", "01.dct_matrix"])
def test_not_attempted_is_reported_not_raised(name, capsys):
    def blank(*args, **kwargs):
        raise NotImplementedError

    assert _check(name, blank) is False
    assert "not attempted yet" in capsys.readouterr().out


# ------------------------------------------------------------------------------- 01.power_spectrum
def _ps(f):
    def student(frames, *, n_fft=None, power=2.0):
        n = frames.shape[-1] if n_fft is None else n_fft
        return f(frames, n, power)
    return student


@pytest.mark.parametrize("kind, fn, message", [
    ("all bins", _ps(lambda x, n, p: np.abs(np.fft.fft(x, n=n, axis=-1)) ** p), "returns all 16 bins"),
    ("no zero padding", _ps(lambda x, n, p: np.abs(np.fft.rfft(x, axis=-1)) ** p), "ignores n_fft"),
    ("magnitude", _ps(lambda x, n, p: np.abs(np.fft.rfft(x, n=n, axis=-1))), "is the magnitude"),
    ("normalised", _ps(lambda x, n, p: np.abs(np.fft.rfft(x, n=n, axis=-1)) ** p / n), "divided by N_FFT"),
    ("power ignored", _ps(lambda x, n, p: np.abs(np.fft.rfft(x, n=n, axis=-1)) ** 2), "ignores the argument power"),
    ("shape", _ps(lambda x, n, p: (np.abs(np.fft.rfft(x, n=n, axis=-1)) ** p)[..., :-1]), r"expected shape \(7, 9\), got \(7, 8\)"),
    ("raises", _ps(lambda x, n, p: np.fft.rfft(x, n=n, axis=2)), "your function raised"),
])
def test_power_spectrum_diagnoses(kind, fn, message):
    assert kind in exercises.get("01.power_spectrum").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("01.power_spectrum", fn)


# ------------------------------------------------------------------------------- 01.mel_filterbank
def _fb(change):
    def student(*, sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney",
                dtype=np.float32):
        kw = dict(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
        return change(kw)
    return student


def _hz(kw):
    fmax = kw["sr"] / 2 if kw["fmax"] is None else kw["fmax"]
    f = features.fft_frequencies(sr=kw["sr"], n_fft=kw["n_fft"])
    e = np.linspace(kw["fmin"], fmax, kw["n_mels"] + 2)
    lo, c, up = e[:-2, None], e[1:-1, None], e[2:, None]
    W = np.maximum(0, np.minimum((f - lo) / (c - lo), (up - f) / (up - c)))
    return W * 2 / (up - lo) if kw["norm"] == "slaney" else W


def _ref(**kw):
    return features.mel_filterbank(dtype=np.float64, **kw)


@pytest.mark.parametrize("kind, fn, message", [
    ("transposed", _fb(lambda kw: _ref(**kw).T), "is transposed"),
    ("missing slaney norm", _fb(lambda kw: _ref(**dict(kw, norm=None))), "has triangles of peak 1"),
    ("norm when none", _fb(lambda kw: _ref(**dict(kw, norm="slaney"))), "is area-normalised although norm=None"),
    ("hz spacing", _fb(_hz), "equally spaced in Hz"),
    ("wrong mel scale", _fb(lambda kw: _ref(**dict(kw, htk=False))), "uses the wrong mel scale"),
    ("fmin fmax ignored", _fb(lambda kw: _ref(**dict(kw, fmin=0.0, fmax=None))), "ignores fmin/fmax"),
    ("shape", _fb(lambda kw: _ref(**kw)[:-1]), r"expected shape \(40, 257\), got \(39, 257\)"),
    ("raises", _fb(lambda kw: _ref(**kw)[None] @ np.ones(3)), "your function raised ValueError"),
])
def test_mel_filterbank_diagnoses(kind, fn, message):
    assert kind in exercises.get("01.mel_filterbank").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("01.mel_filterbank", fn)


# ----------------------------------------------------------------------------------- 01.dct_matrix
def _dct(make):
    def student(n_in, n_out=None, *, norm="ortho", dtype=np.float64):
        K = n_in if n_out is None else n_out
        m, k = np.arange(n_in)[:, None], np.arange(K)[None, :]
        return make(m, k, n_in, norm)
    return student


def _s(k, M):
    return np.where(k == 0, np.sqrt(1 / (4 * M)), np.sqrt(1 / (2 * M)))


@pytest.mark.parametrize("kind, fn, message", [
    ("transposed", _dct(lambda m, k, M, norm: (2 * np.cos(np.pi * k * (2 * m + 1) / (2 * M))
                                              * (_s(k, M) if norm else 1)).T), "is transposed"),
    ("missing ortho scale", _dct(lambda m, k, M, norm: 2 * np.cos(np.pi * k * (2 * m + 1) / (2 * M))),
     "has no orthonormal scaling"),
    ("c0 scale", _dct(lambda m, k, M, norm: 2 * np.cos(np.pi * k * (2 * m + 1) / (2 * M))
                      * (np.sqrt(1 / (2 * M)) if norm else 1)), "scales c_0 like the other columns"),
    ("cosine argument", _dct(lambda m, k, M, norm: 2 * np.cos(np.pi * k * m / M) * (_s(k, M) if norm else 1)),
     r"uses cos\(pi k m / M\)"),
    ("scale when none", _dct(lambda m, k, M, norm: 2 * np.cos(np.pi * k * (2 * m + 1) / (2 * M)) * _s(k, M)),
     "is scaled although norm=None"),
    ("shape", _dct(lambda m, k, M, norm: np.zeros((M, M))), r"expected shape \(40, 13\), got \(40, 40\)"),
    ("raises", _dct(lambda m, k, M, norm: np.cos(m @ np.ones((3, 3)))), "your function raised ValueError"),
])
def test_dct_matrix_diagnoses(kind, fn, message):
    assert kind in exercises.get("01.dct_matrix").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("01.dct_matrix", fn)
