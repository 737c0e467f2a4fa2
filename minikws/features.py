r"""Waveforms -> MFCC features, one public function per stage.

The pipeline, read top to bottom (each step cites the equation label the book uses)::

    y (..., S) --preemphasis--> --frame--> (..., F, N) --window--> --power_spectrum--> (..., F, N/2+1)
      --mel_filterbank--> (..., F, M) --power_to_db / log_floor--> --dct_matrix--> (..., F, K)
      --lifter--> --delta / cmvn / running_cmn--> features for the network

Two conventions are implemented, because the two reference libraries differ on almost every step:

================  ==============================================  =================================================
step              :func:`mfcc` (librosa 0.11 ``feature.mfcc``)     :func:`mfcc_htk` (python_speech_features 0.6)
================  ==============================================  =================================================
pre-emphasis      none                                            ``preemph=0.97``
frames            centred: ``n_fft // 2`` zeros each side          from sample 0, zeros appended to fill the last
window            periodic Hann, ``win_length`` centred in n_fft  rectangular (none)
power spectrum    :math:`|X_k|^2`                                 :math:`|X_k|^2 / N_{FFT}`
mel scale         Slaney (linear below 1 kHz), or HTK             HTK, triangles snapped to FFT bins
filter weights    area-normalised (``mel_norm="slaney"``)         peak 1
log               dB, floor ``top_db`` below the clip's maximum   natural log, zeros replaced by eps
cepstrum          orthonormal DCT-II                              orthonormal DCT-II
lifter            off (``lifter=0``); weights from n = 1          ``ceplifter=22``, weights from n = 0
c0                kept                                            replaced by log frame energy
================  ==============================================  =================================================

Feature layout. Every feature matrix in minikws is ``(..., F, K)``: frames first, coefficients last, the
same time-major order the LSTM reads. librosa returns ``(..., K, F)``; the two are a transpose
(``librosa.feature.mfcc(y=y, ...) == mfcc(y, ...).swapaxes(-1, -2)``).

Shapes use the package legend: S samples, F frames, N frame length (``n_fft``), M mel bands,
K cepstral coefficients; ``...`` any leading batch dimensions (clips, channels).
"""
import functools
import math
from fractions import Fraction

import numpy as np
import scipy.fft

from minikws._validate import check_float_array, check_positive_int
from minikws.errors import MinikwsError

__all__ = [
    "preemphasis",
    "num_frames",
    "frame",
    "get_window",
    "power_spectrum",
    "spectrogram",
    "fft_frequencies",
    "hz_to_mel",
    "mel_to_hz",
    "mel_frequencies",
    "mel_filterbank",
    "melspectrogram",
    "power_to_db",
    "log_floor",
    "dct_matrix",
    "lifter",
    "delta",
    "cmvn",
    "running_cmn",
    "mfcc",
    "htk_filterbank",
    "mfcc_htk",
]

_PAD_MODES = ("constant", "reflect", "edge")
_WINDOWS = ("hann", "hamming", "blackman", "rectangular", "boxcar", "ones")


# ----------------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------------

def _check_signal(name, y):
    y = check_float_array(name, y)
    if y.ndim == 0 or y.shape[-1] == 0:
        raise MinikwsError(f"{name}: expected shape (..., S) with S >= 1 samples, got {y.shape}")
    return y


def _check_frames(C):
    """C as a float feature array (..., F, K): frames along axis -2, coefficients along -1."""
    C = check_float_array("C", C)
    if C.ndim < 2:
        raise MinikwsError(f"C: expected shape (..., F, K), got {C.shape}")
    return C


