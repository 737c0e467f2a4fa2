r"""The fast MFCC: :func:`mfcc_batch`, the same numbers as the readable :func:`~minikws.features.mfcc`.

The readable :func:`~minikws.features.mfcc` is the pipeline as the book writes it, one stage function
per line. This module computes the same thing for a batch of clips several times faster (see
``benchmarks/bench_mfcc.py``) by changing how the arithmetic is laid out, never what it computes:

- frames are a strided view of the padded clips (no copy), and only the ``win_length`` samples under
  the window are multiplied; the FFT zero-pads them to ``n_fft`` (the window's zero padding contributes
  nothing, and moving the frame inside the FFT changes only the phase, not the power);
- the FFT, power and mel product run on a few clips at a time, so their frames and spectra stay in the
  CPU caches; the power :math:`\mathrm{re}^2 + \mathrm{im}^2` is computed on a real view of the
  complex spectrum, in place;
- the mel filterbank is banded, so it is multiplied in groups of filters restricted to the FFT bins
  they cover (a third of the work of the full matrix for 40 bands).

The tests check :func:`mfcc_batch` against :func:`~minikws.features.mfcc` and both against librosa's
golden fixtures.
"""
import functools

import numpy as np
import scipy.fft

from minikws.errors import MinikwsError
from minikws.features._checks import check_mfcc_args, check_signal
from minikws.features.cepstrum import _dct_matrix, lifter, power_to_db
from minikws.features.mel import _mel_filterbank
from minikws.features.stft import _window, get_window

__all__ = ["mfcc_batch"]

# Samples per block (see mfcc_batch): 1 MiB of float32 frames per FFT block.
_FFT_BLOCK_VALUES = 1 << 18
_PAD_BLOCK_VALUES = 1 << 22
_FFT_WORKERS = -1  # scipy.fft threads: all cores

# mfcc_batch's keyword ``lifter`` (librosa's name) hides the function of that name inside it.
_lifter = lifter


@functools.lru_cache(maxsize=32)
def _mel_bands(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype, group=8):
    # The filterbank is banded: filter m is non-zero only between its edges f_{m-1} and f_{m+1}.
    # Split it into groups of `group` filters and keep, for each, only the bins the group covers:
    # tuples (m0, m1, k0, k1, W[m0:m1, k0:k1].T). Multiplying by these does a third of the work of
    # the full matrix for 40 bands, and each product stays small enough that OpenBLAS runs it on
    # one thread (a threaded BLAS's synchronisation dominates small products when the cores are busy).
    W = _mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype)
    bands = []
    for m0 in range(0, n_mels, group):
        m1 = min(n_mels, m0 + group)
        covered = np.flatnonzero(W[m0:m1].any(axis=0))
        k0, k1 = (covered[0], covered[-1] + 1) if covered.size else (0, 1)
        Wg = np.ascontiguousarray(W[m0:m1, k0:k1].T)
        Wg.setflags(write=False)
        bands.append((m0, m1, int(k0), int(k1), Wg))
    return tuple(bands)



