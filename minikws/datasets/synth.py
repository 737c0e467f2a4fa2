"""The built-in data set: speech commands spoken by espeak-ng, made varied by numeric augmentation.

How a clip is made
------------------
1. A *voice* is one of espeak-ng's English accents plus a voice variant (``"en-gb-scotland+f2"``); each
   voice gets a personal base pitch, pitch range and speaking rate, like a person.
2. An *utterance* is a word said by a voice at its rate and pitch nudged by a small grid of offsets.
   Each distinct utterance is synthesized once (22050 Hz int16), resampled to ``sr`` with
   ``scipy.signal.resample_poly`` and trimmed of leading/trailing silence.
3. A *clip* (``duration`` seconds) plays an utterance at a random tape speed (formants and pitch move
   together), places it near the centre with a random shift, scales it to a random peak level, and
   mixes in a random stretch of background noise at a random SNR (:func:`minikws.augment.add_noise`).
   ``_silence_`` clips are noise alone at a random level.

The split is by voice *variant*: every accent of a test variant is test, so test clips come from
timbres never heard in training, and validation variants are a third, separate group.

Randomness: the plan (voices, splits, which utterance each clip uses) comes from one generator seeded
with ``seed``; each clip's own draws (level, SNR, noise window, offset) from ``default_rng([seed, i])``.
espeak-ng is deterministic, so the same arguments give bit-identical arrays.
"""
import hashlib
import json
import os

import numpy as np

from minikws._fileio import atomic_write
from minikws._validate import check_positive_int, check_seed
from minikws.audio import resample
from minikws.augment import add_noise, speed_perturb
from minikws.datasets.core import Dataset
from minikws.errors import MinikwsError

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# Speech Commands' auxiliary words: spoken in the _unknown_ class.
UNKNOWN_WORDS = ("backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward", "four",
                 "happy", "house", "learn", "marvin", "nine", "one", "seven", "sheila", "six", "three",
                 "tree", "two", "visual", "wow", "zero")
UNKNOWN, SILENCE = "_unknown_", "_silence_"
ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd")
# espeak-ng variants that sound like people: those whose variant file scales formants F1-F3 by
# 80-140 % and moves them together (the scales of F1 and F2, and of F2 and F3, within a factor 4/3: a
# longer or shorter vocal tract moves all formants alike, while a variant that raises F2 by 40 % and
# lowers F1 by 10 %, as "shelby" does, turns vowels into other vowels), adds an echo of amplitude
# <= 20, voicing of 30-250 % and breath <= 20 (robots, croaks, whispers, heavy echoes and extreme
# formant shifts left out). tests/test_synth.py checks the list against the variant files.
VARIANTS = ("Alex", "Andrea", "Annie", "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Mario",
            "Mike", "Nguyen", "adam", "anika", "antonio", "aunty", "belinda", "benjamin", "ed",
            "edward", "edward2", "f1", "f2", "f3", "f4", "f5", "fast", "grandma", "grandpa", "ian",
            "iven2", "iven3", "iven4", "john", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
            "linda", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "max", "michel", "miguel", "mike2",
            "paul", "pedro", "quincy", "rob", "robert", "steph", "steph2", "steph3", "victor")
NOISES = ("brown", "hum", "pink", "white")
RATE_JITTER = 30   # an utterance's rate: the voice's own +- up to this many words per minute
PITCH_JITTER = 12  # an utterance's pitch: the voice's own +- up to this many espeak pitch units
SPEEDS = (0.88, 0.91, 0.94, 0.97, 1.0, 1.03, 1.06, 1.09, 1.12)  # tape-speed factors
_CACHE_FORMAT = 1