def _check_real(name, value, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise MinikwsError(f"{name}: expected a finite number{bound}, got {value!r}")
    return float(value)


def _check_frame_args(n_fft, hop_length, win_length):
    n_fft = check_positive_int("n_fft", n_fft)
    hop_length = check_positive_int("hop_length", hop_length)
    win_length = n_fft if win_length is None else check_positive_int("win_length", win_length)
    if win_length > n_fft:
        raise MinikwsError(f"win_length: must be <= n_fft = {n_fft}, got {win_length}")
    return n_fft, hop_length, win_length


def _check_mel_args(sr, n_fft, n_mels, fmin, fmax):
    sr = _check_real("sr", sr, minimum=1.0)
    n_mels = check_positive_int("n_mels", n_mels)
    fmin = _check_real("fmin", fmin, minimum=0.0)
    fmax = sr / 2 if fmax is None else _check_real("fmax", fmax)
    if not fmin < fmax <= sr / 2:
        raise MinikwsError(f"fmin, fmax: expected 0 <= fmin < fmax <= sr/2 = {sr / 2:g} Hz, "
                           f"got fmin={fmin:g}, fmax={fmax:g}")
    return sr, n_mels, fmin, fmax


# ----------------------------------------------------------------------------------------------------
# Time domain: pre-emphasis, framing, windows
# ----------------------------------------------------------------------------------------------------

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
    y = _check_signal("y", y)
    coef = _check_real("coef", coef)
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
        Frame length N and hop h in samples.
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
    y = _check_signal("y", y)
    frame_length = check_positive_int("frame_length", frame_length)
    hop_length = check_positive_int("hop_length", hop_length)
    if pad_mode not in _PAD_MODES:
        raise MinikwsError(f"pad_mode: expected one of {_PAD_MODES}, got {pad_mode!r}")
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
    if window not in _WINDOWS:
        raise MinikwsError(f"window: expected one of {_WINDOWS} or an array, got {window!r}")
    win_length = check_positive_int("win_length", win_length)
    n_fft = win_length if n_fft is None else check_positive_int("n_fft", n_fft)
    if win_length > n_fft:
        raise MinikwsError(f"win_length: must be <= n_fft = {n_fft}, got {win_length}")
    return _window(window, win_length, n_fft, dtype)


# ----------------------------------------------------------------------------------------------------
# Frequency domain
# ----------------------------------------------------------------------------------------------------

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
    power = _check_real("power", power)
    if power <= 0:
        raise MinikwsError(f"power: expected a number > 0, got {power}")
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
    y = _check_signal("y", y)
    n_fft, hop_length, win_length = _check_frame_args(n_fft, hop_length, win_length)
    w = get_window(window, win_length, n_fft=n_fft, dtype=y.dtype)
    frames = frame(y, frame_length=n_fft, hop_length=hop_length, center=center, pad_mode=pad_mode)
    return power_spectrum(frames * w, n_fft=n_fft, power=power)


def fft_frequencies(*, sr=16000, n_fft=512):
    r"""Centre frequency of each FFT bin, :math:`f_k = k\, \mathrm{sr} / N` for :math:`0 \le k \le N/2`.

    Returns
    -------
    ndarray (N // 2 + 1,) float64, in Hz.
    """
    sr = _check_real("sr", sr, minimum=1.0)
    n_fft = check_positive_int("n_fft", n_fft)
    return np.arange(n_fft // 2 + 1) * (sr / n_fft)


# Slaney's (Auditory Toolbox) mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0                 # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mel
_LOGSTEP = np.log(6.4) / 27.0       # 27 mel per factor 6.4 in frequency


def hz_to_mel(f, *, htk=False):
    r"""Frequency in Hz -> mel, by the HTK formula or Slaney's.

    .. math::
        :label: mfcc-mel-htk

        m_{\text{htk}}(f) = 2595 \log_{10}\Bigl(1 + \frac{f}{700}\Bigr)

    .. math::
        :label: mfcc-mel-slaney

        m_{\text{slaney}}(f) = \begin{cases} \dfrac{3 f}{200} & f < 1000 \\[4pt]
            15 + \dfrac{27}{\ln 6.4} \ln\dfrac{f}{1000} & f \ge 1000 \end{cases}

    Parameters
    ----------
    f : float or array_like
        Frequencies in Hz (>= 0).
    htk : bool
        HTK's formula (python_speech_features, ``librosa ... htk=True``) instead of Slaney's.

    Returns
    -------
    float or ndarray of float64, the shape of ``f``.
    """
    f = np.asarray(f, dtype=np.float64)
    if htk:
        m = 2595.0 * np.log10(1.0 + f / 700.0)
    else:
        with np.errstate(divide="ignore"):
            log_part = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
        m = np.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)
    return float(m) if m.ndim == 0 else m


def mel_to_hz(m, *, htk=False):
    r"""Mel -> Hz, the inverse of :func:`hz_to_mel` (:eq:`mfcc-mel-htk`, :eq:`mfcc-mel-slaney`).

    .. math::

        f_{\text{htk}}(m) = 700\,(10^{m/2595} - 1), \qquad
        f_{\text{slaney}}(m) = \begin{cases} 200 m / 3 & m < 15 \\
            1000\, e^{(m - 15) \ln(6.4) / 27} & m \ge 15 \end{cases}

    Returns
    -------
    float or ndarray of float64, the shape of ``m``.
    """
    m = np.asarray(m, dtype=np.float64)
    if htk:
        f = 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    else:
        f = np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)
    return float(f) if f.ndim == 0 else f


def mel_frequencies(n, *, fmin=0.0, fmax=8000.0, htk=False):
    r"""``n`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax`` inclusive.

    Returns
    -------
    ndarray (n,) float64
    """
    n = check_positive_int("n", n)
    m = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n)
    return mel_to_hz(m, htk=htk)


@functools.lru_cache(maxsize=64)
def _mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype):
    f = fft_frequencies(sr=sr, n_fft=n_fft)
    edges = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)  # f_{m-1}, f_m, f_{m+1}
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (f - lower) / (centre - lower)
    falling = (upper - f) / (upper - centre)
    W = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        W *= 2.0 / (upper - lower)
    W = W.astype(dtype)
    W.setflags(write=False)
    return W


