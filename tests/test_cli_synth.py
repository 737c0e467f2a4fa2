"""`minikws synth`: the synthesized set in Speech Commands layout, loadable back."""
import os

import numpy as np
import pytest

from minikws import datasets
from minikws.cli import main


def test_synth_round_trip(tmp_path, capsys):
    out = tmp_path / "commands"
    assert main(["synth", "--out", str(out), "--words", "yes", "no", "--per-word", "10",
                 "--seed", "3"]) == 0
    assert "wrote 40 clips of 4 classes" in capsys.readouterr().err
    names = sorted(os.listdir(out))
    assert names == ["_background_noise_", "_silence_", "_unknown_", "no", "testing_list.txt",
                     "validation_list.txt", "yes"]
    assert datasets.detect_layout(out) == "speech-commands"
    back = datasets.load_speech_commands(out)
    made = datasets.synthesize_commands(words=["yes", "no"], per_word=10, seed=3, cache=False)
    assert back.classes == tuple(sorted(made.classes)) and len(back) == len(made)
    loaded = {f: (back.classes[k], s, spk, y) for f, k, s, spk, y in
              zip(back.files, back.labels, back.subset, back.speakers, back.audio)}
    for f, k, s, spk, y in zip(made.files, made.labels, made.subset, made.speakers, made.audio):
        name, subset, speaker, y_back = loaded[f]
        assert (name, subset, speaker) == (made.classes[k], s, spk)
        np.testing.assert_allclose(y_back, y, atol=2 / 32768)  # 16-bit PCM
    assert set(back.noise) == set(made.noise)


def test_synth_refuses_a_used_folder_and_bad_counts(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["synth", "--out", str(tmp_path), "--per-word", "5"]) == 2
    err = capsys.readouterr().err
    assert "not an empty folder" in err and len(err.strip().splitlines()) == 1
    assert main(["synth", "--out", str(tmp_path / "new"), "--per-word", "0"]) == 2
    assert "--per-word" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "new"), "--words", "_bad"]) == 2
    assert "not a word" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_synth_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--help"])
    assert exc.value.code == 0
    assert "--per-word" in capsys.readouterr().out
