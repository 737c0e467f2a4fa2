"""One way to write files: the mode a plain open() gives, fsync before the rename, nothing left behind.

A test per kind of file minikws writes (model, checkpoint, plot, WAV, list file), each checking the
file's mode under a umask, and that a failure (a full disk, a path under a file) leaves no temporary
and names the destination, not the temporary. Tests run as root, so a read-only folder would not
refuse anything: the failures are a path under a file and a monkeypatched ``os.fsync``.
"""
import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from minikws import _fileio, audio, io as mio, metrics
from minikws._fileio import TMP_MARK, WriteError, atomic_write
from minikws.datasets import Dataset, save_speech_commands
from minikws.models import KWSModel


@pytest.fixture
def umask027():
    old = os.umask(0o027)
    try:
        yield 0o640
    finally:
        os.umask(old)


def _model():
    return KWSModel(classes=["a", "b"], sr=8000, hidden_size=3, num_layers=1)


def _write_model(path):
    mio.save_model(_model(), path)


def _write_checkpoint(path):
    m = _model()
    mio.save_checkpoint(path, model=m, optimizer_state={"t": np.array(1)}, epoch=1,
                        history={"epoch": [1]}, trainer={"config": {}}, best_state=m.state_dict())


def _write_plot(path):
    metrics.plot_confusion_matrix(np.array([[3, 1], [0, 4]]), classes=["a", "b"], path=path)


def _write_wav(path):
    audio.save_wav(path, np.zeros(80, dtype=np.float32), 8000)


def _write_list(path):
    from minikws.datasets.loaders import _write_text

    _write_text(path, "yes/a.wav\n")


KINDS = {"model": (_write_model, "m.npz"), "checkpoint": (_write_checkpoint, "m.ckpt.npz"),
         "plot": (_write_plot, "cm.png"), "wav": (_write_wav, "x.wav"),
         "list": (_write_list, "testing_list.txt")}


@pytest.mark.parametrize("kind", KINDS)
def test_mode_follows_the_umask(kind, tmp_path, umask027):
    write, name = KINDS[kind]
    path = tmp_path / name
    write(path)
    assert os.stat(path).st_mode & 0o777 == umask027  # mkstemp gave 0600, save_wav chmod-ed 0644
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("kind", KINDS)
def test_full_disk_leaves_nothing_and_names_the_destination(kind, tmp_path, monkeypatch):
    write, name = KINDS[kind]

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    path = tmp_path / name
    with pytest.raises(WriteError) as exc:
        write(path)
    msg = str(exc.value)
    assert msg == f"{path}: cannot write (No space left on device)"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_path_under_a_file_is_one_line(kind, tmp_path):
    write, name = KINDS[kind]
    (tmp_path / "f").write_text("x")
    path = tmp_path / "f" / name
    with pytest.raises(WriteError, match=f"^{path}: folder {tmp_path / 'f'} is not a folder$"):
        write(path)
    assert os.listdir(tmp_path) == ["f"]


def test_fsync_runs_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    _write_wav(tmp_path / "x.wav")
    assert calls == ["fsync", "replace"]


def test_an_error_inside_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.txt"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path, "w") as f:
            f.write("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["keep.txt"]


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(_fileio, "_swept", set())
    stale = tmp_path / f".m.ckpt.npz{TMP_MARK}{_dead_pid()}-0123abcd"
    alive = tmp_path / f".m.ckpt.npz{TMP_MARK}{os.getppid()}-0123abcd"  # a live process: left alone
    foreign = tmp_path / ".tmp-abcd.npz"                                 # not ours: left alone
    for p in (stale, alive, foreign):
        p.write_bytes(b"x" * 100)
    _write_checkpoint(tmp_path / "m.ckpt.npz")
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, foreign.name, "m.ckpt.npz"])


def test_temporary_is_recognisable(tmp_path, monkeypatch):
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (seen.append(os.path.basename(a)), real(a, b))[1])
    _write_model(tmp_path / "m.npz")
    assert seen and seen[0].startswith(f".m.npz{TMP_MARK}{os.getpid()}-")


def test_check_output_paths(tmp_path):
    (tmp_path / "f").write_text("x")
    assert _fileio.check_output_file(tmp_path / "ok.npz", name="--out ok.npz") == str(tmp_path / "ok.npz")
    with pytest.raises(WriteError, match="^--out x: folder .* does not exist$"):
        _fileio.check_output_file(tmp_path / "missing" / "m.npz", name="--out x")
    with pytest.raises(WriteError, match="^--out d: is a folder"):
        _fileio.check_output_file(tmp_path, name="--out d")
    with pytest.raises(WriteError, match="^--plots p: exists and is not a folder$"):
        _fileio.check_output_folder(tmp_path / "f", name="--plots p")
    with pytest.raises(WriteError, match="^--out o: exists and is not an empty folder"):
        _fileio.check_output_folder(tmp_path, name="--out o", empty=True)
    assert sorted(os.listdir(tmp_path)) == ["f"]  # the probes left nothing


def test_save_speech_commands_full_disk_names_the_file(tmp_path, monkeypatch):
    ds = Dataset(audio=[np.zeros(80, np.float32)] * 2, labels=np.array([0, 1]), classes=("a", "b"),
                 sr=8000, subset=np.array(["train", "test"]), speakers=np.array(["s", "t"]),
                 files=np.array(["a/1.wav", "b/2.wav"]))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match="No space left on device"):
        save_speech_commands(ds, tmp_path / "set")
    assert not (tmp_path / "set").exists()


def test_a_write_killed_by_sigkill_is_cleaned_up_by_the_next_one(tmp_path, monkeypatch):
    import signal

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, time; from minikws._fileio import atomic_write\n"
            "with atomic_write(sys.argv[1]) as f:\n"
            "    f.write(b'x' * 100000); f.flush(); print('ready', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, os.fspath(tmp_path / "m.ckpt.npz")],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": root})
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith(f".m.ckpt.npz{TMP_MARK}{proc.pid}-")  # orphaned
    monkeypatch.setattr(_fileio, "_swept", set())  # a new process: it has not swept this folder yet
    _write_checkpoint(tmp_path / "m.ckpt.npz")
    assert os.listdir(tmp_path) == ["m.ckpt.npz"]
