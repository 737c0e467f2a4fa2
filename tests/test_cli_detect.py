"""`minikws detect` on files and through a pipe, and `minikws train --task stream`."""
import json
import os
import select
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from minikws.audio import save_wav
from minikws.cli import main
from minikws.datasets import synthesize_streams, write_labels
from minikws.errors import MinikwsError
from minikws.io import load_model, save_model
from minikws.models import KWSModel
from minikws.train_stream import StreamTrainConfig, train_stream_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A small stream model, a 15 s test stream as WAV with its labels, and a clip model."""
    d = tmp_path_factory.mktemp("detect")
    s = synthesize_streams(keywords=("yes", "stop"), streams=(4, 1, 1), seconds=15.0, seed=2, cache=False)
    m, _ = train_stream_model(s, config=StreamTrainConfig(epochs=3, batch_size=4, segment=4.0),
                              hidden_size=16, log=lambda line: None)
    save_model(m, d / "stream.npz")
    test = s.split("test")
    save_wav(d / "talk.wav", test.audio[0], s.sr)
    write_labels(d / "talk.txt", test.words[0])
    save_model(KWSModel(classes=("a", "b"), hidden_size=4), d / "clip.npz")
    return d, test


def _lines(capsys):
    return capsys.readouterr().out.strip().splitlines()


def test_detect_file_json_and_scores(made, capsys, tmp_path):
    d, test = made
    args = ["detect", "--model", str(d / "stream.npz"), str(d / "talk.wav"), "--threshold", "0.2"]
    assert main(args + ["--json"]) == 0
    lines = _lines(capsys)
    summary = json.loads(lines[-1])
    assert set(summary) == {"detections", "duration", "rtf"}
    assert summary["duration"] == pytest.approx(15.0) and summary["rtf"] > 0
    assert [json.loads(x) for x in lines[:-1]] == summary["detections"]
    for det in summary["detections"]:
        assert set(det) == {"label", "time", "start", "end", "score"}
        assert det["label"] in ("yes", "stop") and 0 <= det["start"] <= det["end"] <= det["time"] <= 15.2
    png = tmp_path / "det.png"
    assert main(args + ["--labels", str(d / "talk.txt"), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "per hour of all audio" in out and "false-reject rate at 0.5 FA/h" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert len(out.splitlines()) >= len(summary["detections"]) + 4


def _wav_header_unknown_length(sr):
    """A WAV header whose sizes say 'unknown' (0xFFFFFFFF), as arecord and sox write to a pipe."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 0xFFFFFFFF, b"WAVE", b"fmt ", 16, 1, 1, sr,
                       sr * 2, 2, 16, b"data", 0xFFFFFFFF)


def test_detect_stdin_prints_detections_as_they_fire(made, capsys):
    d, test = made
    common = ["--model", str(d / "stream.npz"), "--threshold", "0.2"]
    assert main(["detect", *common, str(d / "talk.wav")]) == 0
    expected = _lines(capsys)
    assert expected, "the file gives detections to compare with"
    pcm = np.clip(np.round(test.audio[0].astype(np.float64) * 32768), -32768, 32767).astype("<i2")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "minikws", "detect", *common, "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        proc.stdin.write(_wav_header_unknown_length(16000))
        first = float(expected[0].split()[0])
        cut = int((first + 1.0) * 16000)  # a second past the first detection; the pipe stays open
        proc.stdin.write(pcm[:cut].tobytes())
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no detection printed while the stream was still open"
        early = proc.stdout.readline().decode().strip()
        assert early == expected[0]
        proc.stdin.write(pcm[cut:].tobytes())
        proc.stdin.close()
        rest = proc.stdout.read().decode().strip().splitlines()
        assert proc.wait(60) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [early] + rest == expected


def test_detect_errors_are_one_line(made, capsys, tmp_path):
    d, _ = made
    assert main(["detect", "--model", str(d / "clip.npz"), str(d / "talk.wav")]) == 2
    err = capsys.readouterr().err
    assert "a clip model" in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("yes 1.0 1.4\nstop 2.0\n")
    assert main(["detect", "--model", str(d / "stream.npz"), str(d / "talk.wav"), "--labels",
                 str(bad)]) == 2
    assert "bad.txt:2:" in capsys.readouterr().err
    save_wav(tmp_path / "low.wav", np.zeros(4000, np.float32), 2000)
    assert main(["detect", "--model", str(d / "stream.npz"), str(tmp_path / "low.wav")]) == 2
    assert "cannot be resampled" in capsys.readouterr().err
    assert main(["predict", "--model", str(d / "stream.npz"), str(d / "talk.wav")]) == 2
    assert "a stream model" in capsys.readouterr().err
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "minikws", "detect", "--model", str(d / "stream.npz"), "-"],
                       input=_wav_header_unknown_length(8000) + bytes(1600), capture_output=True,
                       env=env, timeout=60)
    assert r.returncode == 2 and b"8000 Hz" in r.stderr and b"Traceback" not in r.stderr


def test_train_stream_task(tmp_path, capsys):
    out = tmp_path / "m.npz"
    assert main(["train", "--task", "stream", "--tags", "article", "--head", "feedback", "--streams",
                 "3", "1", "1", "--epochs", "1", "--hidden", "8", "--out", str(out), "--json"]) == 0
    summary = json.loads(_lines(capsys)[-1])
    assert summary["task"] == "stream" and summary["head"] == "feedback"
    assert set(summary["recall"]) == {"command", "stop"}
    m = load_model(out)
    assert (m.task, m.tags, m.head) == ("stream", "article", "feedback")
    assert main(["train", "--head", "feedback", "--out", str(tmp_path / "c.npz")]) == 2
    assert "only with --task stream" in capsys.readouterr().err
    assert main(["train", "--task", "stream", "--per-word", "5", "--out", str(out)]) == 2
    assert "--per-word: not an option of --task stream" in capsys.readouterr().err


def test_train_stream_task_uses_the_recipe(tmp_path, monkeypatch, capsys):
    import minikws.train_stream as ts
    from minikws.cli._train_stream import RECIPE, STREAMS

    seen = {}

    def fake(streams, *, config, **kw):
        seen["config"], seen["hidden"] = config, kw["hidden_size"]
        raise MinikwsError("stop here")

    monkeypatch.setattr(ts, "train_stream_model", fake)
    assert main(["train", "--task", "stream", "--streams", "3", "1", "1", "--out",
                 str(tmp_path / "m.npz")]) == 2
    c = seen["config"]
    assert (c.span, c.tail, c.context) == (RECIPE["span"], RECIPE["tail"], RECIPE["context"])
    assert (c.span, c.tail, c.context) == (0.1, 0.25, 1.0)  # the recipe benchmarks/README.md measures
    assert STREAMS == (1080, 20, 20)
