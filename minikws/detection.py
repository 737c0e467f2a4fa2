r"""Keyword detection on continuous audio: per-frame posteriors -> smoothing -> confidence -> events.

A frame tagger gives every frame t the posteriors :math:`p_t` (C,) of its tags (``O`` and the
keywords). A detector turns that stream of numbers into a few events, as Chen, Parada and Heigold
(2014, "Small-footprint keyword spotting using deep neural networks") do:

.. math::
   :label: posterior-smoothing

   \bar p_{t,k} = \frac{1}{t - h_s + 1} \sum_{j = h_s}^{t} p_{j,k}, \qquad h_s = \max(0, t - w_s + 1)

.. math::
   :label: detection-confidence

   c_{t,k} = \max_{h_m \le j \le t} \bar p_{j,k}, \qquad h_m = \max(0, t - w_m + 1)

(Chen et al. take the geometric mean of :math:`c` over a keyword's sub-word tags; here each keyword has
one tag, and the confidence is the peak of the smoothed posterior over the longer window.) At frame t
the candidate is :math:`k^* = \arg\max_{k \ne O} \bar p_{t,k}`; it *fires* when

* :math:`\bar p_{t,k^*} \ge \theta` (the threshold) has held for ``min_count`` frames in a row with the
  same candidate (one stray frame is not a word),
* at least ``refractory`` seconds have passed since the last detection (one word, one event), and
* the candidate has fallen below :math:`\theta` since the last detection of that label (re-armed).

The record is ``Detection(label, time, start, end, score)``: ``time`` the firing frame's time (its last
sample, seconds from the start of the audio), ``score`` :math:`c_{t,k^*}`, and ``start``/``end`` an
estimate of the word's extent: the first and the most probable frame of the run of frames, within the
confidence window, whose raw posterior :math:`p_{j,k^*}` is at least :math:`\theta / 2`.

TensorFlow's ``RecognizeCommands`` has the same knobs (``average_window_duration_ms`` = 1000,
``detection_threshold`` = 0.2, ``suppression_ms`` = 1500, ``minimum_count`` = 3), tuned for a clip
classifier run every 20-30 ms over a 1 s window. A frame tagger's posterior is sharper and already
local, so the defaults here are shorter (see :class:`PosteriorDetector`), chosen to meet a 0.5 s latency
after the word's end.

Streaming: :class:`PosteriorDetector` keeps the last ``w_s`` raw and ``w_m`` smoothed frames, the run
counter and the refractory clock between calls; each frame's sums run over the same values in the
same order whatever the chunking, so feeding the posteriors in pieces gives bit-identical smoothing
and detections. :func:`detect_posteriors` is that code on one chunk.

Shapes: T frames of a chunk, C tags.
"""
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minikws._validate import check_float_array, check_positive_int, check_real
from minikws.errors import MinikwsError

__all__ = ["Detection", "PosteriorDetector", "Detector", "FeedbackHead", "detect", "detect_posteriors",
           "detect_sweep", "smooth_posteriors", "detection_confidence", "DEFAULTS"]

# The detector's defaults, seconds except threshold and min_count (PosteriorDetector says why).
DEFAULTS = {"threshold": 0.5, "smooth": 0.1, "confidence_window": 0.5, "min_count": 3,
            "refractory": 0.2}


def smooth_posteriors(probs, window):
    """The smoothed posteriors :eq:`posterior-smoothing` of a sequence that starts at frame 0.

    Parameters
    ----------
    probs : ndarray (T, C)
        Raw per-frame posteriors :math:`p_t`.
    window : int
        :math:`w_s`, frames; frame t averages frames :math:`\\max(0, t - w_s + 1) .. t` (fewer than
        :math:`w_s` at the start, never a frame from the future).

    Returns
    -------
    ndarray of float64 (T, C)
    """
    probs = check_float_array("probs", probs, ndim=2).astype(np.float64)
    w = check_positive_int("window", window)
    T, C = probs.shape
    padded = np.concatenate([np.zeros((w - 1, C)), probs])  # zeros before frame 0 add nothing
    sums = sliding_window_view(padded, w, axis=0).sum(axis=-1)  # (T, C)
    return sums / np.minimum(np.arange(T) + 1, w)[:, None]


