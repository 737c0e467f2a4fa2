"""Argument checks shared by the feature stages (the generic ones live in :mod:`minikws._validate`).

Each raises :class:`minikws.errors.MinikwsError` with a one-line message naming the argument, before any
arithmetic runs.
"""
import numpy as np

from minikws._validate import check_float_array, check_positive_int, check_real
from minikws.errors import MinikwsError

PAD_MODES = ("constant", "reflect", "edge")
WINDOWS = ("hann", "hamming", "blackman", "rectangular", "boxcar", "ones")


def check_signal(name, y):
    """``y`` as a float waveform array (..., S) with S >= 1."""
    y = check_float_array(name, y)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise MinikwsError(f"{name}: expected shape (..., S) with S >= 1 samples, got {y.shape}")
    return y


def check_frames(C):
    """C as a float feature array (..., F, K): frames along axis -2, coefficients along -1."""
    C = check_float_array("C", C)
    if C.ndim < 2:
        raise MinikwsError(f"C: expected shape (..., F, K), got {C.shape}")
    return C


def check_above_zero(name, value):
    """``value`` as a float if it is a finite number > 0 (``power``, ``amin``)."""
    value = check_real(name, value)
    if value <= 0:
        raise MinikwsError(f"{name}: expected a number > 0, got {value}")
    return value


def check_frame_args(n_fft, hop_length, win_length):
    """N, h and L <= N as ints; ``win_length=None`` is N."""
    n_fft = check_positive_int("n_fft", n_fft)
    hop_length = check_positive_int("hop_length", hop_length)
    win_length = n_fft if win_length is None else check_positive_int("win_length", win_length)
    if win_length > n_fft:
        raise MinikwsError(f"win_length: must be <= n_fft = {n_fft}, got {win_length}")
    return n_fft, hop_length, win_length


def check_mel_args(sr, n_fft, n_mels, fmin, fmax):
    """sr, M, fmin and fmax (``None`` is sr / 2) with 0 <= fmin < fmax <= sr / 2."""
    sr = check_real("sr", sr, low=1.0)
    n_mels = check_positive_int("n_mels", n_mels)
    fmin = check_real("fmin", fmin, low=0.0)
    fmax = sr / 2 if fmax is None else check_real("fmax", fmax)
    if not fmin < fmax <= sr / 2:
        raise MinikwsError(f"fmin, fmax: expected 0 <= fmin < fmax <= sr/2 = {sr / 2:g} Hz, "
                           f"got fmin={fmin:g}, fmax={fmax:g}")
    return sr, n_mels, fmin, fmax


def check_mfcc_args(sr, n_mfcc, n_fft, hop_length, win_length, window, pad_mode, power, n_mels,
                    fmin, fmax, mel_norm, dct_type, norm, lifter, top_db, amin):
    """Every keyword of :func:`~minikws.features.mfcc` (and of ``mfcc_batch``), named as the caller wrote it.

    Returns the values the computation uses: sr, n_fft, hop_length, win_length, n_mels, fmin, fmax,
    power (floats and ints), lifter (float).
    """
    n_fft, hop_length, win_length = check_frame_args(n_fft, hop_length, win_length)
    sr, n_mels, fmin, fmax = check_mel_args(sr, n_fft, n_mels, fmin, fmax)
    n_mfcc = check_positive_int("n_mfcc", n_mfcc)
    if n_mfcc > n_mels:
        raise MinikwsError(f"n_mfcc: at most n_mels = {n_mels} coefficients exist, got {n_mfcc}")
    if isinstance(window, np.ndarray):
        check_float_array("window", window, ndim=1)
        if window.size != win_length:
            raise MinikwsError(f"window: expected {win_length} samples (win_length), got {window.size}")
    elif window not in WINDOWS:
        raise MinikwsError(f"window: expected one of {WINDOWS} or an array, got {window!r}")
    if pad_mode not in PAD_MODES:
        raise MinikwsError(f"pad_mode: expected one of {PAD_MODES}, got {pad_mode!r}")
    power = check_above_zero("power", power)
    if mel_norm not in ("slaney", None):
        raise MinikwsError(f"mel_norm: expected 'slaney' or None, got {mel_norm!r}")
    if dct_type != 2:
        raise MinikwsError(f"dct_type: only the DCT-II (2) is implemented, got {dct_type!r}")
    if norm not in ("ortho", None):
        raise MinikwsError(f"norm: expected 'ortho' or None, got {norm!r}")
    lifter = check_real("lifter", lifter, low=0.0)
    check_real("top_db", top_db, low=0.0, allow_none=True)
    check_above_zero("amin", amin)
    return sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power, lifter
