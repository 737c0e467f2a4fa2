"""Hostile model files: settings that would allocate gigabytes are refused before anything is built.

A file may claim ``hidden_size`` 6000 (3 GB and minutes), 100000 (a 74 GiB MemoryError) or
``num_layers`` 10**7 beside arrays of a small model. Each is refused in well under a second and a few
MB (CPU time, and tracemalloc, which sees NumPy's allocations), by the API and by the CLI; before
the check, hidden_size 6000 took minutes and 3 GB.
"""
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from minikws import io as mio
from minikws.audio import save_wav
from minikws.cli import main
from minikws.models import KWSModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _hostile(path, edit, kind="model"):
    m = KWSModel(classes=["yes", "no"], sr=8000, hidden_size=4, num_layers=1)
    config = {"model": m.get_config()}
    edit(config["model"])
    arrays = {f"model.{k}": v for k, v in m.state_dict().items()}
    if kind == "checkpoint":
        config.update(epoch=1, history={}, trainer={}, has_best=False)
    mio.save_npz(path, kind=kind, config=config, arrays=arrays)
    return path


HOSTILE = {
    "hidden_6000": (lambda c: c.update(hidden_size=6000), "hidden_size"),
    "hidden_100000": (lambda c: c.update(hidden_size=100000), "hidden_size = 100000"),
    "layers_1e7": (lambda c: c.update(num_layers=10**7), "num_layers = 10000000"),
    "layers_40": (lambda c: c.update(num_layers=40), "missing"),
    "n_fft_1e9": (lambda c: c["frontend"]["features"].update(n_fft=10**9), "n_fft"),
    "n_mels_1e6": (lambda c: c["frontend"]["features"].update(n_mels=10**6), "n_mels"),
    "classes_5000": (lambda c: c.update(classes=[f"c{i}" for i in range(5000)]), "fc.W"),
    "sr_1e9": (lambda c: c["frontend"].update(sr=10**9), "sr"),
}


@pytest.mark.parametrize("kind", ["model", "checkpoint"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_config_refused_fast_and_small(tmp_path, case, kind):
    edit, words = HOSTILE[case]
    path = _hostile(tmp_path / "evil.npz", edit, kind)
    load = mio.load_model if kind == "model" else mio.load_checkpoint
    tracemalloc.start()
    t0 = time.process_time()  # CPU time: other processes on the machine do not stretch it
    try:
        with pytest.raises(mio.ModelFileError) as exc:
            load(path)
        seconds = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and words in msg and "\n" not in msg
    assert seconds < 1.0, seconds
    assert peak < 50 * 2**20, peak


def test_predict_refuses_a_hostile_model_in_one_line(tmp_path):
    model = _hostile(tmp_path / "evil.npz", HOSTILE["hidden_6000"][0])
    clip = tmp_path / "a.wav"
    save_wav(clip, np.zeros(4000, np.float32), 8000)
    # Measured in a process of its own, with the modules already imported: CPU seconds of the command
    # (not wall time, which other processes on the machine stretch) and its peak resident memory.
    warm = "import resource, sys, time; import minikws.cli, minikws.cli.predict, minikws.io, minikws.models; "
    code = (warm + "from minikws.cli import main; t = time.process_time(); rc = main(sys.argv[1:]); "
            "print(time.process_time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, rc, "
            "file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": ROOT}
    base = subprocess.run([sys.executable, "-c", warm + "print(resource.getrusage(resource.RUSAGE_SELF)"
                           ".ru_maxrss)"], capture_output=True, text=True, env=env)
    r = subprocess.run([sys.executable, "-c", code, "predict", "--model", os.fspath(model), os.fspath(clip)],
                       capture_output=True, text=True, timeout=120, env=env)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"minikws predict: error: {model}: ") and "hidden_size 6000" in lines[0]
    seconds, rss_kb, rc = lines[1].split()
    assert rc == "2" and float(seconds) < 1.0
    assert int(rss_kb) - int(base.stdout) < 50 * 1024  # KB on Linux


def test_consistent_small_model_still_loads(tmp_path):
    m = KWSModel(classes=["a", "b", "c"], sr=16000, hidden_size=7, num_layers=3)
    mio.save_model(m, tmp_path / "m.npz")
    back = mio.load_model(tmp_path / "m.npz")
    assert back.get_config() == m.get_config()


def test_cli_evaluate_refuses_hostile_checkpoint(tmp_path, capsys):
    path = _hostile(tmp_path / "evil.ckpt.npz", HOSTILE["layers_1e7"][0], kind="checkpoint")
    (tmp_path / "data").mkdir()
    assert main(["evaluate", "--model", os.fspath(path), "--data", os.fspath(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "num_layers = 10000000" in err
