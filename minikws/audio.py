r"""WAV files -> waveforms, and back.

:func:`load_wav` parses the RIFF/WAVE container itself (the standard library's ``wave`` module reads
integer PCM only), so that it reads every common kind of file: 8-bit unsigned, 16-, 24- and 32-bit
signed PCM, 32- and 64-bit IEEE float, plain or ``WAVE_FORMAT_EXTENSIBLE``. It trusts nothing the
header says: sizes are checked against the real size of the file before anything is allocated, and
every problem (empty, truncated, foreign, zero samples, NaN) is an :class:`AudioError` naming the file.

A WAV file is a list of chunks, each an id of 4 bytes, a little-endian 32-bit size and that many bytes
(plus one pad byte when the size is odd)::

    "RIFF" size "WAVE" | "fmt " 16+ bytes: format, channels, rate, bytes/s, block align, bits
                       | ... other chunks ("LIST", "fact", ...), skipped
                       | "data" size: the samples, channels interleaved

Integer samples are scaled to [-1, 1) by dividing by :math:`2^{b-1}` (8-bit samples are unsigned and
are centred on 128 first); float samples are returned as stored.
"""
import functools
import os
import struct
import tempfile
from fractions import Fraction

import numpy as np

from minikws._validate import check_float_array, check_positive_int
from minikws.errors import MinikwsError

__all__ = ["AudioError", "load_wav", "save_wav", "resample", "resample_ratio"]

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# The 14 bytes that follow the format code in the sub-format GUID of WAVE_FORMAT_EXTENSIBLE.
_KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# Resampling by up/down with terms above this would design a filter of millions of taps.
MAX_RATIO_TERM = 1000


class AudioError(MinikwsError):
    """An unreadable or invalid audio file; the message names the file and the problem."""


def _format_name(tag, bits):
    kind = {WAVE_FORMAT_PCM: "PCM", WAVE_FORMAT_IEEE_FLOAT: "float"}.get(tag, f"format 0x{tag:04x}")
    return f"{bits}-bit {kind}"


def _parse_fmt(path, body):
    """Return (tag, channels, rate, block_align, bits) from a ``fmt `` chunk's bytes."""
    if len(body) < 16:
        raise AudioError(f"{path}: 'fmt ' chunk of {len(body)} bytes is too short (need 16)")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise AudioError(f"{path}: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of {len(body)} bytes "
                             f"is too short (need 40)")
        sub = body[24:40]
        if sub[2:] != _KSDATAFORMAT_TAIL:
            raise AudioError(f"{path}: unknown WAVE_FORMAT_EXTENSIBLE sub-format {sub.hex()}")
        tag = struct.unpack("<H", sub[:2])[0]
    if tag not in (WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT):
        raise AudioError(f"{path}: unsupported WAV encoding 0x{tag:04x} (compressed?); "
                         f"convert it to PCM or float")
    allowed = (8, 16, 24, 32) if tag == WAVE_FORMAT_PCM else (32, 64)
    if bits not in allowed:
        raise AudioError(f"{path}: unsupported {_format_name(tag, bits)} samples")
    if channels < 1:
        raise AudioError(f"{path}: header says {channels} channels")
    if rate < 1:
        raise AudioError(f"{path}: header says a sample rate of {rate} Hz")
    if block_align != channels * bits // 8:
        raise AudioError(f"{path}: block align {block_align} does not match {channels} channels "
                         f"of {bits} bits")
    return tag, channels, rate, block_align, bits


