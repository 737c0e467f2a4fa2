"""Listening to a live stream: the small interface ``/stream`` runs, and a clip model behind it.

The service does not care how a detector works inside. Everything ``/stream`` needs is a *listener*:
an object with

- ``classes`` (tuple of str, C names) and ``sr`` (the sample rate, in Hz, of the samples it is fed);
- ``push(samples) -> Update``: the next samples of the stream, float32 (S,) at ``sr``; it returns the
  posteriors it computed since the previous call and the detections that fired;
- ``flush() -> Update``: the end of the stream (whatever the last samples still give).

:func:`listener_for` picks one for a model. Today that is :class:`WindowListener`, which runs a *clip*
model (trained on one-second clips, :class:`minikws.models.KWSModel`) over a sliding window: every hop
(0.1 s, five 20 ms feature frames) it classifies the last second of audio, exactly as ``minikws
predict`` would classify that second saved as a file, smooths the posteriors over a few hops, and fires
a detection when a keyword's smoothed posterior crosses a threshold, then stays quiet for a refractory
time so that one word, which stays inside the window for several hops, fires once. A stream model (a
frame tagger with its own detector, which carries the LSTM state instead of recomputing a window) plugs
in as another listener with the same three members.
"""
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_positive_int, check_real
from minikws.errors import MinikwsError

__all__ = ["Update", "WindowListener", "listener_for", "keyword_classes"]


class Update(NamedTuple):
    """What a listener has to say after a chunk.

    times : ndarray (N,)
        Seconds from the start of the stream at which each row of ``posteriors`` was computed.
    posteriors : ndarray (N, C)
        Class posteriors, one row per evaluation, columns in the order of the listener's ``classes``.
    detections : list of dict
        ``{label, time, start, end, score}``: ``time`` when it fired, ``start``/``end`` the stretch of
        audio it heard the word in, in seconds from the start of the stream; ``score`` the smoothed
        posterior that crossed the threshold.
    """

    times: np.ndarray
    posteriors: np.ndarray
    detections: list


def keyword_classes(classes):
    """Indices of the classes that can fire: all but the background ones (names in ``_underscores_``)."""
    return [k for k, name in enumerate(classes) if not (name.startswith("_") and name.endswith("_"))]


