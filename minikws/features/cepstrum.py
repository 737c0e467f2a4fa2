r"""Band energies -> cepstra (log or dB, DCT-II, lifter), and the readable :func:`mfcc` of all stages.

Stages 5-7 of the MFCC pipeline (:mod:`minikws.features`), and :func:`mfcc`, which composes every stage
from :mod:`~minikws.features.stft`, :mod:`~minikws.features.mel` and this module, one line each: the
version to read beside the book. :func:`minikws.features.mfcc_batch` computes the same numbers faster.
"""
import functools

import numpy as np

from minikws._validate import check_float_array, check_positive_int, check_real
from minikws.errors import MinikwsError
from minikws.features._checks import check_above_zero, check_mfcc_args, check_signal
from minikws.features.mel import mel_filterbank
from minikws.features.stft import frame, get_window, power_spectrum

__all__ = ["power_to_db", "log_floor", "dct_matrix", "lifter", "mfcc"]


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
    amin = check_above_zero("amin", amin)
    ref = check_real("ref", ref)
    top_db = check_real("top_db", top_db, low=0.0, allow_none=True)
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
    L = check_real("L", L, low=0.0)
    if offset not in (0, 1):
        raise MinikwsError(f"offset: expected 0 or 1, got {offset!r}")
    if L == 0:
        return C.copy()
    k = np.arange(C.shape[-1]) + offset
    w = 1.0 + (L / 2.0) * np.sin(np.pi * k / L)
    return C * w.astype(C.dtype)




# mfcc's keyword ``lifter`` (librosa's name) hides the function of that name inside mfcc.
_lifter = lifter


def mfcc(y, *, sr=16000, n_mfcc=13, n_fft=512, hop_length=160, win_length=400, window="hann",
         center=True, pad_mode="constant", power=2.0, n_mels=40, fmin=0.0, fmax=None, htk=False,
         mel_norm="slaney", dct_type=2, norm="ortho", lifter=0, top_db=80.0, amin=1e-10):
    r"""MFCCs with librosa's conventions and keyword names, for one clip or a batch, frames first.

    Given the same keyword values, ``mfcc(y, **kw)`` equals
    ``librosa.feature.mfcc(y=y, **kw).swapaxes(-1, -2)`` (librosa 0.11) for each clip: within 1e-4 of
    the largest magnitude in float32. The body is the pipeline itself, one public stage per line:

    1. frames of N = ``n_fft`` samples every h = ``hop_length``, centred with ``n_fft // 2`` zeros on
       each side (:func:`frame`, :eq:`mfcc-frame`; librosa >= 0.10 pads with zeros,
       ``pad_mode="constant"``; before 0.10 it reflected);
    2. periodic Hann window of ``win_length`` centred in ``n_fft`` (:func:`get_window`, :eq:`mfcc-window`);
    3. power spectrum :math:`|X_t[k]|^2` (:func:`power_spectrum`, :eq:`mfcc-power`);
    4. Slaney-normalised mel filterbank on the Slaney mel scale, or the HTK scale with ``htk=True``
       (:func:`mel_filterbank`, :eq:`mfcc-filterbank`, :eq:`mfcc-slaney-norm`), applied as
       :eq:`mfcc-melspec`;
    5. dB with ``amin=1e-10`` and a floor ``top_db=80`` dB below the clip's maximum
       (:func:`power_to_db`, :eq:`mfcc-db`);
    6. orthonormal DCT-II, first ``n_mfcc`` coefficients (:func:`dct_matrix`, :eq:`mfcc-dct`);
    7. optional lifter counted from k = 1, as librosa does (:func:`lifter`, :eq:`mfcc-lifter` with o = 1).

    :func:`minikws.features.mfcc_batch` takes the same arguments and returns the same numbers (within
    float rounding) several times faster on a batch: the model's front end uses it. Unlike
    ``librosa.feature.mfcc`` on a batch, the ``top_db`` floor is per clip, so a clip's features do not
    depend on the other clips in its batch.

    The defaults are librosa's speech-recognition framing, 25 ms windows every **10 ms** at 16 kHz.
    The keyword-spotting model and ``minikws mfcc`` use a 20 ms hop instead
    (:func:`minikws.models.default_feature_settings`): a one-second clip gives 101 frames here and 51
    there. Pass ``**default_feature_settings(sr)`` to get the model's features.

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
        h (160 = 10 ms at 16 kHz, librosa's hop; the model uses 20 ms, 320 samples at 16 kHz).
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

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros(16000, dtype=np.float32)
    >>> mfcc(y).shape, mfcc(y, hop_length=320).shape
    ((101, 13), (51, 13))
    """
    y = check_signal("y", y)
    sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power, lifter = check_mfcc_args(
        sr, n_mfcc, n_fft, hop_length, win_length, window, pad_mode, power, n_mels, fmin, fmax,
        mel_norm, dct_type, norm, lifter, top_db, amin)
    x = frame(y, frame_length=n_fft, hop_length=hop_length, center=center,
              pad_mode=pad_mode)                                                # (..., F, N) [mfcc-frame]
    w = get_window(window, win_length, n_fft=n_fft, dtype=y.dtype)              # (N,)     [mfcc-window]
    P = power_spectrum(x * w, n_fft=n_fft, power=power)                         # (..., F, N/2+1) [mfcc-power]
    W = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=mel_norm,
                       dtype=y.dtype)                      # (M, N/2+1) [mfcc-filterbank], [mfcc-slaney-norm]
    # E = P @ W.T; tensordot makes it one matrix product (numpy's @ on a stack of clips' frames is ~25x slower)
    E = np.tensordot(P, W, axes=(-1, -1))                                       # (..., F, M) [mfcc-melspec]
    L = power_to_db(E, amin=amin, top_db=top_db)                                # (..., F, M) [mfcc-db]
    C = L @ dct_matrix(n_mels, n_mfcc, norm=norm, dtype=y.dtype)                # (..., F, K) [mfcc-dct]
    if lifter > 0:
        C = _lifter(C, L=lifter, offset=1)                                      # (..., F, K) [mfcc-lifter]
    return C
