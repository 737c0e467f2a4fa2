"""minikws.audio: every WAV encoding read right, every broken file an AudioError naming it.

The files are written here byte by byte, so that each test says exactly what is in its file.
"""
import os
import struct
import tracemalloc

import numpy as np
import pytest

from minikws import audio
from minikws.audio import AudioError
from minikws.errors import MinikwsError

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(cid, body, size=None):
    size = len(body) if size is None else size
    return cid + struct.pack("<I", size) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(tag=1, channels=1, rate=16000, bits=16, extensible=False):
    align = channels * bits // 8
    body = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        body += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + GUID_TAIL
    return body


def wav_bytes(data, *, tag=1, channels=1, rate=16000, bits=16, extensible=False, extra=b""):
    chunks = extra + chunk(b"fmt ", fmt_body(tag, channels, rate, bits, extensible)) + chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


# ----------------------------------------------------------------------------------------- encodings

def test_8bit_unsigned(tmp_path):
    path = write(tmp_path, "u8.wav", wav_bytes(bytes([0, 64, 128, 192, 255]), bits=8, rate=8000))
    y, sr = audio.load_wav(path)
    assert sr == 8000 and y.dtype == np.float32
    np.testing.assert_array_equal(y, [-1.0, -0.5, 0.0, 0.5, 127 / 128])


def test_16bit(tmp_path):
    values = np.array([-32768, -16384, 0, 1, 32767], dtype="<i2")
    y, sr = audio.load_wav(write(tmp_path, "s16.wav", wav_bytes(values.tobytes())))
    np.testing.assert_array_equal(y, values / 32768.0)


@pytest.mark.parametrize("extensible", [False, True])
def test_24bit_sign_extension(tmp_path, extensible):
    values = np.array([-8388608, -65536, -1, 0, 1, 65536, 8388607])
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in values)
    y, _ = audio.load_wav(write(tmp_path, "s24.wav", wav_bytes(raw, bits=24, extensible=extensible)))
    np.testing.assert_array_equal(y, (values / 2.0 ** 23).astype(np.float32))


def test_32bit_pcm(tmp_path):
    values = np.array([-2 ** 31, -1, 0, 2 ** 30, 2 ** 31 - 1], dtype="<i4")
    y, _ = audio.load_wav(write(tmp_path, "s32.wav", wav_bytes(values.tobytes(), bits=32)))
    np.testing.assert_allclose(y, values / 2.0 ** 31, rtol=1e-7)


@pytest.mark.parametrize("bits, dtype", [(32, "<f4"), (64, "<f8")])
@pytest.mark.parametrize("extensible", [False, True])
def test_float(tmp_path, bits, dtype, extensible):
    values = np.array([-1.0, -0.25, 0.0, 0.125, 1.0, 1.5], dtype=dtype)  # float files keep > 1
    y, _ = audio.load_wav(write(tmp_path, "f.wav", wav_bytes(values.tobytes(), tag=3, bits=bits,
                                                            extensible=extensible)))
    np.testing.assert_array_equal(y, values.astype(np.float32))


def test_stereo_mixed_down_or_kept(tmp_path):
    left = np.array([1000, -2000, 3000], dtype="<i2")
    right = np.array([3000, 2000, -3000], dtype="<i2")
    data = np.stack([left, right], axis=1).tobytes()  # interleaved L R L R ...
    path = write(tmp_path, "stereo.wav", wav_bytes(data, channels=2))
    y, _ = audio.load_wav(path)
    np.testing.assert_allclose(y, (left + right.astype(float)) / 2 / 32768, rtol=1e-6)
    both, _ = audio.load_wav(path, mono=False)
    assert both.shape == (2, 3)
    np.testing.assert_array_equal(both[1], right / 32768.0)


def test_other_chunks_odd_sizes_and_trailing_partial_frame(tmp_path):
    extra = chunk(b"LIST", b"INFOabc") + chunk(b"junk", b"")  # odd-sized chunk with its pad byte
    data = np.array([100, -100, 7], dtype="<i2").tobytes() + b"\x01"  # half a sample at the end
    y, _ = audio.load_wav(write(tmp_path, "chunks.wav", wav_bytes(data, extra=extra)))
    np.testing.assert_array_equal(y, np.array([100, -100, 7]) / 32768.0)


def test_data_before_fmt(tmp_path):
    data = np.array([5, 6], dtype="<i2").tobytes()
    chunks = chunk(b"data", data) + chunk(b"fmt ", fmt_body())
    content = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
    y, _ = audio.load_wav(write(tmp_path, "late.wav", content))
    np.testing.assert_array_equal(y, [5 / 32768, 6 / 32768])