def mel_filterbank(*, sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=None, htk=False, norm="slaney",
                   dtype=np.float32):
    r"""Triangular mel filters on the FFT bins, one row per band (librosa's ``filters.mel``).

    Band :math:`m` rises from the edge :math:`f_{m-1}` to its centre :math:`f_m` and falls to
    :math:`f_{m+1}`, where :math:`f_0 < \dots < f_{M+1}` are :func:`mel_frequencies` from ``fmin`` to
    ``fmax``:

    .. math::
        :label: mfcc-filterbank

        W_{m,k} = \max\Bigl(0, \min\Bigl(\frac{f_k - f_{m-1}}{f_m - f_{m-1}},
                                         \frac{f_{m+1} - f_k}{f_{m+1} - f_m}\Bigr)\Bigr)

    With ``norm="slaney"`` each row is scaled so that the triangle's area in Hz is 1:

    .. math::
        :label: mfcc-slaney-norm

        W_{m,k} \leftarrow \frac{2}{f_{m+1} - f_{m-1}} W_{m,k}

    so that wide high-frequency bands do not outweigh narrow low ones.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_fft : int
        N; the filters cover the N // 2 + 1 bins of :func:`power_spectrum`.
    n_mels : int
        M.
    fmin, fmax : float
        Lowest and highest edge in Hz; ``fmax=None`` is ``sr / 2``.
    htk : bool
        HTK mel formula (:eq:`mfcc-mel-htk`) instead of Slaney's (:eq:`mfcc-mel-slaney`).
    norm : {"slaney", None}
        Area normalisation, or peak 1.
    dtype : float32 or float64

    Returns
    -------
    ndarray (M, N // 2 + 1)
        Read-only (cached: the same arguments return the same array).
    """
    n_fft = check_positive_int("n_fft", n_fft)
    sr, n_mels, fmin, fmax = _check_mel_args(sr, n_fft, n_mels, fmin, fmax)
    if norm not in ("slaney", None):
        raise MinikwsError(f"norm: expected 'slaney' or None, got {norm!r}")
    return _mel_filterbank(sr, n_fft, n_mels, fmin, fmax, bool(htk), norm, np.dtype(dtype))


def melspectrogram(y, *, sr=16000, n_fft=512, hop_length=160, win_length=400, window="hann",
                   center=True, pad_mode="constant", power=2.0, n_mels=40, fmin=0.0, fmax=None,
                   htk=False, norm="slaney"):
    r"""Mel-band energies: :func:`spectrogram` times :func:`mel_filterbank` transposed.

    .. math::
        :label: mfcc-melspec

        E_{t,m} = \sum_k P_t[k]\, W_{m,k}

    Returns
    -------
    ndarray (..., F, M)
        ``librosa.feature.melspectrogram`` (same keywords), transposed.
    """
    P = spectrogram(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                    center=center, pad_mode=pad_mode, power=power)
    W = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                       dtype=P.dtype)
    return P @ W.T


def power_to_db(E, *, ref=1.0, amin=1e-10, top_db=80.0):
    r"""Decibels, floored at ``top_db`` below the maximum of each clip.

    .. math::
        :label: mfcc-db

        L_{t,m} = \max\Bigl(10 \log_{10} \frac{\max(a, E_{t,m})}{\max(a, r)},\;
                            \max_{t', m'} L_{t',m'} - \text{top\_db}\Bigr)

    Parameters
    ----------
    E : ndarray (..., F, M)
        Non-negative energies.
    ref : float
        r, the level of 0 dB.
    amin : float
        a > 0, the floor that keeps the logarithm finite.
    top_db : float or None
        The dynamic range kept. The maximum is taken over the last two axes, i.e. per clip (per
        row for a 1-D ``E``). librosa takes it over the whole array, so for a batch of clips
        librosa's floor depends on the loudest clip in the batch; for one clip the two agree.

    Returns
    -------
    ndarray (..., F, M), the dtype of ``E``.
    """
    E = check_float_array("E", E)
    amin = _check_real("amin", amin)
    if amin <= 0:
        raise MinikwsError(f"amin: expected a number > 0, got {amin}")
    ref = _check_real("ref", ref)
    top_db = _check_real("top_db", top_db, minimum=0.0, allow_none=True)
    t = E.dtype.type
    L = np.log10(np.maximum(E, t(amin)))
    L *= t(10.0)
    L -= t(10.0 * np.log10(max(amin, abs(ref))))
    if top_db is not None:
        axes = tuple(range(max(E.ndim - 2, 0), E.ndim))
        np.maximum(L, L.max(axis=axes, keepdims=True) - t(top_db), out=L)
    return L


def log_floor(E, *, eps=np.finfo(np.float64).eps):
    r"""Natural log with exact zeros replaced by ``eps`` first, as python_speech_features does.

    .. math::
        :label: mfcc-log

        L_{t,m} = \ln \tilde E_{t,m}, \qquad \tilde E = \begin{cases} \epsilon & E = 0 \\
            E & \text{otherwise} \end{cases}

    Positive values below ``eps`` are kept as they are (this is python_speech_features' rule, not a
    ``max``), so near-silent frames give the same numbers as that library.

    Returns
    -------
    ndarray, the shape and dtype of ``E``.
    """
    E = check_float_array("E", E)
    return np.log(np.where(E == 0, E.dtype.type(eps), E))


