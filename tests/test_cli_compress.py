"""minikws compress and minikws export end to end, and their one-line errors (nothing written)."""
import json
import os

import numpy as np
import pytest

from minikws import compress, io
from minikws.cli import main
from test_cli_e2e import tone_folder


@pytest.fixture(scope="module")
def tone_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compress")
    data = tone_folder(tmp / "data", n=24)
    model = tmp / "model.npz"
    assert main(["train", "--data", os.fspath(data), "--dataset", "folders", "--out", os.fspath(model),
                 "--epochs", "4", "--hidden", "12", "--batch-size", "8", "--seed", "1", "--no-progress"]) == 0
    return tmp, data, model


def run(args, capsys):
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_prune_fine_tune_and_quantize(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    out = tmp_path / "small.npz"
    code, text, err = run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--prune", "0.5",
                           "--fine-tune", "1", "--quantize", "int8", "--out", os.fspath(out), "--json"], capsys)
    assert code == 0, err
    figures = json.loads(text.strip().splitlines()[-1])
    assert figures["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert figures["after_bytes"] == os.path.getsize(out) < os.path.getsize(model)  # tiny model: headers weigh
    assert "accuracy" in text and "int8" in text
    q = io.load_model(out)
    assert isinstance(q, compress.Int8KWSModel)
    assert q.layers[0].Wx.dtype == np.int8
    codes = [L.Wx for L in q.layers] + [L.Wh for L in q.layers] + [q.fc_W]
    zeros = sum(int((c == 0).sum()) for c in codes) / sum(c.size for c in codes)
    assert zeros >= 0.49  # the pruned weights (one global threshold) stay zero codes
    code, text, _ = run(["predict", "--model", os.fspath(out),
                         os.fspath(next((data / "low").iterdir()))], capsys)
    assert code == 0 and "\t" in text


def test_structured_pruning_gives_a_smaller_float_model(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    out = tmp_path / "units.npz"
    code, text, err = run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--prune", "0.25",
                           "--structured", "--out", os.fspath(out)], capsys)
    assert code == 0, err
    small = io.load_model(out)
    assert type(small).__name__ == "KWSModel" and small.hidden_size == 9
    assert "hidden units 9" in text


def test_export_writes_a_graph_and_its_settings(tone_model, tmp_path, capsys):
    _, _, model = tone_model
    code, text, err = run(["export", "--model", os.fspath(model), "--onnx", os.fspath(tmp_path / "m.onnx")], capsys)
    assert code == 0, err
    assert (tmp_path / "m.onnx").stat().st_size > 1000
    assert json.loads((tmp_path / "m.json").read_text())["classes"] == list(io.load_model(model).classes)
    assert "largest logit difference" in text
    diff = float(text.split("largest logit difference from minikws ")[1].split()[0])
    assert diff < 1e-4


@pytest.mark.parametrize("extra, message", [
    (["--prune", "1.0"], "--prune 1.0"),
    (["--prune", "-0.1"], "--prune -0.1"),
    (["--prune", "0.99", "--structured"], "at least one must stay"),
    (["--structured"], "--structured"),
    ([], "nothing to do"),
    (["--prune", "0.5", "--fine-tune", "-1"], "--fine-tune -1"),
    (["--quantize", "int8", "--calibrate", "0"], "--calibrate 0"),
])
def test_bad_arguments_are_one_line_and_write_nothing(tone_model, tmp_path, capsys, extra, message):
    _, data, model = tone_model
    out = tmp_path / "never.npz"
    code, _, err = run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--out",
                        os.fspath(out)] + extra, capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_quantizing_a_quantized_model_is_refused(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    q = tmp_path / "q.npz"
    assert run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--quantize", "int8",
                "--out", os.fspath(q)], capsys)[0] == 0
    code, _, err = run(["compress", "--model", os.fspath(q), "--data", os.fspath(data), "--quantize", "int8",
                        "--out", os.fspath(tmp_path / "qq.npz")], capsys)
    assert code == 2 and "already an int8 model" in err
    assert not (tmp_path / "qq.npz").exists()


def test_a_tampered_int8_file_is_refused_in_one_line(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    q = tmp_path / "q.npz"
    assert run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--quantize", "int8",
                "--out", os.fspath(q)], capsys)[0] == 0
    with np.load(q, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    name = next(k for k in arrays if k.endswith("l0.Wx") and arrays[k].dtype == np.int8)
    arrays[name] = arrays[name].astype(np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    code, _, err = run(["predict", "--model", os.fspath(tmp_path / "bad.npz"),
                        os.fspath(next((data / "low").iterdir()))], capsys)
    assert code == 2 and "bad.npz" in err and "int8" in err


def test_gradual_pruning_from_the_command_line(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    out = tmp_path / "gradual.npz"
    code, text, err = run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--prune", "0.6",
                           "--gradual", "--fine-tune", "2", "--out", os.fspath(out), "--json"], capsys)
    assert code == 0, err
    assert json.loads(text.strip().splitlines()[-1])["sparsity"] == pytest.approx(0.6, abs=0.01)
    assert "gradual pruning" in text
    code, _, err = run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--prune", "0.6",
                        "--gradual", "--out", os.fspath(tmp_path / "no.npz")], capsys)
    assert code == 2 and "--gradual" in err


def test_commands_say_what_a_compressed_model_is(tone_model, tmp_path, capsys):
    _, data, model = tone_model
    q = tmp_path / "q.npz"
    assert run(["compress", "--model", os.fspath(model), "--data", os.fspath(data), "--prune", "0.5",
                "--quantize", "int8", "--out", os.fspath(q)], capsys)[0] == 0
    code, out, _ = run(["info", "--model", os.fspath(q)], capsys)
    assert code == 0 and "int8 weights per output channel" in out and "of the weights zero" in out
    code, out, err = run(["predict", "--model", os.fspath(q), os.fspath(next((data / "low").iterdir()))], capsys)
    assert code == 0 and "int8" in err and "int8" not in out  # stdout stays one line per file
    code, out, _ = run(["evaluate", "--model", os.fspath(q), "--data", os.fspath(data)], capsys)
    assert code == 0 and out.splitlines()[0].endswith("int8 weights per output channel and int8 activations, "
                                                     + out.splitlines()[0].split("activations, ")[-1])
    code, out, err = run(["predict", "--model", os.fspath(model), os.fspath(next((data / "low").iterdir()))],
                         capsys)
    assert code == 0 and "model" not in err  # a plain float model: nothing to say
