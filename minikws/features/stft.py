r"""Time domain to short-time spectrum: pre-emphasis, framing, windows, the power spectrum.

Stages 1-3 of the MFCC pipeline (:mod:`minikws.features`): a waveform y (..., S) becomes frames
(..., F, N), windowed, and their power spectra (..., F, N // 2 + 1).
"""
import functools

import numpy as np
import scipy.fft

from minikws._validate import check_float_array, check_positive_int, check_real
from minikws.errors import MinikwsError
from minikws.features._checks import PAD_MODES, WINDOWS, check_above_zero, check_frame_args, check_signal

__all__ = ["preemphasis", "num_frames", "frame", "get_window", "power_spectrum", "spectrogram",
           "fft_frequencies"]


def preemphasis(y, *, coef=0.97):
    r"""First-order high-pass filter that lifts the high frequencies speech loses at the lips.

    .. math::
        :label: mfcc-preemph

        y'_0 = y_0, \qquad y'_n = y_n - \alpha\, y_{n-1} \quad (n \ge 1)

    Parameters
    ----------
    y : ndarray (..., S)
        Waveform(s), float32 or float64.
    coef : float
        :math:`\alpha`; 0 returns a copy of ``y``. python_speech_features uses 0.97.

    Returns
    -------
    ndarray (..., S)
        Same dtype as ``y``.
    """
    y = check_signal("y", y)
    coef = check_real("coef", coef)
    out = y.copy()
    out[..., 1:] -= y.dtype.type(coef) * y[..., :-1]
    return out