@functools.lru_cache(maxsize=64)
def _dct_matrix(n_in, n_out, norm, dtype):
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    D = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    if norm == "ortho":
        D[:, 0] *= np.sqrt(1.0 / (4 * n_in))
        D[:, 1:] *= np.sqrt(1.0 / (2 * n_in))
    D = D.astype(dtype)
    D.setflags(write=False)
    return D


def dct_matrix(n_in, n_out=None, *, norm="ortho", dtype=np.float64):
    r"""The DCT-II as a matrix: ``C = L @ dct_matrix(M, K)`` is ``scipy.fft.dct(L, norm=norm)[..., :K]``.

    .. math::
        :label: mfcc-dct

        C_{t,k} = \sum_{m=0}^{M-1} L_{t,m}\, D_{m,k}, \qquad
        D_{m,k} = 2 s_k \cos\frac{\pi k (2m + 1)}{2M}, \qquad
        s_0 = \sqrt{\tfrac{1}{4M}},\ s_{k>0} = \sqrt{\tfrac{1}{2M}}

    With ``norm="ortho"`` (the :math:`s_k` above) the full M x M matrix is orthogonal; with
    ``norm=None``, :math:`s_k = 1`.

    Parameters
    ----------
    n_in : int
        M, the length transformed (mel bands).
    n_out : int, optional
        K <= M, how many coefficients to keep (default M).
    norm : {"ortho", None}
    dtype : float32 or float64

    Returns
    -------
    ndarray (M, K), read-only (cached).
    """
    n_in = check_positive_int("n_in", n_in)
    n_out = n_in if n_out is None else check_positive_int("n_out", n_out)
    if n_out > n_in:
        raise MinikwsError(f"n_out: at most n_in = {n_in} coefficients exist, got {n_out}")
    if norm not in ("ortho", None):
        raise MinikwsError(f"norm: expected 'ortho' or None, got {norm!r}")
    return _dct_matrix(n_in, n_out, norm, np.dtype(dtype))


def lifter(C, *, L=22, offset=0):
    r"""Cepstral liftering: scale coefficient k by a raised sine so high coefficients are not tiny.

    .. math::
        :label: mfcc-lifter

        \hat C_{t,k} = \Bigl(1 + \frac{L}{2} \sin\frac{\pi (k + o)}{L}\Bigr) C_{t,k}

    Parameters
    ----------
    C : ndarray (..., F, K)
    L : float
        The lifter length; 0 returns a copy of ``C``.
    offset : {0, 1}
        o. python_speech_features (and HTK, whose c0 is not liftered) count from k = 0;
        ``librosa.feature.mfcc(lifter=L)`` counts its first coefficient as k = 1.

    Returns
    -------
    ndarray (..., F, K)
    """
    C = check_float_array("C", C)
    L = _check_real("L", L, minimum=0.0)
    if offset not in (0, 1):
        raise MinikwsError(f"offset: expected 0 or 1, got {offset!r}")
    if L == 0:
        return C.copy()
    k = np.arange(C.shape[-1]) + offset
    w = 1.0 + (L / 2.0) * np.sin(np.pi * k / L)
    return C * w.astype(C.dtype)


def delta(C, *, N=2, order=1):
    r"""Regression (delta) coefficients over :math:`\pm N` frames, repeating the edge frames.

    .. math::
        :label: mfcc-delta

        d_t = \frac{\sum_{n=1}^{N} n\, (C_{t+n} - C_{t-n})}{2 \sum_{n=1}^{N} n^2}

    The HTK formula python_speech_features' ``delta(feat, N)`` implements (librosa's
    ``feature.delta`` uses a Savitzky-Golay filter instead and gives other numbers at the edges).

    Parameters
    ----------
    C : ndarray (..., F, K)
    N : int
        Half-width of the regression window.
    order : int
        1 for deltas, 2 for delta-deltas (the formula applied twice), ...

    Returns
    -------
    ndarray (..., F, K)
    """
    C = _check_frames(C)
    N = check_positive_int("N", N)
    order = check_positive_int("order", order)
    F = C.shape[-2]
    denominator = 2 * sum(n * n for n in range(1, N + 1))
    for _ in range(order):
        pad = [(0, 0)] * (C.ndim - 2) + [(N, N), (0, 0)]
        Cp = np.pad(C, pad, mode="edge")
        d = np.zeros_like(C)
        for n in range(1, N + 1):
            d += n * (Cp[..., N + n:N + n + F, :] - Cp[..., N - n:N - n + F, :])
        C = d / C.dtype.type(denominator)
    return C


