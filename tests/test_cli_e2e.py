"""The minikws commands end to end on tiny data: train, evaluate, predict, demo, and users' mistakes."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from minikws.cli import main

COMMANDS = ("demo", "train", "evaluate", "predict")


def tone_folder(root, sr=8000, n=18):
    """Folder-per-label clips: 'low' and 'high' tones in noise, lengths 0.25-0.4 s."""
    from minikws.audio import save_wav

    rng = np.random.default_rng(0)
    for label, f0 in (("low", 300.0), ("high", 1500.0)):
        os.makedirs(root / label)
        for i in range(n):
            t = np.arange(int(rng.uniform(0.25, 0.4) * sr)) / sr
            y = 0.4 * np.sin(2 * np.pi * f0 * (1 + 0.05 * rng.standard_normal()) * t)
            y += 0.05 * rng.standard_normal(t.size)
            save_wav(os.fspath(root / label / f"{label}_{i}.wav"), y.astype(np.float32), sr)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tone data set and a model trained on it by `minikws train`."""
    tmp = tmp_path_factory.mktemp("cli")
    data = tone_folder(tmp / "data")
    model = tmp / "model.npz"
    code = main(["train", "--data", os.fspath(data), "--dataset", "folders", "--out", os.fspath(model),
                 "--epochs", "3", "--hidden", "8", "--batch-size", "8", "--seed", "1", "--no-progress",
                 "--plots", os.fspath(tmp / "plots")])
    assert code == 0
    return tmp, data, model


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: minikws " + command in capsys.readouterr().out


def test_train_writes_model_checkpoint_and_plots(trained):
    tmp, _, model = trained
    assert model.exists() and (tmp / "model.ckpt.npz").exists()
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (tmp / "plots" / png).read_bytes()[:4] == b"\x89PNG"


def test_evaluate_json(trained, capsys):
    _, data, model = trained
    capsys.readouterr()
    assert main(["evaluate", "--model", os.fspath(model), "--data", os.fspath(data), "--json"]) == 0
    out = capsys.readouterr().out
    assert "precision" in out and "weighted avg" in out
    result = last_json(out)
    # The accuracy is the model's on the test split, recomputed here clip by clip from the files.
    from minikws import audio, datasets, io

    m = io.load_model(model)
    ds = datasets.load_dataset(os.fspath(data), kind="auto")
    test = ds.select("test")
    preds = [m.classes[int(np.argmax(m.predict_proba([y], sr=ds.sr)[0]))] for y in test.audio]
    truth = [ds.classes[k] for k in test.labels]
    assert result["support"] == len(truth) > 0
    assert result["accuracy"] == pytest.approx(np.mean([p == t for p, t in zip(preds, truth)]), abs=1e-12)
    M = np.array(result["confusion_matrix"])
    assert M.sum() == result["support"] and result["accuracy"] == pytest.approx(np.trace(M) / M.sum())
    assert result["accuracy"] > 0.5  # better than chance after 3 epochs on two tones
    assert set(result["per_class"]) == {"high", "low"}


def test_predict_reports_broken_files_and_goes_on(trained, capsys, tmp_path):
    _, data, model = trained
    good = sorted((data / "low").glob("*.wav"))[:2]
    broken = tmp_path / "broken.wav"
    broken.write_text("this is not audio")
    missing = tmp_path / "missing.wav"
    files = [os.fspath(good[0]), os.fspath(broken), os.fspath(missing), os.fspath(good[1])]
    capsys.readouterr()
    assert main(["predict", "--model", os.fspath(model), *files, "--json"]) == 2
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [d["file"] for d in lines] == [files[0], files[3]]  # the others still predicted
    for d in lines:
        assert d["label"] in ("low", "high") and 0.0 <= d["probability"] <= 1.0
    err = captured.err.strip().splitlines()  # README: the broken file in one line on stderr
    assert len(err) == 2
    assert err[0].startswith(f"minikws predict: error: {files[1]}: not a WAV file")
    assert err[1] == f"minikws predict: error: {files[2]}: No such file or directory"
    assert main(["predict", "--model", os.fspath(model), os.fspath(good[0])]) == 0
    text = capsys.readouterr().out.strip().split("\t")
    assert text[0] == os.fspath(good[0]) and text[1] in ("low", "high")