def test_save_load_round_trip_and_atomic(tmp_path, rng):
    y = np.clip(0.5 * rng.standard_normal(1000), -1, 1).astype(np.float32)
    path = str(tmp_path / "out.wav")
    audio.save_wav(path, y, 16000)
    z, sr = audio.load_wav(path)
    assert sr == 16000 and z.shape == y.shape
    inside = y < 1.0 - 2.0 ** -16  # +1.0 itself is stored as 32767
    assert np.abs(z - y)[inside].max() <= 2.0 ** -16 and np.abs(z - y).max() <= 2.0 ** -15
    audio.save_wav(path, np.array([2.0, -2.0, 0.0]), 8000)  # overwrite; clipped
    z, sr = audio.load_wav(path)
    assert sr == 8000 and z[0] == 32767 / 32768 and z[1] == -1.0
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]  # no temporary file left behind
    stereo = np.stack([y, -y])
    audio.save_wav(path, stereo, 16000)
    assert audio.load_wav(path, mono=False)[0].shape == (2, 1000)


def test_save_wav_bad_input_leaves_no_file(tmp_path):
    with pytest.raises(MinikwsError, match="NaN"):
        audio.save_wav(str(tmp_path / "x.wav"), np.array([0.0, np.nan]), 16000)
    with pytest.raises(MinikwsError, match="sr"):
        audio.save_wav(str(tmp_path / "x.wav"), np.zeros(4), 0)
    assert os.listdir(tmp_path) == []


def test_resample_keeps_a_tone(tmp_path):
    t = np.arange(8000) / 8000
    path = str(tmp_path / "tone.wav")
    audio.save_wav(path, 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    y, sr = audio.load_wav(path, sr=16000)
    assert sr == 16000 and y.shape == (16000,) and y.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 440  # 1 Hz bins for one second
    y2, sr2 = audio.load_wav(path, sr=8000)
    assert sr2 == 8000 and y2.shape == (8000,)


def test_resample_refuses_absurd_ratios(tmp_path):
    path = write(tmp_path, "odd.wav", wav_bytes(np.zeros(100, "<i2").tobytes(), rate=7999))
    with pytest.raises(AudioError, match="odd.wav.*7999 Hz to 16000 Hz"):
        audio.load_wav(path, sr=16000)
    with pytest.raises(MinikwsError, match="sr"):
        audio.load_wav(path, sr=0)


# ------------------------------------------------------------------------------------ broken files

def _riff(chunks, size=None):
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) if size is None else size) + b"WAVE" + chunks


# name -> (file content, or None for a directory, words the message must contain)
BROKEN = {
    "empty": (b"", "empty file"),
    "truncated_header": (b"RIFF\x24\x00", "truncated header"),
    "foreign_mp3": (b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(200), "not a WAV file"),
    "foreign_text": (b"hello, this is not audio at all\n", "not a WAV file"),
    "riff_not_wave": (b"RIFF\x10\x00\x00\x00AVI LIST", "not a WAV file"),
    "rifx": (b"RIFX\x10\x00\x00\x00WAVEfmt ", "RIFX"),
    "no_fmt": (_riff(chunk(b"data", bytes(8))), "no 'fmt ' chunk"),
    "no_data": (_riff(chunk(b"fmt ", fmt_body())), "no 'data' chunk"),
    "truncated_fmt": (_riff(b"fmt " + struct.pack("<I", 16) + bytes(6)), "truncated 'fmt '"),
    "short_fmt": (_riff(chunk(b"fmt ", bytes(10)) + chunk(b"data", bytes(4))), "too short"),
    "gigabytes": (_riff(chunk(b"fmt ", fmt_body()) + b"data" + struct.pack("<I", 0xFFFFFFF0) + bytes(64)),
                  "claims 4294967280 bytes"),
    "huge_other_chunk": (_riff(chunk(b"fmt ", fmt_body()) + b"LIST" + struct.pack("<I", 2 ** 31) + bytes(8)),
                         "past the end"),
    "zero_samples": (_riff(chunk(b"fmt ", fmt_body()) + chunk(b"data", b"")), "no samples"),
    "less_than_one_frame": (_riff(chunk(b"fmt ", fmt_body(channels=2)) + chunk(b"data", bytes(3))),
                            "no samples"),
    "nan": (wav_bytes(np.array([0.0, np.nan, 0.5], "<f4").tobytes(), tag=3, bits=32), "NaN or infinite"),
    "inf": (wav_bytes(np.array([0.0, -np.inf], "<f8").tobytes(), tag=3, bits=64), "NaN or infinite"),
    "adpcm": (wav_bytes(bytes(16), tag=2, bits=4), "unsupported WAV encoding 0x0002"),
    "12bit": (wav_bytes(bytes(16), bits=12), "unsupported 12-bit PCM"),
    "float16": (wav_bytes(bytes(16), tag=3, bits=16), "unsupported 16-bit float"),
    "bad_align": (_riff(chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 16000, 32000, 4, 16))
                        + chunk(b"data", bytes(8))), "block align"),
    "zero_channels": (_riff(chunk(b"fmt ", struct.pack("<HHIIHH", 1, 0, 16000, 0, 0, 16))
                            + chunk(b"data", bytes(8))), "0 channels"),
    "zero_rate": (wav_bytes(bytes(8), rate=0), "sample rate of 0 Hz"),
    "bad_guid": (_riff(chunk(b"fmt ", fmt_body(extensible=True)[:24] + bytes(16)) + chunk(b"data", bytes(4))),
                 "sub-format"),
    "directory": (None, "is a directory"),
}