def synthesize_commands(*, words=None, per_word=500, seed=0, sr=16000, unknown_words=UNKNOWN_WORDS,
                        silence=True, duration=1.0, snr_db=(5.0, 30.0), level_db=(-20.0, -1.0),
                        silence_db=(-50.0, -20.0), max_shift=0.15, speed=True, validation=0.1,
                        test=0.1, accents=ACCENTS, variants=VARIANTS, cache=None):
    """Synthesize a Speech-Commands-like keyword set with espeak-ng.

    Parameters
    ----------
    words : sequence of str, optional
        The keywords; default ``KEYWORDS`` (yes no up down left right on off stop go).
    per_word : int
        Clips per class (each keyword, ``_unknown_`` and ``_silence_``), over all three splits.
    seed : int
        Seeds every random choice; the same arguments give bit-identical clips.
    sr : int
        Output sample rate, Hz.
    unknown_words : sequence of str
        Words spoken in the ``_unknown_`` class (those among ``words`` are dropped); empty: no
        ``_unknown_`` class.
    silence : bool
        Include a ``_silence_`` class of noise-only clips.
    duration : float
        Length of every clip, seconds.
    snr_db : (float, float)
        Range of the uniform signal-to-noise ratio of word clips, dB.
    level_db : (float, float)
        Range of the uniform peak level of the spoken word, dB relative to full scale.
    silence_db : (float, float)
        Range of the uniform RMS level of ``_silence_`` clips, dBFS.
    max_shift : float or None
        The word is centred in the clip, then moved by a uniform offset of up to this many seconds
        either way (kept inside the clip); ``None``: anywhere in the clip.
    speed : bool
        Play each word at a random tape speed from ``SPEEDS`` (0.88-1.12), which moves its formants
        and pitch together (a cheap stand-in for other vocal tracts).
    validation, test : float
        Fractions of the voice variants (and of each class's clips) held out for each split.
    accents, variants : sequence of str
        espeak-ng English voices and voice variants; a voice is ``accent+variant``.
    cache : None, False or str
        Folder of an on-disk cache of the synthesized utterances, keyed by a hash of every setting
        and the espeak-ng version. ``None``: ``$MINIKWS_CACHE`` if set, else no disk cache;
        ``False``: none. Either way each utterance is synthesized once per call.

    Returns
    -------
    Dataset
        ``classes = (*words, "_unknown_", "_silence_")``; clips of ``round(duration * sr)`` samples
        (float32); ``speakers`` are voice names (``"noise"`` for silence); ``noise`` holds the
        background noises mixed in (10 s each).
    """
    words = _check_words("words", KEYWORDS if words is None else words)
    unknown = tuple(w for w in _check_words("unknown_words", unknown_words, empty=True)
                    if w not in words)
    per_word = check_positive_int("per_word", per_word)
    seed = check_seed("seed", seed)
    sr = check_positive_int("sr", sr, minimum=1000)
    if not (np.isfinite(duration) and 0.1 <= duration <= 10.0):
        raise MinikwsError(f"duration: expected 0.1..10 seconds, got {duration!r}")
    for name, pair in (("snr_db", snr_db), ("level_db", level_db), ("silence_db", silence_db)):
        if len(pair) != 2 or not np.all(np.isfinite(pair)) or pair[0] > pair[1]:
            raise MinikwsError(f"{name}: expected a range (low, high), got {pair!r}")
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise MinikwsError(f"validation, test: expected fractions with a sum below 1, "
                           f"got {validation} and {test}")
    from minikws.datasets.espeak import get_espeak

    engine = get_espeak()
    accents, variants = tuple(accents), tuple(variants)
    unknown_variants = sorted(set(variants) - set(engine.variants()))
    if unknown_variants:
        raise MinikwsError(f"variants: espeak-ng has no variant(s) {unknown_variants}")
    n_val = int(round(validation * len(variants)))
    n_test = int(round(test * len(variants)))
    if (validation > 0 and n_val == 0) or (test > 0 and n_test == 0) or n_val + n_test >= len(variants):
        raise MinikwsError(f"variants: {len(variants)} are too few to split {validation}/{test} by voice")

    rng = np.random.default_rng(seed)
    L = int(round(duration * sr))
    if max_shift is not None and not (np.isfinite(max_shift) and max_shift >= 0):
        raise MinikwsError(f"max_shift: expected seconds >= 0 or None, got {max_shift!r}")
    shift_samples = 0 if max_shift is None else int(round(max_shift * sr))
    classes = words + ((UNKNOWN,) if unknown else ()) + ((SILENCE,) if silence else ())

    # Voices, grouped by variant into the three splits.
    order = rng.permutation(len(variants))
    split_of = {}
    for rank, v in enumerate(order):
        split_of[variants[v]] = ("test" if rank < n_test else
                                 "validation" if rank < n_test + n_val else "train")
    voices = {s: [] for s in ("train", "validation", "test")}
    persona = {}
    for variant in variants:  # in the given order, so the personas do not depend on the split
        for accent in accents:
            name = f"{accent}+{variant}"
            persona[name] = (int(rng.integers(140, 191)), int(rng.integers(30, 71)),
                             int(rng.integers(30, 81)))  # rate, pitch, range
            voices[split_of[variant]].append(name)

    # Clips per split for each class, proportional to the fractions.
    n_clips = {"test": int(round(test * per_word)), "validation": int(round(validation * per_word))}
    n_clips["train"] = per_word - n_clips["test"] - n_clips["validation"]

    plan = []  # (label, subset, utterance key or None)
    for label, name in enumerate(classes):
        for subset in ("train", "validation", "test"):
            pool = voices[subset]
            picks = _balanced(rng, len(pool), n_clips[subset])
            for j in range(n_clips[subset]):
                if name == SILENCE:
                    plan.append((label, subset, None))
                    continue
                text = name if name != UNKNOWN else unknown[int(rng.integers(len(unknown)))]
                voice = pool[picks[j]]
                rate, pitch, prange = persona[voice]
                rate += int(rng.integers(-RATE_JITTER, RATE_JITTER + 1))
                pitch = int(np.clip(pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1), 0, 100))
                plan.append((label, subset, (text, voice, rate, pitch, prange)))

    utterances = _synthesize_utterances(engine, sorted({p[2] for p in plan if p[2] is not None}),
                                        sr=sr, max_len=L, cache=cache)
    noise = make_noises(sr=sr, seconds=10.0, seed=seed)
    noise_list = [noise[k] for k in sorted(noise)]

    audio, speakers, files = [], [], []
    for i, (label, subset, key) in enumerate(plan):
        r = np.random.default_rng([seed, i])
        n = noise_list[int(r.integers(len(noise_list)))]
        if key is None:
            start = int(r.integers(0, len(n) - L + 1))
            clip = n[start:start + L].astype(np.float64)
            level = r.uniform(*silence_db)
            clip *= 10.0 ** (level / 20.0) / np.sqrt(np.mean(clip ** 2))
            speaker = "noise"
        else:
            u = utterances[key]
            if speed:  # a tape-speed change shifts formants and pitch together, like another throat
                factor = max(SPEEDS[int(r.integers(len(SPEEDS)))], len(u) / L)
                u = speed_perturb(u.astype(np.float64), factor, max_denominator=50)[:L]
            peak = r.uniform(*level_db)
            clip = np.zeros(L, dtype=np.float64)
            room = L - len(u)  # the word starts in 0..room
            if max_shift is None:
                offset = int(r.integers(0, room + 1))
            else:  # centred, then moved by up to max_shift, kept inside the clip
                jitter = int(r.integers(-shift_samples, shift_samples + 1))
                offset = int(np.clip(room // 2 + jitter, 0, room))
            clip[offset:offset + len(u)] = u * (10.0 ** (peak / 20.0) / np.max(np.abs(u)))
            clip = add_noise(clip, n.astype(np.float64), r.uniform(*snr_db), r)
            speaker = key[1]
        audio.append(np.clip(clip, -1.0, 1.0).astype(np.float32))
        speakers.append(speaker)
        files.append(f"{classes[label]}/{_file_name(speaker, key, i)}")
    return Dataset(audio=audio, labels=np.array([p[0] for p in plan], dtype=np.int64),
                   classes=classes, sr=sr, speakers=np.array(speakers),
                   subset=np.array([p[1] for p in plan]), noise=noise, files=np.array(files))


def make_noises(*, sr=16000, seconds=10.0, seed=0):
    """Background noises for augmentation and ``_silence_``: dict name -> float32 (S,), RMS 0.1.

    ``white`` is flat; ``pink`` and ``brown`` have power falling as 1/f and 1/f^2 (white noise shaped
    in the frequency domain); ``hum`` is mains hum (50 Hz harmonics with decaying amplitudes) over
    faint pink noise.
    """
    rng = np.random.default_rng([seed, 7])
    S = int(round(seconds * sr))
    f = np.fft.rfftfreq(S, d=1.0 / sr)
    f[0] = f[1]  # no DC blow-up

    def shaped(exponent):
        spectrum = np.fft.rfft(rng.standard_normal(S)) / f ** (exponent / 2.0)
        spectrum[0] = 0.0
        return np.fft.irfft(spectrum, n=S)

    t = np.arange(S) / sr
    hum = sum(np.sin(2 * np.pi * 50 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 8))
    pink_bed = shaped(1.0)
    hum = hum / np.std(hum) + 0.3 * pink_bed / np.std(pink_bed)
    noises = {"white": rng.standard_normal(S), "pink": shaped(1.0), "brown": shaped(2.0), "hum": hum}
    return {name: (0.1 * y / np.sqrt(np.mean(y ** 2))).astype(np.float32)
            for name, y in sorted(noises.items())}


def _balanced(rng, n_voices, n):
    """``n`` voice indices that use every voice about equally often, in random order."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    reps = -(-n // n_voices)
    return np.concatenate([rng.permutation(n_voices) for _ in range(reps)])[:n]


def _file_name(speaker, key, i):
    if key is None:
        return f"noise_nohash_{i}.wav"
    who = speaker.replace(" ", "")
    return f"{who}_nohash_{key[0]}-{key[2]}-{key[3]}-{i}.wav"


def _synthesize_utterances(engine, keys, *, sr, max_len, cache):
    """Synthesize, resample and trim each utterance once: dict key -> float32 (S_u,), S_u <= max_len."""
    folder = _cache_folder(cache)
    digest = hashlib.sha256(json.dumps(
        [_CACHE_FORMAT, engine.version, sr, max_len, keys]).encode()).hexdigest()
    path = None if folder is None else os.path.join(folder, f"synth-{digest[:24]}.npz")
    if path is not None and os.path.exists(path):
        stored = _read_cache(path, digest, len(keys))
        if stored is not None:
            return dict(zip(keys, stored))
    from minikws.datasets.espeak import synthesize_batch

    native_sr, raws = synthesize_batch(keys)
    out = []
    for key, raw in zip(keys, raws):
        if len(raw) == 0:
            raise MinikwsError(f"espeak-ng produced no audio for {key[0]!r} with voice {key[1]!r}")
        y = _trim(resample(raw.astype(np.float64) / 32768.0, orig_sr=native_sr, target_sr=sr,
                            dtype=np.float64))
        if len(y) > max_len:  # too slow to fit: speed it up just enough
            y = speed_perturb(y, len(y) / (0.98 * max_len))[:max_len]
        out.append(y.astype(np.float32))  # float32 halves the disk cache; cached or not, the same
    if path is not None:
        _write_cache(path, digest, out)
    return dict(zip(keys, out))


def _trim(y, threshold=0.02):
    """Cut leading and trailing samples below ``threshold`` times the peak."""
    loud = np.flatnonzero(np.abs(y) > threshold * np.max(np.abs(y)))
    return y[loud[0]:loud[-1] + 1] if len(loud) else y


def _cache_folder(cache):
    if cache is False:
        return None
    if cache is None:
        cache = os.environ.get("MINIKWS_CACHE") or None
        if cache is None:
            return None
    return os.fspath(cache)


def _read_cache(path, digest, count):
    """The utterances stored at ``path``, or None when the file is not a valid cache of ``digest``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["digest"]) != digest:
                return None
            samples, offsets = f["samples"], f["offsets"]
        if offsets.shape != (count + 1,) or offsets[-1] != len(samples) or samples.dtype != np.float32:
            return None
        return [samples[offsets[k]:offsets[k + 1]] for k in range(count)]
    except (OSError, ValueError, KeyError, EOFError):
        return None


def _write_cache(path, digest, utterances):
    """Store the utterances atomically (a temporary file renamed into place); never fail the call."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        offsets = np.concatenate([[0], np.cumsum([len(u) for u in utterances])]).astype(np.int64)
        with atomic_write(path) as fh:
            np.savez(fh, digest=np.array(digest), samples=np.concatenate(utterances), offsets=offsets)
    except (OSError, MinikwsError):
        pass


def _check_words(name, words, empty=False):
    if isinstance(words, str):
        raise MinikwsError(f"{name}: expected a list of words, got the string {words!r}")
    words = tuple(words)
    if not words and not empty:
        raise MinikwsError(f"{name}: expected at least one word")
    for w in words:
        if not isinstance(w, str) or not w.strip() or w.startswith("_") or "/" in w:
            raise MinikwsError(f"{name}: {w!r} is not a word (non-empty, no leading '_', no '/')")
    if len(set(words)) != len(words):
        raise MinikwsError(f"{name}: repeated words in {list(words)}")
    return words