def _read_chunks(path, f, file_size):
    """Walk the chunk list; return the parsed ``fmt `` and (offset, size) of ``data``."""
    head = f.read(12)
    if len(head) == 0:
        raise AudioError(f"{path}: empty file")
    if head[:4] in (b"RIFX", b"RF64", b"FORM"):
        raise AudioError(f"{path}: {head[:4].decode()} files are not supported; convert to a RIFF WAV")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        if len(head) < 12 and b"RIFF".startswith(head[:4]):
            raise AudioError(f"{path}: truncated header ({file_size} bytes)")
        raise AudioError(f"{path}: not a WAV file (starts with {head[:12]!r})")
    fmt = data = None
    pos = 12
    while pos + 8 <= file_size:
        f.seek(pos)
        chunk_id, size = struct.unpack("<4sI", f.read(8))
        body_start = pos + 8
        if chunk_id == b"data":
            if size > file_size - body_start:
                raise AudioError(f"{path}: header claims {size} bytes of samples but only "
                                 f"{file_size - body_start} follow (truncated or corrupt file)")
            data = (body_start, size)
            if fmt is not None:
                break
        elif chunk_id == b"fmt ":
            if size > file_size - body_start:
                raise AudioError(f"{path}: truncated 'fmt ' chunk")
            if size > 1024:
                raise AudioError(f"{path}: 'fmt ' chunk claims {size} bytes")
            fmt = _parse_fmt(path, f.read(size))
        elif size > file_size - body_start:
            raise AudioError(f"{path}: chunk {chunk_id!r} claims {size} bytes past the end of the file")
        pos = body_start + size + (size & 1)
    if fmt is None:
        raise AudioError(f"{path}: no 'fmt ' chunk (truncated or not a WAV file)")
    if data is None:
        raise AudioError(f"{path}: no 'data' chunk (truncated file?)")
    return fmt, data


def _decode(raw, bits, tag):
    """Bytes of interleaved samples -> float array in [-1, 1) (float formats as stored)."""
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        return np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8")
    if bits == 8:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(2 ** 15)
    if bits == 24:
        # Put each 3-byte sample in the top of a 4-byte word; the arithmetic shift sign-extends.
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        words = np.zeros((b.shape[0], 4), dtype=np.uint8)
        words[:, 1:] = b
        return (words.view("<i4")[:, 0] >> 8).astype(np.float32) / np.float32(2 ** 23)
    return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2.0 ** 31


@functools.lru_cache(maxsize=128)
def _lowpass(up, down, dtype):
    """``scipy.signal.resample_poly``'s own default anti-aliasing filter for ``up / down`` (a
    Kaiser-windowed sinc, beta 5, 10 zero crossings per side at the slower rate), designed once per
    ratio and dtype: training draws the same few speed ratios for thousands of clips, and designing the
    filter took a third of the time of a perturbation. Read-only, so the cache cannot be altered."""
    from scipy.signal import firwin

    rate = max(up, down)
    h = firwin(20 * rate + 1, 1.0 / rate, window=("kaiser", 5.0)).astype(dtype)
    h.setflags(write=False)
    return h


def resample_ratio(y, up, down):
    r"""``y`` resampled by the rational factor ``up / down`` along its last axis, in ``y``'s dtype.

    ``scipy.signal.resample_poly`` (upsample by ``up``, low-pass, downsample by ``down``) with its
    default filter, designed once per ratio (:func:`_lowpass`). The one polyphase resampler of the
    package: :func:`resample` (sample rates) and :func:`minikws.augment.speed_perturb` (tape speed)
    are both this function.

    Parameters
    ----------
    y : ndarray of float (..., S)
    up, down : int
        Positive terms of the ratio (reduced by their gcd).

    Returns
    -------
    ndarray (..., S')
        :math:`S' = \lceil S \cdot up / down \rceil`; a copy of ``y`` when ``up == down``.
    """
    from scipy.signal import resample_poly

    ratio = Fraction(check_positive_int("up", up), check_positive_int("down", down))
    if ratio == 1:
        return np.array(y, copy=True)
    up, down = ratio.numerator, ratio.denominator
    return resample_poly(y, up, down, axis=-1, window=_lowpass(up, down, np.asarray(y).dtype.str))


