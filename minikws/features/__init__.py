r"""Waveforms -> MFCC features, one public function per stage, one module per group of stages.

The pipeline, read top to bottom (each step cites the equation label the book uses)::

    y (..., S) --preemphasis--> --frame--> (..., F, N) --window--> --power_spectrum--> (..., F, N/2+1)
      --mel_filterbank--> (..., F, M) --power_to_db / log_floor--> --dct_matrix--> (..., F, K)
      --lifter--> --delta / cmvn / running_cmn--> features for the network

==========================================  ==========================================================
module                                      stage
==========================================  ==========================================================
:mod:`minikws.features.stft`                pre-emphasis, framing, windows, power spectrum:
                                            :func:`preemphasis`, :func:`num_frames`, :func:`frame`,
                                            :func:`get_window`, :func:`power_spectrum`,
                                            :func:`spectrogram`, :func:`fft_frequencies`
:mod:`minikws.features.mel`                 mel scales and the mel filterbank: :func:`hz_to_mel`,
                                            :func:`mel_to_hz`, :func:`mel_frequencies`,
                                            :func:`mel_filterbank`, :func:`melspectrogram`
:mod:`minikws.features.cepstrum`            log, DCT-II, lifter, and the readable :func:`mfcc` that
                                            composes all the stages line by line:
                                            :func:`power_to_db`, :func:`log_floor`,
                                            :func:`dct_matrix`, :func:`lifter`, :func:`mfcc`
:mod:`minikws.features.normalize`           over time: :func:`delta`, :func:`cmvn`,
                                            :func:`running_cmn`
:mod:`minikws.features.htk`                 python_speech_features' pipeline: :func:`htk_filterbank`,
                                            :func:`mfcc_htk`
:mod:`minikws.features.fast`                :func:`mfcc_batch`: :func:`mfcc`'s numbers, cache-blocked
                                            and batched (what the model's front end calls)
==========================================  ==========================================================

Read :func:`mfcc` beside the book; run :func:`mfcc_batch` on many clips. The tests hold them to the same
numbers and both to librosa's.

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
hop               10 ms (160 samples at 16 kHz)                   10 ms (``winstep=0.01``)
================  ==============================================  =================================================

The keyword-spotting model and ``minikws mfcc`` compute these MFCCs with a 20 ms hop instead of 10 ms
(:func:`minikws.models.default_feature_settings`): the same one-second clip gives 101 frames from
``mfcc(y)`` and 51 from the model's settings.

Feature layout. Every feature matrix in minikws is ``(..., F, K)``: frames first, coefficients last, the
same time-major order the LSTM reads. librosa returns ``(..., K, F)``; the two are a transpose
(``librosa.feature.mfcc(y=y, ...) == mfcc(y, ...).swapaxes(-1, -2)``).

Shapes use the package legend: S samples, F frames, N frame length (``n_fft``), M mel bands,
K cepstral coefficients; ``...`` any leading batch dimensions (clips, channels).
"""
from minikws.features.stft import (fft_frequencies, frame, get_window, num_frames, power_spectrum,
                                   preemphasis, spectrogram)
from minikws.features.mel import hz_to_mel, mel_filterbank, mel_frequencies, mel_to_hz, melspectrogram
from minikws.features.cepstrum import dct_matrix, lifter, log_floor, mfcc, power_to_db
from minikws.features.normalize import cmvn, delta, running_cmn
from minikws.features.htk import htk_filterbank, mfcc_htk
from minikws.features.fast import mfcc_batch

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
    "mfcc_batch",
    "htk_filterbank",
    "mfcc_htk",
]