def num_frames(n_samples, *, n_fft=512, hop_length=160, center=True):
    r"""How many frames :func:`frame` (and so :func:`mfcc`) makes from ``n_samples`` samples.

    .. math::
        :label: mfcc-num-frames

        F = 1 + \left\lfloor \frac{S + 2\lfloor N/2 \rfloor - N}{h} \right\rfloor \ \text{(centred)},
        \qquad F = 1 + \left\lfloor \frac{S - N}{h} \right\rfloor \ \text{(not centred)}

    Parameters
    ----------
    n_samples : int or ndarray of int (B,)
        Clip lengths S (the true lengths of zero-padded clips, to build masks).
    n_fft, hop_length : int
        Frame length N and hop h in samples. The defaults are :func:`mfcc`'s (a 10 ms hop at 16 kHz);
        the model's features use a 20 ms hop (``hop_length=320`` at 16 kHz, see
        :func:`minikws.models.default_feature_settings`).
    center : bool
        Whether the clip is padded by ``n_fft // 2`` on both sides first.

    Returns
    -------
    int or ndarray of int64 (B,)
        F; 0 where an uncentred clip is shorter than one frame.
    """
    n_fft = check_positive_int("n_fft", n_fft)
    hop_length = check_positive_int("hop_length", hop_length)
    S = np.asarray(n_samples)
    if S.dtype.kind not in "iu" or (S < 0).any():
        raise MinikwsError(f"n_samples: expected non-negative integers, got {n_samples!r}")
    padded = S + 2 * (n_fft // 2) if center else S
    F = np.where(padded >= n_fft, 1 + (padded - n_fft) // hop_length, 0).astype(np.int64)
    return int(F) if F.ndim == 0 else F


def frame(y, *, frame_length=512, hop_length=160, center=False, pad_mode="constant"):
    r"""Cut ``y`` into overlapping frames: frame :math:`t` holds samples :math:`t h \ldots t h + N - 1`.

    .. math::
        :label: mfcc-frame

        x_t[n] = \tilde y[t h + n], \qquad 0 \le n < N,\ 0 \le t < F

    where :math:`\tilde y` is ``y`` padded with :math:`\lfloor N/2 \rfloor` samples on each side when
    ``center`` (so that frame :math:`t` is centred on sample :math:`t h`), else ``y`` itself.

    Parameters
    ----------
    y : ndarray (..., S)
    frame_length : int
        N.
    hop_length : int
        h.
    center : bool
        Pad first. librosa pads with zeros (``pad_mode="constant"``, its default since 0.10).
    pad_mode : {"constant", "reflect", "edge"}
        How ``center`` pads (``numpy.pad`` modes).

    Returns
    -------
    ndarray (..., F, N)
        A read-only strided view of ``y`` (or of its padded copy): no samples are copied. F is
        :func:`num_frames`.
    """
    y = check_signal("y", y)
    frame_length = check_positive_int("frame_length", frame_length)
    hop_length = check_positive_int("hop_length", hop_length)
    if pad_mode not in PAD_MODES:
        raise MinikwsError(f"pad_mode: expected one of {PAD_MODES}, got {pad_mode!r}")
    if center:
        pad = [(0, 0)] * (y.ndim - 1) + [(frame_length // 2, frame_length // 2)]
        y = np.pad(y, pad, mode=pad_mode)
    if y.shape[-1] < frame_length:
        raise MinikwsError(f"y: {y.shape[-1]} samples{' after padding' if center else ''} are fewer "
                           f"than one frame of frame_length={frame_length}")
    frames = np.lib.stride_tricks.sliding_window_view(y, frame_length, axis=-1)
    return frames[..., ::hop_length, :]


@functools.lru_cache(maxsize=64)
def _window(window, win_length, n_fft, dtype):
    n = np.arange(win_length, dtype=np.float64)
    phase = 2.0 * np.pi * n / win_length  # periodic: the period is win_length, not win_length - 1
    if window == "hann":
        w = 0.5 - 0.5 * np.cos(phase)
    elif window == "hamming":
        w = 0.54 - 0.46 * np.cos(phase)
    elif window == "blackman":
        w = 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2.0 * phase)
    else:
        w = np.ones(win_length)
    lpad = (n_fft - win_length) // 2
    w = np.pad(w, (lpad, n_fft - win_length - lpad)).astype(dtype)
    w.setflags(write=False)
    return w


def get_window(window="hann", win_length=400, *, n_fft=None, dtype=np.float64):
    r"""A periodic (DFT-even) window of ``win_length`` samples, zero-padded to ``n_fft`` at the centre.

    .. math::
        :label: mfcc-window

        w_{\text{hann}}[n] = \tfrac12 - \tfrac12 \cos\frac{2\pi n}{L}, \qquad
        w_{\text{hamming}}[n] = 0.54 - 0.46 \cos\frac{2\pi n}{L}, \qquad 0 \le n < L

    Periodic means the denominator is :math:`L`, not :math:`L - 1`: the window is one period of a
    cosine, as ``scipy.signal.get_window(..., fftbins=True)`` and librosa make it. The padding puts
    ``(n_fft - L) // 2`` zeros before the window, as ``librosa.util.pad_center`` does.

    Parameters
    ----------
    window : {"hann", "hamming", "blackman", "rectangular"} or ndarray (L,)
        A name ("boxcar" and "ones" are the rectangular window), or the window's samples.
    win_length : int
        L (ignored when ``window`` is an array).
    n_fft : int, optional
        Pad to this length (default: no padding).
    dtype : float32 or float64

    Returns
    -------
    ndarray (n_fft,) or (L,)
        Read-only when built from a name (it is cached).
    """
    dtype = np.dtype(dtype)
    if isinstance(window, np.ndarray):
        w = check_float_array("window", window, ndim=1)
        n_fft = w.size if n_fft is None else check_positive_int("n_fft", n_fft)
        if w.size > n_fft:
            raise MinikwsError(f"window: {w.size} samples do not fit in n_fft={n_fft}")
        lpad = (n_fft - w.size) // 2
        return np.pad(w, (lpad, n_fft - w.size - lpad)).astype(dtype)
    if window not in WINDOWS:
        raise MinikwsError(f"window: expected one of {WINDOWS} or an array, got {window!r}")
    win_length = check_positive_int("win_length", win_length)
    n_fft = win_length if n_fft is None else check_positive_int("n_fft", n_fft)
    if win_length > n_fft:
        raise MinikwsError(f"win_length: must be <= n_fft = {n_fft}, got {win_length}")
    return _window(window, win_length, n_fft, dtype)


def power_spectrum(frames, *, n_fft=None, power=2.0):
    r"""Magnitude (``power=1``) or power (``power=2``) spectrum of each frame, non-negative bins only.

    .. math::
        :label: mfcc-power

        X_t[k] = \sum_{n=0}^{N-1} x_t[n]\, e^{-2\pi i k n / N}, \qquad
        P_t[k] = |X_t[k]|^p, \qquad 0 \le k \le N/2

    Parameters
    ----------
    frames : ndarray (..., F, L)
        Windowed frames. Zero-padded to ``n_fft`` at the end if L < n_fft, truncated if L > n_fft.
    n_fft : int, optional
        N (default L).
    power : float
        p > 0.

    Returns
    -------
    ndarray (..., F, N // 2 + 1)
        Same dtype as ``frames`` (the FFT runs in float32 for float32 frames).
    """
    frames = check_float_array("frames", frames)
    if frames.ndim < 1:
        raise MinikwsError(f"frames: expected shape (..., F, L), got {frames.shape}")
    n_fft = frames.shape[-1] if n_fft is None else check_positive_int("n_fft", n_fft)
    power = check_above_zero("power", power)
    X = scipy.fft.rfft(frames, n=n_fft, axis=-1)
    if power == 2.0:
        return (X.real * X.real + X.imag * X.imag).astype(frames.dtype, copy=False)
    return (np.abs(X) ** power).astype(frames.dtype, copy=False)


def spectrogram(y, *, n_fft=512, hop_length=160, win_length=400, window="hann", center=True,
                pad_mode="constant", power=2.0):
    r"""Short-time power spectrum: :func:`frame`, multiply by :func:`get_window`, :func:`power_spectrum`.

    .. math::
        :label: mfcc-stft

        P_t[k] = \Bigl| \sum_{n=0}^{N-1} w[n]\, \tilde y[t h + n]\, e^{-2\pi i k n / N} \Bigr|^p

    The same numbers as ``np.abs(librosa.stft(y, ...)) ** power``, transposed.

    Parameters
    ----------
    y : ndarray (..., S)
    n_fft, hop_length, win_length : int
        N, h and the window's length L <= N.
    window, center, pad_mode, power
        See :func:`get_window`, :func:`frame`, :func:`power_spectrum`.

    Returns
    -------
    ndarray (..., F, N // 2 + 1)
    """
    y = check_signal("y", y)
    n_fft, hop_length, win_length = check_frame_args(n_fft, hop_length, win_length)
    w = get_window(window, win_length, n_fft=n_fft, dtype=y.dtype)
    frames = frame(y, frame_length=n_fft, hop_length=hop_length, center=center, pad_mode=pad_mode)
    return power_spectrum(frames * w, n_fft=n_fft, power=power)


def fft_frequencies(*, sr=16000, n_fft=512):
    r"""Centre frequency of each FFT bin, :math:`f_k = k\, \mathrm{sr} / N` for :math:`0 \le k \le N/2`.

    Returns
    -------
    ndarray (N // 2 + 1,) float64, in Hz.
    """
    sr = check_real("sr", sr, low=1.0)
    n_fft = check_positive_int("n_fft", n_fft)
    return np.arange(n_fft // 2 + 1) * (sr / n_fft)

