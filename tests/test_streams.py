"""Synthesized streams, frame targets and the loader of the user's long recordings."""
import numpy as np
import pytest

from minikws.audio import save_wav
from minikws.datasets import (FILLERS, KEYWORDS, TEST_FILLERS, Word, frame_targets, load_stream_folder, read_labels,
                              synthesize_commands, synthesize_streams, tag_names, write_labels)
from minikws.errors import MinikwsError


@pytest.fixture(scope="module")
def small():
    return synthesize_streams(streams=(2, 1, 2), seconds=20.0, seed=3, cache=False)


def test_streams_are_deterministic_and_hold_their_words(small):
    again = synthesize_streams(streams=(2, 1, 2), seconds=20.0, seed=3, cache=False)
    assert all(np.array_equal(a, b) for a, b in zip(small.audio, again.audio))
    assert small.words == again.words
    other = synthesize_streams(streams=(2, 1, 2), seconds=20.0, seed=4, cache=False)
    assert not np.array_equal(small.audio[0], other.audio[0])
    assert list(small.subset) == ["train", "train", "validation", "test", "test"]
    for y, words in zip(small.audio, small.words):
        assert y.dtype == np.float32 and len(y) == 20 * 16000 and np.abs(y).max() <= 1.0
        assert words, "every stream speaks"
        ends = [0.0] + [w.end for w in words]
        for prev_end, w in zip(ends, words):
            assert prev_end < w.start < w.end <= 20.0, "words in order, never overlapping"
            assert 0.05 < w.end - w.start <= 1.0
            assert w.label in KEYWORDS or w.label in FILLERS or w.label in TEST_FILLERS
    assert not set(FILLERS) & set(TEST_FILLERS)
    for subset, ws in zip(small.subset, small.words):
        fill = {w.label for w in ws} - set(KEYWORDS)
        assert fill <= set(TEST_FILLERS if subset == "test" else FILLERS), subset
    labels = [w.label for ws in small.words for w in ws]
    assert any(lab in KEYWORDS for lab in labels) and any(lab not in KEYWORDS for lab in labels)
    assert small.keyword_count() == sum(lab in KEYWORDS for lab in labels)


def test_streams_split_by_voice_as_the_clip_set():
    streams = synthesize_streams(streams=(6, 2, 6), seconds=5.0, seed=5, cache=False)
    # 480 clips: 48 each in validation and test, one per voice of the 6 held-out variants x 8 accents.
    clips = synthesize_commands(words=["yes"], per_word=480, seed=5, unknown_words=(), silence=False,
                                cache=False)
    for subset in ("train", "validation", "test"):
        clip_voices = set(clips.speakers[clips.subset == subset])
        assert set(streams.speakers[streams.subset == subset]) <= clip_voices, subset
    test_variants = {v.split("+")[1] for v in streams.speakers[streams.subset == "test"]}
    train_variants = {v.split("+")[1] for v in streams.speakers[streams.subset == "train"]}
    assert not test_variants & train_variants


def test_words_are_where_the_boundaries_say_and_the_snr_is_set():
    s = synthesize_streams(streams=(0, 0, 1), seconds=30.0, seed=1, snr_db=(20.0, 20.0), cache=False)
    y = s.audio[0].astype(np.float64)
    inside = np.zeros(len(y), dtype=bool)
    for w in s.words[0]:
        inside[int(w.start * s.sr):int(w.end * s.sr)] = True
    p_noise = np.mean(y[~inside] ** 2)
    p_words = np.mean(y[inside] ** 2)
    assert 10 * np.log10((p_words - p_noise) / p_noise) == pytest.approx(20.0, abs=0.5)
    # The first and last 10 ms of each word are speech: louder than the pauses around them.
    for w in s.words[0]:
        a, b = int(w.start * s.sr), int(w.end * s.sr)
        assert np.mean(y[a:b] ** 2) > 3 * p_noise