def detection_confidence(smoothed, window):
    """The confidence :eq:`detection-confidence`: the peak of the smoothed posteriors over the last
    :math:`w_m` frames (fewer at the start), for a sequence that starts at frame 0.

    Parameters
    ----------
    smoothed : ndarray (T, C)
        :math:`\\bar p_t`, e.g. from :func:`smooth_posteriors`.
    window : int
        :math:`w_m`, frames.

    Returns
    -------
    ndarray of float64 (T, C)
    """
    smoothed = check_float_array("smoothed", smoothed, ndim=2).astype(np.float64)
    w = check_positive_int("window", window)
    T, C = smoothed.shape
    padded = np.concatenate([np.full((w - 1, C), -np.inf), smoothed])
    return sliding_window_view(padded, w, axis=0).max(axis=-1)


class Detection(NamedTuple):
    """One detected keyword: label; time (s) when it fired; start, end (s) the word's estimated extent;
    score, the confidence :eq:`detection-confidence` at firing."""

    label: str
    time: float
    start: float
    end: float
    score: float

    def as_dict(self):
        return {"label": self.label, "time": round(self.time, 4), "start": round(self.start, 4),
                "end": round(self.end, 4), "score": round(self.score, 4)}


class PosteriorDetector:
    """Smoothing, confidence, threshold, minimum count and refractory time over streamed posteriors.

    Parameters
    ----------
    classes : sequence of str
        The tags, in the posteriors' column order.
    frame_shift : float
        Seconds between frames (the front end's hop).
    frame_delay : float
        Time of frame 0's last sample, seconds (frame t is at ``frame_delay + t * frame_shift``).
    background : str
        The no-keyword tag (default ``"O"``), never detected.
    threshold : float
        :math:`\\theta`, on the smoothed posterior; default 0.5: the keyword is more probable than
        everything else together.
    smooth : float
        :math:`w_s` in seconds (default 0.1 s = 5 frames at 20 ms): enough to remove one-frame spikes;
        a window of w frames delays the rise by about w / 2 frames, so longer costs latency.
    confidence_window : float
        :math:`w_m` in seconds (default 0.5 s): the span over which the score and the word's extent
        are read (about a word's length).
    min_count : int
        Frames in a row above the threshold before firing (default 3, TensorFlow's; 60 ms at 20 ms).
    refractory : float
        Seconds after a detection during which nothing fires (default 0.2 s). It is shared by all
        labels, so it must be short: a sound-alike tag often fires early in a word (``off`` as ``on``
        begins) and a longer quiet time would block the right tag at the word's end. 0.5 s lost 70 of
        120 missed words at threshold 0.05 that way (``benchmarks/README.md``); the re-arming rule
        already stops one word firing its own label twice.
    """

    def __init__(self, *, classes, frame_shift, frame_delay=0.0, background="O",
                 threshold=DEFAULTS["threshold"], smooth=DEFAULTS["smooth"],
                 confidence_window=DEFAULTS["confidence_window"], min_count=DEFAULTS["min_count"],
                 refractory=DEFAULTS["refractory"]):
        self.classes = tuple(classes)
        if background not in self.classes:
            raise MinikwsError(f"background: {background!r} is not one of the classes {self.classes}")
        if len(self.classes) < 2:
            raise MinikwsError("classes: expected the background tag and at least one keyword")
        self.background = background
        self.frame_shift = check_real("frame_shift", frame_shift, low=1e-4)
        self.frame_delay = check_real("frame_delay", frame_delay, low=0.0)
        self.threshold = check_real("threshold", threshold, low=0.0, high=1.0)
        self.smooth = check_real("smooth", smooth, low=0.0)
        self.confidence_window = check_real("confidence_window", confidence_window, low=0.0)
        self.min_count = check_positive_int("min_count", min_count)
        self.refractory = check_real("refractory", refractory, low=0.0)
        self.w_s = max(1, int(round(self.smooth / self.frame_shift)))
        self.w_m = max(1, int(round(self.confidence_window / self.frame_shift)))
        self.refractory_frames = int(round(self.refractory / self.frame_shift))
        self._keys = np.array([k for k, c in enumerate(self.classes) if c != background])
        self.reset()

    def reset(self):
        """Forget the stream: the next frame is frame 0."""
        C = len(self.classes)
        self.frames = 0  # frames seen so far
        self._raw_len = max(self.w_m, self.w_s)
        self._raw = np.zeros((self._raw_len, C))  # the last raw posteriors (zeros before frame 0)
        self._smoothed = np.zeros((self.w_m, C))  # the last w_m smoothed posteriors
        self._run_label, self._run = -1, 0        # the candidate above threshold, frames in a row
        self._last_below = np.full(C, -1)         # last frame at which each label was below it
        self._fired_at = np.full(C, -2)           # last frame at which each label fired
        self._last_fire = None

    def time_of(self, frame):
        """Seconds from the start of the audio to the last sample of frame ``frame``."""
        return self.frame_delay + frame * self.frame_shift

    def push(self, probs):
        """Feed the next T frames' posteriors (T, C); return the detections they cause, in order.

        Also sets :attr:`last_smoothed` (T, C), the smoothed posteriors :eq:`posterior-smoothing` of
        these frames.
        """
        probs = check_float_array("probs", probs, ndim=2)
        if probs.shape[1] != len(self.classes):
            raise MinikwsError(f"probs: expected (T, C={len(self.classes)}), got {probs.shape}")
        T = probs.shape[0]
        if T == 0:
            self.last_smoothed = np.zeros((0, len(self.classes)))
            return []
        p = probs.astype(np.float64)
        raw = np.concatenate([self._raw, p])  # (L + T, C)
        L = self._raw_len
        n = self.frames + np.arange(T)  # frame indices from the stream's start
        # Both windows see the frames before this chunk (at most w - 1 of them, none before frame 0).
        past = min(self.frames, self.w_s - 1)
        smoothed = smooth_posteriors(raw[L - past:], self.w_s)[past:]  # [posterior-smoothing]
        past_m = min(self.frames, self.w_m - 1)
        sm = np.concatenate([self._smoothed, smoothed])
        conf = detection_confidence(sm[self.w_m - past_m:], self.w_m)[past_m:]  # [detection-confidence]
        keys = self._keys
        cand = keys[np.argmax(smoothed[:, keys], axis=1)]  # k* of every frame (T,)
        above = (smoothed[np.arange(T), cand] >= self.threshold).tolist()
        # The last frame, up to each t, at which each label was below the threshold (re-arming).
        below = np.where(smoothed < self.threshold, n[:, None], -1)
        last_below = np.maximum(np.maximum.accumulate(below, axis=0), self._last_below)
        out = []
        for t, k in enumerate(cand.tolist()):
            if above[t]:
                self._run = self._run + 1 if k == self._run_label else 1
                self._run_label = k
            else:
                self._run_label, self._run = -1, 0
                continue
            frame = self.frames + t
            quiet = self._last_fire is None or frame - self._last_fire >= self.refractory_frames
            armed = last_below[t, k] > self._fired_at[k]
            if self._run >= self.min_count and quiet and armed:
                self._last_fire = frame
                self._fired_at[k] = frame
                out.append(self._record(k, frame, raw[L + t - self.w_m + 1:L + t + 1, k],
                                        float(conf[t, k])))
        self._last_below = last_below[-1].copy()
        self._raw = raw[-L:].copy()
        self._smoothed = sm[-self.w_m:].copy()
        self.frames += T
        self.last_smoothed = smoothed
        return out

    def _record(self, k, frame, recent, score):
        """The Detection of tag k firing at ``frame``; ``recent`` the raw p_k of the last w_m frames."""
        first = len(recent) - 1
        floor = self.threshold / 2
        while first > 0 and recent[first - 1] >= floor and frame - (len(recent) - first) >= 0:
            first -= 1
        peak = first + int(np.argmax(recent[first:]))
        offset = len(recent) - 1
        return Detection(self.classes[k], self.time_of(frame), self.time_of(frame - offset + first),
                         self.time_of(frame - offset + peak), score)

    def flush(self):
        """End of the stream: no frame is pending in the detector itself, so nothing fires; resets."""
        self.reset()
        return []


