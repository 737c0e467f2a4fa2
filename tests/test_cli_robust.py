"""The command line against unlucky users and hostile inputs (issue 10): each test one reproduction.

Mistakes are caught before any work (a monkeypatched synthesizer or loader proves nothing ran), every
OS error on a path the user gave is one line naming that path with exit status 2 and nothing
half-written left behind, interrupted work never leaves something that looks whole, and a run stopped
by Ctrl-C continues with ``--resume`` alone.
"""
import errno
import json
import os
import re

import numpy as np
import pytest

from minikws import audio, datasets, io as mio
from minikws._fileio import TMP_MARK
from minikws.cli import main
from minikws.datasets import loaders
from test_cli_e2e import tone_folder


def one_line(capsys, code, argv, match):
    capsys.readouterr()
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()  # progress lines (epochs, "synthesizing ...") may come first
    assert "Traceback" not in err and [l for l in lines if "error:" in l] == lines[-1:], err
    assert re.search(match, lines[-1], re.IGNORECASE), err
    return lines[-1]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any command starts synthesizing or loading data."""
    def refuse(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(datasets, "synthesize_commands", refuse)
    monkeypatch.setattr(datasets, "load_dataset", refuse)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return tone_folder(tmp_path_factory.mktemp("tones") / "data", n=12)


def _train(tones, out, *extra):
    return ["train", "--data", os.fspath(tones), "--dataset", "folders", "--out", os.fspath(out),
            "--hidden", "8", "--batch-size", "8", "--seed", "2", "--no-progress", *extra]


# ------------------------------------------------------------------ mistakes caught before the work
@pytest.mark.parametrize("argv,match", [
    (["train", "--out", "M", "--epochs", "0"], r"--epochs 0: expected an integer >= 1"),
    (["train", "--out", "M", "--lr", "nan"], r"--lr nan: expected a finite number > 0"),
    (["train", "--out", "M", "--lr", "-1"], r"--lr -1"),
    (["train", "--out", "M", "--batch-size", "0"], r"--batch-size 0: expected an integer >= 1"),
    (["train", "--out", "M", "--dropout", "1.5"], r"--dropout 1.5: expected a finite number >= 0 and < 1"),
    (["train", "--out", "M", "--patience", "-1"], r"--patience -1: expected an integer >= 0"),
    (["train", "--out", "M", "--cmn-window", "-3"], r"--cmn-window -3"),
    (["train", "--out", "M", "--layers", "0"], r"--layers 0"),
    (["train", "--out", "M", "--per-word", "5"], r"--per-word 5: leaves the validation and test splits"),
    (["train", "--out", "MISSING/m.npz"], r"--out .*MISSING/m.npz: folder .*MISSING does not exist"),
    (["train", "--out", "FILE/m.npz"], r"--out .*FILE/m.npz: folder .*FILE is not a folder"),
    (["train", "--out", "DIR"], r"--out .*DIR: is a folder"),
    (["train", "--out", "M", "--checkpoint", "FILE/c.npz"], r"--checkpoint .*FILE/c.npz: folder"),
    (["train", "--out", "M", "--plots", "FILE"], r"--plots .*FILE: exists and is not a folder"),
    (["train", "--out", "M", "--plots", "FILE/p"], r"--plots .*FILE/p: folder .*FILE is not a folder"),
    (["train", "--out", "M", "--resume", "MISSING/c.npz"], r"--resume .*: no such file"),
    (["train", "--out", "M", "--data", "MISSING"], r"--data .*MISSING: no such folder"),
    (["train", "--epochs", "3"], r"--out: required"),
    (["demo", "--out", "MISSING/m.npz"], r"--out .*MISSING/m.npz: folder .*MISSING does not exist"),
    (["demo", "--plots", "FILE/p"], r"--plots .*FILE/p"),
    (["demo", "--epochs", "0"], r"--epochs 0"),
    (["demo", "--per-word", "3"], r"--per-word 3"),
    (["synth", "--out", "MISSING/set"], r"--out .*MISSING/set: folder .*MISSING does not exist"),
    (["synth", "--out", "FILE"], r"--out .*FILE: exists and is not a folder"),
    (["synth", "--out", "NEW", "--per-word", "5"], r"--per-word 5: leaves the validation and test"),
    (["evaluate", "--model", "M", "--data", "DIR", "--plots", "FILE/p"], r"--plots .*FILE/p"),
    (["mfcc", "WAV", "--plot", "MISSING/x.png"], r"--plot .*MISSING/x.png: folder"),
])
def test_mistakes_are_caught_before_any_work(tmp_path, capsys, no_work, argv, match):
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "DIR").mkdir()
    audio.save_wav(tmp_path / "w.wav", np.zeros(1600, np.float32), 16000)
    subst = {"M": "m.npz", "MISSING": "missing", "FILE": "FILE", "DIR": "DIR", "NEW": "new", "WAV": "w.wav"}
    argv = [re.sub(r"\b(M|MISSING|FILE|DIR|NEW|WAV)\b", lambda m: os.fspath(tmp_path / subst[m.group(1)]), a)
            for a in argv]
    one_line(capsys, 2, argv, match)
    assert sorted(os.listdir(tmp_path)) == ["DIR", "FILE", "w.wav"]  # nothing written, no probe left


@pytest.mark.parametrize("command", ["train", "demo", "synth", "gradcheck"])
def test_negative_seed_is_one_line(tmp_path, capsys, no_work, command):
    argv = [command, "--seed", "-1"]
    if command in ("train", "synth"):
        argv += ["--out", os.fspath(tmp_path / ("m.npz" if command == "train" else "set"))]
    one_line(capsys, 2, argv, r"--seed -1: expected an integer seed in \[0, 2\*\*63\)")


def test_hidden_that_cannot_fit_says_how_much_memory(tmp_path, capsys, no_work):
    err = one_line(capsys, 2, ["train", "--out", os.fspath(tmp_path / "m.npz"), "--hidden", "100000"],
                   r"--hidden 100000: a model of 2 layer\(s\) x 100000 units needs about [\d.]+ TB")
    assert "available" in err
    one_line(capsys, 2, ["demo", "--hidden", "100000"], r"--hidden 100000: .* TB")


def test_training_memory_estimate():
    from minikws.cli._args import training_memory

    # weights of 2 layers, D=13, H=64, C=12: 4H(13+64+1) + 4H(64+64+1) + 65*12 = 53772 floats
    small = training_memory(hidden=64, layers=2, batch=1, frames=1)
    assert small == (4 * 53772 + 2 * 2 * (8 * 64 + 64)) * 4


# --------------------------------------------------------------- OS errors on a path the user gave
def _full_disk(monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)


def test_train_full_disk_is_one_line_naming_out_and_leaves_nothing(tmp_path, capsys, monkeypatch, tones):
    _full_disk(monkeypatch)
    out = tmp_path / "m.npz"
    one_line(capsys, 2, _train(tones, out, "--epochs", "1"),
             rf"^minikws train: error: {re.escape(os.fspath(tmp_path / 'm.ckpt.npz'))}: cannot write "
             r"\(No space left on device\)$")
    assert os.listdir(tmp_path) == []


def test_mfcc_plot_full_disk(tmp_path, capsys, monkeypatch):
    audio.save_wav(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    _full_disk(monkeypatch)
    one_line(capsys, 2, ["mfcc", os.fspath(tmp_path / "a.wav"), "--plot", os.fspath(tmp_path / "a.png")],
             rf"--plot {re.escape(os.fspath(tmp_path / 'a.png'))}: cannot write \(No space left on device\)")
    assert os.listdir(tmp_path) == ["a.wav"]


def test_evaluate_plots_full_disk(tmp_path, capsys, monkeypatch, tones):
    assert main(_train(tones, tmp_path / "m.npz", "--epochs", "1")) == 0
    before = sorted(os.listdir(tmp_path))
    _full_disk(monkeypatch)
    one_line(capsys, 2, ["evaluate", "--model", os.fspath(tmp_path / "m.npz"), "--data", os.fspath(tones),
                         "--plots", os.fspath(tmp_path)], r"confusion_matrix.png: cannot write \(No space")
    assert sorted(os.listdir(tmp_path)) == before


def test_synth_full_disk_and_ctrl_c_leave_no_set(tmp_path, capsys, monkeypatch):
    small = datasets.synthesize_commands(words=["yes"], per_word=6, seed=0, cache=False)
    monkeypatch.setattr(datasets, "synthesize_commands", lambda **kw: small)
    calls = []
    real = audio.save_wav

    def interrupt_at_5(path, y, sr):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt
        real(path, y, sr)

    monkeypatch.setattr(audio, "save_wav", interrupt_at_5)
    capsys.readouterr()
    assert main(["synth", "--out", os.fspath(tmp_path / "set")]) == 130
    assert os.listdir(tmp_path) == []  # no partial set (nor its temporary folder) a train could take
    monkeypatch.setattr(audio, "save_wav", real)
    _full_disk(monkeypatch)
    one_line(capsys, 2, ["synth", "--out", os.fspath(tmp_path / "set")],
             rf"error: {re.escape(os.fspath(tmp_path / 'set'))}: cannot write \(No space left on device\)")
    assert os.listdir(tmp_path) == []


def test_save_speech_commands_interrupted_leaves_no_set(tmp_path, monkeypatch):
    ds = datasets.Dataset(audio=[np.zeros(80, np.float32)] * 4, labels=[0, 0, 1, 1], classes=("a", "b"),
                          sr=8000, subset=["train", "test", "validation", "train"], speakers=list("wxyz"),
                          files=["1.wav", "2.wav", "3.wav", "4.wav"])
    real = audio.save_wav
    n = []

    def stop(path, y, sr):
        n.append(1)
        if len(n) == 3:
            raise KeyboardInterrupt
        real(path, y, sr)

    monkeypatch.setattr(audio, "save_wav", stop)
    with pytest.raises(KeyboardInterrupt):
        loaders.save_speech_commands(ds, tmp_path / "set")
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(audio, "save_wav", real)
    assert loaders.save_speech_commands(ds, tmp_path / "set") == 4
    assert sorted(os.listdir(tmp_path / "set")) == ["a", "b", "testing_list.txt", "validation_list.txt"]


def test_stale_temporaries_of_a_killed_run_are_cleaned(tmp_path, capsys, tones, monkeypatch):
    from minikws import _fileio
    from test_fileio import _dead_pid

    monkeypatch.setattr(_fileio, "_swept", set())
    stale = tmp_path / f".m.ckpt.npz{TMP_MARK}{_dead_pid()}-deadbeef"
    stale.write_bytes(b"\0" * 5000)
    assert main(_train(tones, tmp_path / "m.npz", "--epochs", "1")) == 0
    assert sorted(os.listdir(tmp_path)) == ["m.ckpt.npz", "m.npz"]


# -------------------------------------------------------------------------------- interrupted work
def _interrupt_after(monkeypatch, epochs_done):
    from minikws.train import Trainer

    real = Trainer.train_epoch

    def train_epoch(self, feats, labels, epoch, **kw):
        if epoch == epochs_done:
            raise KeyboardInterrupt
        return real(self, feats, labels, epoch, **kw)

    monkeypatch.setattr(Trainer, "train_epoch", train_epoch)


def test_ctrl_c_says_how_to_resume_and_resume_needs_no_other_flag(tmp_path, capsys, monkeypatch, tones):
    ref = tmp_path / "ref"
    ref.mkdir()
    assert main(_train(tones, ref / "m.npz", "--epochs", "4", "--patience", "0")) == 0

    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        capsys.readouterr()
        assert main(_train(tones, out, "--epochs", "4", "--patience", "0")) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"minikws train: interrupted after epoch 2 of 4; continue with "
                   f"`minikws train --resume {ckpt}` (add --epochs N to train longer)")
    assert not out.exists()
    # A fresh run would throw the two epochs away: refused, with the way to continue.
    one_line(capsys, 2, _train(tones, out, "--epochs", "4"),
             rf"--checkpoint {re.escape(os.fspath(ckpt))}: holds an unfinished run \(2 of 4 epochs\); "
             rf"continue it with --resume")
    # --resume alone: data, model and training settings come from the checkpoint.
    assert main(["train", "--resume", os.fspath(ckpt), "--no-progress"]) == 0
    a, b = mio.load_model(ref / "m.npz").state_dict(), mio.load_model(out).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    # A contradicting flag is refused, naming it.
    one_line(capsys, 2, ["train", "--resume", os.fspath(ckpt), "--hidden", "16"],
             r"--hidden 16: the run in .* has 8; leave the flag out")


def test_ctrl_c_before_the_first_epoch_of_a_fresh_run_over_a_finished_one(tmp_path, capsys, monkeypatch,
                                                                          tones):
    out = tmp_path / "m.npz"
    assert main(_train(tones, out, "--epochs", "1")) == 0
    os.utime(tmp_path / "m.ckpt.npz", (1e9, 1e9))  # the earlier run's checkpoint, long ago
    with monkeypatch.context() as m:
        _interrupt_after(m, 0)
        capsys.readouterr()
        assert main(_train(tones, out, "--epochs", "3")) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "minikws train: interrupted before the first epoch ended; nothing was saved")


def test_resume_with_more_epochs_extends_the_run(tmp_path, capsys, tones):
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert main(_train(tones, out, "--epochs", "2", "--patience", "0")) == 0
    capsys.readouterr()
    assert main(["train", "--resume", os.fspath(ckpt), "--epochs", "4", "--no-progress", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["epochs"] == 4
    ck = mio.load_checkpoint(ckpt)
    assert ck.epoch == 4 and ck.history["epoch"] == [1, 2, 3, 4]
    one_line(capsys, 2, ["train", "--resume", os.fspath(ckpt), "--epochs", "3"],
             r"--epochs 3: the run in .* has already completed 4 epochs")


def test_fresh_run_over_a_finished_checkpoint_says_so(tmp_path, capsys, tones):
    out = tmp_path / "m.npz"
    assert main(_train(tones, out, "--epochs", "1")) == 0
    capsys.readouterr()
    assert main(_train(tones, out, "--epochs", "1")) == 0
    ckpt = tmp_path / "m.ckpt.npz"
    assert f"note: {ckpt} exists; this fresh run replaces it" in capsys.readouterr().err


def test_trainer_says_when_a_fresh_run_replaces_a_checkpoint(tmp_path):
    from minikws.models import KWSModel
    from minikws.train import TrainConfig, Trainer

    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((5, 13)).astype(np.float32) for _ in range(6)]
    labels = np.array([0, 1] * 3)
    ckpt = tmp_path / "c.npz"
    lines = []
    for _ in range(2):
        model = KWSModel(classes=["a", "b"], hidden_size=3, num_layers=1)
        Trainer(model, TrainConfig(epochs=1, batch_size=3), checkpoint=ckpt, progress=False,
                log=lines.append).fit(feats, labels)
    notes = [line for line in lines if line.startswith("note:")]
    assert notes == [f"note: {ckpt} exists; this fresh run replaces it with its own checkpoints "
                     f"(resume={str(ckpt)!r} would continue it instead)"]


def test_predict_and_evaluate_accept_a_checkpoint(tmp_path, capsys, monkeypatch, tones):
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        assert main(_train(tones, tmp_path / "m.npz", "--epochs", "5")) == 130
    ckpt = tmp_path / "m.ckpt.npz"
    clip = sorted((tones / "high").glob("*.wav"))[0]
    capsys.readouterr()
    assert main(["predict", "--model", os.fspath(ckpt), os.fspath(clip), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    model = mio.load_model(ckpt)
    y, sr = audio.load_wav(clip)
    p = model.predict_proba([y], sr=sr)[0]
    assert got["label"] == model.classes[int(np.argmax(p))]
    assert got["probability"] == pytest.approx(float(p.max()), abs=1e-6)
    assert main(["evaluate", "--model", os.fspath(ckpt), "--data", os.fspath(tones)]) == 0


# ------------------------------------------------------------------------------- audio edge cases
def test_duration_warnings_api():
    assert audio.duration_warning("a.wav", 1, 16000).startswith("a.wav: 0 ms is much shorter")
    assert audio.duration_warning("a.wav", 160, 16000).startswith("a.wav: 10 ms is much shorter")
    assert audio.duration_warning("a.wav", 16000, 16000) is None
    long = audio.duration_warning("a.wav", 600 * 16000, 16000)
    assert "600.0 s recording" in long and "minikws detect" in long


def test_predict_warns_on_short_clips_and_long_recordings(tmp_path, capsys, tones):
    assert main(_train(tones, tmp_path / "m.npz", "--epochs", "1")) == 0
    rng = np.random.default_rng(0)
    for name, n in (("one.wav", 1), ("10ms.wav", 80), ("ok.wav", 4000), ("long.wav", 60 * 8000)):
        audio.save_wav(tmp_path / name, (0.1 * rng.standard_normal(n)).astype(np.float32), 8000)
    capsys.readouterr()
    files = [os.fspath(tmp_path / n) for n in ("one.wav", "10ms.wav", "ok.wav", "long.wav")]
    assert main(["predict", "--model", os.fspath(tmp_path / "m.npz"), *files]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 4  # every file still gets its label
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 3
    assert warnings[0].startswith(f"minikws predict: warning: {files[0]}: 0 ms is much shorter")
    assert warnings[1].startswith(f"minikws predict: warning: {files[1]}: 10 ms is much shorter")
    assert "60.0 s recording" in warnings[2] and "minikws detect" in warnings[2]


# ------------------------------------------------------------------------------- smaller things
def test_train_says_it_is_synthesizing(tmp_path, capsys, monkeypatch):
    def stop(**kw):
        raise KeyboardInterrupt  # enough to see what was printed before synthesis began

    monkeypatch.setattr(datasets, "synthesize_commands", stop)
    assert main(["train", "--out", os.fspath(tmp_path / "m.npz")]) == 130
    assert "synthesizing the built-in command set" in capsys.readouterr().err


def test_help_texts_state_the_defaults(capsys):
    import inspect

    from minikws.cli.demo import DEMO
    from minikws.cli.train import MODEL_DEFAULTS, TRAIN_DEFAULTS
    from minikws.train import TrainConfig, train_on_dataset

    sig = inspect.signature(train_on_dataset).parameters
    assert MODEL_DEFAULTS == {"hidden": sig["hidden_size"].default, "layers": sig["num_layers"].default,
                              "dropout": sig["dropout"].default, "cmn_window": sig["cmn_window"].default}
    config = TrainConfig()
    assert TRAIN_DEFAULTS == {k: getattr(config, k) for k in TRAIN_DEFAULTS}
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the demo's" not in text
    assert f"(default: {DEMO['epochs']})" in text and f"(default: {DEMO['hidden']}, 2 layers)" in text
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "learning rate" in text and "1e-3 to 1e-2" in text  # README sends users here for it
    with pytest.raises(SystemExit):
        main(["mfcc", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "every 20 ms" in text and "10 ms hop" in text


def test_the_augmentation_before_each_epoch_has_a_bar(capsys, tones):
    from minikws.train import TrainConfig, train_on_dataset

    ds = datasets.load_dataset(os.fspath(tones), kind="folders")
    capsys.readouterr()
    train_on_dataset(ds, hidden_size=4, num_layers=1, config=TrainConfig(epochs=2, batch_size=8),
                     progress=True, log=lambda line: None)
    err = capsys.readouterr().err
    assert err.count("augment") >= 2 and "epoch 2/2" in err  # a bar for it before every epoch's own


def test_api_refuses_bad_seeds_and_checkpoint_paths_before_work(tmp_path):
    from minikws import gradcheck
    from minikws.errors import MinikwsError
    from minikws.models import KWSModel
    from minikws.train import Trainer

    with pytest.raises(MinikwsError, match=r"^seed: expected an integer seed in \[0, 2\*\*63\), got -1$"):
        gradcheck.check_layers(seed=-1)
    with pytest.raises(MinikwsError, match=r"^seed: expected an integer seed"):
        datasets.synthesize_commands(words=["yes"], per_word=6, seed=-1)
    model = KWSModel(classes=["a", "b"], hidden_size=3, num_layers=1)
    with pytest.raises(MinikwsError, match=r"^checkpoint .*missing/c.npz: folder .*missing does not exist$"):
        Trainer(model, checkpoint=tmp_path / "missing" / "c.npz")
