"""WAV input as programs stream it: unknown data sizes, pipes, /dev/stdin, WavStream; huge float samples.

Each test builds its bytes by hand (``tests/test_audio.py``'s helpers) so that it says what is in the
stream; the CLI tests run ``python -m minikws`` with the bytes on its standard input.
"""
import os
import struct
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

from minikws import audio
from minikws.audio import AudioError, WavStream
from minikws.cli import main
from test_audio import chunk, fmt_body

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def streamed_wav(pcm, *, data_size, riff_size=None, channels=1, rate=16000, extra=b""):
    """What arecord / sox -t wav - / ffmpeg write to a pipe: a header with a size it could not know."""
    body = (extra + chunk(b"fmt ", fmt_body(channels=channels, rate=rate))
            + b"data" + struct.pack("<I", data_size))
    size = 0xFFFFFFFF if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size) + b"WAVE" + body + pcm


def tone_pcm(n=4000, channels=1):
    x = np.round(0.5 * np.sin(np.arange(n * channels) * 0.01) * 32767).astype("<i2")
    return x.tobytes(), x.astype(np.float32).reshape(n, channels).mean(axis=1) / 32768


@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF])
def test_unknown_data_size_runs_to_the_end_of_the_file(tmp_path, data_size):
    pcm, expect = tone_pcm()
    path = tmp_path / "piped.wav"
    path.write_bytes(streamed_wav(pcm + b"\x01", data_size=data_size))  # a trailing partial frame
    y, sr = audio.load_wav(path)
    assert sr == 16000 and y.shape == (4000,)
    np.testing.assert_allclose(y, expect, atol=1e-7)


def test_named_pipe_is_read_as_a_stream(tmp_path):
    pcm, expect = tone_pcm()
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as f:
            for piece in np.array_split(np.frombuffer(streamed_wav(pcm, data_size=0), np.uint8), 7):
                f.write(piece.tobytes())
                f.flush()

    t = threading.Thread(target=writer)
    t.start()
    y, sr = audio.load_wav(fifo)
    t.join()
    np.testing.assert_allclose(y, expect, atol=1e-7)


def _pipe_writer(data, pieces, delay=0.0):
    r, w = os.pipe()

    def run():
        with os.fdopen(w, "wb") as f:
            for piece in pieces(data):
                f.write(piece)
                f.flush()
                time.sleep(delay)

    t = threading.Thread(target=run)
    t.start()
    return os.fdopen(r, "rb"), t


def _chop(sizes):
    def pieces(data):
        i = 0
        for n in sizes:
            yield data[i:i + n]
            i += n
        yield data[i:]
    return pieces