def detect_posteriors(probs, **settings):
    """The detections in a whole sequence of posteriors (T, C): :class:`PosteriorDetector` on one
    chunk. ``settings`` are its keywords (``classes`` and ``frame_shift`` required)."""
    return PosteriorDetector(**settings).push(probs)


def detect_sweep(probs, thresholds, *, offsets=None, **settings):
    """dict threshold -> the detections at that threshold, the detector run again for each
    (for :func:`minikws.metrics.det_curve`).

    ``probs`` (T, C), or a list of (T_i, C), one per stream; ``offsets`` (seconds, one per stream)
    are added to the times of each stream's detections, to lay streams end to end.
    """
    parts = [probs] if isinstance(probs, np.ndarray) else list(probs)
    offsets = [0.0] * len(parts) if offsets is None else [float(o) for o in offsets]
    if len(offsets) != len(parts):
        raise MinikwsError(f"offsets: expected one per stream ({len(parts)}), got {len(offsets)}")
    out = {}
    for th in thresholds:
        dets = []
        for p, offset in zip(parts, offsets):
            for x in PosteriorDetector(**dict(settings, threshold=float(th))).push(p):
                dets.append(Detection(x.label, x.time + offset, x.start + offset, x.end + offset,
                                      x.score))
        out[float(th)] = dets
    return out


