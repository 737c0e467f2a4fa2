"""Loaders for recordings on disk, in the layouts people have them.

Speech Commands (``load_speech_commands``)::

    root/yes/0a7c2a8d_nohash_0.wav       a folder per label; the speaker is the part before _nohash_
    root/validation_list.txt             "yes/0a7c2a8d_nohash_0.wav" per line: validation clips
    root/testing_list.txt                the same for test clips; every other clip is training
    root/_background_noise_/*.wav        long noise recordings -> Dataset.noise

A folder per label (``load_folders``): ``root/<label>/*.wav`` without lists; the split is made by
hashing each file name (see :func:`which_set`), so it is stable as files are added.

Free Spoken Digit Dataset (``load_fsdd``): ``{digit}_{speaker}_{index}.wav`` in ``root/recordings/``
or in ``root`` itself, 8 kHz. The official split puts indices 0-4 in test; this loader also holds
indices 5-9 out as validation, and the rest is training.

Every loader returns a :class:`~minikws.datasets.core.Dataset` with classes sorted by name, and
raises ``MinikwsError`` naming the folder or file for a missing folder, a folder without WAV files, an
empty class, an unreadable file, or sample rates it cannot bring to one.
"""
import hashlib
import os
import re

import numpy as np

from minikws._fileio import atomic_folder, atomic_write
from minikws._validate import check_positive_int
from minikws.datasets.core import Dataset
from minikws.errors import MinikwsError

BACKGROUND = "_background_noise_"
LIST_FILES = {"validation": "validation_list.txt", "test": "testing_list.txt"}
_FSDD_NAME = re.compile(r"^(\d)_([^_]+)_(\d+)\.wav$", re.IGNORECASE)
_MAX_PERCENTAGE_OF_FILES = 2 ** 27 - 1


def load_speech_commands(root, *, sr=16000):
    """Load a data set in Google Speech Commands' layout, split by its list files.

    Parameters
    ----------
    root : str or path
        The folder holding a folder per label, ``validation_list.txt`` and/or ``testing_list.txt``
        (paths relative to ``root``, one per line; entries for files not present are ignored) and
        optionally ``_background_noise_``.
    sr : int or None
        Resample every clip (and noise) to this rate, Hz; ``None`` keeps the files' rate, which must
        then be the same for all.

    Returns
    -------
    Dataset
        Classes: the label folders, sorted; ``speakers`` from the file names (before ``_nohash_``);
        ``noise``: ``_background_noise_``'s recordings by file stem.
    """
    root = _check_root(root)
    lists = {}
    for subset, name in LIST_FILES.items():
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                lists[subset] = {os.path.normpath(line.strip()) for line in f if line.strip()}
    if not lists:
        raise MinikwsError(f"{root}: no validation_list.txt or testing_list.txt "
                           "(for a folder per label without lists use the 'folders' layout)")
    files, labels, classes = _label_folders(root)
    overlap = lists.get("validation", set()) & lists.get("test", set())
    if overlap:
        raise MinikwsError(f"{root}: {sorted(overlap)[0]} is in both validation_list.txt and testing_list.txt")
    subset = ["validation" if f in lists.get("validation", ()) else
              "test" if f in lists.get("test", ()) else "train" for f in files]
    return _build(root, files, labels, classes, subset, sr)


def which_set(filename, validation_percentage=10.0, testing_percentage=10.0):
    """The split of a file, decided by a hash of its name (Speech Commands' rule).

    The part of the base name from ``_nohash_`` on is dropped, so all clips of one speaker land in
    the same split; the SHA-1 of the rest, modulo ``2^27 - 1``, is mapped to a percentage in [0, 100).
    Below ``validation_percentage`` -> ``"validation"``, below the sum -> ``"test"``, else ``"train"``.
    """
    base = re.sub(r"_nohash_.*$", "", os.path.basename(filename))
    h = int(hashlib.sha1(base.encode("utf-8")).hexdigest(), 16)
    percentage = (h % (_MAX_PERCENTAGE_OF_FILES + 1)) * (100.0 / _MAX_PERCENTAGE_OF_FILES)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + testing_percentage:
        return "test"
    return "train"


