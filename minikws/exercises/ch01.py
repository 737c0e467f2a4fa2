"""Exercises of chapter 1, from sound to MFCC (tutorials/01_sound_and_mfcc.ipynb).

    01.power_spectrum   |X_t[k]|^p of every frame, non-negative bins only     :eq:`mfcc-power`
    01.mel_filterbank   the triangular mel filters, optionally area-normalised :eq:`mfcc-filterbank`,
                        :eq:`mfcc-slaney-norm`
    01.dct_matrix       the DCT-II as an (M, K) matrix, orthonormal or not      :eq:`mfcc-dct`
"""
import numpy as np

from minikws import features
from minikws.exercises.core import Incorrect, call, compare, exercise


@exercise("01.power_spectrum",
          title="power_spectrum(frames, n_fft, power): |X_t[k]|^p for k = 0 .. N/2 of every frame",
          reference=features.power_spectrum,
          diagnoses=("shape", "all bins", "no zero padding", "magnitude", "normalised", "power ignored",
                     "raises"))
def check_power_spectrum(student, rng):
    # (leading shape, frame length L, n_fft): the general case first, then one frame, a batch of
    # clips, a frame zero-padded to n_fft, a frame truncated to n_fft.
    cases = [((7,), 16, None), ((1,), 9, None), ((2, 3), 8, None), ((4,), 12, 32), ((3,), 20, 16)]
    for lead, L, n_fft in cases:
        frames = rng.standard_normal(lead + (L,))
        N = L if n_fft is None else n_fft
        where = f" for frames of shape {frames.shape}" + ("" if n_fft is None else f" and n_fft={n_fft}")
        got = call(student, frames, n_fft=n_fft, power=2.0)
        expected = features.power_spectrum(frames, n_fft=n_fft, power=2.0)
        X_full = np.fft.fft(frames, n=N, axis=-1)
        if got.shape == X_full.shape and got.shape != expected.shape:
            raise Incorrect(f"power_spectrum(frames){where} returns all {N} bins: keep only the "
                            f"non-negative frequencies k = 0 .. N/2 ({N // 2 + 1} bins; the others "
                            "mirror them for a real frame)")
        if n_fft is not None and n_fft > L and got.shape == (lead + (L // 2 + 1,)):
            raise Incorrect(f"power_spectrum(frames){where} ignores n_fft: zero-pad each frame at the "
                            f"end to n_fft = {n_fft} samples before the transform")
        X = np.fft.rfft(frames, n=N, axis=-1)
        compare("power_spectrum(frames)", got, expected, where=where, mistakes={
            "is the magnitude |X|, not the power |X|^2 (power=2)": np.abs(X),
            "is divided by N_FFT (python_speech_features' convention): eq. mfcc-power has no "
            "normalisation": np.abs(X) ** 2 / N,
        })
    frames = rng.standard_normal((5, 16))
    got = call(student, frames, n_fft=None, power=1.0)
    expected = features.power_spectrum(frames, power=1.0)
    compare("power_spectrum(frames, power=1.0)", got, expected, mistakes={
        "ignores the argument power: with power=1 it must be the magnitude |X|": expected ** 2})
    return f"{len(cases)} frame shapes, zero padding and truncation to n_fft, power 2 and 1"


def _hz_spaced(sr, n_fft, n_mels, fmin, fmax, norm):
    """The filterbank with edges equally spaced in Hz instead of mel (a known mistake)."""
    f = features.fft_frequencies(sr=sr, n_fft=n_fft)
    edge = np.linspace(fmin, fmax, n_mels + 2)
    lower, centre, upper = edge[:-2, None], edge[1:-1, None], edge[2:, None]
    W = np.maximum(0.0, np.minimum((f - lower) / (centre - lower), (upper - f) / (upper - centre)))
    return W * (2.0 / (upper - lower)) if norm == "slaney" else W


@exercise("01.mel_filterbank",
          title="mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm): the (M, N/2+1) triangles",
          reference=features.mel_filterbank,
          diagnoses=("shape", "transposed", "missing slaney norm", "norm when none", "hz spacing",
                     "wrong mel scale", "fmin fmax ignored", "raises"))
def check_mel_filterbank(student, rng):
    cases = [dict(sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney"),
             dict(sr=16000, n_fft=512, n_mels=26, fmin=0.0, fmax=None, htk=True, norm=None),
             dict(sr=8000, n_fft=256, n_mels=1, fmin=0.0, fmax=None, htk=False, norm="slaney"),
             dict(sr=16000, n_fft=400, n_mels=20, fmin=300.0, fmax=6000.0, htk=True, norm="slaney"),
             dict(sr=22050, n_fft=1024, n_mels=64, fmin=50.0, fmax=8000.0, htk=False, norm=None)]
    for kw in cases:
        where = " for " + ", ".join(f"{k}={v!r}" for k, v in kw.items())
        got = call(student, dtype=np.float64, **kw)
        expected = features.mel_filterbank(dtype=np.float64, **kw)
        fmax = kw["sr"] / 2 if kw["fmax"] is None else kw["fmax"]
        other_scale = dict(kw, htk=not kw["htk"])
        other_norm = dict(kw, norm=None if kw["norm"] == "slaney" else "slaney")
        whole_band = dict(kw, fmin=0.0, fmax=None)
        mistakes = {
            "has triangles of peak 1: with norm='slaney' scale each row by 2 / (f_{m+1} - f_{m-1}) "
            "(eq. mfcc-slaney-norm)" if kw["norm"] == "slaney" else
            "is area-normalised although norm=None: leave the triangles at peak 1":
                features.mel_filterbank(dtype=np.float64, **other_norm),
            "uses the wrong mel scale: htk=True means 2595 log10(1 + f/700), htk=False Slaney's "
            "(pass htk on to mel_frequencies)": features.mel_filterbank(dtype=np.float64, **other_scale),
            "has edges equally spaced in Hz: space the M + 2 edges equally in mel "
            "(features.mel_frequencies)": _hz_spaced(kw["sr"], kw["n_fft"], kw["n_mels"], kw["fmin"],
                                                     fmax, kw["norm"]),
        }
        if kw["fmin"] > 0 or kw["fmax"] is not None:
            mistakes["ignores fmin/fmax: the first edge is fmin and the last fmax"] = \
                features.mel_filterbank(dtype=np.float64, **whole_band)
        compare("mel_filterbank(...)", got, expected, where=where, mistakes=mistakes)
    return f"{len(cases)} settings: both mel scales, both norms, one band, fmin/fmax"


@exercise("01.dct_matrix",
          title="dct_matrix(n_in, n_out, norm): the DCT-II as an (M, K) matrix D, C = L @ D",
          reference=features.dct_matrix,
          diagnoses=("shape", "transposed", "missing ortho scale", "c0 scale", "cosine argument",
                     "scale when none", "raises"))
def check_dct_matrix(student, rng):
    cases = [(40, 13, "ortho"), (26, 26, "ortho"), (1, 1, "ortho"), (12, 5, None), (7, None, "ortho")]
    for M, K, norm in cases:
        where = f" for n_in={M}, n_out={K}, norm={norm!r}"
        got = call(student, M, K, norm=norm, dtype=np.float64)
        expected = features.dct_matrix(M, K, norm=norm, dtype=np.float64)
        k_out = M if K is None else K
        m = np.arange(M)[:, None]
        k = np.arange(k_out)[None, :]
        raw = 2.0 * np.cos(np.pi * k * (2 * m + 1) / (2 * M))
        flat = raw * np.sqrt(1.0 / (2 * M))
        mistakes = {
            "uses cos(pi k m / M): the argument is pi k (2m + 1) / (2M), the samples sit at the "
            "centres of the bands": 2.0 * np.cos(np.pi * k * m / M) * (
                np.where(k == 0, np.sqrt(1.0 / (4 * M)), np.sqrt(1.0 / (2 * M))) if norm else 1.0),
        }
        if norm == "ortho":
            mistakes["has no orthonormal scaling: with norm='ortho' multiply column k by s_k"] = raw
            if M > 1 or k_out > 1:
                mistakes["scales c_0 like the other columns: s_0 = sqrt(1/(4M)), s_k = sqrt(1/(2M)) "
                         "for k > 0"] = flat
        else:
            mistakes["is scaled although norm=None: then every s_k = 1"] = expected * np.where(
                k == 0, np.sqrt(1.0 / (4 * M)), np.sqrt(1.0 / (2 * M)))
        compare("dct_matrix(...)", got, expected, where=where, mistakes=mistakes)
    return f"{len(cases)} sizes, orthonormal and not, n_out=None"