def resample(y, *, orig_sr, target_sr, name="y", dtype=np.float32):
    r"""Resample along the last axis by the exact ratio of two sample rates.

    The ratio ``target_sr / orig_sr`` is reduced to lowest terms :math:`p / q`; the signal is
    upsampled by p, low-pass filtered (Kaiser-windowed sinc) and downsampled by q
    (:func:`resample_ratio`, in float64).

    Parameters
    ----------
    y : ndarray (..., S)
    orig_sr, target_sr : int
    name : str
        How to name the signal in an error message (the file name in :func:`load_wav`).
    dtype : numpy dtype
        Of the result (float32 by default).

    Returns
    -------
    ndarray (..., S')
        :math:`S' = \lceil S p / q \rceil`.
    """
    orig_sr = check_positive_int("orig_sr", orig_sr)
    target_sr = check_positive_int("target_sr", target_sr)
    if orig_sr == target_sr:
        return np.asarray(y, dtype=dtype)
    ratio = Fraction(target_sr, orig_sr)
    if max(ratio.numerator, ratio.denominator) > MAX_RATIO_TERM:
        raise AudioError(f"{name}: cannot resample {orig_sr} Hz to {target_sr} Hz (ratio "
                         f"{ratio.numerator}/{ratio.denominator} needs too long a filter); "
                         f"convert the file first")
    out = resample_ratio(np.asarray(y, dtype=np.float64), ratio.numerator, ratio.denominator)
    return out.astype(dtype, copy=False)


def load_wav(path, sr=None, mono=True):
    """Read a WAV file as float32 samples.

    Parameters
    ----------
    path : str or os.PathLike
    sr : int, optional
        Resample to this rate (:func:`resample`); default: keep the file's rate.
    mono : bool
        Average the channels (as librosa does); otherwise return every channel.

    Returns
    -------
    y : ndarray (S,) if ``mono`` else (channels, S)
        float32; integer formats in [-1, 1), float formats as stored.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    AudioError
        ``path`` is a directory or unreadable; the file is empty, truncated, not a WAV file, in an
        unsupported encoding, claims more bytes than it holds, has no samples, or holds NaN or
        infinite samples. The message starts with the path.
    """
    if sr is not None:
        sr = check_positive_int("sr", sr)
    name = os.fspath(path)
    if os.path.isdir(name):
        raise AudioError(f"{name}: is a directory, not a WAV file")
    try:
        with open(name, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            (tag, channels, rate, block_align, bits), (offset, size) = _read_chunks(name, f, file_size)
            n = size // block_align
            if n == 0:
                raise AudioError(f"{name}: no samples ('data' chunk of {size} bytes)")
            f.seek(offset)
            raw = f.read(n * block_align)
    except (FileNotFoundError, AudioError):
        raise
    except PermissionError as exc:
        raise AudioError(f"{name}: permission denied") from exc
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) != n * block_align:
        raise AudioError(f"{name}: file shrank while being read")
    x = _decode(raw, bits, tag).reshape(n, channels)
    if not np.isfinite(x).all():
        raise AudioError(f"{name}: contains NaN or infinite samples")
    y = x.mean(axis=1) if mono else x.T
    y = np.ascontiguousarray(y, dtype=np.float32)
    if sr is not None and sr != rate:
        y = resample(y, orig_sr=rate, target_sr=sr, name=name)
        rate = sr
    return y, int(rate)


def save_wav(path, y, sr):
    """Write 16-bit PCM, atomically (a temporary file in the same folder, then ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
    y : ndarray (S,) or (channels, S)
        float samples; values outside [-1, 1] are clipped. Sample x is stored as
        ``round(32768 x)`` clipped to [-32768, 32767], so :func:`load_wav` returns it within 2^-16
        (1.0 itself comes back as 1 - 2^-15).
    sr : int
        Sample rate in Hz.
    """
    y = check_float_array("y", y, ndim=(1, 2))
    sr = check_positive_int("sr", sr)
    frames = y[None, :] if y.ndim == 1 else y
    channels, n = frames.shape
    if n == 0:
        raise MinikwsError(f"y: no samples (shape {y.shape})")
    pcm = np.clip(np.round(frames.T.astype(np.float64) * 32768.0), -32768, 32767).astype("<i2")
    data = pcm.tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16,
                         WAVE_FORMAT_PCM, channels, sr, sr * channels * 2, channels * 2, 16,
                         b"data", len(data))
    name = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(name))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates files readable by their owner only
        os.replace(tmp, name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
