"""The :class:`Dataset` every loader and the synthesizer return, and :func:`pad_batch`."""
from dataclasses import dataclass, field

import numpy as np

from minikws._validate import check_positive_int
from minikws.errors import MinikwsError

SUBSETS = ("train", "validation", "test")


@dataclass
class Dataset:
    """Labelled clips with their speakers and split.

    Attributes
    ----------
    audio : list of ndarray of float32 (S_n,)
        One mono waveform per clip in [-1, 1], of variable length S_n.
    labels : ndarray of int64 (N,)
        Index into ``classes`` of each clip.
    classes : tuple of str
        Class names: sorted for loaded folders; a synthesized set keeps its label list's order.
    sr : int
        Sample rate of every clip, Hz.
    speakers : ndarray of str (N,)
        Who (or which synthetic voice) spoke each clip.
    subset : ndarray of str (N,)
        ``"train"``, ``"validation"`` or ``"test"`` for each clip.
    noise : dict of str -> ndarray of float32 (S,)
        Background noise recordings (Speech Commands' ``_background_noise_``), for augmentation and
        ``_silence_`` clips; empty when the data set has none.
    files : ndarray of str (N,)
        Where each clip came from: a path relative to the data set's root, or a synthetic name.
    """

    audio: list
    labels: np.ndarray
    classes: tuple
    sr: int
    speakers: np.ndarray
    subset: np.ndarray
    noise: dict = field(default_factory=dict)
    files: np.ndarray = None

    def __post_init__(self):
        n = len(self.audio)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.classes = tuple(str(c) for c in self.classes)
        self.speakers = np.asarray(self.speakers, dtype=str).reshape(-1)
        self.subset = np.asarray(self.subset, dtype=str).reshape(-1)
        self.files = (np.array([f"clip{i:06d}" for i in range(n)]) if self.files is None
                      else np.asarray(self.files, dtype=str).reshape(-1))
        for name in ("labels", "speakers", "subset", "files"):
            if len(getattr(self, name)) != n:
                raise MinikwsError(f"Dataset.{name}: expected {n} entries (one per clip), "
                                   f"got {len(getattr(self, name))}")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise MinikwsError(f"Dataset.labels: expected values in 0..{len(self.classes) - 1}")
        bad = sorted(set(self.subset.tolist()) - set(SUBSETS))
        if bad:
            raise MinikwsError(f"Dataset.subset: unknown split(s) {bad}; expected {SUBSETS}")

    def __len__(self):
        return len(self.audio)

    def select(self, subset):
        """The clips of one split (``"train"``, ``"validation"`` or ``"test"``), same classes and sr."""
        if subset not in SUBSETS:
            raise MinikwsError(f"subset: expected one of {SUBSETS}, got {subset!r}")
        idx = np.flatnonzero(self.subset == subset)
        return Dataset(audio=[self.audio[i] for i in idx], labels=self.labels[idx],
                       classes=self.classes, sr=self.sr, speakers=self.speakers[idx],
                       subset=self.subset[idx], noise=self.noise, files=self.files[idx])

    def counts(self):
        """Clips per (subset, class): dict subset -> dict class name -> int."""
        return {s: {c: int(np.sum((self.subset == s) & (self.labels == k)))
                    for k, c in enumerate(self.classes)} for s in SUBSETS}


def pad_batch(clips, length=None):
    """Stack variable-length clips into one zero-padded array.

    Parameters
    ----------
    clips : sequence of ndarray (S_n,)
        Waveforms of one float dtype.
    length : int, optional
        Width S of the batch; default: the longest clip. Longer clips are cut to ``length``.

    Returns
    -------
    batch : ndarray (B, S)
        ``batch[b, :lengths[b]]`` is clip ``b``; the rest is zeros.
    lengths : ndarray of int64 (B,)
        Valid samples per row, ``min(S_n, S)``.
    """
    clips = [np.asarray(c) for c in clips]
    if not clips:
        raise MinikwsError("clips: expected at least one clip")
    for i, c in enumerate(clips):
        if c.ndim != 1:
            raise MinikwsError(f"clips[{i}]: expected a 1-D waveform, got shape {c.shape}")
    dtype = np.result_type(*clips)
    sizes = np.array([len(c) for c in clips], dtype=np.int64)
    if length is None:
        length = int(sizes.max())
    else:
        length = check_positive_int("length", length, minimum=0)
    lengths = np.minimum(sizes, length)
    batch = np.zeros((len(clips), int(length)), dtype=dtype)
    for b, c in enumerate(clips):
        batch[b, :lengths[b]] = c[:lengths[b]]
    return batch, lengths