def test_predict_resamples_other_rates(trained, capsys, tmp_path):
    from minikws.audio import save_wav

    _, _, model = trained
    t = np.arange(int(0.3 * 16000)) / 16000
    save_wav(os.fspath(tmp_path / "16k.wav"), (0.4 * np.sin(2 * np.pi * 1500 * t)).astype(np.float32), 16000)
    capsys.readouterr()
    assert main(["predict", "--model", os.fspath(model), os.fspath(tmp_path / "16k.wav"), "--json"]) == 0
    assert last_json(capsys.readouterr().out)["label"] in ("low", "high")


def _user_error(argv, capsys, match):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and re.search(match, err), err


def test_users_mistakes_are_one_line_exit_2(trained, capsys, tmp_path):
    tmp, data, model = trained
    hostile = tmp_path / "model.npz"
    hostile.write_bytes(b"\x80\x04not a model")
    empty_class = tmp_path / "empty"
    os.makedirs(empty_class / "yes")
    os.makedirs(empty_class / "no")
    out = os.fspath(tmp_path / "m.npz")
    _user_error(["train", "--data", os.fspath(tmp_path / "nope"), "--out", out], capsys, "nope")
    _user_error(["train", "--data", os.fspath(data), "--out", out, "--hidden", "0"], capsys, "--hidden")
    _user_error(["train", "--data", os.fspath(data), "--out", out, "--cmn-window", "-1"], capsys,
                "--cmn-window")
    _user_error(["train", "--data", os.fspath(data), "--out", os.fspath(tmp_path / "no" / "m.npz")],
                capsys, "does not exist")
    _user_error(["train", "--data", os.fspath(data), "--out", out, "--resume", os.fspath(hostile)],
                capsys, "pickle")
    _user_error(["train", "--data", os.fspath(empty_class), "--dataset", "folders", "--out", out],
                capsys, "empty|no .*clips|no audio|no wav")
    _user_error(["evaluate", "--model", os.fspath(hostile), "--data", os.fspath(data)], capsys, "pickle")
    _user_error(["evaluate", "--model", os.fspath(tmp_path / "none.npz"), "--data", os.fspath(data)],
                capsys, "no such file")
    _user_error(["predict", "--model", os.fspath(hostile), os.fspath(next((data / "low").glob("*.wav")))],
                capsys, "pickle")


def test_a_real_process_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "minikws", "evaluate", "--model", os.fspath(tmp_path / "x.npz"),
                           "--data", os.fspath(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def fsdd_folder(root, *, per_word, speakers=2, sr=8000, seed=0):
    """Synthesized spoken digits in the Free Spoken Digit Dataset's layout (minikws.datasets.synthesize_fsdd):
    ``index`` counts each speaker's recordings of a digit, so that FSDD's split (index 0-4 test, 5-9
    validation here, the rest training) applies."""
    from minikws.datasets import synthesize_fsdd

    synthesize_fsdd(root, per_word=per_word, speakers=speakers, seed=seed, sr=sr)
    return root


def test_fsdd_layout_trains_at_8khz(tmp_path, capsys):
    data = fsdd_folder(tmp_path / "fsdd", per_word=30)
    out = tmp_path / "fsdd.npz"
    assert main(["train", "--data", os.fspath(data), "--dataset", "fsdd", "--out", os.fspath(out),
                 "--epochs", "2", "--hidden", "16", "--no-progress", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert result["accuracy"] is not None and result["epochs"] == 2
    assert set(result["per_class"]) == {str(d) for d in range(10)}
    from minikws.io import load_model

    m = load_model(out)
    assert m.sr == 8000 and m.features["n_fft"] == 256  # defaults follow the data's sample rate
    assert m.classes == tuple(str(d) for d in range(10))


def test_demo_json_last_line(capsys, tmp_path):
    out_model = tmp_path / "demo.npz"
    assert main(["demo", "--json", "--per-word", "20", "--epochs", "1", "--hidden", "8", "--no-progress",
                 "--out", os.fspath(out_model)]) == 0
    out = capsys.readouterr().out
    result = last_json(out)
    assert result["seconds"] > 0 and result["epochs"] == 1
    assert "_silence_" in result["per_class"] and "weighted avg" in out
    # The reported accuracy is the saved model's on the same synthesized test split, recomputed here.
    from minikws import datasets, io
    from minikws.train import evaluate_on_dataset

    ds = datasets.synthesize_commands(seed=0, per_word=20)
    again, y_true, y_pred = evaluate_on_dataset(io.load_model(out_model), ds, subset="test")
    assert result["clips"]["test"] == len(y_true) == 12 * 2
    assert result["accuracy"] == pytest.approx(float(np.mean(y_true == y_pred)), abs=1e-12)
    assert result["confusion_matrix"] == again["confusion_matrix"]
