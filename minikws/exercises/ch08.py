"""Exercises of chapter 8, streaming detection (tutorials/08_streaming_detection.ipynb).

    08.smooth_posteriors   the causal moving average of the frame posteriors     :eq:`posterior-smoothing`
    08.confidence          the peak of the smoothed posteriors over a longer window  :eq:`detection-confidence`
"""
import numpy as np

from minikws import detection
from minikws.exercises.core import compare, call, exercise

# (T frames, C tags, window in frames): the general case first (the best diagnosis), then T = 1,
# one tag, a window of 1, and a window longer than the sequence.
_CASES = [(40, 4, 5), (1, 3, 5), (12, 1, 3), (9, 3, 1), (4, 2, 7), (30, 3, 2)]


def _posteriors(rng, T, C):
    """Random per-frame posteriors (T, C): rows that sum to 1, with a few confident runs."""
    z = 2.0 * rng.standard_normal((T, C))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def _moving(x, w, reduce, *, centred=False, pad=0.0):
    """reduce (np.sum or np.max) over the frames t - w + 1 .. t (or centred on t) of x (T, C); frames
    outside the sequence are ``pad``."""
    T, C = x.shape
    out = np.empty((T, C))
    for t in range(T):
        lo, hi = (t - w // 2, t - w // 2 + w) if centred else (t - w + 1, t + 1)
        rows = [x[j] if 0 <= j < T else np.full(C, pad) for j in range(lo, hi)]
        out[t] = reduce(np.array(rows), axis=0)
    return out


def _smoothing_variants(p, w):
    """What the smoothed posteriors would be after the usual mistakes, keyed by the words naming them."""
    T, C = p.shape
    count = np.minimum(np.arange(T) + 1, w)[:, None]
    sums = _moving(p, w, np.sum)
    out = {
        "divides the first frames by w_s: before frame w_s - 1 only the t + 1 frames 0..t exist, so "
        "divide by min(t + 1, w_s) (eq. posterior-smoothing)": sums / w,
        "sums the window without dividing: it is an average over the window (eq. posterior-smoothing)":
            sums,
        "uses a centred window, which needs frames from the future; a causal detector averages frames "
        "h_s = max(0, t - w_s + 1) .. t": _moving(p, w, np.sum, centred=True) / w,
        "is a running mean from frame 0: the window forgets the frames older than t - w_s + 1":
            np.cumsum(p, axis=0) / (np.arange(T) + 1)[:, None],
        "averages w_s + 1 frames (t - w_s .. t); the window is the w_s frames max(0, t - w_s + 1) .. t":
            _moving(p, w + 1, np.sum) / np.minimum(np.arange(T) + 1, w + 1)[:, None],
    }
    if w > 1:
        out["averages w_s - 1 frames; the window is the w_s frames max(0, t - w_s + 1) .. t, t included"] = (
            _moving(p, w - 1, np.sum) / np.minimum(np.arange(T) + 1, w - 1)[:, None] if w > 2 else p)
        out["leaves out the current frame t: average frames max(0, t - w_s + 1) .. t, t included"] = (
            np.vstack([np.zeros((1, C)), _moving(p, w, np.sum)[:-1]]) / count)
    if C > 1:
        out["smooths across the tags (axis 1); average over time, the frames (axis 0)"] = (
            _moving(p.T, w, np.sum) / np.minimum(np.arange(C) + 1, w)[:, None]).T
    return out


@exercise("08.smooth_posteriors",
          title="smooth_posteriors(probs, window) -> (T, C): the mean of the last `window` frames",
          reference=detection.smooth_posteriors,
          diagnoses=("shape", "start divisor", "no division", "centred", "running mean", "window length",
                     "current frame", "wrong axis", "in place", "raises"))
def check_smooth_posteriors(student, rng):
    for T, C, w in _CASES:
        p = _posteriors(rng, T, C)
        got = call(student, p, w)
        compare("the smoothed posteriors", got, detection.smooth_posteriors(p, w),
                where=f" (T={T} frames, C={C} tags, window w_s={w})", mistakes=_smoothing_variants(p, w))
    return f"{len(_CASES)} cases, T = 1 and windows longer than the sequence included"


def _confidence_variants(s, w):
    T, C = s.shape
    out = {
        "is the maximum over every frame so far; the window holds only the last w_m frames, "
        "max(0, t - w_m + 1) .. t (eq. detection-confidence)": np.maximum.accumulate(s, axis=0),
        "takes the maximum over a centred window, which needs frames from the future; take it over "
        "max(0, t - w_m + 1) .. t": _moving(s, w, np.max, centred=True, pad=-np.inf),
        "averages the window; the confidence is its maximum, the peak of the smoothed posterior":
            _moving(s, w, np.sum) / np.minimum(np.arange(T) + 1, w)[:, None],
        "takes the maximum over w_m + 1 frames (t - w_m .. t); the window is the w_m frames "
        "max(0, t - w_m + 1) .. t": _moving(s, w + 1, np.max, pad=-np.inf),
    }
    if w > 1:
        out["takes the maximum over w_m - 1 frames; the window is the w_m frames max(0, t - w_m + 1) .. t"] = (
            _moving(s, w - 1, np.max, pad=-np.inf) if w > 2 else s)
    if C > 1:
        out["takes the maximum over the tags (axis 1); take it over time, the frames (axis 0)"] = (
            np.repeat(s.max(axis=1, keepdims=True), C, axis=1))
    return out


@exercise("08.confidence",
          title="detection_confidence(smoothed, window) -> (T, C): the peak of the last `window` frames",
          reference=detection.detection_confidence,
          diagnoses=("shape", "whole history", "centred", "mean", "window length", "wrong axis",
                     "in place", "raises"))
def check_confidence(student, rng):
    for T, C, w in _CASES:
        s = detection.smooth_posteriors(_posteriors(rng, T, C), 3)
        got = call(student, s, w)
        compare("the confidence", got, detection.detection_confidence(s, w),
                where=f" (T={T} frames, C={C} tags, window w_m={w})", mistakes=_confidence_variants(s, w))
    return f"{len(_CASES)} cases, T = 1 and windows longer than the sequence included"
