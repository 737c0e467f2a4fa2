"""The data pipeline: every epoch's augmented features, bit-identical with 0, 1 or 2 worker processes."""
import multiprocessing
import os

import numpy as np
import pytest

from minikws import _backend
from minikws.datasets import load_folders
from minikws.errors import MinikwsError
from minikws.models import KWSModel
from minikws.pipeline import BLOCK, AugmentedEpochs, default_workers
from minikws.train import TrainConfig, train_on_dataset

FEATURES = {"n_mfcc": 4, "n_fft": 256, "hop_length": 80, "win_length": 200, "n_mels": 16}
SR = 8000


def clips_and_noises(n=2 * BLOCK + 7, seed=0):
    """Tones of 0.2-0.4 s (lengths differ, so clips of a block are featurized in several groups)."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        t = np.arange(int(rng.integers(int(0.2 * SR), int(0.4 * SR)))) / SR
        clips.append((0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)).astype(np.float32))
    noises = [0.1 * rng.standard_normal(SR).astype(np.float32) for _ in range(2)]
    return clips, noises


def frontend():
    return KWSModel(classes=("a", "b"), sr=SR, features=FEATURES, hidden_size=4).frontend


def epochs_with(workers, clips, noises, which=(0, 1, 5), seed=3):
    with AugmentedEpochs(frontend(), clips, sr=SR, noises=noises, seed=seed, workers=workers) as epochs:
        out = {}
        for e in which:
            out[e] = epochs(e)
            epochs.prefetch(e + 1)  # work started ahead and then not collected must not matter
        return out


def assert_same_epochs(a, b):
    assert a.keys() == b.keys()
    for e in a:
        assert len(a[e]) == len(b[e])
        for fa, fb in zip(a[e], b[e]):
            assert fa.dtype == fb.dtype
            np.testing.assert_array_equal(fa, fb)


def test_epochs_are_bit_identical_with_0_1_and_2_workers():
    clips, noises = clips_and_noises()
    ref = epochs_with(0, clips, noises)
    assert len(ref[0]) == len(clips)
    # every clip's frames follow from its own length: the order of the clips is kept
    hop = FEATURES["hop_length"]
    assert [f.shape[0] for f in ref[0]] == [1 + len(y) // hop for y in clips]
    for workers in (1, 2):
        assert_same_epochs(ref, epochs_with(workers, clips, noises))


def test_epochs_differ_from_each_other_and_with_the_seed():
    clips, noises = clips_and_noises(n=BLOCK + 1)
    a = epochs_with(0, clips, noises, which=(0, 1))
    b = epochs_with(0, clips, noises, which=(0,), seed=4)
    plain = frontend().featurize(clips, sr=SR)
    for i in (0, BLOCK):  # a clip of the first and one of the second block
        assert not np.array_equal(a[0][i], a[1][i])
        assert not np.array_equal(a[0][i], b[0][i])
        assert not np.array_equal(a[0][i], plain[i])


def test_an_epoch_is_a_function_of_the_epoch_alone():
    """A resumed run asks for epoch 5 first: it must get what the full run got."""
    clips, noises = clips_and_noises()
    with AugmentedEpochs(frontend(), clips, sr=SR, noises=noises, seed=3, workers=2) as epochs:
        late = epochs(5)
    assert_same_epochs({5: late}, {5: epochs_with(0, clips, noises, which=(5,))[5]})


def test_close_stops_the_workers_and_is_idempotent():
    clips, noises = clips_and_noises(n=10)
    epochs = AugmentedEpochs(frontend(), clips, sr=SR, noises=noises, workers=2)
    epochs.prefetch(0)
    assert len(multiprocessing.active_children()) >= 2
    epochs.close()
    epochs.close()
    assert multiprocessing.active_children() == []


def test_default_workers_follow_minikws_threads(monkeypatch):
    monkeypatch.setenv("MINIKWS_THREADS", "1")
    assert default_workers() == 0  # one core: the blocks run in the calling process
    monkeypatch.setenv("MINIKWS_THREADS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("MINIKWS_THREADS", "64")
    assert default_workers() == 8
    monkeypatch.setenv("MINIKWS_THREADS", "two")
    with pytest.raises(MinikwsError, match="MINIKWS_THREADS"):
        default_workers()
    monkeypatch.delenv("MINIKWS_THREADS")
    cpus = len(os.sched_getaffinity(0))
    assert default_workers() == (0 if cpus == 1 else min(cpus, 8))
    with pytest.raises(MinikwsError, match="workers"):
        AugmentedEpochs(frontend(), [], sr=SR, workers=-1)


def test_kernel_threads_is_restored():
    k = _backend.kernel()
    assert k is not None, "the kernel is built by pip install and by CI"
    before = k.threads()
    with _backend.kernel_threads(1):
        assert k.threads() == 1
    assert k.threads() == before


def _tone_folder(root):
    from minikws.audio import save_wav

    rng = np.random.default_rng(0)
    t = np.arange(int(0.3 * SR)) / SR
    for label, f0 in (("low", 300.0), ("high", 1500.0)):
        os.makedirs(root / label)
        for i in range(40):
            y = 0.4 * np.sin(2 * np.pi * f0 * (1 + 0.05 * rng.standard_normal()) * t)
            y += 0.05 * rng.standard_normal(t.size)
            save_wav(os.fspath(root / label / f"{label}_speaker{i % 8}_{i}.wav"), y.astype(np.float32), SR)
    return root


def test_training_gives_the_same_weights_with_0_and_2_workers(tmp_path):
    data = load_folders(_tone_folder(tmp_path / "data"), sr=SR)
    config = TrainConfig(epochs=3, batch_size=8, patience=0, seed=5)
    states = []
    for workers in (0, 2):
        model, trainer = train_on_dataset(data, hidden_size=6, features=FEATURES, config=config,
                                          progress=False, log=lambda s: None, workers=workers)
        states.append(model.state_dict())
    assert multiprocessing.active_children() == []
    for k in states[0]:
        np.testing.assert_array_equal(states[0][k], states[1][k], err_msg=k)


def test_a_worker_that_dies_is_one_clear_error_not_a_hang():
    import signal

    clips, noises = clips_and_noises(n=30 * BLOCK)
    epochs = AugmentedEpochs(frontend(), clips, sr=SR, noises=noises, workers=2)
    try:
        epochs.prefetch(0)
        victim = next(iter(epochs._pool._processes))
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(MinikwsError, match=r"^data workers: a worker process died .*MINIKWS_THREADS=1"):
            epochs(0)
    finally:
        epochs.close()
    assert multiprocessing.active_children() == []


def test_workers_leave_ctrl_c_to_the_training_process():
    """SIGINT reaches the whole process group; a worker must not print a traceback of its own."""
    clips, noises = clips_and_noises(n=4 * BLOCK)
    with AugmentedEpochs(frontend(), clips, sr=SR, noises=noises, workers=2) as epochs:
        epochs(0)
        pids = list(epochs._pool._processes)
        assert len(pids) == 2
        for pid in pids:
            with open(f"/proc/{pid}/status") as f:
                ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
            assert ignored & (1 << (2 - 1)), f"worker {pid} does not ignore SIGINT"


def test_ctrl_c_during_training_with_workers_is_one_message_and_no_worker_left(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    data = _tone_folder(tmp_path / "data")
    ckpt = tmp_path / "m.ckpt.npz"
    proc = subprocess.Popen([sys.executable, "-m", "minikws", "train", "--data", os.fspath(data), "--dataset",
                             "folders", "--out", os.fspath(tmp_path / "m.npz"), "--epochs", "500", "--hidden",
                             "8", "--batch-size", "8", "--patience", "0", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MINIKWS_THREADS": "2"}, start_new_session=True)
    deadline = time.monotonic() + 60
    while not ckpt.exists():  # after the first epoch: the workers are running
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole process group
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted after epoch" in err
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert left == [], f"processes of the run still alive: {left}"
