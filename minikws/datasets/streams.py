r"""Continuous streams for keyword detection: keywords among filler words and pauses, over noise.

A detector listens to hours of audio in which keywords are rare and other speech is common, so it is
trained and measured on long recordings with every word's boundaries rather than on 1 s clips.

How a stream is made (:func:`synthesize_streams`)
--------------------------------------------------
1. The voices and their split come from :func:`minikws.datasets.synth.split_voices` with the clip set's
   draws, so for one ``seed`` the streams' test voices are the clip set's test voices: never heard in
   training. A stream is spoken by one voice, as a person speaks.
2. A stream is a sequence of words, each a keyword with probability ``keyword_rate`` or else a filler
   from :data:`FILLERS` (:data:`TEST_FILLERS` in the test split: words never trained on), separated by pauses of ``pause`` seconds (uniform) and now and then, with
   probability ``long_pause_rate``, a long silence of ``long_pause`` seconds.
3. Each word is an espeak-ng utterance (the clip set's synthesis and cache,
   ``synth._synthesize_utterances``) at the voice's rate and pitch jittered, played at a random tape
   speed from ``synth.SPEEDS`` and scaled to a random peak level; its boundaries are the trimmed
   utterance's first and last samples.
4. Noise (one of ``synth.make_noises``'s, a random circular stretch) is added at one SNR per stream,
   uniform in ``snr_db``: the ratio of the mean power of the speech while words sound to the noise's.

Randomness: the plan from ``default_rng(seed)`` after the voice split, each stream's levels and noise
from ``default_rng([seed, 1, i])``: the same arguments give bit-identical streams.

Frame targets (:func:`frame_targets`)
-------------------------------------
A causal tagger cannot know a word at its first frame (``up`` and ``upper`` begin alike; ``top`` and
``stop`` end alike), so where a keyword's tag goes is a choice (``placement``):

``"word"``
    every frame whose end time lies inside the word, :math:`s \le \tau_t \le e`;
``"end"`` (default)
    the frames with :math:`e - d < \tau_t \le e + d/2` (its last frames and a little past the end), the
    earlier frames of the word masked out of the loss;
``"after"``
    the frames with :math:`e < \tau_t \le e + d`, the whole word masked.

:math:`\tau_t` is the time of frame t's last sample, :math:`d` = ``span`` seconds. Filler words and
pauses are ``O`` and count in the loss: the tagger must learn to say "no keyword" to ``top`` and
``shop``. ``benchmarks/bench_detect.py`` measures the three placements.

Two tag sets (:func:`tag_names`): ``"words"`` (``O`` and one tag per keyword) and ``"article"``
(``O``, ``command`` for every command word, ``stop``: the article's ``label2id``).

The user's own recordings (:func:`load_stream_folder`)
-------------------------------------------------------
``FILE.wav`` beside ``FILE.txt``, one line per word: ``label start end`` (seconds from the start of the
file; blank lines and lines starting with ``#`` ignored). Words whose label is not a keyword count as
fillers.
"""
import os
from typing import NamedTuple

import numpy as np

from minikws._validate import check_positive_int, check_real
from minikws.datasets.core import SUBSETS
from minikws.datasets.synth import ACCENTS, KEYWORDS, SPEEDS, VARIANTS
from minikws.errors import MinikwsError

__all__ = ["FILLERS", "TEST_FILLERS", "TAG_SETS", "PLACEMENTS", "Word", "StreamSet", "synthesize_streams",
           "tag_names", "word_tags", "frame_targets", "load_stream_folder", "read_labels",
           "write_labels"]

