r"""python_speech_features' (HTK-style) MFCC: its filterbank snapped to FFT bins and its pipeline.

The second convention of :mod:`minikws.features` (pre-emphasis, uncentred frames, a rectangular window,
natural log, lifter from k = 0, c0 replaced by the log frame energy), built from the same stages.
"""
import math
from fractions import Fraction

import numpy as np

from minikws._validate import check_positive_int, check_real
from minikws.errors import MinikwsError
from minikws.features._checks import check_mel_args, check_signal
from minikws.features.cepstrum import dct_matrix, lifter, log_floor
from minikws.features.mel import hz_to_mel, mel_to_hz
from minikws.features.stft import frame, power_spectrum, preemphasis

__all__ = ["htk_filterbank", "mfcc_htk"]


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
    samplerate, nfilt, lowfreq, highfreq = check_mel_args(samplerate, nfft, nfilt, lowfreq, highfreq)
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
    signal = check_signal("signal", signal)
    samplerate = check_real("samplerate", samplerate, low=1.0)
    numcep = check_positive_int("numcep", numcep)
    nfilt = check_positive_int("nfilt", nfilt)
    if numcep > nfilt:
        raise MinikwsError(f"numcep: at most nfilt = {nfilt} coefficients exist, got {numcep}")
    frame_len = _round_half_up(check_real("winlen", winlen) * samplerate)
    frame_step = _round_half_up(check_real("winstep", winstep) * samplerate)
    if frame_len < 1 or frame_step < 1:
        raise MinikwsError(f"winlen, winstep: give frames of {frame_len} and steps of {frame_step} "
                           f"samples at {samplerate:g} Hz; both must be >= 1")
    W = htk_filterbank(nfilt=nfilt, nfft=nfft, samplerate=samplerate, lowfreq=lowfreq, highfreq=highfreq)
    ceplifter = check_real("ceplifter", ceplifter)
    preemph = check_real("preemph", preemph)

    x = preemphasis(signal.astype(np.float64), coef=preemph)             # (..., S)         [mfcc-preemph]
    S = x.shape[-1]
    F = 1 if S <= frame_len else 1 + -(-(S - frame_len) // frame_step)
    pad = [(0, 0)] * (x.ndim - 1) + [(0, (F - 1) * frame_step + frame_len - S)]
    frames = frame(np.pad(x, pad), frame_length=frame_len, hop_length=frame_step)  # (..., F, L) [mfcc-frame]
    if winfunc is not None:
        frames = frames * np.asarray(winfunc(frame_len), dtype=np.float64)
    P = power_spectrum(frames[..., :nfft], n_fft=nfft) / nfft            # (..., F, nfft/2+1) [mfcc-power]
    energy = P.sum(axis=-1)                                               # (..., F)
    E = P @ W.T                                                           # (..., F, nfilt)  [mfcc-melspec]
    C = log_floor(E) @ dct_matrix(nfilt, numcep)                          # (..., F, K) [mfcc-log], [mfcc-dct]
    if ceplifter > 0:
        C = lifter(C, L=ceplifter, offset=0)                              # (..., F, K)      [mfcc-lifter]
    if appendEnergy:
        C[..., 0] = log_floor(energy)
    return C.astype(signal.dtype, copy=False)