def cmvn(C, *, lengths=None, variance=True, eps=1e-8):
    r"""Per-utterance cepstral mean (and variance) normalisation over frames.

    .. math::
        :label: mfcc-cmvn

        \hat C_{t,k} = \frac{C_{t,k} - \mu_k}{\max(\sigma_k, \epsilon)}, \qquad
        \mu_k = \frac1F \sum_t C_{t,k}, \quad \sigma_k^2 = \frac1F \sum_t (C_{t,k} - \mu_k)^2

    Parameters
    ----------
    C : ndarray (..., F, K)
    lengths : ndarray of int (...,), optional
        Valid frames per clip of a zero-padded batch (see :func:`num_frames`); the statistics use
        only those frames and the padding frames come out as 0.
    variance : bool
        Divide by :math:`\sigma_k` too (else only subtract the mean).
    eps : float
        Floor on :math:`\sigma_k`, so constant coefficients do not divide by zero.

    Returns
    -------
    ndarray (..., F, K)
    """
    C = _check_frames(C)
    F = C.shape[-2]
    if lengths is None:
        mask = np.ones(C.shape[:-1] + (1,), dtype=C.dtype)
    else:
        lengths = np.asarray(lengths)
        if lengths.shape != C.shape[:-2] or lengths.dtype.kind not in "iu" \
                or (lengths < 1).any() or (lengths > F).any():
            raise MinikwsError(f"lengths: expected integers in [1, {F}] of shape {C.shape[:-2]}, "
                               f"got {lengths!r}")
        mask = (np.arange(F) < lengths[..., None]).astype(C.dtype)[..., None]
    count = mask.sum(axis=-2, keepdims=True)
    mu = (C * mask).sum(axis=-2, keepdims=True) / count
    out = (C - mu) * mask
    if variance:
        sigma = np.sqrt((out * out).sum(axis=-2, keepdims=True) / count)
        out /= np.maximum(sigma, C.dtype.type(eps))
    return out


def running_cmn(C, *, window=100, state=None):
    r"""Causal cepstral mean normalisation: subtract a running mean of the frames seen so far.

    Per-utterance :func:`cmvn` needs the whole utterance before its first frame can be normalised; a
    keyword spotter listening to a stream cannot wait. The running mean uses only frames up to
    :math:`t`: their plain average for the first ``window`` frames, then an exponential moving average
    that forgets with time constant ``window`` frames,

    .. math::
        :label: mfcc-cmn-running

        m_t = m_{t-1} + \frac{C_t - m_{t-1}}{\min(t, W)}, \quad m_0 = 0, \qquad
        \hat C_t = C_t - m_t, \qquad t = 1, 2, \ldots

    so a clip shorter than :math:`W` frames is normalised by its cumulative mean, and the same formula
    keeps adapting to the speaker and channel of an endless stream. A channel (microphone, room, voice
    timbre) multiplies the spectrum by a slowly varying gain, which adds a constant to the cepstrum;
    subtracting :math:`m_t` removes it. Because :math:`m_t` depends only on frames :math:`\le t`,
    zero padding after a clip's end does not change its frames, and feeding a sequence in chunks with
    ``state`` gives exactly the result of one call on the whole of it.

    Parameters
    ----------
    C : ndarray (..., F, K)
        Cepstral frames (e.g. :func:`mfcc`), float32 or float64.
    window : int
        :math:`W`, frames: the running average's memory (100 frames = 2 s at a 20 ms hop).
    state : (m, t), optional
        What the previous call on the same stream returned: the mean :math:`m` (..., K) and the
        number of frames :math:`t` seen. ``None`` starts a new stream.

    Returns
    -------
    out : ndarray (..., F, K)
        :math:`\hat C`, in the dtype of ``C``.
    state : (ndarray (..., K), int)
        The mean and frame count after the last frame, for the next call.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.array([[1.0, 4.0], [3.0, 4.0], [5.0, 4.0]])
    >>> running_cmn(C)[0]
    array([[0., 0.],
           [1., 0.],
           [2., 0.]])
    """
    C = _check_frames(C)
    W = check_positive_int("window", window)
    lead, F = C.shape[:-2], C.shape[-2]
    if state is None:
        m, t0 = np.zeros(lead + C.shape[-1:], dtype=np.float64), 0
    else:
        try:
            m, t0 = state
        except (TypeError, ValueError):
            raise MinikwsError("state: expected (mean, frames) from the previous call") from None
        m = np.asarray(m, dtype=np.float64)
        if m.shape != lead + C.shape[-1:]:
            raise MinikwsError(f"state: the mean has shape {m.shape}, expected {lead + C.shape[-1:]} "
                               f"for C of shape {C.shape}")
        t0 = check_positive_int("state frames", t0, minimum=0)
    x = C.astype(np.float64, copy=False)
    out = np.empty(C.shape, dtype=np.float64)
    # Frames t0+1 .. W: the running average, m_t = (t0 m_{t0} + C_{t0+1} + ... + C_t) / t.
    n = max(0, min(F, W - t0))
    if n:
        t = np.arange(t0 + 1, t0 + n + 1, dtype=np.float64)[:, None]
        sums = t0 * m[..., None, :] + np.cumsum(x[..., :n, :], axis=-2)
        means = sums / t
        out[..., :n, :] = x[..., :n, :] - means
        m = means[..., -1, :]
    # Frames past W: the moving average m_t = (1 - a) m_{t-1} + a C_t with a = 1/W, a first-order
    # recursive filter along time (scipy.signal.lfilter runs it in C).
    if n < F:
        import scipy.signal

        a = 1.0 / W
        rest = x[..., n:, :]
        zi = ((1.0 - a) * m)[..., None, :]
        means, _ = scipy.signal.lfilter([a], [1.0, -(1.0 - a)], rest, axis=-2, zi=zi)
        out[..., n:, :] = rest - means
        m = means[..., -1, :]
    return out.astype(C.dtype, copy=False), (m, t0 + F)


