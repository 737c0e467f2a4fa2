"""The built-in espeak-ng data set: classes, split by voice, variety, determinism, cache, errors."""
import os

import numpy as np
import pytest

from minikws import datasets
from minikws.datasets import espeak, synth
from minikws.errors import MinikwsError

SMALL = dict(per_word=20, seed=3, cache=False)


@pytest.fixture(scope="module")
def small():
    return datasets.synthesize_commands(**SMALL)


def test_classes_shapes_and_counts(small):
    assert small.classes == datasets.KEYWORDS + ("_unknown_", "_silence_")
    assert len(small) == 12 * 20 and small.sr == 16000
    assert all(a.dtype == np.float32 and a.shape == (16000,) for a in small.audio)
    assert max(float(np.abs(a).max()) for a in small.audio) <= 1.0
    for subset, n in (("train", 16), ("validation", 2), ("test", 2)):
        assert set(small.counts()[subset].values()) == {n}
    assert set(small.noise) == {"brown", "hum", "pink", "white"}
    assert all(len(y) == 160000 for y in small.noise.values())


def test_split_by_voice_variant(small):
    def variants(subset):
        return {s.split("+")[1] for s, sub in zip(small.speakers, small.subset)
                if sub == subset and s != "noise"}

    train, val, test = variants("train"), variants("validation"), variants("test")
    assert train and val and test
    assert not (train & test) and not (train & val) and not (val & test)
    silence = small.labels == small.classes.index("_silence_")
    assert set(small.speakers[silence]) == {"noise"}
    assert set(small.speakers[~silence]) <= {f"{a}+{v}" for a in synth.ACCENTS for v in synth.VARIANTS}


def test_same_seed_bit_identical_other_seed_different(small):
    again = datasets.synthesize_commands(**SMALL)
    assert all(np.array_equal(a, b) for a, b in zip(small.audio, again.audio))
    for field in ("labels", "speakers", "subset", "files"):
        np.testing.assert_array_equal(getattr(small, field), getattr(again, field))
    other = datasets.synthesize_commands(**{**SMALL, "seed": 4})
    assert not all(np.array_equal(a, b) for a, b in zip(small.audio, other.audio))


def test_clips_vary_in_level_and_voice(small):
    words = small.labels < 10
    peaks = [20 * np.log10(np.abs(a).max()) for a in np.array(small.audio)[words]]
    assert np.ptp(peaks) > 6
    assert len(set(small.speakers[words])) > 50


def word_extent(a):
    loud = np.flatnonzero(np.abs(a) > 0.01 * np.abs(a).max())
    return loud[0], loud[-1] + 1


@pytest.mark.parametrize("max_shift", [0.1, None])
def test_time_shift_inside_the_clip(max_shift):
    d = datasets.synthesize_commands(words=["stop"], unknown_words=(), silence=False, per_word=40,
                                     seed=2, cache=False, snr_db=(80.0, 80.0), max_shift=max_shift)
    extents = np.array([word_extent(a) for a in d.audio])
    centres = extents.mean(axis=1) - 8000
    if max_shift is not None:  # centred, moved by at most 0.1 s (slack: quiet word edges)
        assert np.abs(centres).max() <= 1600 + 400
        assert np.std(centres) > 400
    else:  # anywhere: some words start near the beginning, some end near the end
        assert extents[:, 0].min() < 1500 and extents[:, 1].max() > 16000 - 1500


def test_levels_follow_the_settings():
    d = datasets.synthesize_commands(words=["go"], unknown_words=(), per_word=10, seed=0, cache=False,
                                     snr_db=(80.0, 80.0), level_db=(-6.0, -6.0),
                                     silence_db=(-30.0, -30.0))
    assert d.classes == ("go", "_silence_")
    for a, k in zip(d.audio, d.labels):
        if d.classes[k] == "go":  # the word's peak at -6 dBFS; noise 80 dB below barely moves it
            assert abs(20 * np.log10(np.abs(a).max()) - (-6.0)) < 0.05
        else:
            assert abs(10 * np.log10(np.mean(a.astype(np.float64) ** 2)) - (-30.0)) < 0.01


def test_custom_words_no_unknown_no_silence_short_clips():
    d = datasets.synthesize_commands(words=["backward", "visual"], unknown_words=(), silence=False,
                                     per_word=6, duration=0.3, sr=8000, seed=1, cache=False,
                                     validation=0.0, test=0.2)
    assert d.classes == ("backward", "visual") and d.sr == 8000
    assert all(a.shape == (2400,) for a in d.audio)  # slow words sped up to fit 0.3 s
    assert set(d.subset) == {"train", "test"}


def test_unknown_class_says_other_words():
    d = datasets.synthesize_commands(words=["yes"], unknown_words=["yes", "tree"], silence=False,
                                     per_word=4, seed=0, cache=False)
    assert d.classes == ("yes", "_unknown_")
    names = [os.path.basename(f) for f, k in zip(d.files, d.labels) if k == 1]
    assert all("_nohash_tree-" in n for n in names)


