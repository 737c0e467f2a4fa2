"""Model and checkpoint files: round trips, atomic writes, and hostile or broken files refused."""
import io as _io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from minikws import io as mio
from minikws.errors import MinikwsError


class Evil:
    """Unpickling this creates a file: the marker proves whether anything in a file was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _write_raw_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _valid(path, **arrays):
    mio.save_npz(path, kind="model", config={"hello": [1, 2]},
                 arrays=arrays or {"w": np.arange(6, dtype=np.float32).reshape(2, 3)})


def _one_line_error(path, exc):
    msg = str(exc.value)
    assert "\n" not in msg
    assert os.fspath(path) in msg
    assert isinstance(exc.value, MinikwsError) and isinstance(exc.value, ValueError)
    return msg


def test_round_trip_and_no_temp_files(tmp_path):
    path = tmp_path / "m.npz"
    arrays = {"a.b": np.arange(5, dtype=np.float64), "i": np.array([1, 2], dtype=np.int64),
              "flag": np.array(True)}
    mio.save_npz(path, kind="model", config={"x": 1.5, "names": ["yes", "no"]}, arrays=arrays)
    config, back = mio.load_npz(path, kind="model")
    assert config == {"x": 1.5, "names": ["yes", "no"], "kind": "model"}
    assert set(back) == set(arrays)
    for k in arrays:
        np.testing.assert_array_equal(back[k], arrays[k])
        assert back[k].dtype == arrays[k].dtype
    assert os.listdir(tmp_path) == ["m.npz"]
    with np.load(path, allow_pickle=False) as z:  # an ordinary .npz, readable without minikws
        assert int(z["format_version"]) == mio.FORMAT_VERSION
        assert json.loads(str(z["config"]))["kind"] == "model"


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    _valid(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(MinikwsError, match=r"m\.npz: cannot write \(disk full\)"):
        _valid(path, w=np.zeros(3, dtype=np.float32))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_object_arrays_are_not_written(tmp_path):
    with pytest.raises(MinikwsError, match="numeric only"):
        mio.save_npz(tmp_path / "x.npz", kind="model", config={},
                     arrays={"o": np.array([{"a": 1}], dtype=object)})


@pytest.mark.parametrize("cut", [0.3, 0.7, 0.95])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "m.npz"
    _valid(path, w=np.random.default_rng(0).standard_normal(5000).astype(np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    _one_line_error(path, exc)


def test_corrupted_member_data(tmp_path):
    path = tmp_path / "m.npz"
    _valid(path, w=np.zeros(4000, dtype=np.float32))
    data = bytearray(path.read_bytes())
    i = data.index(b"\x93NUMPY") + 400  # inside the first array's data: the CRC no longer matches
    data[i:i + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    _one_line_error(path, exc)


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", b"\x00" * 1000,
                                     b"PK\x03\x04 not really a zip"])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    _one_line_error(path, exc)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(mio.ModelFileError, match="no such file"):
        mio.load_npz(tmp_path / "nope.npz", kind="model")
    with pytest.raises(mio.ModelFileError, match="not a file"):
        mio.load_npz(tmp_path, kind="model")


def test_plain_npy_file(tmp_path):
    path = tmp_path / "m.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(mio.ModelFileError, match="single .npy"):
        mio.load_npz(path, kind="model")


def test_pickle_file_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.npz"
    path.write_bytes(pickle.dumps(Evil(str(marker))))
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    assert "pickle" in _one_line_error(path, exc)
    assert not marker.exists()


def test_object_array_member_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {
        "format_version": np.array(mio.FORMAT_VERSION, dtype=np.int64),
        "config": np.array(json.dumps({"kind": "model"})),
        "w": np.array([Evil(str(marker))], dtype=object),
    })
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    assert "object array" in _one_line_error(path, exc)
    assert not marker.exists()


def test_pickled_config_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {"format_version": np.array(1, dtype=np.int64),
                          "config": np.array(Evil(str(marker)), dtype=object)})
    with pytest.raises(mio.ModelFileError):
        mio.load_npz(path, kind="model")
    assert not marker.exists()


def test_foreign_members(tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("format_version.npy", b"")
        zf.writestr("payload.pkl", pickle.dumps(Evil(str(tmp_path / "pwned"))))
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    assert "unexpected member" in _one_line_error(path, exc)
    assert not (tmp_path / "pwned").exists()


def test_header_promising_more_than_the_data(tmp_path):
    buf = _io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
    buf.write(b"\x00" * 16)
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", buf.getvalue())
    with pytest.raises(mio.ModelFileError, match="truncated"):
        mio.load_npz(path, kind="model")


def test_someone_elses_npz(tmp_path):
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {"weights": np.zeros(3), "bias": np.ones(2)})
    with pytest.raises(mio.ModelFileError, match="not a minikws file") as exc:
        mio.load_npz(path, kind="model")
    _one_line_error(path, exc)


@pytest.mark.parametrize("version", [0, 4, 99])
def test_other_format_versions(tmp_path, version):
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {"format_version": np.array(version, dtype=np.int64),
                          "config": np.array(json.dumps({"kind": "model"}))})
    with pytest.raises(mio.ModelFileError, match=f"format version {version}"):
        mio.load_npz(path, kind="model")


@pytest.mark.parametrize("config", ["{not json", json.dumps([1, 2]), json.dumps({"kind": "checkpoint"})])
def test_bad_config(tmp_path, config):
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {"format_version": np.array(1, dtype=np.int64), "config": np.array(config)})
    with pytest.raises(mio.ModelFileError) as exc:
        mio.load_npz(path, kind="model")
    _one_line_error(path, exc)


def test_string_array_member_refused(tmp_path):
    path = tmp_path / "m.npz"
    _write_raw_npz(path, {"format_version": np.array(1, dtype=np.int64),
                          "config": np.array(json.dumps({"kind": "model"})),
                          "names": np.array(["a", "b"])})
    with pytest.raises(mio.ModelFileError, match="not a numeric array"):
        mio.load_npz(path, kind="model")


# ------------------------------------------------------------------------------------ model files
def _model():
    from minikws.models import KWSModel

    m = KWSModel(classes=("yes", "no", "_silence_"), sr=8000, hidden_size=5, num_layers=2,
                 features={"n_mfcc": 4, "n_fft": 256, "hop_length": 80, "win_length": 200, "n_mels": 16},
                 seed=1)
    m.mean[...] = np.arange(4)
    m.std[...] = 2.0
    return m


def test_model_round_trip(tmp_path):
    m = _model()
    path = tmp_path / "model.npz"
    mio.save_model(m, path)
    back = mio.load_model(path)
    assert back.get_config() == m.get_config()
    x = np.random.default_rng(0).standard_normal((6, 2, 4)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x, np.array([6, 3]))[0], m.forward(x, np.array([6, 3]))[0])
    with pytest.raises(mio.ModelFileError, match="checkpoint"):
        mio.load_checkpoint(path)


def _rewrite(path, edit_config=None, edit_arrays=None):
    config, arrays = mio.load_npz(path, kind="model")
    if edit_config:
        edit_config(config)
    if edit_arrays:
        edit_arrays(arrays)
    config.pop("kind")
    mio.save_npz(path, kind="model", config=config, arrays=arrays)


@pytest.mark.parametrize("edit_config,edit_arrays,match", [
    (None, lambda a: a.update({"model.fc.W": a["model.fc.W"][:, :2]}), "fc.W"),
    (None, lambda a: a.update({"model.lstm.l0.Wx": a["model.lstm.l0.Wx"].astype(np.float64)}), "l0.Wx"),
    (None, lambda a: a.pop("model.norm.std"), "missing"),
    (None, lambda a: a.update({"model.extra": np.zeros(2)}), "unexpected"),
    (None, lambda a: a["model.fc.b"].__setitem__(0, np.nan), "NaN"),
    (lambda c: c["model"].update(classes=["yes", "no", "up", "down"]), None, "fc"),
    (lambda c: c["model"].update(classes=["yes", "yes", "no"]), None, "unique"),
    (lambda c: c["model"].update(hidden_size=-3), None, "hidden_size"),
    (lambda c: c["model"]["frontend"].update(sr="fast"), None, "sr"),
    (lambda c: c["model"]["frontend"]["features"].update(n_mfcc=7), None, "l0.Wx"),
    (lambda c: c["model"]["frontend"]["features"].update(evil="__import__('os')"), None, "unknown settings"),
    (lambda c: c["model"]["frontend"].update(evil=1), None, "unexpected"),
    (lambda c: c["model"].pop("classes"), None, "missing"),
    (lambda c: c.pop("model"), None, "no model settings"),
])
def test_inconsistent_model_files_are_refused(tmp_path, edit_config, edit_arrays, match):
    path = tmp_path / "model.npz"
    mio.save_model(_model(), path)
    _rewrite(path, edit_config, edit_arrays)
    with pytest.raises(mio.ModelFileError, match=match) as exc:
        mio.load_model(path)
    _one_line_error(path, exc)


def test_checkpoint_round_trip(tmp_path):
    m = _model()
    best = m.state_dict()
    best["fc.b"] += 1
    path = tmp_path / "run.ckpt.npz"
    opt = {"step": np.array(7), "m.fc.W": np.ones((5, 3), dtype=np.float32)}
    mio.save_checkpoint(path, model=m, optimizer_state=opt, epoch=3, history={"train_loss": [1.0, 0.5, 0.2]},
                        trainer={"config": {"seed": 1}}, best_state=best)
    ck = mio.load_checkpoint(path)
    assert ck.epoch == 3 and ck.history == {"train_loss": [1.0, 0.5, 0.2]} and ck.trainer == {"config": {"seed": 1}}
    np.testing.assert_array_equal(ck.best_state["fc.b"], best["fc.b"])
    np.testing.assert_array_equal(ck.optimizer_state["m.fc.W"], opt["m.fc.W"])
    assert int(ck.optimizer_state["step"]) == 7
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(ck.model.state_dict()[k], v)
    best_model = mio.load_model(path)  # a checkpoint gives its best model, as its docstring says
    for k, v in best.items():
        np.testing.assert_array_equal(best_model.state_dict()[k], v)


def _old_format_file(path, model, version, *, cmn_window):
    """A model file as minikws wrote it in format ``version`` (1 or 2): the front end's settings beside
    the network's, features without a floor (the per-clip top_db=80 of those versions), and format 1
    without cmn_window."""
    settings = {"classes": list(model.classes), "sr": model.sr,
                "features": {k: v for k, v in model.features.items() if k not in ("top_db", "amin")},
                "hidden_size": model.hidden_size, "num_layers": model.num_layers,
                "dropout": model.dropout, "dtype": model.dtype.name, "seed": model.seed}
    if cmn_window is not None:
        settings["cmn_window"] = cmn_window
    stored = {f"model.{k}": v for k, v in model.state_dict().items()}
    stored["config"] = np.array(json.dumps({"kind": "model", "model": settings}, sort_keys=True))
    stored["format_version"] = np.array(version, dtype=np.int64)
    _write_raw_npz(path, stored)


@pytest.mark.parametrize("version,cmn_window", [(1, None), (2, 0), (2, 7)])
def test_format_1_and_2_model_files_load_with_the_floor_they_were_trained_with(tmp_path, version,
                                                                               cmn_window):
    """Files of formats 1 and 2 load, and featurize as they were trained: MFCC with the per-clip floor
    80 dB below the clip's maximum (amin 1e-10), then the running CMN of their window (none in format
    1). Such a front end cannot stream."""
    from minikws.features import mfcc, running_cmn
    from minikws.models import KWSModel

    model = KWSModel(classes=["a", "b"], sr=8000, hidden_size=3, num_layers=1, seed=1)
    model.mean[...] = 0.5
    path = tmp_path / "old.npz"
    _old_format_file(path, model, version, cmn_window=cmn_window)
    back = mio.load_model(path)
    assert back.cmn_window == (cmn_window or 0)
    assert back.features["top_db"] == 80.0 and back.features["amin"] == 1e-10
    assert not back.frontend.streamable
    np.testing.assert_array_equal(back.mean, model.mean)
    for k, v in model.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    y = (np.random.default_rng(0).standard_normal(4000) * 0.1).astype(np.float32)
    y[:1000] = 0.0  # exact silence: the two floors differ by 20 dB there, so a wrong floor shows
    kw = {k: v for k, v in model.features.items() if k not in ("top_db", "amin")}
    want = mfcc(y, sr=8000, **kw, top_db=80.0, amin=1e-10)
    if cmn_window:
        want = running_cmn(want, window=cmn_window)[0]
    got = back.featurize(y)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    causal = model.featurize(y)[0]  # the format-3 floor gives other features on the silence
    assert np.abs(causal - want).max() > 1.0
    with pytest.raises(MinikwsError, match="top_db=80.0"):
        back.frontend.push(y, back.frontend.new_state())
    mio.save_model(back, tmp_path / "again.npz")  # saved again, as format 3, it keeps its floor
    again = mio.load_model(tmp_path / "again.npz")
    assert again.get_config() == back.get_config()


def test_format_2_model_file_without_cmn_window_is_refused(tmp_path):
    from minikws.models import KWSModel

    model = KWSModel(classes=["a", "b"], sr=8000, hidden_size=3, num_layers=1, seed=1)
    path = tmp_path / "old.npz"
    _old_format_file(path, model, 2, cmn_window=None)
    with pytest.raises(mio.ModelFileError, match="cmn_window"):
        mio.load_model(path)