# Filler words: the words that sound most like a keyword first (rhymes, shared onsets or endings),
# then ordinary words, so that a detector must tell "stop" from "top" and "go" from "goal".
FILLERS = (
    "top", "shop", "spot", "stock", "step", "yet", "yeah", "yell", "less", "note", "know", "now",
    "goal", "gone", "goat", "dog", "town", "downtown", "round", "light", "leftover", "lift", "loft",
    "write", "bright", "night", "upper", "cup", "pup", "of", "often", "onto", "own", "dawn", "stopwatch",
    "rest", "answer", "open", "yellow", "nose", "dough", "bet", "nightlight",
    "the", "and", "hello", "water", "coffee", "music", "table", "window", "morning", "seven",
    "bird", "house", "happy", "computer", "weather", "kitchen", "forward", "follow", "marvin",
)
# Fillers of the test streams only, never heard in training: sound-alikes of every keyword again, and
# ordinary words, so that the test measures false alarms on words the tagger has not learnt to reject.
TEST_FILLERS = (
    "drop", "stab", "mess", "yelp", "snow", "though", "toe", "oops", "cop", "frown", "gown", "brown",
    "lap", "lent", "fight", "ride", "white", "bond", "honest", "cough", "soft", "golf", "slow",
    "snooze", "paper", "garden", "river", "silver", "pencil", "tomato", "evening", "jacket", "doctor",
)
TAG_SETS = ("words", "article")
PLACEMENTS = ("word", "end", "after")
MAX_WORD_SECONDS = 1.0  # a slow utterance is sped up to fit (as in the clip set)
MIN_WORD_SECONDS = 0.25  # shorter than any synthesized word: the plan never runs short


class Word(NamedTuple):
    """One spoken word of a stream: its text and its extent, seconds from the stream's start."""

    label: str
    start: float
    end: float


class StreamSet(NamedTuple):
    """Long recordings with the boundaries of every word.

    Attributes
    ----------
    audio : list of ndarray of float32 (S_i,)
        One mono waveform per stream.
    words : list of list of Word
        Every word of each stream (keywords and fillers), in time order.
    keywords : tuple of str
        The words to detect; any other label is a filler.
    sr : int
    speakers : ndarray of str (N,)
        The voice (or the file) of each stream.
    subset : ndarray of str (N,)
        ``"train"``, ``"validation"`` or ``"test"``.
    files : ndarray of str (N,)
        A synthetic name or the path of the recording.
    """

    audio: list
    words: list
    keywords: tuple
    sr: int
    speakers: np.ndarray
    subset: np.ndarray
    files: np.ndarray

    def split(self, subset):
        """The streams of one split, as a StreamSet."""
        if subset not in SUBSETS:
            raise MinikwsError(f"subset: expected one of {SUBSETS}, got {subset!r}")
        idx = np.flatnonzero(self.subset == subset)
        return StreamSet([self.audio[i] for i in idx], [self.words[i] for i in idx], self.keywords,
                         self.sr, self.speakers[idx], self.subset[idx], self.files[idx])

    def duration(self):
        """Total length in seconds."""
        return float(sum(len(y) for y in self.audio)) / self.sr

    def keyword_count(self):
        """How many keyword occurrences the streams hold."""
        return sum(w.label in self.keywords for ws in self.words for w in ws)


