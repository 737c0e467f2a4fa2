r"""The mel scale and the triangular mel filterbank: power spectra (..., F, N/2+1) -> mel energies (..., F, M).

Stage 4 of the MFCC pipeline (:mod:`minikws.features`). Two mel scales: HTK's (python_speech_features,
``htk=True``) and Slaney's (librosa's default, linear below 1 kHz).
"""
import functools

import numpy as np

from minikws._validate import check_positive_int
from minikws.errors import MinikwsError
from minikws.features._checks import check_mel_args
from minikws.features.stft import fft_frequencies, spectrogram

__all__ = ["hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_filterbank", "melspectrogram"]

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
    sr, n_mels, fmin, fmax = check_mel_args(sr, n_fft, n_mels, fmin, fmax)
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
    return np.tensordot(P, W, axes=(-1, -1))  # P @ W.T as one matrix product, also for a stack of clips