# ----------------------------------------------------------------------------------------------------
# librosa's MFCC, batched and fast
# ----------------------------------------------------------------------------------------------------

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


def _check_mfcc_args(sr, n_mfcc, n_fft, hop_length, win_length, window, pad_mode, power, n_mels,
                     fmin, fmax, mel_norm, dct_type, norm, lifter, top_db, amin):
    n_fft, hop_length, win_length = _check_frame_args(n_fft, hop_length, win_length)
    sr, n_mels, fmin, fmax = _check_mel_args(sr, n_fft, n_mels, fmin, fmax)
    n_mfcc = check_positive_int("n_mfcc", n_mfcc)
    if n_mfcc > n_mels:
        raise MinikwsError(f"n_mfcc: at most n_mels = {n_mels} coefficients exist, got {n_mfcc}")
    if not isinstance(window, np.ndarray) and window not in _WINDOWS:
        raise MinikwsError(f"window: expected one of {_WINDOWS} or an array, got {window!r}")
    if pad_mode not in _PAD_MODES:
        raise MinikwsError(f"pad_mode: expected one of {_PAD_MODES}, got {pad_mode!r}")
    power = _check_real("power", power)
    if power <= 0:
        raise MinikwsError(f"power: expected a number > 0, got {power}")
    if mel_norm not in ("slaney", None):
        raise MinikwsError(f"mel_norm: expected 'slaney' or None, got {mel_norm!r}")
    if dct_type != 2:
        raise MinikwsError(f"dct_type: only the DCT-II (2) is implemented, got {dct_type!r}")
    if norm not in ("ortho", None):
        raise MinikwsError(f"norm: expected 'ortho' or None, got {norm!r}")
    _check_real("lifter", lifter, minimum=0.0)
    _check_real("top_db", top_db, minimum=0.0, allow_none=True)
    if _check_real("amin", amin) <= 0:
        raise MinikwsError(f"amin: expected a number > 0, got {amin}")
    return sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power


# Samples per block of the batched path (see mfcc): 1 MiB of float32 frames per FFT block.
_FFT_BLOCK_VALUES = 1 << 18
_PAD_BLOCK_VALUES = 1 << 22
_FFT_WORKERS = -1  # scipy.fft threads: all cores

# mfcc's keyword ``lifter`` (librosa's name) hides the function inside mfcc.
_lifter = lifter