def test_frame_targets_place_the_tag_as_asked():
    kw = ("yes", "stop")
    words = [Word("yes", 1.0, 1.5), Word("top", 2.0, 2.4), Word("stop", 3.0, 3.5)]
    tau = np.arange(0, 400) * 0.01 + 0.005  # a frame every 10 ms
    t, m = frame_targets(words, frame_end=tau, keywords=kw, tags="words", placement="word")
    assert set(np.flatnonzero(t == 1)) == set(range(100, 150)) and m.all()
    assert set(np.flatnonzero(t == 2)) == set(range(300, 350))
    assert not t[200:240].any(), "a filler is O"
    t, m = frame_targets(words, frame_end=tau, keywords=kw, placement="end", span=0.2)
    assert set(np.flatnonzero(t == 1)) == set(range(130, 160))  # 1.3 < tau <= 1.6
    assert set(np.flatnonzero(~m)) == set(range(100, 130)) | set(range(300, 330))
    t, m = frame_targets(words, frame_end=tau, keywords=kw, placement="end", span=0.1, tail=0.25)
    assert set(np.flatnonzero(t == 1)) == set(range(140, 175))  # 1.4 < tau <= 1.75
    assert set(np.flatnonzero(~m)) == set(range(100, 140)) | set(range(300, 340))
    with pytest.raises(MinikwsError, match="tail"):
        frame_targets(words, frame_end=tau, keywords=kw, placement="end", tail=-0.1)
    t, m = frame_targets(words, frame_end=tau, keywords=kw, placement="after", span=0.2)
    assert set(np.flatnonzero(t == 2)) == set(range(350, 370))
    assert set(np.flatnonzero(~m)) == set(range(100, 150)) | set(range(300, 350))
    t, _ = frame_targets(words, frame_end=tau, keywords=("yes", "no", "stop"), tags="article",
                         placement="word")
    assert tag_names(("yes", "no", "stop"), "article") == ("O", "command", "stop")
    assert t[120] == 1 and t[320] == 2 and t[220] == 0
    with pytest.raises(MinikwsError, match="placement"):
        frame_targets(words, frame_end=tau, keywords=kw, placement="middle")
    with pytest.raises(MinikwsError, match="'stop'"):
        tag_names(("yes", "no"), "article")


def test_labels_file_errors_name_the_line(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("# comment\nyes 0.5 0.9\n\nno 1.2\n")
    with pytest.raises(MinikwsError, match=r"a\.txt:4: expected 'label start end'"):
        read_labels(p)
    p.write_text("yes 0.5 0.9\nno one two\n")
    with pytest.raises(MinikwsError, match=r"a\.txt:2: start and end must be numbers"):
        read_labels(p)
    p.write_text("yes 0.9 0.5\n")
    with pytest.raises(MinikwsError, match=r"a\.txt:1: expected 0 <= start < end"):
        read_labels(p)
    p.write_text("yes 0.5 0.9\nno 1.0 3.5\n")
    with pytest.raises(MinikwsError, match=r"a\.txt:2: the word ends at 3.5 s"):
        read_labels(p, duration=2.0)
    p.write_text("no 1.0 1.4\nyes 0.5 0.9\n")
    assert read_labels(p) == [Word("yes", 0.5, 0.9), Word("no", 1.0, 1.4)]


def test_load_stream_folder_round_trip(tmp_path, small):
    for i in range(2):
        save_wav(tmp_path / f"rec{i}.wav", small.audio[i], small.sr)
        write_labels(tmp_path / f"rec{i}.txt", small.words[i])
    got = load_stream_folder(tmp_path, keywords=KEYWORDS)
    assert got.sr == 16000 and list(got.files) == ["rec0.wav", "rec1.wav"]
    np.testing.assert_allclose(got.audio[0], small.audio[0], atol=2 ** -15)
    for a, b in zip(got.words[0], small.words[0]):
        assert a.label == b.label and abs(a.start - b.start) < 1e-4 and abs(a.end - b.end) < 1e-4
    assert got.keyword_count() == sum(w.label in KEYWORDS for ws in small.words[:2] for w in ws)
    assert set(got.subset) <= {"train", "validation", "test"}
    default = load_stream_folder(tmp_path)
    assert default.keywords == tuple(sorted({w.label for ws in small.words[:2] for w in ws}))


def test_load_stream_folder_errors(tmp_path):
    with pytest.raises(MinikwsError, match="no .wav files"):
        load_stream_folder(tmp_path)
    save_wav(tmp_path / "a.wav", np.zeros(8000, np.float32), 16000)
    with pytest.raises(MinikwsError, match=r"a\.wav: no labels file a\.txt"):
        load_stream_folder(tmp_path)
    (tmp_path / "a.txt").write_text("yes 0.1 0.2\nyes 0.3\n")
    with pytest.raises(MinikwsError, match=r"a\.txt:2:"):
        load_stream_folder(tmp_path)
    (tmp_path / "a.txt").write_text("yes 0.1 0.2\n")
    save_wav(tmp_path / "b.wav", np.zeros(4000, np.float32), 8000)
    (tmp_path / "b.txt").write_text("yes 0.1 0.2\n")
    with pytest.raises(MinikwsError, match=r"b\.wav: 8000 Hz, but other files are 16000 Hz"):
        load_stream_folder(tmp_path)
    assert load_stream_folder(tmp_path, sr=16000).sr == 16000


def test_one_length_per_split():
    s = synthesize_streams(streams=(2, 0, 1), seconds=(5.0, 5.0, 12.0), seed=3, cache=False)
    assert [len(y) / s.sr for y in s.audio] == [5.0, 5.0, 12.0]
    with pytest.raises(MinikwsError, match="seconds"):
        synthesize_streams(streams=(1, 0, 0), seconds=(5.0, 5.0), cache=False)