def mfcc_batch(y, *, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, window="hann",
               center=True, pad_mode="constant", power=2.0, n_mels=40, fmin=0.0, fmax=None, htk=False,
               mel_norm="slaney", dct_type=2, norm="ortho", lifter=0, top_db=80.0, amin=1e-10):
    r"""MFCCs of one clip or a batch, fast: :func:`~minikws.features.mfcc`'s arguments and numbers.

    ``mfcc_batch(y, **kw)`` equals ``mfcc(y, **kw)`` within float rounding (1e-5 of the largest
    magnitude in float32, 1e-9 in float64: tested on the librosa parity grid), and so librosa's
    ``feature.mfcc(y=y, **kw).swapaxes(-1, -2)`` for each clip. A batch ``y`` of shape (..., S) is one
    vectorised computation, processed in blocks that fit the CPU caches (see the module docstring); as
    in :func:`~minikws.features.mfcc`, the ``top_db`` floor is per clip, so a clip's features do not
    depend on the other clips in its batch. This is the MFCC the model's front end computes.

    The defaults are librosa's: 25 ms windows every 10 ms at 16 kHz; the model uses a 20 ms hop
    (:func:`minikws.models.default_feature_settings`).

    Parameters
    ----------
    y : ndarray (..., S)
        float32 or float64 waveforms, e.g. (S,) or (B, S); the computation runs in this dtype.
    sr, n_mfcc, n_fft, hop_length, win_length, window, center, pad_mode, power
        As in :func:`~minikws.features.mfcc`, with the same defaults.
    n_mels, fmin, fmax, htk, mel_norm, dct_type, norm, lifter, top_db, amin
        Likewise.

    Returns
    -------
    ndarray (..., F, K)
        dtype of ``y``; F is :func:`~minikws.features.num_frames` of S.
    """
    y = check_signal("y", y)
    sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power, lifter = check_mfcc_args(
        sr, n_mfcc, n_fft, hop_length, win_length, window, pad_mode, power, n_mels, fmin, fmax,
        mel_norm, dct_type, norm, lifter, top_db, amin)
    dtype = y.dtype
    if isinstance(window, np.ndarray):
        w = get_window(window, dtype=dtype)                                 # (L,), not padded
    else:
        w = _window(window, win_length, win_length, dtype)
    offset = (n_fft - win_length) // 2  # where the window sits inside each n_fft frame

    lead, S = y.shape[:-1], y.shape[-1]
    Y = y.reshape(-1, S)
    B = Y.shape[0]
    pad = n_fft // 2 if center else 0
    if S + 2 * pad < n_fft:
        raise MinikwsError(f"y: {S} samples are fewer than one frame of n_fft={n_fft}; "
                           f"pad the clip or use center=True")
    F = 1 + (S + 2 * pad - n_fft) // hop_length                           # [mfcc-num-frames]

    bands = _mel_bands(sr, n_fft, n_mels, fmin, fmax, bool(htk), mel_norm, dtype)
    n_bins = n_fft // 2 + 1
    E = np.empty((B, F, n_mels), dtype=dtype)
    # Blocks: the FFT, power and mel product run on a few clips at a time, so that their frames and
    # spectra stay in the CPU caches; padding and framing run on larger blocks (fewer calls).
    fft_block = max(1, _FFT_BLOCK_VALUES // (F * n_fft))
    pad_block = fft_block * max(1, _PAD_BLOCK_VALUES // (fft_block * F * n_fft))
    buf = np.zeros((min(fft_block, B), F, n_fft), dtype=dtype)  # zero tail beyond L written once
    P = np.empty((min(fft_block, B) * F, n_bins), dtype=dtype)
    for p0 in range(0, B, pad_block):
        pb = min(pad_block, B - p0)
        Yb = Y[p0:p0 + pb]
        if pad:
            Yb = np.pad(Yb, ((0, 0), (pad, pad)), mode=pad_mode)
        # (pb, F, L) view: frame t starts at sample t h + offset of the padded clip  [mfcc-frame]
        frames = np.lib.stride_tricks.as_strided(
            Yb[:, offset:], shape=(pb, F, win_length),
            strides=(Yb.strides[0], hop_length * Yb.strides[1], Yb.strides[1]), writeable=False)
        for b0 in range(0, pb, fft_block):
            b = min(fft_block, pb - b0)
            x = buf[:b]
            np.multiply(frames[b0:b0 + b], w, out=x[..., :win_length])     # [mfcc-window]
            X = scipy.fft.rfft(x, axis=-1, workers=_FFT_WORKERS)           # (b, F, N/2+1) [mfcc-power]
            Pb = P[:b * F]
            if power == 2.0:
                v = X.view(dtype).reshape(b * F, 2 * n_bins)               # re, im, re, im, ...
                np.multiply(v, v, out=v)
                np.add(v[:, 0::2], v[:, 1::2], out=Pb)                      # re^2 + im^2
            else:
                np.power(np.abs(X).reshape(b * F, n_bins), dtype.type(power), out=Pb)
            Eb = E[p0 + b0:p0 + b0 + b].reshape(b * F, n_mels)
            for m0, m1, k0, k1, Wg in bands:                                # [mfcc-melspec]
                np.matmul(Pb[:, k0:k1], Wg, out=Eb[:, m0:m1])

    L = power_to_db(E, amin=amin, top_db=top_db)                          # (B, F, M)  [mfcc-db]
    C = L @ _dct_matrix(n_mels, n_mfcc, norm, dtype)                      # (B, F, K)  [mfcc-dct]
    if lifter > 0:
        C = _lifter(C, L=lifter, offset=1)                                # [mfcc-lifter]
    return C.reshape(*lead, F, n_mfcc)