def make_broken(tmp_path, kind):
    """Write the broken file ``kind`` of :data:`BROKEN` and return (path, expected words)."""
    content, words = BROKEN[kind]
    path = tmp_path / f"{kind}.wav"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    return str(path), words


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_file_raises_audio_error_naming_it(tmp_path, kind):
    path, words = make_broken(tmp_path, kind)
    with pytest.raises(AudioError) as info:
        audio.load_wav(path)
    message = str(info.value)
    assert message.startswith(path) and words in message and "\n" not in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, MinikwsError)


def test_missing_path_is_file_not_found(tmp_path):
    path = str(tmp_path / "missing.wav")
    with pytest.raises(FileNotFoundError) as info:
        audio.load_wav(path)
    assert info.value.filename == path


def test_header_claiming_gigabytes_allocates_nothing_large(tmp_path):
    data_size = 2 ** 31  # 2 GiB of samples claimed in a 100-byte file
    content = _riff(chunk(b"fmt ", fmt_body()) + b"data" + struct.pack("<I", data_size) + bytes(56))
    path = write(tmp_path, "liar.wav", content)
    tracemalloc.start()
    try:
        with pytest.raises(AudioError, match="truncated or corrupt"):
            audio.load_wav(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("kind", sorted(k for k in BROKEN if BROKEN[k][0] is not None))
def test_decode_wav_refuses_the_same_broken_contents(kind):
    content, words = BROKEN[kind]
    with pytest.raises(AudioError) as info:
        audio.decode_wav(content, name="upload")
    message = str(info.value)
    assert message.startswith("upload: ") and words in message and "\n" not in message


def test_decode_wav_reads_what_load_wav_reads(tmp_path, rng):
    stereo = rng.uniform(-1, 1, (2, 300)).astype(np.float32)
    path = str(tmp_path / "s.wav")
    audio.save_wav(path, stereo, 22050)
    content = open(path, "rb").read()
    for kwargs in ({}, {"mono": False}, {"sr": 16000}):
        y_file, sr_file = audio.load_wav(path, **kwargs)
        y_mem, sr_mem = audio.decode_wav(content, **kwargs)
        assert sr_mem == sr_file and y_mem.dtype == np.float32
        np.testing.assert_array_equal(y_mem, y_file)
    with pytest.raises(MinikwsError, match="data: expected the bytes"):
        audio.decode_wav(path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("up,down", [(320, 441), (2, 1), (20, 23), (1, 3)])
def test_resample_ratio_is_resample_polys_default_filter_designed_once(dtype, up, down):
    """The one polyphase resampler (sample rates, tape speed, the synthesized set) is
    scipy.signal.resample_poly with its own default Kaiser filter, bit for bit, in the input's dtype."""
    from scipy.signal import resample_poly

    from minikws.audio import resample_ratio
    from minikws.augment import speed_perturb

    y = np.random.default_rng(up).standard_normal(3000).astype(dtype)
    got = resample_ratio(y, up, down)
    assert got.dtype == dtype and len(got) == -(-3000 * up // down)
    np.testing.assert_array_equal(got, resample_poly(y, up, down))
    np.testing.assert_array_equal(resample_ratio(y, 2 * up, 2 * down), got)  # the ratio, not the terms
    np.testing.assert_array_equal(speed_perturb(y, down / up, max_denominator=1000), got)
    assert resample_ratio(y, 5, 5) is not y and np.array_equal(resample_ratio(y, 5, 5), y)