def load_folders(root, *, sr=16000, validation_percentage=10.0, testing_percentage=10.0):
    """Load ``root/<label>/*.wav``, split by hashing file names with :func:`which_set`.

    Parameters
    ----------
    root : str or path
    sr : int or None
        As :func:`load_speech_commands`.
    validation_percentage, testing_percentage : float
        Shares of the (hashed) file names put in each held-out split, percent.

    Returns
    -------
    Dataset
        Classes: the folders, sorted (``_background_noise_`` is read into ``noise`` instead).
    """
    root = _check_root(root)
    for name, value in (("validation_percentage", validation_percentage),
                        ("testing_percentage", testing_percentage)):
        if not 0 <= value <= 100:
            raise MinikwsError(f"{name}: expected 0..100, got {value!r}")
    if validation_percentage + testing_percentage > 100:
        raise MinikwsError("validation_percentage + testing_percentage: more than 100")
    files, labels, classes = _label_folders(root)
    subset = [which_set(f, validation_percentage, testing_percentage) for f in files]
    return _build(root, files, labels, classes, subset, sr)


def load_fsdd(root, *, sr=8000, test_indices=range(0, 5), validation_indices=range(5, 10)):
    """Load the Free Spoken Digit Dataset: ``{digit}_{speaker}_{index}.wav``.

    Parameters
    ----------
    root : str or path
        The repository folder (with ``recordings/``) or the folder of WAV files itself.
    sr : int or None
        As :func:`load_speech_commands`; FSDD is recorded at 8000 Hz.
    test_indices, validation_indices : iterable of int
        Recording indices of the test split (official: 0-4) and of the validation split carved
        from the official training part (default 5-9); all other indices are training.

    Returns
    -------
    Dataset
        Classes ``"0"``..``"9"`` (those present), speakers from the file names.
    """
    root = _check_root(root)
    folder = os.path.join(root, "recordings")
    folder = folder if os.path.isdir(folder) else root
    test_indices, validation_indices = set(test_indices), set(validation_indices)
    if test_indices & validation_indices:
        raise MinikwsError("test_indices, validation_indices: they overlap")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".wav"))
    if not names:
        raise MinikwsError(f"{folder}: no WAV files")
    parsed = []
    for name in names:
        m = _FSDD_NAME.match(name)
        if m is None:
            raise MinikwsError(f"{os.path.join(folder, name)}: not named {{digit}}_{{speaker}}_{{index}}.wav "
                               "as the Free Spoken Digit Dataset")
        parsed.append((m.group(1), m.group(2), int(m.group(3))))
    classes = tuple(sorted({digit for digit, _, _ in parsed}))
    rel = os.path.relpath(folder, root)
    files = [os.path.normpath(os.path.join(rel, n)) for n in names]
    labels = [classes.index(digit) for digit, _, _ in parsed]
    subset = ["test" if i in test_indices else "validation" if i in validation_indices else "train"
              for _, _, i in parsed]
    speakers = [s for _, s, _ in parsed]
    return _build(root, files, labels, classes, subset, sr, speakers=speakers, noise_folder=False)


KINDS = ("auto", "folders", "speech-commands", "fsdd")


def detect_layout(root):
    """Which layout ``root`` has: ``"speech-commands"`` (list files), ``"fsdd"`` (digit_speaker_index
    WAV names, in ``recordings/`` or flat) or ``"folders"`` (label folders)."""
    root = _check_root(root)
    if any(os.path.isfile(os.path.join(root, n)) for n in LIST_FILES.values()):
        return "speech-commands"
    folder = os.path.join(root, "recordings") if os.path.isdir(os.path.join(root, "recordings")) else root
    wavs = sorted(n for n in os.listdir(folder) if n.lower().endswith(".wav"))
    if any(_FSDD_NAME.match(n) for n in wavs):
        return "fsdd"  # load_fsdd names any file that breaks the pattern
    if wavs and folder == root:
        raise MinikwsError(f"{os.path.join(root, wavs[0])}: a WAV file outside label folders and not "
                           "named like the Free Spoken Digit Dataset ({digit}_{speaker}_{index}.wav)")
    return "folders"