def test_disk_cache_is_used_and_gives_the_same_clips(tmp_path, monkeypatch, small):
    first = datasets.synthesize_commands(**{**SMALL, "cache": str(tmp_path)})
    stored = list(tmp_path.glob("synth-*.npz"))
    assert len(stored) == 1

    def no_espeak(*args, **kwargs):
        raise AssertionError("espeak-ng called although the cache holds every utterance")

    monkeypatch.setattr(espeak, "synthesize_batch", no_espeak)
    monkeypatch.setenv("MINIKWS_CACHE", str(tmp_path))
    cached = datasets.synthesize_commands(**{**SMALL, "cache": None})
    assert all(np.array_equal(a, b) for a, b in zip(first.audio, cached.audio))
    assert all(np.array_equal(a, b) for a, b in zip(small.audio, cached.audio))
    monkeypatch.undo()
    stored[0].write_bytes(b"not an npz")  # a damaged cache is ignored and rewritten
    again = datasets.synthesize_commands(**{**SMALL, "cache": str(tmp_path)})
    assert all(np.array_equal(a, b) for a, b in zip(small.audio, again.audio))
    with np.load(stored[0], allow_pickle=False) as f:
        assert "samples" in f.files


def test_synthesize_batch_is_deterministic():
    items = [("yes", "en-us+m3", 160, 40, 50), ("stop", "en+f2", 190, 60, 30), ("yes", "en-us+m3", 160, 40, 50)]
    sr, a = espeak.synthesize_batch(items)
    _, b = espeak.synthesize_batch(items)
    assert sr == 22050 and len(a) == 3
    assert all(y.dtype == np.int16 and len(y) > 2000 for y in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_espeak_wrapper_and_its_errors():
    engine = espeak.get_espeak()
    assert engine.sr == 22050 and engine.version
    y = engine.synth("left", voice="en-gb-x-rp+m1", rate=200, pitch=30, pitch_range=60)
    assert y.dtype == np.int16 and 0.1 < len(y) / engine.sr < 1.0 and np.abs(y).max() > 1000
    slow = engine.synth("left", voice="en-gb-x-rp+m1", rate=100)
    assert len(slow) > 1.4 * len(y)
    with pytest.raises(espeak.ESpeakError, match="unknown variant"):
        engine.synth("left", voice="en+nosuchvariant")
    with pytest.raises(espeak.ESpeakError, match="does not know"):
        engine.synth("left", voice="xx-nosuchlanguage")
    with pytest.raises(espeak.ESpeakError, match="rate"):
        engine.synth("left", rate=10)
    with pytest.raises(espeak.ESpeakError, match="cannot load"):
        espeak.ESpeak(library="/nonexistent/libespeak-ng.so", data=engine.data)
    with pytest.raises(MinikwsError, match="data folder"):
        espeak.ESpeak(library="/nonexistent/libespeak-ng.so", data="/nonexistent")


@pytest.mark.parametrize("kwargs, match", [
    (dict(words="yes"), "words: expected a list"),
    (dict(words=[]), "words: expected at least one"),
    (dict(words=["yes", "yes"]), "repeated"),
    (dict(words=["_x"]), "not a word"),
    (dict(per_word=0), "per_word"),
    (dict(duration=0.0), "duration"),
    (dict(snr_db=(10, 5)), "snr_db"),
    (dict(max_shift=-1.0), "max_shift"),
    (dict(validation=0.5, test=0.5), "validation, test"),
    (dict(variants=("m1", "nosuch")), "nosuch"),
    (dict(variants=("m1", "m2")), "too few"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MinikwsError, match=match):
        datasets.synthesize_commands(cache=False, **kwargs)


def _variant_settings(name):
    """Formant frequency scales F1-F3 (percent), echo amplitude, voicing and breath of an espeak-ng
    variant, read from its file in the data the espeakng-loader wheel ships."""
    import espeakng_loader

    path = os.path.join(espeakng_loader.get_data_path(), "voices", "!v", name)
    out = {"formant": {1: 100, 2: 100, 3: 100}, "echo": 0, "voicing": 100, "breath": 0}
    with open(path, errors="replace") as f:
        for line in f:
            words = line.split("//")[0].split()
            if len(words) >= 3 and words[0] == "formant" and int(words[1]) in (1, 2, 3):
                out["formant"][int(words[1])] = int(words[2])
            elif len(words) >= 3 and words[0] == "echo":
                out["echo"] = int(words[2])
            elif len(words) >= 2 and words[0] == "voicing":
                out["voicing"] = int(words[1])
            elif len(words) >= 2 and words[0] == "breath":
                out["breath"] = max(int(w) for w in words[1:])
    return out


def test_variants_follow_the_stated_human_voice_rule():
    """The comment above synth.VARIANTS states the rule; check every listed variant against the
    variant files, and that the rule is what drops "shelby" (F2 140 %, F1 90 %)."""
    def human(v):
        f = v["formant"]
        return (all(80 <= f[k] <= 140 for k in (1, 2, 3))
                and all(3 / 4 <= f[k + 1] / f[k] <= 4 / 3 for k in (1, 2))
                and v["echo"] <= 20 and 30 <= v["voicing"] <= 250 and v["breath"] <= 20)

    assert len(synth.VARIANTS) == len(set(synth.VARIANTS)) == 62
    bad = [name for name in synth.VARIANTS if not human(_variant_settings(name))]
    assert bad == []
    shelby = _variant_settings("shelby")
    assert shelby["formant"] == {1: 90, 2: 140, 3: 130} and not human(shelby)
