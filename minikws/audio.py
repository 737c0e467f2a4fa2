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
import io
import os
import stat
import struct
from fractions import Fraction

import numpy as np

from minikws._fileio import atomic_write
from minikws._validate import check_float_array, check_positive_int
from minikws.errors import MinikwsError

__all__ = ["AudioError", "WavStream", "load_wav", "decode_wav", "save_wav", "resample", "resample_ratio",
           "duration_warning", "MAX_FLOAT_PEAK", "SHORT_CLIP_S", "LONG_RECORDING_S"]

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# The 14 bytes that follow the format code in the sub-format GUID of WAVE_FORMAT_EXTENSIBLE.
_KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# Float samples beyond this (60 dB above full scale) are not a recording as stored: such a file is
# refused rather than fed to the MFCC, whose power spectrum would overflow.
MAX_FLOAT_PEAK = 1000.0

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


# A data size of 0 or 0xFFFFFFFF is what ffmpeg, sox and arecord write when they stream to a pipe and
# cannot seek back to fill it in: the samples run to the end of the file or stream.
_SIZE_TO_THE_END = (0, 0xFFFFFFFF)
_MAX_FMT = 1024  # a 'fmt ' chunk is 16, 18 or 40 bytes; more is broken or hostile


def _read_exactly(f, n):
    """``n`` bytes from ``f`` (a pipe may return fewer per call); fewer only at the end."""
    parts, got = [], 0
    while got < n:
        b = f.read(min(n - got, 1 << 20))  # a stream's header may claim gigabytes: never ask for them at once
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _skip(name, f, n, seekable):
    if seekable:
        f.seek(n, os.SEEK_CUR)
        return
    while n > 0:
        b = f.read(min(n, 1 << 16))
        if not b:
            raise AudioError(f"{name}: stream ended inside a chunk (truncated?)")
        n -= len(b)


def _read_header(name, f, file_size):
    """Read the RIFF header and the chunks before the samples, leaving ``f`` at the first sample.

    Parameters
    ----------
    name : str
        How to name the file or stream in errors.
    f : binary file object
        Read forward only when ``file_size`` is None (a pipe, a terminal, ``/dev/stdin``).
    file_size : int or None
        The size of a regular file, against which every size in the header is checked.

    Returns
    -------
    fmt : tuple
        (tag, channels, rate, block_align, bits) of :func:`_parse_fmt`.
    size : int or None
        Bytes of samples; None when they run to the end of a stream.
    """
    seekable = file_size is not None
    head = _read_exactly(f, 12)
    if len(head) == 0:
        raise AudioError(f"{name}: empty file")
    if head[:4] in (b"RIFX", b"RF64", b"FORM"):
        raise AudioError(f"{name}: {head[:4].decode()} files are not supported; convert to a RIFF WAV")
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        if len(head) < 12 and b"RIFF".startswith(head[:4]):
            raise AudioError(f"{name}: truncated header ({len(head)} bytes)")
        raise AudioError(f"{name}: not a WAV file (starts with {head[:12]!r})")
    fmt = early_data = None
    pos = 12
    while True:
        hdr = _read_exactly(f, 8)
        if len(hdr) < 8:
            break
        chunk_id, size = struct.unpack("<4sI", hdr)
        body = pos + 8
        left = None if file_size is None else file_size - body
        if chunk_id == b"data":
            if size in _SIZE_TO_THE_END:
                size = left
            elif left is not None and size > left:
                raise AudioError(f"{name}: header claims {size} bytes of samples but only {left} follow "
                                 f"(truncated or corrupt file)")
            if fmt is not None:
                return fmt, size
            if not seekable:
                raise AudioError(f"{name}: the 'data' chunk comes before the 'fmt ' chunk, which a "
                                 f"stream cannot be read with; save it to a file first")
            early_data = (body, size)
        elif chunk_id == b"fmt ":
            if left is not None and size > left:
                raise AudioError(f"{name}: truncated 'fmt ' chunk")
            if size > _MAX_FMT:
                raise AudioError(f"{name}: 'fmt ' chunk claims {size} bytes")
            raw = _read_exactly(f, size)
            if len(raw) < size:
                raise AudioError(f"{name}: truncated 'fmt ' chunk")
            fmt = _parse_fmt(name, raw)
            if early_data is not None:
                f.seek(early_data[0])
                return fmt, early_data[1]
        elif left is not None and size > left:
            raise AudioError(f"{name}: chunk {chunk_id!r} claims {size} bytes past the end of the file")
        read = size if chunk_id == b"fmt " else 0  # bytes of this chunk's body already read
        pos = body + size + (size & 1)
        if seekable:
            f.seek(pos)
        else:
            _skip(name, f, size - read + (size & 1), seekable)
    if fmt is None:
        raise AudioError(f"{name}: no 'fmt ' chunk (truncated or not a WAV file)")
    raise AudioError(f"{name}: no 'data' chunk (truncated file?)")


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


