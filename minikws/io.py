"""Model and checkpoint files: ``.npz`` archives that are safe to open.

A minikws file is a NumPy ``.npz`` (a zip of ``.npy`` arrays) holding

* ``format_version`` -- a 0-d int64 array, :data:`FORMAT_VERSION`;
* ``config`` -- a 0-d unicode array: JSON text with ``"kind"`` (``"model"`` or ``"checkpoint"``) and the
  settings needed to rebuild the object (label set, sample rate, feature settings, layer sizes, ...);
* the numeric arrays themselves (weights, normalisation statistics, optimizer moments), under
  dotted names such as ``model.lstm.l0.Wx``.

Writing goes through :func:`minikws._fileio.atomic_write`: a temporary file in the destination's
folder, renamed over the destination (``os.replace`` is atomic on POSIX and Windows), so a crash
mid-write leaves either the old file or the new one, never half of one.

Reading never unpickles: every member is checked (name, ``.npy`` header, dtype, size) before its data is
read, object arrays are refused, and arrays are read with ``allow_pickle=False``. Anything wrong -- a
truncated download, a file that is not a zip, somebody else's ``.npz``, a version from the future, a
pickle -- raises :class:`ModelFileError` with one line naming the file; nothing in the file runs.
"""
import json
import os
import zipfile
from typing import NamedTuple

import numpy as np

from minikws._fileio import atomic_write
from minikws.errors import MinikwsError
from minikws.compress import QUANTIZATION, Int8KWSModel
from minikws.models import KWSModel

__all__ = [
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "MODEL_LIMITS",
    "ModelFileError",
    "Checkpoint",
    "save_npz",
    "load_npz",
    "save_model",
    "load_model",
    "save_checkpoint",
    "load_checkpoint",
]

FORMAT_VERSION = 3
# Versions this minikws reads; older model settings are brought to version 3's by _upgrade_model_config.
READABLE_VERSIONS = (1, 2, 3)
_RESERVED = ("format_version", "config")
_MAX_BYTES = 2**31  # no minikws file is near 2 GiB; a header claiming more is hostile or broken
_ALLOWED_KINDS = "fiub"  # float, signed/unsigned int, bool: never object, void, string


class ModelFileError(MinikwsError):
    """A model or checkpoint file that cannot be used (missing, damaged, foreign, wrong version)."""


def _fail(path, what):
    return ModelFileError(f"{os.fspath(path)}: {what}")