@pytest.mark.parametrize("channels", [1, 2])
def test_wav_stream_reads_a_pipe_as_it_arrives(channels):
    pcm, expect = tone_pcm(3000, channels)
    data = streamed_wav(pcm, data_size=0xFFFFFFFF, channels=channels,
                        extra=chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00sox\x00\x00"))
    f, t = _pipe_writer(data, _chop([5, 30, 11, 1, 333, 999]), delay=0.001)
    with f:
        stream = WavStream(f, name="<stdin>")
        assert (stream.sr, stream.channels, stream.bits) == (16000, channels, 16)
        chunks = []
        while (y := stream.read(160)).size:
            assert y.dtype == np.float32 and y.size <= 160
            chunks.append(y)
    t.join()
    assert [c.size for c in chunks[:-1]] == [160] * (len(chunks) - 1)  # short only at the end
    np.testing.assert_allclose(np.concatenate(chunks), expect, atol=1e-7)
    assert stream.samples_read == 3000
    assert stream.read(160).size == 0


def test_wav_stream_stops_at_a_known_data_size_and_reads_files():
    pcm, expect = tone_pcm(1000)
    data = streamed_wav(pcm, data_size=2 * 600) + chunk(b"LIST", bytes(20))
    f, t = _pipe_writer(data, _chop([44]))
    with f:
        got = np.concatenate(list(WavStream(f)))
    t.join()
    np.testing.assert_allclose(got, expect[:600], atol=1e-7)


def test_wav_stream_of_a_path_matches_load_wav(tmp_path):
    pcm, _ = tone_pcm(2500)
    path = tmp_path / "a.wav"
    path.write_bytes(streamed_wav(pcm, data_size=len(pcm)))
    with WavStream(path) as s:
        got = np.concatenate([s.read(999) for _ in range(3)])
    np.testing.assert_array_equal(got, audio.load_wav(path)[0])


def test_wav_stream_errors_name_the_stream():
    bad = b"RIFF\xff\xff\xff\xffWAVE" + chunk(b"data", bytes(8)) + chunk(b"fmt ", fmt_body())
    f, t = _pipe_writer(bad, _chop([]))
    with f, pytest.raises(AudioError, match=r"^<stdin>: the 'data' chunk comes before the 'fmt ' chunk"):
        WavStream(f, name="<stdin>")
    t.join()
    nan = streamed_wav(np.array([0.0, 0.1, np.nan], "<f4").tobytes(), data_size=0)
    nan = nan.replace(fmt_body(), fmt_body(tag=3, bits=32))
    f, t = _pipe_writer(nan, _chop([]))
    with f:
        s = WavStream(f, name="mic")
        with pytest.raises(AudioError, match=r"^mic: contains NaN or infinite samples \(first at sample 2"):
            s.read(10)
    t.join()


def _float_wav(values, bits):
    data = np.asarray(values, dtype="<f4" if bits == 32 else "<f8").tobytes()
    body = chunk(b"fmt ", fmt_body(tag=3, bits=bits)) + chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


@pytest.mark.parametrize("bits,value", [(32, 3e29), (64, 1e299), (64, -5e3)])
def test_huge_finite_float_samples_refused_naming_the_file(tmp_path, bits, value):
    path = tmp_path / "loud.wav"
    path.write_bytes(_float_wav([0.0, value, 0.5], bits))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old reader printed four RuntimeWarnings first
        with pytest.raises(AudioError, match=rf"^{path}: float samples reach .*far outside \[-1, 1\]"):
            audio.load_wav(path)


def test_loud_but_plausible_float_samples_are_read(tmp_path):
    path = tmp_path / "hot.wav"
    path.write_bytes(_float_wav([0.0, 1.7, -2.5], 32))
    np.testing.assert_allclose(audio.load_wav(path)[0], [0.0, 1.7, -2.5], rtol=1e-6)


def _cli(args, stdin=b""):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-m", "minikws", *args], input=stdin, capture_output=True,
                          env=env, timeout=120)


def test_cli_reads_dev_stdin():
    pcm, _ = tone_pcm(16000)
    r = _cli(["mfcc", "/dev/stdin", "--json"], stdin=streamed_wav(pcm, data_size=0xFFFFFFFF))
    assert r.returncode == 0, r.stderr.decode()
    import json
    info = json.loads(r.stdout)
    assert info["samples"] == 16000 and info["sr"] == 16000 and info["shape"] == [51, 13]


def test_cli_huge_floats_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "loud.wav"
    path.write_bytes(_float_wav([0.0, 3e29], 32))
    assert main(["mfcc", os.fspath(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and os.fspath(path) in err and "far outside" in err


@pytest.mark.parametrize("data_size", [0, 0xFFFFFFFF])
def test_cli_reads_unknown_size_files(tmp_path, capsys, data_size):
    pcm, _ = tone_pcm(8000)
    path = tmp_path / "piped.wav"
    path.write_bytes(streamed_wav(pcm, data_size=data_size))
    assert main(["mfcc", os.fspath(path), "--json"]) == 0
    assert '"samples": 8000' in capsys.readouterr().out


def test_stream_claiming_gigabytes_allocates_nothing_large():
    import tracemalloc

    pcm, _ = tone_pcm(100)
    data = streamed_wav(pcm, data_size=0xFFFFFFF0)  # 4 GB promised, 200 bytes sent
    f, t = _pipe_writer(data, _chop([]))
    tracemalloc.start()
    try:
        with f, pytest.raises(AudioError, match="the stream ended after 200"):
            audio.load_wav(f"/dev/fd/{f.fileno()}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    t.join()
    assert peak < 8 << 20
