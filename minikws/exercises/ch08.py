"""Exercises of chapter 8, streaming detection (tutorials/08_streaming_detection.ipynb).

    08.smooth_posteriors   the causal moving average of the frame posteriors     :eq:`posterior-smoothing`
    08.confidence          the peak of the smoothed posteriors over a longer window  :eq:`detection-confidence`
    08.frame_targets       each frame's tag and loss mask, for the three placements and both tag sets
"""
import numpy as np

from minikws import datasets, detection
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


# ------------------------------------------------------------------------------------ frame targets
_KEYWORDS = ("yes", "no", "stop", "go")
_FILLERS = ("top", "goal", "note", "yet", "water")
_HOP, _N_FFT, _SR = 320, 512, 16000
# (tags, placement, span seconds, words in the stream); a stream of one word and one of fillers only.
_TARGET_CASES = [("words", "end", 0.2, 10), ("words", "word", 0.2, 8), ("words", "after", 0.3, 8),
                 ("article", "end", 0.2, 10), ("article", "word", 0.15, 6), ("words", "end", 0.25, 1),
                 ("words", "end", 0.2, 0)]


def _stream_words(rng, n):
    """n words (Word records) with random lengths and pauses, keywords and fillers mixed; n = 0 gives
    a stream of three fillers."""
    from minikws.datasets import Word

    t, out = rng.uniform(0.1, 0.4), []
    labels = (list(rng.choice(_KEYWORDS, n)) if n else list(rng.choice(_FILLERS, 3)))
    for k, label in enumerate(labels):
        if n > 2 and k % 3 == 2:
            label = str(rng.choice(_FILLERS))
        length = rng.uniform(0.25, 0.6)
        out.append(Word(str(label), float(t), float(t + length)))
        t += length + rng.uniform(0.3, 0.9)
    return tuple(out), t + 0.5


def _targets(words, tau, keywords, tags, placement, span, *, kind=None):
    """frame_targets with one mistake ``kind`` (None: right)."""
    from minikws.datasets import tag_names, word_tags

    names = tag_names(keywords, tags)
    tag_of = word_tags(keywords, tags)
    if kind == "article stop":
        tag_of = {k: "command" for k in keywords}
    targets = np.zeros(tau.shape)
    mask = np.ones(tau.shape, dtype=bool)
    for w in words:
        filler = w.label not in tag_of
        if filler and kind not in ("fillers tagged", "fillers masked"):
            continue
        if filler and kind == "fillers masked":
            mask[(tau >= w.start) & (tau <= w.end)] = False
            continue
        k = 1 if filler else names.index(tag_of[w.label]) - (kind == "index")
        word = (tau >= w.start) & (tau <= w.end)
        if placement == "word" or kind == "whole word":
            on, blind = word, np.zeros_like(word)
        elif placement == "end":
            on = (tau > w.end - span) & (tau <= w.end + (span if kind == "full span" else span / 2))
            blind = word & ~on
        else:
            on = (tau > w.end) & (tau <= w.end + span)
            blind = word
        targets[on] = k
        if kind == "no mask":
            continue
        mask[blind | on if kind == "tagged masked" else blind] = False
    return targets, mask.astype(np.float64)


@exercise("08.frame_targets",
          title="frame_targets(words, *, frame_end, keywords, tags, placement, span) -> (targets, mask)",
          reference=datasets.frame_targets,
          diagnoses=("shape", "whole word", "full span after", "fillers tagged", "index off by one",
                     "article stop", "no mask", "tagged frames masked", "fillers masked", "raises"))
def check_frame_targets(student, rng):
    for tags, placement, span, n in _TARGET_CASES:
        words, seconds = _stream_words(rng, n)
        tau = (np.arange(int(seconds * _SR) // _HOP) * _HOP + _N_FFT // 2) / _SR
        kw = dict(frame_end=tau, keywords=_KEYWORDS, tags=tags, placement=placement, span=span)
        where = f" (tags={tags!r}, placement={placement!r}, span={span} s, {len(words)} words)"
        got_t, got_m = call(student, words, outputs=("targets", "mask"), **kw)
        want_t, want_m = datasets.frame_targets(words, **kw)
        variants = {kind: _targets(words, tau, _KEYWORDS, tags, placement, span, kind=kind)
                    for kind in _TARGET_MISTAKES if tags == "article" or kind != "article stop"}
        compare("targets", got_t, want_t, where=where, mistakes={
            text: variants[kind][0] for kind, (text, which) in _TARGET_MISTAKES.items() if which == "t" and kind in variants})
        compare("the mask", got_m, want_m, where=where, mistakes={
            text: variants[kind][1] for kind, (text, which) in _TARGET_MISTAKES.items() if which == "m" and kind in variants})
    return f"{len(_TARGET_CASES)} streams, both tag sets, the three placements"


_TARGET_MISTAKES = {
    "whole word": ("tag the whole word; placement='end' tags only e - d < tau_t <= e + d/2, the word's last "
                   "d seconds and d/2 past its end", "t"),
    "full span": ("run d past the word's end; placement='end' stops at e + d/2", "t"),
    "fillers tagged": ("give fillers a keyword's tag; fillers (words not among the keywords) are O", "t"),
    "index": ("are one too low: index into tag_names(keywords, tags), where O is 0 and the first keyword 1",
              "t"),
    "article stop": ("tag 'stop' as 'command'; the article's set gives stop its own tag (label2id 'stop': 2)",
                     "t"),
    "no mask": ("masks nothing: a keyword's frames that carry no tag (before its tag with 'end', the whole "
                "word with 'after') are left out of the loss", "m"),
    "tagged masked": ("also masks the tagged frames; only a keyword's untagged frames are left out", "m"),
    "fillers masked": ("masks the fillers; fillers are O and count in the loss (that is how the tagger "
                       "learns to reject them)", "m"),
}
