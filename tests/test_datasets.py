"""minikws.datasets: Dataset, pad_batch and the loaders, on tiny folders of each layout built here."""
import os
import wave

import numpy as np
import pytest

from minikws import datasets
from minikws.datasets import Dataset, pad_batch
from minikws.errors import MinikwsError


def write_wav(path, y, sr):
    """16-bit PCM with the stdlib, independent of the code under test."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pcm = np.round(np.clip(y, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def tone(n, value=0.25):
    return np.full(n, value)


# ------------------------------------------------------------------------------- Dataset, pad_batch
def small_dataset():
    audio = [np.full(3, k, dtype=np.float32) for k in range(5)]
    return Dataset(audio=audio, labels=[0, 1, 0, 1, 1], classes=("a", "b"), sr=8000,
                   speakers=["s1", "s1", "s2", "s3", "s3"],
                   subset=["train", "train", "validation", "test", "test"])


def test_dataset_select_and_counts():
    d = small_dataset()
    test = d.select("test")
    assert len(test) == 2 and test.classes == ("a", "b") and test.sr == 8000
    assert [float(a[0]) for a in test.audio] == [3.0, 4.0]
    np.testing.assert_array_equal(test.labels, [1, 1])
    np.testing.assert_array_equal(test.speakers, ["s3", "s3"])
    assert d.counts() == {"train": {"a": 1, "b": 1}, "validation": {"a": 1, "b": 0},
                          "test": {"a": 0, "b": 2}}
    assert d.labels.dtype == np.int64 and len(d.files) == 5
    with pytest.raises(MinikwsError, match="subset"):
        d.select("dev")


def test_dataset_refuses_inconsistent_fields():
    kw = dict(audio=[np.zeros(3, np.float32)] * 2, classes=("a",), sr=8000, speakers=["x", "y"],
              subset=["train", "test"])
    with pytest.raises(MinikwsError, match="labels"):
        Dataset(labels=[0], **kw)
    with pytest.raises(MinikwsError, match="labels"):
        Dataset(labels=[0, 1], **kw)
    with pytest.raises(MinikwsError, match="subset"):
        Dataset(labels=[0, 0], **{**kw, "subset": ["train", "dev"]})


def test_pad_batch_known_answer():
    clips = [np.array([1.0, 2.0, 3.0]), np.array([4.0]), np.array([5.0, 6.0])]
    batch, lengths = pad_batch(clips)
    np.testing.assert_array_equal(batch, [[1, 2, 3], [4, 0, 0], [5, 6, 0]])
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    cut, lengths = pad_batch(clips, length=2)
    np.testing.assert_array_equal(cut, [[1, 2], [4, 0], [5, 6]])
    np.testing.assert_array_equal(lengths, [2, 1, 2])
    wide, lengths = pad_batch([np.ones(2, np.float32)], length=4)
    assert wide.dtype == np.float32 and wide.shape == (1, 4) and lengths.tolist() == [2]


def test_pad_batch_bad_arguments():
    with pytest.raises(MinikwsError, match="clips"):
        pad_batch([])
    with pytest.raises(MinikwsError, match=r"clips\[1\]"):
        pad_batch([np.ones(2), np.ones((2, 2))])
    with pytest.raises(MinikwsError, match="length"):
        pad_batch([np.ones(2)], length=-1)


# ------------------------------------------------------------------------------- Speech Commands
def make_speech_commands(root, sr=16000):
    for label in ("yes", "no"):
        for speaker in ("aaaa1111", "bbbb2222", "cccc3333"):
            for i in range(2):
                write_wav(root / label / f"{speaker}_nohash_{i}.wav", tone(sr // 10), sr)
    write_wav(root / "_background_noise_" / "white_noise.wav", tone(sr, 0.1), sr)
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nyes/bbbb2222_nohash_1.wav\n"
                                              "no/bbbb2222_nohash_0.wav\nstop/zzzz_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/cccc3333_nohash_0.wav\nno/cccc3333_nohash_1.wav\n")


def test_load_speech_commands_honours_lists_and_noise(tmp_path):
    make_speech_commands(tmp_path)
    d = datasets.load_speech_commands(tmp_path)
    assert d.classes == ("no", "yes") and d.sr == 16000 and len(d) == 12
    split = dict(zip(d.files, d.subset))
    assert split["yes/bbbb2222_nohash_1.wav"] == "validation"
    assert split["no/cccc3333_nohash_1.wav"] == "test"
    assert split["yes/cccc3333_nohash_0.wav"] == "train"  # not listed
    assert sorted(d.counts()["validation"].values()) == [1, 2]  # the absent stop/ entry is ignored
    assert set(d.speakers) == {"aaaa1111", "bbbb2222", "cccc3333"}
    assert list(d.noise) == ["white_noise"] and len(d.noise["white_noise"]) == 16000
    assert d.audio[0].dtype == np.float32
    np.testing.assert_allclose(d.audio[0], 0.25, atol=1e-4)
    assert datasets.detect_layout(tmp_path) == "speech-commands"
    assert datasets.load_dataset(tmp_path).files.tolist() == d.files.tolist()


def test_load_speech_commands_resamples(tmp_path):
    make_speech_commands(tmp_path, sr=8000)
    d = datasets.load_speech_commands(tmp_path, sr=16000)
    assert d.sr == 16000 and all(len(a) == 1600 for a in d.audio)
    assert len(d.noise["white_noise"]) == 16000
    native = datasets.load_speech_commands(tmp_path, sr=None)
    assert native.sr == 8000 and len(native.audio[0]) == 800


def test_load_speech_commands_errors(tmp_path):
    with pytest.raises(MinikwsError, match="no such folder"):
        datasets.load_speech_commands(tmp_path / "missing")
    make_speech_commands(tmp_path)
    os.remove(tmp_path / "validation_list.txt")
    os.remove(tmp_path / "testing_list.txt")
    with pytest.raises(MinikwsError, match="validation_list.txt"):
        datasets.load_speech_commands(tmp_path)
    (tmp_path / "testing_list.txt").write_text("yes/aaaa1111_nohash_0.wav\n")
    (tmp_path / "validation_list.txt").write_text("yes/aaaa1111_nohash_0.wav\n")
    with pytest.raises(MinikwsError, match="both"):
        datasets.load_speech_commands(tmp_path)


def test_empty_class_and_broken_files_are_named(tmp_path):
    make_speech_commands(tmp_path)
    os.makedirs(tmp_path / "stop")
    with pytest.raises(MinikwsError, match=r"stop: no WAV files \(an empty class\)"):
        datasets.load_speech_commands(tmp_path)
    (tmp_path / "stop" / "broken_nohash_0.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(MinikwsError, match="broken_nohash_0.wav"):
        datasets.load_speech_commands(tmp_path)


def test_mixed_rates_need_resampling(tmp_path):
    write_wav(tmp_path / "a" / "x.wav", tone(800), 8000)
    write_wav(tmp_path / "b" / "y.wav", tone(1600), 16000)
    with pytest.raises(MinikwsError, match=r"y.wav: sample rate 16000 Hz differs from 8000 Hz"):
        datasets.load_folders(tmp_path, sr=None)
    d = datasets.load_folders(tmp_path, sr=16000)
    assert [len(a) for a in d.audio] == [1600, 1600]


def test_rate_that_cannot_be_resampled(tmp_path):
    write_wav(tmp_path / "a" / "odd.wav", tone(800), 7919)
    with pytest.raises(MinikwsError, match="odd.wav"):
        datasets.load_folders(tmp_path, sr=16000)


# --------------------------------------------------------------------------------- label folders
def test_which_set_keeps_a_speaker_together_and_follows_percentages():
    names = [f"spk{k}_nohash_{i}.wav" for k in range(400) for i in range(3)]
    sets = [datasets.which_set(n) for n in names]
    for k in range(400):
        assert len(set(sets[3 * k:3 * k + 3])) == 1
    shares = {s: sets.count(s) / len(sets) for s in ("train", "validation", "test")}
    assert 0.05 < shares["validation"] < 0.15 and 0.05 < shares["test"] < 0.15
    assert {datasets.which_set(n, 0, 0) for n in names} == {"train"}
    assert {datasets.which_set(n, 100, 0) for n in names} == {"validation"}
    assert datasets.which_set("dir/abc.wav") == datasets.which_set("abc.wav")


def test_load_folders(tmp_path):
    for label in ("left", "go", "right"):
        for i in range(4):
            write_wav(tmp_path / label / f"spk{i}_nohash_0.wav", tone(400), 16000)
    write_wav(tmp_path / "_background_noise_" / "hum.wav", tone(2000, 0.05), 16000)
    (tmp_path / "notes.txt").write_text("ignored")
    d = datasets.load_folders(tmp_path)
    assert d.classes == ("go", "left", "right") and len(d) == 12 and list(d.noise) == ["hum"]
    for f, s in zip(d.files, d.subset):
        assert s == datasets.which_set(f)
    assert datasets.detect_layout(tmp_path) == "folders"
    assert datasets.load_dataset(tmp_path, kind="folders").classes == d.classes
    with pytest.raises(MinikwsError, match="validation_percentage"):
        datasets.load_folders(tmp_path, validation_percentage=150)


def test_folder_without_wavs(tmp_path):
    with pytest.raises(MinikwsError, match="no label folders"):
        datasets.load_folders(tmp_path)
    (tmp_path / "file.wav").write_bytes(b"")
    with pytest.raises(MinikwsError, match="not a folder"):
        datasets.load_folders(tmp_path / "file.wav")


# ------------------------------------------------------------------------------------------ FSDD
def make_fsdd(folder, indices=range(12)):
    for digit in (0, 3, 7):
        for speaker in ("jackson", "theo"):
            for i in indices:
                write_wav(folder / f"{digit}_{speaker}_{i}.wav", tone(300 + 10 * i), 8000)


@pytest.mark.parametrize("nested", [True, False])
def test_load_fsdd_official_split(tmp_path, nested):
    make_fsdd(tmp_path / "recordings" if nested else tmp_path)
    if nested:
        (tmp_path / "README.md").write_text("free-spoken-digit-dataset")
    d = datasets.load_fsdd(tmp_path)
    assert d.classes == ("0", "3", "7") and d.sr == 8000 and len(d) == 72
    assert set(d.speakers) == {"jackson", "theo"}
    for f, s, y in zip(d.files, d.subset, d.audio):
        index = int(os.path.basename(f)[:-4].split("_")[2])
        assert s == ("test" if index < 5 else "validation" if index < 10 else "train")
        assert len(y) == 300 + 10 * index
    label_of = {f: d.classes[k] for f, k in zip(d.files, d.labels)}
    assert all(os.path.basename(f)[0] == c for f, c in label_of.items())
    assert datasets.detect_layout(tmp_path) == "fsdd"
    assert len(datasets.load_dataset(tmp_path, sr=16000).audio[0]) == 2 * len(d.audio[0])


def test_load_fsdd_errors(tmp_path):
    make_fsdd(tmp_path, indices=range(2))
    write_wav(tmp_path / "hello.wav", tone(100), 8000)
    with pytest.raises(MinikwsError, match="hello.wav: not named"):
        datasets.load_fsdd(tmp_path)
    with pytest.raises(MinikwsError, match="hello.wav"):  # flat WAVs that are not FSDD
        datasets.load_dataset(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MinikwsError, match="empty: no WAV files"):
        datasets.load_fsdd(tmp_path / "empty")


def test_load_dataset_kind_checked(tmp_path):
    with pytest.raises(MinikwsError, match="kind"):
        datasets.load_dataset(tmp_path, kind="librispeech")
    with pytest.raises(MinikwsError, match="no such folder"):
        datasets.load_dataset(tmp_path / "nothing")


# --------------------------------------------------------------------------- write and read back
def test_save_speech_commands_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    audio = [(0.5 * rng.uniform(-1, 1, 160)).astype(np.float32) for _ in range(6)]
    d = Dataset(audio=audio, labels=[0, 1, 0, 1, 0, 1], classes=("zulu", "alpha"), sr=16000,
                speakers=["p", "p", "q", "q", "r", "r"],
                subset=["train", "train", "validation", "validation", "test", "test"],
                noise={"fan": np.full(320, 0.1, np.float32)},
                files=[f"{c}/{s}_nohash_{i}.wav" for i, (c, s) in enumerate(
                    zip(["zulu", "alpha"] * 3, ["p", "p", "q", "q", "r", "r"]))])
    assert datasets.save_speech_commands(d, tmp_path / "out") == 6
    back = datasets.load_speech_commands(tmp_path / "out")
    assert back.classes == ("alpha", "zulu")
    by_file = {f: (back.classes[k], s, y, spk) for f, k, s, y, spk in zip(
        back.files, back.labels, back.subset, back.audio, back.speakers)}
    for f, k, s, y, spk in zip(d.files, d.labels, d.subset, d.audio, d.speakers):
        name, subset, y_back, speaker = by_file[f]
        assert (name, subset, speaker) == (d.classes[k], s, spk)
        np.testing.assert_allclose(y_back, y, atol=2 / 32768)
    np.testing.assert_allclose(back.noise["fan"], 0.1, atol=2 / 32768)
    with pytest.raises(MinikwsError, match="not an empty folder"):
        datasets.save_speech_commands(d, tmp_path / "out")