def _atomic_savez(path, arrays):
    """np.savez ``arrays`` to ``path`` atomically (:func:`minikws._fileio.atomic_write`)."""
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def save_npz(path, *, kind, config, arrays):
    """Write a minikws ``.npz`` file atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; its folder must exist.
    kind : str
        What the file holds (``"model"``, ``"checkpoint"``); :func:`load_npz` checks it.
    config : dict
        JSON-serialisable settings; stored with ``kind`` added.
    arrays : dict of str -> ndarray
        Numeric arrays (float, int or bool), names without ``/`` and not ``format_version``/``config``.
    """
    stored = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if name in _RESERVED or "/" in name or not name:
            raise MinikwsError(f"arrays: invalid array name {name!r}")
        if a.dtype.kind not in _ALLOWED_KINDS:
            raise MinikwsError(f"arrays[{name!r}]: dtype {a.dtype} cannot be stored (numeric only)")
        stored[name] = a
    text = json.dumps({**config, "kind": kind}, sort_keys=True, allow_nan=False)
    stored["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    stored["config"] = np.array(text)  # a 0-d '<U' array: readable without pickle
    _atomic_savez(path, stored)


def _read_header(f, path, name):
    """Read a .npy member's magic and header -> (shape, fortran_order, dtype), rejecting what we never write."""
    try:
        version = np.lib.format.read_magic(f)
    except ValueError:
        raise _fail(path, f"member {name!r} is not a .npy array") from None
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise _fail(path, f"member {name!r} has an unsupported .npy version {version}")


def _read_members(path):
    """Every array of the archive, each checked before its data is read -> dict name -> ndarray."""
    arrays = {}
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > _MAX_BYTES:
            raise _fail(path, "archive claims more than 2 GiB of data; refusing it")
        for info in infos:  # every name first: a foreign member means nothing else is read
            if not info.filename.endswith(".npy") or info.is_dir():
                raise _fail(path, f"unexpected member {info.filename!r} (not a minikws file)")
        for info in infos:
            name = info.filename[: -len(".npy")]
            if name in arrays:
                raise _fail(path, f"member {name!r} appears twice")
            with zf.open(info) as f:
                shape, _, dtype = _read_header(f, path, name)
                if dtype.hasobject:
                    raise _fail(path, f"member {name!r} is a pickled object array; refusing to load it")
                if dtype.kind not in _ALLOWED_KINDS and not (name == "config" and dtype.kind == "U"):
                    raise _fail(path, f"member {name!r} has dtype {dtype}, not a numeric array")
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if nbytes > info.file_size:
                    raise _fail(path, f"member {name!r} is truncated (header promises {nbytes} bytes)")
            with zf.open(info) as f:
                arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays


def load_npz(path, *, kind):
    """Open a minikws ``.npz`` file written by :func:`save_npz`, checking everything first.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str or tuple of str
        The kind(s) the caller accepts (``"model"``, ``"checkpoint"``).

    Returns
    -------
    config : dict
        The JSON settings (with ``"kind"``).
    arrays : dict of str -> ndarray
        Every numeric array (not ``format_version`` or ``config``).

    Raises
    ------
    ModelFileError
        Missing, truncated or damaged file; not a zip; not a minikws file; another version; a
        different kind; an object (pickle) array.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _fail(path, "no such file")
    if not os.path.isfile(path):
        raise _fail(path, "not a file")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x93NUMPY"):
        raise _fail(path, "a single .npy array, not a minikws .npz file")
    if head[:1] == b"\x80":
        raise _fail(path, "looks like a Python pickle; refusing to load it")
    if not zipfile.is_zipfile(path):
        raise _fail(path, "not a minikws file (not an .npz archive; truncated or damaged?)")
    try:
        arrays = _read_members(path)
    except ModelFileError:
        raise
    except Exception as exc:
        # zlib/CRC errors, short reads, malformed headers: all mean the file is damaged
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, f"damaged or truncated file ({detail})") from None
    if "format_version" not in arrays or "config" not in arrays:
        raise _fail(path, "not a minikws file (no format_version/config)")
    version = arrays.pop("format_version")
    if version.shape != () or version.dtype.kind not in "iu":
        raise _fail(path, "not a minikws file (bad format_version)")
    if int(version) not in READABLE_VERSIONS:
        raise _fail(path, f"format version {int(version)}, this minikws reads versions "
                          f"{', '.join(map(str, READABLE_VERSIONS))}")
    text = arrays.pop("config")
    if text.shape != () or text.dtype.kind != "U":
        raise _fail(path, "not a minikws file (config is not a text scalar)")
    try:
        config = json.loads(str(text))
    except ValueError:
        raise _fail(path, "config is not valid JSON") from None
    if not isinstance(config, dict):
        raise _fail(path, "config is not a JSON object")
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    if config.get("kind") not in kinds:
        want = " or ".join(repr(k) for k in kinds)
        raise _fail(path, f"holds a {config.get('kind')!r}, expected a {want}")
    if isinstance(config.get("model"), dict):
        config["model"] = _upgrade_model_config(config["model"], int(version))
    return config, arrays


def _upgrade_model_config(model, version):
    """A model's settings as format 3 stores them, from a file of format ``version``.

    Format 3 keeps the front end's settings under ``"frontend"`` (:meth:`FrontEnd.get_config`), with an
    absolute log floor. Formats 1 and 2 kept ``sr``, ``features`` and ``cmn_window`` beside the network's
    settings, and their models were trained with librosa's floor 80 dB below each clip's maximum
    (``top_db=80, amin=1e-10``), so they are read with that floor: they featurize clips as they were
    trained, but cannot stream. Format 1 (before the running CMN) had no ``cmn_window``: 0.
    """
    if version >= 3:
        return model
    model = dict(model)
    if version == 1:
        model.setdefault("cmn_window", 0)
    frontend = {key: model.pop(key) for key in ("sr", "features", "cmn_window") if key in model}
    if isinstance(frontend.get("features"), dict):
        frontend["features"] = {"top_db": 80.0, "amin": 1e-10, **frontend["features"]}
    model["frontend"] = frontend
    return model


def _prefixed(prefix, d):
    return {f"{prefix}.{k}": v for k, v in d.items()}


def _unprefixed(prefix, d):
    n = len(prefix) + 1
    return {k[n:]: v for k, v in d.items() if k.startswith(prefix + ".")}


def save_model(model, path):
    """Write a :class:`minikws.models.KWSModel` (settings + weights + normalisation) atomically."""
    save_npz(path, kind="model", config={"model": model.get_config()},
             arrays=_prefixed("model", model.state_dict()))


# Sane bounds of a model's settings. Far above any keyword spotter (the demo's is hidden 64, 2 layers,
# 13 coefficients), far below what would make building the model or its front end exhaust memory.
MODEL_LIMITS = {"hidden_size": 8192, "num_layers": 64, "n_mfcc": 512, "n_fft": 65536,
                "win_length": 65536, "hop_length": 65536, "n_mels": 1024, "cmn_window": 10**6, "sr": 768000,
                "classes": 100000}


def _expected_arrays(config):
    """name -> (shape, dtype) of every array a model of ``config`` holds (see ``state_dict``): a float
    model's in its dtype; an int8 model's (``config["quantization"]``, :class:`minikws.compress.
    Int8KWSModel`) int8 weight codes beside float32 scales, biases and normalisation."""
    H, L, C = config["hidden_size"], config["num_layers"], len(config["classes"])
    K = config["frontend"]["features"]["n_mfcc"]
    f = np.dtype(config["dtype"])
    if "quantization" not in config:
        arrays = {}
        for layer in range(L):
            D = K if layer == 0 else H
            arrays.update({f"lstm.l{layer}.Wx": ((D, 4 * H), f), f"lstm.l{layer}.Wh": ((H, 4 * H), f),
                           f"lstm.l{layer}.b": ((4 * H,), f)})
        arrays.update({"fc.W": ((H, C), f), "fc.b": ((C,), f), "norm.mean": ((K,), f), "norm.std": ((K,), f)})
        return arrays
    i8, f32 = np.dtype(np.int8), np.dtype(np.float32)
    arrays = {}
    for layer in range(L):
        D = K if layer == 0 else H
        arrays.update({f"lstm.l{layer}.Wx": ((D, 4 * H), i8), f"lstm.l{layer}.Wx.scale": ((4 * H,), f32),
                       f"lstm.l{layer}.Wh": ((H, 4 * H), i8), f"lstm.l{layer}.Wh.scale": ((4 * H,), f32),
                       f"lstm.l{layer}.b": ((4 * H,), f32), f"lstm.l{layer}.in_scale": ((1,), f32),
                       f"lstm.l{layer}.h_scale": ((1,), f32)})
    arrays.update({"fc.W": ((H, C), i8), "fc.W.scale": ((C,), f32), "fc.b": ((C,), f32),
                   "fc.in_scale": ((1,), f32), "norm.mean": ((K,), f32), "norm.std": ((K,), f32)})
    return arrays


def _check_model_config(config, state):
    """Check a stored model's settings against sane bounds and against the stored arrays' shapes,
    before anything is built: a file claiming hidden_size 100000 with arrays of 64 is refused at once,
    without allocating the 74 GiB its model would need. Raises MinikwsError."""
    frontend = config.get("frontend") if isinstance(config, dict) else None
    if not (isinstance(frontend, dict) and isinstance(frontend.get("features"), dict)
            and isinstance(config.get("classes"), list)):
        return  # KWSModel.from_config names what is missing or malformed, before it builds anything
    features = frontend["features"]
    checks = [("hidden_size", config.get("hidden_size"), 1), ("num_layers", config.get("num_layers"), 1),
              ("cmn_window", frontend.get("cmn_window"), 0), ("sr", frontend.get("sr"), 1000)]
    checks += [(k, features.get(k), 1) for k in ("n_mfcc", "n_fft", "win_length", "hop_length", "n_mels")
               if k in features or k == "n_mfcc"]
    for key, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MODEL_LIMITS[key]:
            raise MinikwsError(f"model settings: {key} = {value!r}, expected an integer in "
                               f"[{low}, {MODEL_LIMITS[key]}]")
    if len(config["classes"]) > MODEL_LIMITS["classes"]:
        raise MinikwsError(f"model settings: {len(config['classes'])} classes, at most "
                           f"{MODEL_LIMITS['classes']} are supported")
    if config.get("dtype") not in ("float32", "float64"):
        return  # from_config refuses it
    if "quantization" in config and config["quantization"] != QUANTIZATION:
        raise MinikwsError(f"model settings: quantization {config['quantization']!r} is not one minikws "
                           f"writes ({QUANTIZATION})")
    expected = _expected_arrays(config)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        show = lambda names: names[:4] + (["..."] if len(names) > 4 else [])  # noqa: E731
        raise MinikwsError(f"arrays do not match the settings (hidden_size {config['hidden_size']}, "
                           f"num_layers {config['num_layers']}): missing {show(missing)}, "
                           f"unexpected {show(extra)}")
    for name, (shape, dtype) in expected.items():
        a = state[name]
        if a.shape != shape or a.dtype != dtype:
            raise MinikwsError(f"array {name!r} has shape {a.shape} dtype {a.dtype}; the settings "
                               f"(hidden_size {config['hidden_size']}, {len(config['classes'])} classes, "
                               f"n_mfcc {features['n_mfcc']}) need {shape} {dtype}")


def _model_from(path, config, state):
    try:
        _check_model_config(config, state)
        cls = Int8KWSModel if isinstance(config, dict) and "quantization" in config else KWSModel
        model = cls.from_config(config)
        model.load_state_dict(state)
    except MinikwsError as exc:
        raise _fail(path, str(exc)) from None
    return model


def load_model(path):
    """Read a model file written by :func:`save_model`, or the best model of a checkpoint.

    A checkpoint (:func:`save_checkpoint`, written by ``minikws train`` after every epoch) gives the
    weights of its best validation epoch so far, or its latest weights when it has no validation
    split: what ``minikws train`` would have saved had it not been interrupted.

    The stored settings are checked against sane bounds and against the stored arrays' shapes before
    any model is built, so a hostile file (a ``hidden_size`` of 100000 beside arrays of 64) is refused
    at once.

    Returns
    -------
    minikws.models.KWSModel

    Raises
    ------
    ModelFileError
        As :func:`load_npz`, and when the settings, label set, array names, shapes or dtypes do not
        describe a valid model.
    """
    path = os.fspath(path)
    config, arrays = load_npz(path, kind=("model", "checkpoint"))
    if not isinstance(config.get("model"), dict):
        raise _fail(path, "config has no model settings")
    prefix = "best" if config["kind"] == "checkpoint" and config.get("has_best") else "model"
    return _model_from(path, config["model"], _unprefixed(prefix, arrays))


class Checkpoint(NamedTuple):
    """What a training run needs to continue exactly where it stopped.

    model : KWSModel (weights after ``epoch`` epochs); best_state : dict of arrays (weights of the best
    epoch so far, or None); optimizer_state : dict of arrays; epoch : int (epochs completed);
    history : dict of lists; trainer : dict (the trainer's settings, to check a resume uses the same).
    """

    model: object
    best_state: dict
    optimizer_state: dict
    epoch: int
    history: dict
    trainer: dict


def save_checkpoint(path, *, model, optimizer_state, epoch, history, trainer, best_state=None):
    """Write a training checkpoint atomically (see :class:`Checkpoint` for the fields)."""
    arrays = {**_prefixed("model", model.state_dict()), **_prefixed("optim", optimizer_state)}
    if best_state is not None:
        arrays.update(_prefixed("best", best_state))
    config = {"model": model.get_config(), "epoch": int(epoch), "history": history,
              "trainer": trainer, "has_best": best_state is not None}
    save_npz(path, kind="checkpoint", config=config, arrays=arrays)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` -> :class:`Checkpoint`.

    Raises
    ------
    ModelFileError
        As :func:`load_model`.
    """
    path = os.fspath(path)
    config, arrays = load_npz(path, kind="checkpoint")
    for key, typ in (("model", dict), ("epoch", int), ("history", dict), ("trainer", dict)):
        if not isinstance(config.get(key), typ):
            raise _fail(path, f"checkpoint config has no valid {key!r}")
    model = _model_from(path, config["model"], _unprefixed("model", arrays))
    best = None
    if config.get("has_best"):
        best = _unprefixed("best", arrays)
        probe = _model_from(path, config["model"], best)  # validates the best weights' shapes
        del probe
    return Checkpoint(model=model, best_state=best, optimizer_state=_unprefixed("optim", arrays),
                      epoch=config["epoch"], history=config["history"], trainer=config["trainer"])