def _samples(name, raw, fmt, mono, start=0):
    """Whole frames of ``raw`` -> float32 (S,) mono or (channels, S), checked for NaN and huge values."""
    tag, channels, _, block_align, bits = fmt
    n = len(raw) // block_align
    x = _decode(raw[:n * block_align], bits, tag).reshape(n, channels)
    if tag == WAVE_FORMAT_IEEE_FLOAT and n:
        # Checked in the stored dtype: a float64 1e299 would become inf (and warn) in float32.
        if not np.isfinite(x).all():
            at = start + int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise AudioError(f"{name}: contains NaN or infinite samples (first at sample {at})")
        peak = float(np.max(np.abs(x)))
        if peak > MAX_FLOAT_PEAK:
            raise AudioError(f"{name}: float samples reach {peak:.3g}, far outside [-1, 1] (over "
                             f"{20 * np.log10(MAX_FLOAT_PEAK):.0f} dB above full scale): not a "
                             f"recording as stored; rescale it to [-1, 1]")
    y = x.mean(axis=1) if mono else x.T
    return np.ascontiguousarray(y, dtype=np.float32)


def _open_name(path):
    name = os.fspath(path)
    if os.path.isdir(name):
        raise AudioError(f"{name}: is a directory, not a WAV file")
    return name


def _size_if_regular(f):
    """The size of a regular file; None for a pipe, a terminal or a character device."""
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):  # io.BytesIO and friends
        try:
            here = f.tell()
            end = f.seek(0, os.SEEK_END)
            f.seek(here)
            return end
        except (AttributeError, OSError, ValueError):
            return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def load_wav(path, sr=None, mono=True):
    """Read a WAV file as float32 samples.

    A file written by a program streaming to a pipe (ffmpeg, sox, ``arecord``) says its data size is 0
    or 0xFFFFFFFF: its samples are read to the end of the file. ``/dev/stdin`` and named pipes are
    read as streams (see :class:`WavStream` for reading one as it arrives).

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
        unsupported encoding, claims more bytes than it holds, has no samples, holds NaN or
        infinite samples, or float samples beyond :data:`MAX_FLOAT_PEAK`. The message starts with
        the path.
    """
    name = _open_name(path)
    try:
        with open(name, "rb") as f:
            return _read(f, _size_if_regular(f), name, sr, mono)
    except (FileNotFoundError, AudioError):
        raise
    except PermissionError as exc:
        raise AudioError(f"{name}: permission denied") from exc
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from exc