class FeedbackHead:
    """The output-feedback head as a head of :class:`minikws.streaming.Stream`: its state is the
    last output :math:`o_{t-1}` (1, C), None at the start (eq. :eq:`feedback-head`)."""

    def __init__(self, model):
        self.model = model

    def new_state(self):
        return None

    def forward(self, h, state):
        """h (F, H) -> (logits log o_t (F, C), o_F (1, C))."""
        if h.shape[0] == 0:
            return np.zeros((0, self.model.num_classes), dtype=self.model.dtype), state
        logits, o_last = self.model.feedback_step(h[:, None, :], state)
        return logits[:, 0], o_last


class Detector:
    """A keyword detector on audio: the model's streaming front end and LSTM state, its head, and a
    :class:`PosteriorDetector`.

    Parameters
    ----------
    model : KWSModel
        A stream model (``task="stream"``); a clip model is refused.
    backend : {"auto", "numpy", "cython"}
    record : bool
        Keep every frame's posteriors in :attr:`posteriors` (for a DET sweep afterwards).
    **settings
        The :class:`PosteriorDetector`'s knobs (threshold, smooth, confidence_window, min_count,
        refractory); defaults :data:`DEFAULTS`.

    Notes
    -----
    The state between calls is the front end's (leftover samples, running CMN), each LSTM layer's
    (h, c), the feedback head's :math:`o_{t-1}`, the smoothing buffers and the refractory clock.
    ``detect`` on a whole recording is this on one chunk.
    """

    def __init__(self, model, *, backend="auto", record=False, **settings):
        from minikws.streaming import Stream

        if getattr(model, "task", "clip") != "stream":
            raise MinikwsError("model: a clip model (one label per clip) cannot detect keywords in a "
                               "stream; train one with minikws train --task stream")
        self.model = model
        head = FeedbackHead(model) if model.head == "feedback" else None
        self.stream = Stream(model, backend=backend, head=head)
        self.detector = PosteriorDetector(
            classes=model.classes, frame_shift=model.features["hop_length"] / model.sr,
            frame_delay=(model.features["n_fft"] // 2) / model.sr, **settings)
        self.record = bool(record)
        self._recorded = []
        self.latest = np.zeros((0, model.num_classes), np.float32)

    @property
    def posteriors(self):
        """Every frame's posteriors so far (F, C), when ``record``."""
        C = self.model.num_classes
        return np.concatenate(self._recorded) if self._recorded else np.zeros((0, C), np.float32)

    def _posteriors(self, logits):
        from minikws.nn.losses import softmax

        p = softmax(np.asarray(logits, dtype=np.float64)).astype(np.float32)
        self.latest = p  # the posteriors (F_new, C) of the frames the last push or flush completed
        if self.record:
            self._recorded.append(p)
        return self.detector.push(p)

    def push(self, samples):
        """Feed the next samples (S,) at the model's rate; return the detections they complete."""
        return self._posteriors(self.stream.push(samples))

    def flush(self):
        """End of the audio: the last frames' detections; the stream and detector start over."""
        out = self._posteriors(self.stream.flush())
        self.detector.reset()
        return out

    def reset(self):
        self.stream.reset()
        self.detector.reset()
        self._recorded = []


def detect(model, y, *, sr=None, backend="auto", **settings):
    """The detections in a whole recording y (S,) at ``sr`` (default: the model's; other rates are
    resampled first): :class:`Detector` on one chunk, then flushed."""
    from minikws.audio import resample

    sr = model.sr if sr is None else check_positive_int("sr", sr)
    if sr * 4 < model.sr:
        raise MinikwsError(f"sr: {sr} Hz is too low for a model trained at {model.sr} Hz (more than "
                           "4x upsampling; the audio lacks the frequencies the model listens to)")
    y = resample(np.asarray(y), orig_sr=sr, target_sr=model.sr, name="y")
    d = Detector(model, backend=backend, **settings)
    return d.push(y) + d.flush()