def mfcc(y, *, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, window="hann",
         center=True, pad_mode="constant", power=2.0, n_mels=40, fmin=0.0, fmax=None, htk=False,
         mel_norm="slaney", dct_type=2, norm="ortho", lifter=0, top_db=80.0, amin=1e-10):
    r"""MFCCs with librosa's conventions and keyword names, for one clip or a batch, frames first.

    Given the same keyword values, ``mfcc(y, **kw)`` equals
    ``librosa.feature.mfcc(y=y, **kw).swapaxes(-1, -2)`` (librosa 0.11) for each clip: within 1e-4 of
    the largest magnitude in float32. The steps:

    1. centre the frames with ``n_fft // 2`` zeros on each side (:eq:`mfcc-frame`; librosa >= 0.10
       pads with zeros, ``pad_mode="constant"``; before 0.10 it reflected);
    2. periodic Hann window of ``win_length`` centred in ``n_fft`` (:eq:`mfcc-window`);
    3. power spectrum :math:`|X_t[k]|^2` (:eq:`mfcc-power`);
    4. Slaney-normalised mel filterbank on the Slaney mel scale, or the HTK scale with ``htk=True``
       (:eq:`mfcc-filterbank`, :eq:`mfcc-slaney-norm`);
    5. dB with ``amin=1e-10`` and a floor ``top_db=80`` dB below the clip's maximum (:eq:`mfcc-db`);
    6. orthonormal DCT-II, first ``n_mfcc`` coefficients (:eq:`mfcc-dct`);
    7. optional lifter counted from k = 1, as librosa does (:eq:`mfcc-lifter` with o = 1).

    A batch ``y`` of shape (..., S) is one vectorised computation (no loop over clips; the frames
    are processed in blocks that fit the CPU caches). Unlike ``librosa.feature.mfcc`` on a batch, the
    ``top_db`` floor is per clip, so a clip's features do not depend on the other clips in its batch.
    The window is applied to the ``win_length`` samples it covers and the FFT zero-pads them to
    ``n_fft``: the zeros of the padded window contribute nothing, and the shift of the frame only
    changes the phase, not the power.

    Parameters
    ----------
    y : ndarray (..., S)
        float32 or float64 waveforms; the computation runs in this dtype.
    sr : float
        Sample rate in Hz.
    n_mfcc : int
        K, coefficients kept (13).
    n_fft : int
        FFT size N (512: the power of two above the 400-sample window at 16 kHz).
    hop_length : int
        h (160 = 10 ms at 16 kHz).
    win_length : int or None
        Window length L <= N (400 = 25 ms at 16 kHz); None means N.
    window : {"hann", "hamming", "blackman", "rectangular"} or ndarray (L,)
    center : bool
        Pad ``n_fft // 2`` samples on both sides so that frame t is centred on sample t h.
    pad_mode : {"constant", "reflect", "edge"}
    power : float
        2 for power, 1 for magnitude.
    n_mels : int
        M, mel bands (40).
    fmin, fmax : float
        Band edges in Hz (0 and ``sr / 2``).
    htk : bool
        HTK mel formula instead of Slaney's.
    mel_norm : {"slaney", None}
        Filter area normalisation (librosa's ``mel_norm``).
    dct_type : {2}
    norm : {"ortho", None}
        DCT normalisation.
    lifter : float
        Lifter length; 0 (librosa's default) disables it.
    top_db : float or None
        Dynamic range kept per clip, in dB (80, librosa's ``power_to_db`` default; not a librosa
        ``mfcc`` keyword).
    amin : float
        Energy floor before the logarithm (1e-10, likewise).

    Returns
    -------
    ndarray (..., F, K)
        dtype of ``y``; F is :func:`num_frames` of S.
    """
    y = _check_signal("y", y)
    (sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power) = _check_mfcc_args(
        sr, n_mfcc, n_fft, hop_length, win_length, window, pad_mode, power, n_mels, fmin, fmax,
        mel_norm, dct_type, norm, lifter, top_db, amin)
    dtype = y.dtype
    if isinstance(window, np.ndarray):
        if window.size != win_length:
            raise MinikwsError(f"window: expected {win_length} samples (win_length), got {window.size}")
        w = check_float_array("window", window, ndim=1).astype(dtype)
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
    F = 1 + (S + 2 * pad - n_fft) // hop_length                           # (mfcc-num-frames)

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
        # (pb, F, L) view: frame t starts at sample t h + offset of the padded clip  (mfcc-frame)
        frames = np.lib.stride_tricks.as_strided(
            Yb[:, offset:], shape=(pb, F, win_length),
            strides=(Yb.strides[0], hop_length * Yb.strides[1], Yb.strides[1]), writeable=False)
        for b0 in range(0, pb, fft_block):
            b = min(fft_block, pb - b0)
            x = buf[:b]
            np.multiply(frames[b0:b0 + b], w, out=x[..., :win_length])     # (mfcc-window)
            X = scipy.fft.rfft(x, axis=-1, workers=_FFT_WORKERS)           # (b, F, N/2+1) (mfcc-power)
            Pb = P[:b * F]
            if power == 2.0:
                v = X.view(dtype).reshape(b * F, 2 * n_bins)               # re, im, re, im, ...
                np.multiply(v, v, out=v)
                np.add(v[:, 0::2], v[:, 1::2], out=Pb)                      # re^2 + im^2
            else:
                np.power(np.abs(X).reshape(b * F, n_bins), dtype.type(power), out=Pb)
            Eb = E[p0 + b0:p0 + b0 + b].reshape(b * F, n_mels)
            for m0, m1, k0, k1, Wg in bands:                                # (mfcc-melspec)
                np.matmul(Pb[:, k0:k1], Wg, out=Eb[:, m0:m1])

    L = power_to_db(E, amin=amin, top_db=top_db)                          # (B, F, M)  (mfcc-db)
    C = L @ _dct_matrix(n_mels, n_mfcc, norm, dtype)                      # (B, F, K)  (mfcc-dct)
    if lifter > 0:
        C = _lifter(C, L=lifter, offset=1)                                # (mfcc-lifter)
    return C.reshape(*lead, F, n_mfcc)


# ----------------------------------------------------------------------------------------------------
# python_speech_features' (HTK-style) MFCC
# ----------------------------------------------------------------------------------------------------

def _round_half_up(x):
    return math.floor(Fraction(x) + Fraction(1, 2))