def decode_wav(data, *, name="WAV data", sr=None, mono=True):
    """Read a WAV file held in memory (an upload, a pipe), exactly as :func:`load_wav` reads a path.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The whole file.
    name : str
        How to name the data in error messages.
    sr, mono
        As :func:`load_wav`.

    Returns
    -------
    y : ndarray (S,) if ``mono`` else (channels, S)
    sr : int

    Raises
    ------
    AudioError
        Every problem :func:`load_wav` reports for a file's contents; the message starts with ``name``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MinikwsError(f"data: expected the bytes of a WAV file, got {type(data).__name__}")
    data = memoryview(data).cast("B")
    return _read(io.BytesIO(data), data.nbytes, name, sr, mono)


def _read(f, file_size, name, sr, mono):
    """The samples of the WAV file open as ``f`` -> (y, sr). ``file_size``: the bytes of a seekable
    file, against which the header is checked; None for a stream, read forward to its end."""
    if sr is not None:
        sr = check_positive_int("sr", sr)
    fmt, size = _read_header(name, f, file_size)
    raw = f.read() if size is None else _read_exactly(f, size)
    if size is not None and len(raw) != size:
        if file_size is None:
            raise AudioError(f"{name}: header claims {size} bytes of samples but the stream ended "
                             f"after {len(raw)} (truncated)")
        raise AudioError(f"{name}: file shrank while being read")
    if len(raw) < fmt[3]:
        raise AudioError(f"{name}: no samples ('data' chunk of {len(raw)} bytes)")
    y = _samples(name, raw, fmt, mono)
    rate = fmt[2]
    if sr is not None and sr != rate:
        y = resample(y, orig_sr=rate, target_sr=sr, name=name)
        rate = sr
    return y, int(rate)


class WavStream:
    """A WAV file or stream read incrementally, as it arrives: ``minikws detect -`` reads one this way.

    The header is parsed as :func:`load_wav` parses it (the same code); then :meth:`read` returns the
    next samples. The data size may be unknown (0 or 0xFFFFFFFF, what ``arecord``, ``sox -t wav -`` and
    ffmpeg write to a pipe), or larger than what ever comes: the samples end where the stream does.

    Parameters
    ----------
    source : binary file object, str or os.PathLike
        A file object opened for binary reading (``sys.stdin.buffer``, a pipe, an open file) or a
        path, which is opened here (and closed by :meth:`close`).
    name : str, optional
        How to name the stream in error messages (default: the path, or ``"<stdin>"``-like names of
        the file object, or ``"stream"``).

    Attributes
    ----------
    sr : int
        Sample rate, Hz.
    channels : int
        Channels in the stream (:meth:`read` averages them to mono).
    bits : int
        Bits per sample as stored.
    samples_read : int
        Frames returned so far.

    Raises
    ------
    AudioError
        As :func:`load_wav`, while parsing the header or, for NaN, infinite or huge float samples,
        in the :meth:`read` that meets them.

    Examples
    --------
    >>> import sys
    >>> stream = WavStream(sys.stdin.buffer)                # doctest: +SKIP
    >>> while (chunk := stream.read(160)).size:             # doctest: +SKIP
    ...     handle(chunk)                                   # 10 ms at 16 kHz, float32 mono
    """

    def __init__(self, source, *, name=None):
        if isinstance(source, (str, os.PathLike)):
            self.name = _open_name(source) if name is None else name
            try:
                self._file = open(os.fspath(source), "rb")
            except PermissionError as exc:
                raise AudioError(f"{self.name}: permission denied") from exc
            self._owned = True
        else:
            if not hasattr(source, "read"):
                raise MinikwsError(f"source: expected a binary file object or a path, "
                                   f"got {type(source).__name__}")
            self.name = name or str(getattr(source, "name", "") or "stream")
            self._file = source
            self._owned = False
        try:
            self._fmt, self._left = _read_header(self.name, self._file, _size_if_regular(self._file))
        except BaseException:
            self.close()
            raise
        tag, self.channels, self.sr, self._block, self.bits = self._fmt
        self.samples_read = 0
        self._pending = b""
        self._ended = False  # the stream (or the data chunk) has ended: read nothing more

    def read(self, n):
        """Up to ``n`` more samples, float32 mono (S,) with S <= n; fewer only at the end of the
        stream, an empty array once it has ended. Blocks until ``n`` samples or the end arrive."""
        n = check_positive_int("n", n)
        want = n * self._block - len(self._pending)
        if self._left is not None:
            want = min(want, self._left)
        raw = _read_exactly(self._file, want) if want > 0 and not self._ended else b""
        self._ended = self._ended or len(raw) < want or self._left == len(raw)
        if self._left is not None:
            self._left -= len(raw)
        raw = self._pending + raw
        whole = len(raw) // self._block * self._block
        self._pending = raw[whole:]
        y = _samples(self.name, raw[:whole], self._fmt, True, start=self.samples_read)
        self.samples_read += y.size
        return y

    def __iter__(self):
        """Chunks of 1024 samples until the end."""
        while True:
            y = self.read(1024)
            if not y.size:
                return
            yield y

    def close(self):
        """Close the file if this object opened it."""
        if self._owned:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"WavStream({self.name!r}, sr={self.sr}, channels={self.channels}, "
                f"{_format_name(self._fmt[0], self.bits)})")


# A spoken keyword lasts 0.3-0.8 s and the models are trained on clips of about 1 s (Speech Commands').
SHORT_CLIP_S = 0.1
LONG_RECORDING_S = 3.0


def duration_warning(name, n_samples, sr):
    """A one-line warning when a clip is too short or too long to be classified as one keyword, else None.

    A clip of less than :data:`SHORT_CLIP_S` cannot hold a keyword, so its label is a guess. A
    recording longer than :data:`LONG_RECORDING_S` holds more than one clip's worth of sound, and a
    clip classifier labels it by its last frame: ``minikws detect`` finds keywords in long recordings.

    Parameters
    ----------
    name : str
        The file, named in the warning.
    n_samples : int
    sr : int
    """
    seconds = n_samples / sr
    if seconds < SHORT_CLIP_S:
        return (f"{name}: {seconds * 1000:.0f} ms is much shorter than a spoken keyword (0.3-0.8 s); "
                f"its label is a guess")
    if seconds > LONG_RECORDING_S:
        return (f"{name}: a {seconds:.1f} s recording is much longer than a keyword clip (about 1 s), "
                f"and is labelled by its last frame; to find keywords in it use `minikws detect`")
    return None


def save_wav(path, y, sr):
    """Write 16-bit PCM, atomically (:func:`minikws._fileio.atomic_write`).

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
    with atomic_write(path) as f:
        f.write(header)
        f.write(data)