def synthesize_streams(*, keywords=None, fillers=FILLERS, test_fillers=TEST_FILLERS, streams=(40, 5, 10), seconds=60.0, seed=0,
                       sr=16000, keyword_rate=0.5, pause=(0.2, 1.2), long_pause_rate=0.1,
                       long_pause=(2.0, 6.0), snr_db=(5.0, 30.0), level_db=(-20.0, -1.0),
                       speed=True, validation=0.1, test=0.1, accents=ACCENTS, variants=VARIANTS,
                       cache=None):
    """Synthesize continuous streams of keywords, fillers and pauses over noise, split by voice.

    Parameters
    ----------
    keywords : sequence of str, optional
        The words to detect; default ``KEYWORDS`` (yes no up down left right on off stop go).
    fillers : sequence of str
        Other words spoken between keywords in the training and validation streams (default
        :data:`FILLERS`, sound-alikes first).
    test_fillers : sequence of str or None
        The fillers of the test streams (default :data:`TEST_FILLERS`, none of them in
        :data:`FILLERS`: the test hears filler words never trained on); None: ``fillers``.
    streams : (int, int, int)
        How many streams of each split: train, validation, test.
    seconds : float or (float, float, float)
        Length of every stream (1..3600 s), or one length per split (train, validation, test):
        many short training streams hear more voices than a few long ones.
    seed : int
        Seeds every choice; the voice split is the clip set's for the same seed.
    sr : int
    keyword_rate : float
        Probability that a word is a keyword rather than a filler.
    pause, long_pause : (float, float)
        Ranges of the uniform pause after a word and of an occasional long silence, seconds.
    long_pause_rate : float
        Probability that a word is followed by a long silence as well.
    snr_db : (float, float)
        Range of the uniform per-stream speech-to-noise ratio, dB (speech power while words sound).
    level_db : (float, float)
        Range of the uniform peak level of each word, dBFS.
    speed : bool
        Play each word at a random tape speed from ``SPEEDS`` (0.88-1.12).
    validation, test : float
        Fractions of the voice variants held out (as :func:`synthesize_commands`).
    accents, variants, cache
        As :func:`minikws.datasets.synthesize_commands`.

    Returns
    -------
    StreamSet
        Streams in the order train, validation, test; float32 in [-1, 1].
    """
    from minikws.datasets.espeak import get_espeak
    from minikws.augment import speed_perturb
    from minikws.datasets.synth import (_check_words, _synthesize_utterances, PITCH_JITTER,
                                        RATE_JITTER, make_noises, split_voices)

    keywords = _check_words("keywords", KEYWORDS if keywords is None else keywords)
    fillers = tuple(w for w in _check_words("fillers", fillers, empty=True) if w not in keywords)
    test_fillers = fillers if test_fillers is None else tuple(
        w for w in _check_words("test_fillers", test_fillers, empty=True) if w not in keywords)
    if len(streams) != 3:
        raise MinikwsError(f"streams: expected (train, validation, test) counts, got {streams!r}")
    counts = [check_positive_int(f"streams[{k}]", n, minimum=0) for k, n in enumerate(streams)]
    lengths = tuple(seconds) if isinstance(seconds, (tuple, list)) else (seconds,) * 3
    if len(lengths) != 3:
        raise MinikwsError(f"seconds: expected one length or (train, validation, test), got {seconds!r}")
    lengths = [check_real("seconds", x, low=1.0, high=3600.0) for x in lengths]
    sr = check_positive_int("sr", sr, minimum=1000)
    keyword_rate = check_real("keyword_rate", keyword_rate, low=0.0, high=1.0)
    long_pause_rate = check_real("long_pause_rate", long_pause_rate, low=0.0, high=1.0)
    if (not fillers or not test_fillers) and keyword_rate < 1.0:
        raise MinikwsError("fillers: none left besides the keywords; give some or keyword_rate=1")
    for name, pair in (("pause", pause), ("long_pause", long_pause), ("snr_db", snr_db),
                       ("level_db", level_db)):
        if len(pair) != 2 or not np.all(np.isfinite(pair)) or pair[0] > pair[1]:
            raise MinikwsError(f"{name}: expected a range (low, high), got {pair!r}")
    if pause[0] < 0 or long_pause[0] < 0:
        raise MinikwsError("pause, long_pause: pauses cannot be negative")

    engine = get_espeak()
    rng = np.random.default_rng(seed)
    voices, persona = split_voices(rng, engine=engine, accents=accents, variants=variants,
                                   validation=validation, test=test)
    max_len = int(round(MAX_WORD_SECONDS * sr))

    # The plan: per stream a voice, and per word its utterance key and the pause after it. A word's
    # length is not known before synthesis, so the plan counts each as MIN_WORD_SECONDS and holds a
    # few more words than fit; those that do not fit are dropped.
    plan = []  # (subset, voice, [(key, pause seconds), ...])
    for subset, n, seconds in zip(SUBSETS, counts, lengths):
        pool = voices[subset]
        others = test_fillers if subset == "test" else fillers
        if n and not pool:
            raise MinikwsError(f"streams: {n} {subset} streams asked for, but the split has no voices")
        picks = np.concatenate([rng.permutation(len(pool)) for _ in range(-(-n // max(len(pool), 1)))]
                               ) if n else []
        for j in range(n):
            voice = pool[int(picks[j])]
            rate0, pitch0, prange = persona[voice]
            seq, planned = [], 0.0
            while planned < seconds:
                is_kw = rng.random() < keyword_rate
                text = (keywords[int(rng.integers(len(keywords)))] if is_kw else
                        others[int(rng.integers(len(others)))])
                rate = rate0 + int(rng.integers(-RATE_JITTER, RATE_JITTER + 1))
                pitch = int(np.clip(pitch0 + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1), 0, 100))
                gap = rng.uniform(*pause)
                if rng.random() < long_pause_rate:
                    gap += rng.uniform(*long_pause)
                seq.append(((text, voice, rate, pitch, prange), gap))
                planned += MIN_WORD_SECONDS + gap
            plan.append((subset, voice, seq, int(round(seconds * sr))))

    keys = sorted({key for _, _, seq, _ in plan for key, _ in seq})
    utterances = _synthesize_utterances(engine, keys, sr=sr, max_len=max_len, cache=cache)
    noises = make_noises(sr=sr, seconds=max(10.0, min(max(lengths), 60.0)), seed=seed)
    noise_list = [noises[k] for k in sorted(noises)]

    audio, words, speakers, subsets, files = [], [], [], [], []
    for i, (subset, voice, seq, S) in enumerate(plan):
        r = np.random.default_rng([seed, 1, i])
        y = np.zeros(S, dtype=np.float64)
        speech = np.zeros(S, dtype=bool)
        spoken = []
        t = int(round(r.uniform(*pause) * sr))  # a little silence before the first word
        for key, gap in seq:
            u = utterances[key]
            if speed:
                factor = max(SPEEDS[int(r.integers(len(SPEEDS)))], len(u) / max_len)
                u = speed_perturb(u.astype(np.float64), factor, max_denominator=50)[:max_len]  # as the clips
            if t + len(u) > S:
                break
            peak = r.uniform(*level_db)
            y[t:t + len(u)] = u * (10.0 ** (peak / 20.0) / np.max(np.abs(u)))
            speech[t:t + len(u)] = True
            spoken.append(Word(key[0], t / sr, (t + len(u)) / sr))
            t += len(u) + int(round(gap * sr))
        n = noise_list[int(r.integers(len(noise_list)))]
        reps = -(-S // len(n)) + 1
        start = int(r.integers(len(n)))
        window = np.tile(n, reps)[start:start + S].astype(np.float64)
        p_speech = np.mean(y[speech] ** 2) if speech.any() else 1e-4
        snr = r.uniform(*snr_db)
        y += window * np.sqrt(p_speech / (np.mean(window ** 2) * 10.0 ** (snr / 10.0)))
        audio.append(np.clip(y, -1.0, 1.0).astype(np.float32))
        words.append(spoken)
        speakers.append(voice)
        subsets.append(subset)
        files.append(f"stream{i:04d}_{voice.replace('+', '_')}_snr{snr:.0f}")
    return StreamSet(audio, words, keywords, sr, np.array(speakers, dtype=str),
                     np.array(subsets, dtype=str), np.array(files, dtype=str))


def tag_names(keywords, tags="words"):
    """The tagger's classes: ``("O", *keywords)`` for ``"words"``; ``("O", "command", "stop")`` for
    ``"article"`` (the article's ``label2id``, which needs ``"stop"`` among the keywords)."""
    keywords = tuple(keywords)
    if tags == "words":
        return ("O",) + keywords
    if tags == "article":
        if "stop" not in keywords:
            raise MinikwsError(f"tags: the article's tag set needs 'stop' among the keywords {keywords}")
        return ("O", "command", "stop")
    raise MinikwsError(f"tags: expected one of {TAG_SETS}, got {tags!r}")


def word_tags(keywords, tags="words"):
    """dict keyword -> its tag name (fillers, absent from the dict, are ``O``)."""
    names = tag_names(keywords, tags)
    if tags == "words":
        return {k: k for k in keywords}
    return {k: ("stop" if k == "stop" else "command") for k in keywords}


def frame_targets(words, *, frame_end, keywords, tags="words", placement="end", span=0.2, tail=None):
    r"""Per-frame tag indices and loss mask of one stream.

    Parameters
    ----------
    words : sequence of Word
        The stream's words (keywords and fillers) with their extents, seconds.
    frame_end : ndarray (F,)
        :math:`\tau_t`, the time of each frame's last sample, seconds (increasing).
    keywords : sequence of str
    tags : {"words", "article"}
    placement : {"word", "end", "after"}
        Where a keyword's tag goes (see the module's notes).
    span : float
        :math:`d`, seconds, for ``"end"`` and ``"after"``.
    tail : float, optional
        For ``"end"``: how far past the word's end its tag runs, seconds (default :math:`d/2`).

    Returns
    -------
    targets : ndarray of int64 (F,)
        Index into :func:`tag_names` (0 = ``O``).
    mask : ndarray of bool (F,)
        False at the frames of a keyword that carry no tag (they are left out of the loss).
    """
    if placement not in PLACEMENTS:
        raise MinikwsError(f"placement: expected one of {PLACEMENTS}, got {placement!r}")
    span = check_real("span", span, low=0.0)
    tail = span / 2 if tail is None else check_real("tail", tail, low=0.0)
    tau = np.asarray(frame_end, dtype=np.float64)
    names = tag_names(keywords, tags)
    tag_of = word_tags(keywords, tags)
    targets = np.zeros(tau.shape, dtype=np.int64)
    mask = np.ones(tau.shape, dtype=bool)
    for w in words:
        if w.label not in tag_of:
            continue
        k = names.index(tag_of[w.label])
        if placement == "word":
            on = (tau >= w.start) & (tau <= w.end)
            blind = np.zeros_like(on)
        elif placement == "end":
            on = (tau > w.end - span) & (tau <= w.end + tail)
            blind = (tau >= w.start) & ~on & (tau <= w.end)
        else:
            on = (tau > w.end) & (tau <= w.end + span)
            blind = (tau >= w.start) & (tau <= w.end)
        targets[on] = k
        mask[blind] = False
    return targets, mask


def read_labels(path, *, duration=None):
    """Read a labels file: lines ``label start end`` (seconds) -> list of Word, in time order.

    Blank lines and lines starting with ``#`` are skipped. A bad line raises MinikwsError naming the
    file and the line number. ``duration`` (seconds), if given, bounds the ends (10 ms of slack).
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise MinikwsError(f"{path}: not a UTF-8 text file") from None
    out = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) != 3:
            raise MinikwsError(f"{path}:{n}: expected 'label start end', got {text!r}")
        label, a, b = parts
        try:
            start, end = float(a), float(b)
        except ValueError:
            raise MinikwsError(f"{path}:{n}: start and end must be numbers of seconds, got {a!r} {b!r}"
                               ) from None
        if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
            raise MinikwsError(f"{path}:{n}: expected 0 <= start < end, got {start} {end}")
        if duration is not None and end > duration + 0.01:
            raise MinikwsError(f"{path}:{n}: the word ends at {end} s, after the audio's end "
                               f"({duration:.3f} s)")
        out.append(Word(label, start, end))
    return sorted(out, key=lambda w: (w.start, w.end))


def write_labels(path, words):
    """Write words as a labels file :func:`read_labels` reads (atomically)."""
    import tempfile

    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".txt", dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for w in words:
            f.write(f"{w.label} {w.start:.4f} {w.end:.4f}\n")
    os.replace(tmp, path)


def load_stream_folder(root, *, keywords=None, sr=None, validation_percentage=10.0,
                       testing_percentage=10.0):
    """Load the user's long recordings: every ``FILE.wav`` under ``root`` with its ``FILE.txt``.

    Parameters
    ----------
    root : str or path
    keywords : sequence of str, optional
        The words to detect; other labels are fillers. Default: every label in the files, sorted.
    sr : int, optional
        Resample to this rate; default: the files' (which must then agree).
    validation_percentage, testing_percentage : float
        Shares of the recordings held out, by a hash of the file name
        (:func:`minikws.datasets.which_set`; a name's part from ``_nohash_`` on is ignored).

    Returns
    -------
    StreamSet
    """
    from minikws.audio import load_wav
    from minikws.datasets.loaders import which_set

    root = os.fspath(root)
    if not os.path.isdir(root):
        raise MinikwsError(f"{root}: not a folder")
    wavs = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                  if f.lower().endswith(".wav"))
    if not wavs:
        raise MinikwsError(f"{root}: no .wav files")
    audio, words, files, subsets = [], [], [], []
    rate = sr
    for wav in wavs:
        txt = os.path.splitext(wav)[0] + ".txt"
        if not os.path.exists(txt):
            raise MinikwsError(f"{wav}: no labels file {os.path.basename(txt)} beside it")
        y, file_sr = load_wav(wav, sr=sr)
        if rate is None:
            rate = file_sr
        elif file_sr != rate:
            raise MinikwsError(f"{wav}: {file_sr} Hz, but other files are {rate} Hz; pass sr= to "
                               "resample them all")
        audio.append(y)
        words.append(read_labels(txt, duration=len(y) / file_sr))
        rel = os.path.relpath(wav, root)
        files.append(rel)
        subsets.append(which_set(rel, validation_percentage, testing_percentage))
    labels = sorted({w.label for ws in words for w in ws})
    if keywords is None:
        if not labels:
            raise MinikwsError(f"{root}: the labels files name no words")
        keywords = tuple(labels)
    else:
        keywords = tuple(keywords)
    return StreamSet(audio, words, keywords, int(rate), np.array(files, dtype=str),
                     np.array(subsets, dtype=str), np.array(files, dtype=str))
