"""WAV reading for the loaders: :func:`minikws.audio.load_wav` when present, else a stdlib reader.

The fallback reads PCM WAV (8-, 16-, 24- or 32-bit integer) with the ``wave`` module, mixes to mono
and resamples with ``scipy.signal.resample_poly`` by the exact ratio ``sr / rate`` reduced to lowest
terms. Ratios whose terms exceed ``MAX_RATIO_TERM`` (e.g. 7999 Hz -> 16000 Hz) would need a filter of
hundreds of thousands of taps and are refused instead.
"""
import os
import tempfile
import wave
from fractions import Fraction

import numpy as np

from minikws.errors import MinikwsError

MAX_RATIO_TERM = 1000


def read_wav(path, sr=None):
    """Read ``path`` as mono float32 in [-1, 1], resampled to ``sr`` if given; return ``(y, rate)``."""
    try:
        from minikws.audio import load_wav
    except ImportError:
        load_wav = None
    if load_wav is not None:
        y, rate = load_wav(path, sr=sr, mono=True)
        return np.asarray(y, dtype=np.float32), int(rate)
    y, rate = _read_pcm(path)
    if sr is not None and sr != rate:
        y = resample(y, rate, sr, name=path)
        rate = sr
    return y.astype(np.float32), int(rate)


def resample(y, sr_in, sr_out, *, name="audio"):
    """``y`` (S,) from ``sr_in`` to ``sr_out`` Hz with ``scipy.signal.resample_poly``."""
    from scipy.signal import resample_poly

    ratio = Fraction(int(sr_out), int(sr_in))
    if max(ratio.numerator, ratio.denominator) > MAX_RATIO_TERM:
        raise MinikwsError(f"{name}: cannot resample {sr_in} Hz to {sr_out} Hz (ratio "
                           f"{ratio.numerator}/{ratio.denominator}); convert the file first")
    return resample_poly(np.asarray(y, dtype=np.float64), ratio.numerator, ratio.denominator)


def _read_pcm(path):
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(n)
    except FileNotFoundError:
        raise MinikwsError(f"{path}: no such file") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise MinikwsError(f"{path}: not a readable PCM WAV file ({exc})") from None
    if rate <= 0 or channels <= 0:
        raise MinikwsError(f"{path}: bad header ({channels} channels at {rate} Hz)")
    usable = len(data) // (width * channels) * width * channels
    data = data[:usable]
    if width == 1:
        x = (np.frombuffer(data, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(data, "<i2") / 32768.0
    elif width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(data, "<i4") / 2147483648.0
    else:
        raise MinikwsError(f"{path}: unsupported sample width {width} bytes")
    return x.reshape(-1, channels).mean(axis=1), rate


def write_wav(path, y, sr):
    """Write ``y`` (S,) as 16-bit PCM at ``sr`` Hz, atomically: :func:`minikws.audio.save_wav` when
    present, else a temporary file in the same folder renamed into place."""
    try:
        from minikws.audio import save_wav
    except ImportError:
        save_wav = None
    if save_wav is not None:
        save_wav(path, np.asarray(y, dtype=np.float32), int(sr))
        return
    # scale by 2^15 as the reader divides by it, so in-range samples round-trip to within half a step
    pcm = np.clip(np.round(np.asarray(y, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".wav.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sr))
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