def htk_filterbank(*, nfilt=26, nfft=512, samplerate=16000, lowfreq=0.0, highfreq=None):
    r"""python_speech_features' filterbank: HTK mel triangles whose corners snap to FFT bins.

    The M + 2 edges equally spaced in HTK mel (:eq:`mfcc-mel-htk`) become bin numbers
    :math:`b_j = \lfloor (N_{FFT} + 1) f_j / \mathrm{sr} \rfloor`; filter m rises linearly from 0 at
    :math:`b_{m-1}` to 1 at :math:`b_m` and falls back to 0 at :math:`b_{m+1}` (exclusive). Peak 1,
    no area normalisation. When two edges snap to the same bin the filter loses that side (or is
    all zeros), exactly as in the reference.

    Returns
    -------
    ndarray (nfilt, nfft // 2 + 1) float64
    """
    nfilt = check_positive_int("nfilt", nfilt)
    nfft = check_positive_int("nfft", nfft)
    samplerate, nfilt, lowfreq, highfreq = _check_mel_args(samplerate, nfft, nfilt, lowfreq, highfreq)
    mel = np.linspace(hz_to_mel(lowfreq, htk=True), hz_to_mel(highfreq, htk=True), nfilt + 2)
    b = np.floor((nfft + 1) * mel_to_hz(mel, htk=True) / samplerate)
    lower, centre, upper = b[:-2, None], b[1:-1, None], b[2:, None]
    i = np.arange(nfft // 2 + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rising = np.where((i >= lower) & (i < centre), (i - lower) / (centre - lower), 0.0)
        falling = np.where((i >= centre) & (i < upper), (upper - i) / (upper - centre), 0.0)
    return rising + falling


def mfcc_htk(signal, samplerate=16000, winlen=0.025, winstep=0.01, numcep=13, nfilt=26, nfft=512,
             lowfreq=0, highfreq=None, preemph=0.97, ceplifter=22, appendEnergy=True, winfunc=None):
    r"""python_speech_features 0.6 ``mfcc`` with its keyword names and its numbers (float64).

    1. pre-emphasis with ``preemph`` (:eq:`mfcc-preemph`);
    2. frames of ``round_half_up(winlen * samplerate)`` samples every
       ``round_half_up(winstep * samplerate)``, starting at sample 0, zeros appended so the last
       frame is full: :math:`F = 1 + \lceil (S - L) / h \rceil` (1 if S <= L);
    3. rectangular window (``winfunc(L)`` if given);
    4. :math:`P_t[k] = |X_t[k]|^2 / N_{FFT}` (:eq:`mfcc-power`; frames longer than ``nfft`` are
       truncated); frame energy :math:`e_t = \sum_k P_t[k]`;
    5. :func:`htk_filterbank`, natural log with zeros replaced by eps (:eq:`mfcc-log`);
    6. orthonormal DCT-II, ``numcep`` coefficients (:eq:`mfcc-dct`);
    7. lifter counted from k = 0 (:eq:`mfcc-lifter` with o = 0);
    8. with ``appendEnergy``, :math:`C_{t,0} \leftarrow \ln e_t`.

    Parameters
    ----------
    signal : ndarray (..., S)
        float32 or float64; computed in float64 (batches are vectorised).
    samplerate : float
    winlen, winstep : float
        Window length and step in seconds (25 ms, 10 ms).
    numcep : int
        K <= nfilt.
    nfilt : int
        Mel bands (26).
    nfft : int
    lowfreq, highfreq : float
        Filterbank edges in Hz (0 and ``samplerate / 2``).
    preemph : float
        Pre-emphasis coefficient; 0 disables it.
    ceplifter : float
        Lifter length; 0 disables it.
    appendEnergy : bool
        Replace c0 by the log frame energy.
    winfunc : callable, optional
        ``winfunc(L) -> ndarray (L,)``; default rectangular, as in python_speech_features.

    Returns
    -------
    ndarray (..., F, numcep), the dtype of ``signal``.
    """
    signal = _check_signal("signal", signal)
    samplerate = _check_real("samplerate", samplerate, minimum=1.0)
    numcep = check_positive_int("numcep", numcep)
    nfilt = check_positive_int("nfilt", nfilt)
    if numcep > nfilt:
        raise MinikwsError(f"numcep: at most nfilt = {nfilt} coefficients exist, got {numcep}")
    frame_len = _round_half_up(_check_real("winlen", winlen) * samplerate)
    frame_step = _round_half_up(_check_real("winstep", winstep) * samplerate)
    if frame_len < 1 or frame_step < 1:
        raise MinikwsError(f"winlen, winstep: give frames of {frame_len} and steps of {frame_step} "
                           f"samples at {samplerate:g} Hz; both must be >= 1")
    W = htk_filterbank(nfilt=nfilt, nfft=nfft, samplerate=samplerate, lowfreq=lowfreq, highfreq=highfreq)
    ceplifter = _check_real("ceplifter", ceplifter)
    preemph = _check_real("preemph", preemph)

    x = preemphasis(signal.astype(np.float64), coef=preemph)             # (mfcc-preemph)
    S = x.shape[-1]
    F = 1 if S <= frame_len else 1 + -(-(S - frame_len) // frame_step)
    pad = [(0, 0)] * (x.ndim - 1) + [(0, (F - 1) * frame_step + frame_len - S)]
    frames = frame(np.pad(x, pad), frame_length=frame_len, hop_length=frame_step)  # (..., F, L)
    if winfunc is not None:
        frames = frames * np.asarray(winfunc(frame_len), dtype=np.float64)
    P = power_spectrum(frames[..., :nfft], n_fft=nfft) / nfft            # (..., F, nfft/2+1)
    energy = P.sum(axis=-1)                                               # (..., F)
    E = P @ W.T                                                           # (..., F, nfilt)
    C = log_floor(E) @ _dct_matrix(nfilt, numcep, "ortho", np.dtype(np.float64))  # (..., F, K)
    if ceplifter > 0:
        C = lifter(C, L=ceplifter, offset=0)
    if appendEnergy:
        C[..., 0] = log_floor(energy)
    return C.astype(signal.dtype, copy=False)
