"""The `minikws mfcc` command: summary, JSON, plot, and one clear line for every broken file."""
import json
import subprocess
import sys

import numpy as np
import pytest
from test_audio import BROKEN, make_broken

from minikws import audio, features
from minikws.cli import main
from minikws.models import default_feature_settings


def expected_frames(n, sr):
    s = default_feature_settings(sr)
    return features.num_frames(n, n_fft=s["n_fft"], hop_length=s["hop_length"])


@pytest.fixture
def wav(tmp_path, rng):
    t = np.arange(16000) / 16000
    y = 0.3 * np.sin(2 * np.pi * (200 + 800 * t) * t) + 0.01 * rng.standard_normal(t.size)
    path = str(tmp_path / "chirp.wav")
    audio.save_wav(path, y, 16000)
    return path


def test_text_summary(wav, capsys):
    assert main(["mfcc", wav]) == 0
    out = capsys.readouterr().out
    assert "16000 Hz" in out and "1.000 s" in out and "(16000 samples)" in out
    assert f"({expected_frames(16000, 16000)}, 13)" in out


def test_json_and_resampling(wav, capsys):
    assert main(["mfcc", wav, "--json", "--sr", "8000"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sr"] == 8000 and info["samples"] == 8000 and info["duration"] == 1.0
    assert info["shape"] == [expected_frames(8000, 8000), 13]
    assert info["settings"] == json.loads(json.dumps(default_feature_settings(8000)))


def test_plot_writes_a_png(wav, tmp_path, capsys):
    png = str(tmp_path / "out.png")
    assert main(["mfcc", wav, "--plot", png, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plot"] == png
    with open(png, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert width > 600 and height > 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chirp.wav", "out.png"]


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_file_one_line_exit_2(tmp_path, capsys, kind):
    path, words = make_broken(tmp_path, kind)
    assert main(["mfcc", path]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and path in lines[0] and words in lines[0], captured.err
    assert captured.out == ""


def test_missing_file_and_bad_sr(tmp_path, capsys, wav):
    missing = str(tmp_path / "missing.wav")
    assert main(["mfcc", missing]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and missing in err[0]
    assert main(["mfcc", wav, "--sr", "0"]) == 2
    assert "--sr" in capsys.readouterr().err


def test_console_entry_point_no_traceback(tmp_path):
    path, words = make_broken(tmp_path, "gigabytes")
    proc = subprocess.run([sys.executable, "-m", "minikws", "mfcc", path], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and path in proc.stderr and words in proc.stderr