class WindowListener:
    """A clip model run over a sliding window of the stream.

    Parameters
    ----------
    model : minikws.models.KWSModel
        A clip classifier; its ``predict_proba`` is called on each window.
    sr : int
        The rate of the samples pushed; windows are resampled to the model's rate by ``predict_proba``,
        as ``minikws predict`` resamples a file.
    window : float, default 1.0
        Seconds of audio classified at each hop: the length of the clips the model was trained on.
    hop : float, default 0.1
        Seconds between evaluations (the posteriors' time step).
    smooth : int, default 3
        The detector compares the mean posterior of the last ``smooth`` hops with the threshold.
    threshold : float, default 0.6
        Smoothed posterior a keyword must reach to fire.
    refractory : float, default 1.0
        Seconds after a detection during which no keyword fires again: a word stays inside a one-second
        window for several hops.

    Notes
    -----
    Before the first full window has arrived, the window is what there is so far (posteriors are
    reported, but nothing fires: the model never heard clips that short). Each evaluation is one
    call of ``predict_proba`` on one clip, so the posteriors at a hop are bit-identical to ``minikws
    predict`` on the same stretch of samples written to a file at ``sr``.
    """

    def __init__(self, model, *, sr, window=1.0, hop=0.1, smooth=3, threshold=0.6, refractory=1.0):
        self.model = model
        self.classes = tuple(model.classes)
        self.sr = check_positive_int("sr", sr, minimum=1000)
        window = check_real("window", window, low=0.1, high=10.0)
        hop = check_real("hop", hop, low=0.01, high=window)
        self.window_samples = int(round(window * self.sr))
        self.hop_samples = max(1, int(round(hop * self.sr)))
        self.smooth = check_positive_int("smooth", smooth)
        self.threshold = check_real("threshold", threshold, low=0.0, high=1.0)
        self.refractory = check_real("refractory", refractory, low=0.0)
        self.keywords = keyword_classes(self.classes)
        if not self.keywords:
            raise MinikwsError(f"model: no keyword among its classes {self.classes} (all are background)")
        # Fail now, not at the first hop, if this rate cannot be resampled to the model's.
        model.featurize([np.zeros(self.hop_samples, np.float32)], sr=self.sr)
        self.reset()

    @property
    def window(self):
        return self.window_samples / self.sr

    @property
    def hop(self):
        return self.hop_samples / self.sr

    def reset(self):
        """Forget the stream: an empty window, no history, the clock at 0."""
        self._buffer = np.zeros(0, np.float32)  # the last window_samples samples
        self._received = 0                       # samples pushed since the start
        self._next_hop = self.hop_samples        # sample count at which the next evaluation is due
        self._recent = []                        # the last `smooth` posteriors (C,)
        self._quiet_until = -np.inf              # end of the refractory time, seconds

    def push(self, samples):
        """Feed the next samples (float32 (S,) at :attr:`sr`) -> :class:`Update`."""
        samples = check_float_array("samples", np.asarray(samples), ndim=1).astype(np.float32, copy=False)
        start = self._received
        audio = np.concatenate([self._buffer, samples])  # audio[j] is sample start - len(buffer) + j
        offset = start - self._buffer.size
        self._received += samples.size
        ends = []
        while self._next_hop <= self._received:
            ends.append(self._next_hop)
            self._next_hop += self.hop_samples
        windows = [audio[max(0, e - self.window_samples) - offset:e - offset] for e in ends]
        self._buffer = audio[-self.window_samples:].copy()
        return self._evaluate(ends, windows)

    def flush(self):
        """The end of the stream: classify the last stretch if samples arrived since the last hop."""
        last = self._next_hop - self.hop_samples  # where the last evaluation ended
        if self._received == last:
            return Update(np.zeros(0), np.zeros((0, len(self.classes)), np.float32), [])
        self._next_hop = self._received + self.hop_samples
        return self._evaluate([self._received], [self._buffer.copy()])

    def _evaluate(self, ends, windows):
        C = len(self.classes)
        if not ends:
            return Update(np.zeros(0), np.zeros((0, C), np.float32), [])
        # One call per window, not one batched call: each row must equal `minikws predict` on that
        # window, and a batch pads clips of different lengths together.
        probs = np.stack([self.model.predict_proba([w], sr=self.sr)[0] for w in windows])
        times = np.asarray(ends, dtype=np.float64) / self.sr
        detections = []
        for t, p, w in zip(times, probs, windows):
            self._recent = (self._recent + [p])[-self.smooth:]
            smoothed = np.mean(self._recent, axis=0)
            k = max(self.keywords, key=lambda j: smoothed[j])
            # A window shorter than the clips the model learnt from is not what it was trained on.
            full = w.size == self.window_samples
            if full and smoothed[k] >= self.threshold and t >= self._quiet_until:
                detections.append({"label": self.classes[k], "time": float(t),
                                   "start": float(t - w.size / self.sr), "end": float(t),
                                   "score": float(smoothed[k])})
                self._quiet_until = t + self.refractory
        return Update(times, probs, detections)


def listener_for(model, *, sr, **settings):
    """The listener that runs ``model`` on a live stream at ``sr`` Hz (see the module's docstring).

    Parameters
    ----------
    model : minikws.models.KWSModel
    sr : int
        The stream's sample rate.
    **settings
        Passed to the listener (:class:`WindowListener`: window, hop, smooth, threshold, refractory).
    """
    # The one place a stream model's detector plugs in: an adapter with classes, sr, push and flush.
    if getattr(model, "task", "clip") != "clip":
        raise MinikwsError(f"model: a {model.task!r} model; /stream runs clip models over a sliding "
                           "window, and stream models' detectors are not wired in yet")
    return WindowListener(model, sr=sr, **settings)