def load_dataset(root, kind="auto", **kwargs):
    """Load ``root`` in layout ``kind`` (one of ``KINDS``; ``"auto"``: :func:`detect_layout`).

    Keyword arguments (``sr``, ...) go to the loader; each loader has its own default rate.
    """
    if kind not in KINDS:
        raise MinikwsError(f"kind: expected one of {KINDS}, got {kind!r}")
    if kind == "auto":
        kind = detect_layout(root)
    loader = {"folders": load_folders, "speech-commands": load_speech_commands, "fsdd": load_fsdd}[kind]
    return loader(root, **kwargs)


def save_speech_commands(dataset, root):
    """Write a Dataset in Speech Commands' layout, readable back with :func:`load_speech_commands`.

    ``root/<class>/<name>.wav`` for every clip (16-bit PCM; the name is ``dataset.files``' base name),
    ``validation_list.txt`` and ``testing_list.txt`` listing the held-out clips, and
    ``_background_noise_/<name>.wav`` for each of ``dataset.noise``. ``root`` must be empty or new, and
    its parent must exist. The set is written into a temporary folder beside ``root`` that is renamed
    to ``root`` at the end (:func:`minikws._fileio.atomic_folder`): an interrupted write leaves no
    partial set that a later ``train`` could take for a whole one.

    Returns
    -------
    int
        The number of clips written.
    """
    from minikws.audio import save_wav

    root = os.fspath(root)
    names = [f"{dataset.classes[k]}/{os.path.basename(f)}" for k, f in zip(dataset.labels, dataset.files)]
    if len(set(names)) != len(names):
        raise MinikwsError("dataset.files: two clips of one class share a file name")
    with atomic_folder(root) as tmp:
        for c in dataset.classes:
            os.makedirs(os.path.join(tmp, c), exist_ok=True)
        for name, y in zip(names, dataset.audio):
            save_wav(os.path.join(tmp, name), np.asarray(y, dtype=np.float32), int(dataset.sr))
        if dataset.noise:
            os.makedirs(os.path.join(tmp, BACKGROUND), exist_ok=True)
            for name, y in dataset.noise.items():
                save_wav(os.path.join(tmp, BACKGROUND, f"{name}.wav"), np.asarray(y, dtype=np.float32),
                         int(dataset.sr))
        for subset, list_name in LIST_FILES.items():
            listed = [n for n, s in zip(names, dataset.subset) if s == subset]
            _write_text(os.path.join(tmp, list_name), "".join(n + "\n" for n in listed))
    return len(names)


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def trim_to_word(y, sr, *, margin=0.05):
    """The stretch of ``y`` from the first to the last 10 ms frame above 20 % of the loudest frame's RMS,
    plus ``margin`` seconds each side: a clip cut to its word, as FSDD's recordings are."""
    hop = int(0.01 * sr)
    energy = np.sqrt(np.mean(np.square(y[: len(y) // hop * hop].reshape(-1, hop)), axis=1))
    loud = np.flatnonzero(energy > 0.2 * energy.max())
    a = max(0, loud[0] * hop - int(margin * sr))
    b = min(len(y), (loud[-1] + 1) * hop + int(margin * sr))
    return y[a:b]


def synthesize_fsdd(root, *, per_word, speakers=6, per_speaker=None, seed=0, sr=8000):
    """Write synthesized spoken digits in the Free Spoken Digit Dataset's layout (:func:`load_fsdd`).

    ``root/{digit}_{speaker}_{index}.wav``, each clip cut to its word (:func:`trim_to_word`). The
    synthesizer's voices are dealt out to ``speakers`` speakers (``voice0``...); ``index`` counts each
    speaker's recordings of a digit, so FSDD's split by index applies. A stand-in for FSDD, which cannot
    be downloaded here: its voices are synthetic.

    Parameters
    ----------
    root : str or os.PathLike
        A new folder (its parent must exist).
    per_word : int
        Clips of each digit to synthesize.
    speakers : int
    per_speaker : int, optional
        Keep at most this many recordings of a digit per speaker (FSDD has 50).
    seed, sr
        As :func:`~minikws.datasets.synthesize_commands`.

    Returns
    -------
    int
        The number of recordings written.
    """
    from minikws.audio import save_wav
    from minikws.datasets.synth import synthesize_commands

    root = os.fspath(root)
    if os.path.exists(root):
        raise MinikwsError(f"{root}: exists; give a new folder")
    ds = synthesize_commands(words=list(DIGIT_WORDS), per_word=per_word, seed=seed, sr=sr,
                             unknown_words=(), silence=False)
    voices = sorted(set(ds.speakers.tolist()))
    counters, written = {}, 0
    with atomic_folder(root) as tmp:
        for y, label, voice in zip(ds.audio, ds.labels, ds.speakers):
            digit = DIGIT_WORDS.index(ds.classes[int(label)])
            speaker = f"voice{voices.index(voice) % speakers}"
            index = counters[digit, speaker] = counters.get((digit, speaker), -1) + 1
            if per_speaker is None or index < per_speaker:
                save_wav(os.path.join(tmp, f"{digit}_{speaker}_{index}.wav"), trim_to_word(y, sr), sr)
                written += 1
    return written


def _write_text(path, text):
    with atomic_write(path, "w") as f:
        f.write(text)


# ------------------------------------------------------------------------------------------ helpers
def _check_root(root):
    root = os.fspath(root)
    if not os.path.exists(root):
        raise MinikwsError(f"{root}: no such folder")
    if not os.path.isdir(root):
        raise MinikwsError(f"{root}: not a folder")
    return root


def _label_folders(root):
    """Relative paths of ``root/<label>/*.wav`` (sorted), their label indices, and the classes."""
    labels_dirs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                         and d != BACKGROUND and not d.startswith("."))
    if not labels_dirs:
        raise MinikwsError(f"{root}: no label folders with WAV files")
    files, labels = [], []
    for k, label in enumerate(labels_dirs):
        names = sorted(n for n in os.listdir(os.path.join(root, label)) if n.lower().endswith(".wav"))
        if not names:
            raise MinikwsError(f"{os.path.join(root, label)}: no WAV files (an empty class)")
        files.extend(os.path.join(label, n) for n in names)
        labels.extend([k] * len(names))
    return files, labels, tuple(labels_dirs)


def _speaker(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.split("_nohash_")[0] if "_nohash_" in stem else stem


def _build(root, files, labels, classes, subset, sr, speakers=None, noise_folder=True):
    """Read the WAV files (and the background noise) into a Dataset at one sample rate."""
    from minikws.audio import load_wav

    if sr is not None:
        sr = check_positive_int("sr", sr)
    audio, rates = [], {}
    for rel in files:
        path = os.path.join(root, rel)
        y, rate = load_wav(path, sr=sr, mono=True)
        audio.append(np.asarray(y, dtype=np.float32))
        rates.setdefault(rate, path)
        if len(rates) > 1:
            (r0, p0), (r1, p1) = list(rates.items())[:2]
            raise MinikwsError(f"{p1}: sample rate {r1} Hz differs from {r0} Hz of {p0}; "
                               "pass a sample rate to resample to")
    rate = next(iter(rates))
    noise = {}
    bg = os.path.join(root, BACKGROUND)
    if noise_folder and os.path.isdir(bg):
        for name in sorted(os.listdir(bg)):
            if name.lower().endswith(".wav"):
                y, _ = load_wav(os.path.join(bg, name), sr=rate, mono=True)
                noise[os.path.splitext(name)[0]] = np.asarray(y, dtype=np.float32)
    speakers = [_speaker(f) for f in files] if speakers is None else speakers
    return Dataset(audio=audio, labels=np.array(labels, dtype=np.int64), classes=classes, sr=int(rate),
                   speakers=np.array(speakers), subset=np.array(subset), noise=noise,
                   files=np.array([f.replace(os.sep, "/") for f in files]))
