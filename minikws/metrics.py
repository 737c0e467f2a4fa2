r"""How good is a classifier: accuracy, the confusion matrix, per-class precision/recall/F1, and plots.

The article's section 5.2 ends its ``evaluate`` with scikit-learn's ``classification_report``; this module
computes the same table (same columns, same averages, same layout) from integer labels, without
scikit-learn. Shape legend: N examples, C classes.

For class ``k`` with true positives TP_k, false positives FP_k and false negatives FN_k:

.. math::
   :label: prf

   P_k = \frac{TP_k}{TP_k + FP_k}, \qquad R_k = \frac{TP_k}{TP_k + FN_k}, \qquad
   F1_k = \frac{2 P_k R_k}{P_k + R_k}

A ratio whose denominator is zero (a class never predicted, or never present) is reported as 0, as
scikit-learn does with ``zero_division=0``. The *macro* average is the plain mean over classes; the
*weighted* average weights each class by its support (how many true examples it has).
"""
import os
from typing import NamedTuple

import numpy as np

from minikws._fileio import atomic_write
from minikws._validate import check_positive_int, check_real
from minikws.errors import MinikwsError

__all__ = [
    "ClassScores",
    "accuracy",
    "confusion_matrix",
    "class_scores",
    "classification_report",
    "classification_metrics",
    "format_confusion_matrix",
    "plot_confusion_matrix",
    "plot_training_curves",
    "DetectionScores",
    "match_detections",
    "format_detection_report",
    "DetCurve",
    "det_curve",
    "operating_point",
    "frr_at",
    "plot_det_curve",
]


class ClassScores(NamedTuple):
    """Per-class scores, each an array of shape (C,): precision, recall, f1 (float64), support (int64)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


def _labels(name, y, num_classes=None):
    y = np.asarray(y)
    if y.ndim != 1:
        raise MinikwsError(f"{name}: expected a 1-D array of class indices, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise MinikwsError(f"{name}: expected integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if num_classes is not None and y.size and (y.min() < 0 or y.max() >= num_classes):
        raise MinikwsError(
            f"{name}: class indices must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]"
        )
    return y


def _pair(y_true, y_pred, num_classes=None):
    y_true = _labels("y_true", y_true, num_classes)
    y_pred = _labels("y_pred", y_pred, num_classes)
    if y_true.shape != y_pred.shape:
        raise MinikwsError(f"y_true and y_pred: lengths differ, {y_true.shape[0]} vs {y_pred.shape[0]}")
    return y_true, y_pred


def _safe_divide(num, den):
    """num / den elementwise, 0 where den == 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def accuracy(y_true, y_pred):
    """Fraction of examples whose predicted class equals the true class.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)

    Returns
    -------
    float
        In [0, 1]; ``nan`` for N = 0 (there is nothing to be right about).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.size == 0:
        return float("nan")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, *, num_classes):
    """Count how often each true class was predicted as each class.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)
        Class indices in ``[0, num_classes)``.
    num_classes : int
        C, so that classes absent from both arrays still get a row and a column.

    Returns
    -------
    ndarray of int64, shape (C, C)
        ``M[i, j]`` = number of examples of true class i predicted as class j; rows sum to the support,
        the diagonal holds the true positives.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    y_true, y_pred = _pair(y_true, y_pred, num_classes)
    M = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(M, (y_true, y_pred), 1)
    return M


def class_scores(y_true, y_pred, *, num_classes):
    """Precision, recall, F1 and support of every class, eq. :eq:`prf`.

    Returns
    -------
    ClassScores
        Four arrays of shape (C,).
    """
    M = confusion_matrix(y_true, y_pred, num_classes=num_classes)
    tp = np.diag(M)
    support = M.sum(axis=1)  # TP + FN: how many examples truly belong to the class
    predicted = M.sum(axis=0)  # TP + FP: how many examples were assigned to it
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return ClassScores(precision, recall, f1, support.astype(np.int64))


def _averages(scores):
    """Macro and weighted averages of precision, recall and F1 -> two (3,) arrays."""
    table = np.stack([scores.precision, scores.recall, scores.f1], axis=1)  # (C, 3)
    macro = table.mean(axis=0)
    total = scores.support.sum()
    weighted = (table * scores.support[:, None]).sum(axis=0) / total if total else np.zeros(3)
    return macro, weighted


def classification_report(y_true, y_pred, *, classes, digits=2):
    """The per-class table of the article's ``evaluate``, laid out as scikit-learn's report.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (N,)
        Class indices into ``classes``.
    classes : sequence of str, length C
        Class names, one row each, in index order.
    digits : int
        Decimal places of the scores.

    Returns
    -------
    str
        One row per class (precision, recall, f1-score, support), then accuracy, macro avg and
        weighted avg rows; lines end with a newline.
    """
    classes = [str(c) for c in classes]
    scores = class_scores(y_true, y_pred, num_classes=len(classes))
    total = int(scores.support.sum())
    acc = accuracy(y_true, y_pred) if total else 0.0
    macro, weighted = _averages(scores)

    width = max([len(c) for c in classes] + [len("weighted avg"), digits])
    num = f"{{:>9.{digits}f}}"
    header = " " * width + " " + "".join(f" {h:>9}" for h in ("precision", "recall", "f1-score", "support"))
    lines = [header, ""]
    for k, name in enumerate(classes):
        values = (scores.precision[k], scores.recall[k], scores.f1[k])
        lines.append(f"{name:>{width}} " + "".join(" " + num.format(v) for v in values)
                     + f" {scores.support[k]:>9}")
    lines.append("")
    lines.append(f"{'accuracy':>{width}} " + " " * 20 + " " + num.format(acc) + f" {total:>9}")
    for name, avg in (("macro avg", macro), ("weighted avg", weighted)):
        lines.append(f"{name:>{width}} " + "".join(" " + num.format(v) for v in avg) + f" {total:>9}")
    return "\n".join(lines) + "\n"


def classification_metrics(y_true, y_pred, *, classes):
    """Everything :func:`classification_report` prints, as a JSON-ready dict.

    Returns
    -------
    dict
        ``accuracy`` (float), ``per_class`` ({name: {precision, recall, f1, support}}), ``macro_avg`` and
        ``weighted_avg`` ({precision, recall, f1}), ``confusion_matrix`` (list of C lists, rows = true
        class), ``classes`` (list of str), ``support`` (int, N).
    """
    classes = [str(c) for c in classes]
    M = confusion_matrix(y_true, y_pred, num_classes=len(classes))
    scores = class_scores(y_true, y_pred, num_classes=len(classes))
    macro, weighted = _averages(scores)
    keys = ("precision", "recall", "f1")
    return {
        "accuracy": accuracy(y_true, y_pred),
        "classes": classes,
        "support": int(scores.support.sum()),
        "per_class": {
            name: {
                "precision": float(scores.precision[k]),
                "recall": float(scores.recall[k]),
                "f1": float(scores.f1[k]),
                "support": int(scores.support[k]),
            }
            for k, name in enumerate(classes)
        },
        "macro_avg": dict(zip(keys, map(float, macro))),
        "weighted_avg": dict(zip(keys, map(float, weighted))),
        "confusion_matrix": M.tolist(),
    }


def format_confusion_matrix(M, *, classes):
    """The confusion matrix as text: rows are true classes, columns predicted classes.

    Parameters
    ----------
    M : ndarray of int, shape (C, C)
    classes : sequence of str, length C

    Returns
    -------
    str
        A header line of column indices, then one line per true class, each ending with a newline.
    """
    M = np.asarray(M)
    classes = [str(c) for c in classes]
    if M.shape != (len(classes), len(classes)):
        raise MinikwsError(f"M: expected shape ({len(classes)}, {len(classes)}), got {M.shape}")
    name_w = max(len(c) for c in classes) + len(str(len(classes))) + 1
    cell = max(3, len(str(int(M.max()))) if M.size else 1)
    lines = ["true \\ predicted".ljust(name_w) + " " + " ".join(f"{j:>{cell}}" for j in range(len(classes)))]
    for i, name in enumerate(classes):
        label = f"{i} {name}".ljust(name_w)
        lines.append(label + " " + " ".join(f"{v:>{cell}}" for v in M[i]))
    return "\n".join(lines) + "\n"


def _save_figure(fig, path):
    """Write a matplotlib figure as PNG atomically (:func:`minikws._fileio.atomic_write`)."""
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100, bbox_inches="tight")


def _pyplot():
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # no display needed; a running pyplot (a notebook's
        matplotlib.use("Agg")                   # inline backend) keeps its backend
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(M, *, classes, path, normalize=True, title="Confusion matrix"):
    """Draw the confusion matrix as a PNG heat map with the count in every cell.

    Parameters
    ----------
    M : ndarray of int, shape (C, C)
        Rows are true classes, columns predicted classes.
    classes : sequence of str, length C
    path : str or os.PathLike
        The PNG file to write (atomically).
    normalize : bool
        Colour each row by its fraction of the row's total (recall per cell), so that rare classes are as
        visible as common ones; the printed numbers are always the counts.
    """
    M = np.asarray(M)
    classes = [str(c) for c in classes]
    C = len(classes)
    if M.shape != (C, C):
        raise MinikwsError(f"M: expected shape ({C}, {C}), got {M.shape}")
    plt = _pyplot()
    colour = _safe_divide(M, M.sum(axis=1, keepdims=True)) if normalize else M.astype(np.float64)
    size = 1.6 + 0.55 * C
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    try:
        im = ax.imshow(colour, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                     label="fraction of the true class" if normalize else "count")
        ax.set_xticks(range(C), labels=classes, rotation=45, ha="right")
        ax.set_yticks(range(C), labels=classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        threshold = colour.max() / 2 if colour.size else 0
        for i in range(C):
            for j in range(C):
                if M[i, j]:
                    ax.text(j, i, str(M[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if colour[i, j] > threshold else "black")
        _save_figure(fig, path)
    finally:
        plt.close(fig)


def plot_training_curves(history, *, path, title="Training"):
    """Draw loss and accuracy per epoch, training and validation, as a two-panel PNG.

    Parameters
    ----------
    history : dict of str -> list of float
        As kept by :class:`minikws.train.Trainer`: ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy`` (any missing or empty series is skipped), one value per epoch.
    path : str or os.PathLike
        The PNG file to write (atomically).
    """
    if not isinstance(history, dict):
        raise MinikwsError(f"history: expected a dict of lists, got {type(history).__name__}")
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    try:
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            for split, style in (("train", "-o"), ("val", "-s")):
                values = history.get(f"{split}_{metric}") or []
                if len(values):
                    epochs = np.arange(1, len(values) + 1)
                    label = "training" if split == "train" else "validation"
                    ax.plot(epochs, values, style, markersize=3, label=label)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(metric)
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
        ax_acc.set_ylim(0.0, 1.02)
        fig.suptitle(title)
        _save_figure(fig, path)
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------ keyword detection
# How good is a detector on continuous audio: detections matched to the spoken keywords one to one,
# recall per keyword, false alarms per hour, latency and the DET curve (issue 13).
#
# A detection is any record with ``label``, ``time`` and ``score`` (a mapping or an object with those
# attributes, such as :class:`minikws.detection.Detection`); an occurrence of the ground truth any
# record with ``label``, ``start`` and ``end`` (:class:`minikws.datasets.Word`). Times are seconds.


class DetectionScores(NamedTuple):
    """The scores of one run of a detector (see :func:`match_detections`).

    keywords (C,) names; occurrences, hits (C,) int64 per keyword; recall (C,) float64 (nan for a keyword
    never spoken); false_alarms int; duration, negative_duration (seconds of all audio and of audio
    outside every keyword occurrence); fa_per_hour (per hour of all audio), fa_per_hour_negative (per
    hour of non-keyword audio), fa_per_hour_upper (the 95 % upper bound of the rate per hour of all
    audio, Poisson); latencies (hits,) seconds, ``time - end`` of each matched detection;
    matches list of (detection index, occurrence index) into the inputs.
    """

    keywords: tuple
    occurrences: np.ndarray
    hits: np.ndarray
    recall: np.ndarray
    false_alarms: int
    duration: float
    negative_duration: float
    fa_per_hour: float
    fa_per_hour_negative: float
    fa_per_hour_upper: float
    latencies: np.ndarray
    matches: list

    @property
    def total_recall(self):
        """Hits over occurrences, all keywords pooled."""
        return float(self.hits.sum()) / max(int(self.occurrences.sum()), 1)

    def latency(self, q):
        """The q-th percentile (0..100) of the latencies, seconds; nan without a hit."""
        return float(np.percentile(self.latencies, q)) if len(self.latencies) else float("nan")


def _field(record, name):
    return record[name] if isinstance(record, dict) else getattr(record, name)


def _poisson_upper(k, hours, confidence=0.95):
    """Upper ``confidence`` bound of a Poisson rate per hour after ``k`` events in ``hours``."""
    from scipy.stats import chi2

    return float(0.5 * chi2.ppf(confidence, 2 * (k + 1)) / hours) if hours > 0 else float("inf")


def match_detections(detections, truth, *, keywords, duration, label_map=None, before=0.1,
                     after=0.5):
    r"""Match detections to spoken keywords one to one and score the run.

    A detection of label :math:`k` at time :math:`t` may match an occurrence of :math:`k` spoken from
    :math:`s` to :math:`e` when

    .. math::
       :label: detection-window

       s - \text{before} \le t \le e + \text{after}

    Each occurrence matches at most one detection: a second detection of one word is a false alarm,
    and a detection with the wrong label is a false alarm while the word it fell on stays a miss.
    Detections are taken in time order, each matched to the open occurrence whose window closes first
    (for points and intervals this greedy choice gives a maximum matching).

    Parameters
    ----------
    detections : sequence of records with label, time (s) and score
    truth : sequence of records with label, start, end (s)
        Every spoken word; those whose (mapped) label is not in ``keywords`` are fillers: not to be
        detected, and not keyword audio.
    keywords : sequence of str
        The detector's labels (its tags other than ``O``).
    duration : float
        Seconds of audio the detector heard.
    label_map : dict, optional
        Spoken word -> detector label (the ``article`` tag set maps ``yes`` to ``command``); words
        missing from it keep their own label.
    before, after : float
        The window's margins, seconds (defaults: 0.1 and 0.5).

    Returns
    -------
    DetectionScores
    """
    keywords = tuple(keywords)
    duration = check_real("duration", duration, low=0.0)
    if duration == 0:
        raise MinikwsError("duration: expected seconds > 0, got 0")
    label_map = label_map or {}
    occ = [(label_map.get(_field(w, "label"), _field(w, "label")), float(_field(w, "start")),
            float(_field(w, "end"))) for w in truth]
    occ = [o for o in occ if o[0] in keywords]
    for lab, s, e in occ:
        if not (np.isfinite(s) and np.isfinite(e) and e >= s):
            raise MinikwsError(f"truth: an occurrence of {lab!r} has start {s} and end {e}")
    dets = [(str(_field(d, "label")), float(_field(d, "time"))) for d in detections]
    open_ = [True] * len(occ)
    matches, latencies = [], []
    for i in sorted(range(len(dets)), key=lambda i: dets[i][1]):
        lab, t = dets[i]
        best = None
        for j, (olab, s, e) in enumerate(occ):
            if open_[j] and olab == lab and s - before <= t <= e + after:
                if best is None or occ[j][2] < occ[best][2]:
                    best = j
        if best is not None:
            open_[best] = False
            matches.append((i, best))
            latencies.append(t - occ[best][2])
    occurrences = np.array([sum(o[0] == k for o in occ) for k in keywords], dtype=np.int64)
    hits = np.zeros(len(keywords), dtype=np.int64)
    for _, j in matches:
        hits[keywords.index(occ[j][0])] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(occurrences > 0, hits / np.maximum(occurrences, 1), np.nan)
    false_alarms = len(dets) - len(matches)
    covered = _union_length([(s, e) for _, s, e in occ], duration)
    negative = max(float(duration) - covered, 1e-9)
    hours = float(duration) / 3600.0
    return DetectionScores(keywords, occurrences, hits, recall, false_alarms, float(duration), negative,
                           false_alarms / hours, false_alarms / (negative / 3600.0),
                           _poisson_upper(false_alarms, hours), np.array(latencies, dtype=np.float64),
                           matches)


def _union_length(intervals, duration):
    """Seconds covered by the union of intervals, clipped to [0, duration]."""
    total, reach = 0.0, 0.0
    for s, e in sorted(intervals):
        s, e = max(s, reach, 0.0), min(e, duration)
        if e > s:
            total += e - s
            reach = e
    return total


def format_detection_report(scores, *, digits=3):
    """The scores as text: recall per keyword, the two false-alarm rates (named), latency."""
    w = max([len(k) for k in scores.keywords] + [7])
    lines = [f"{'keyword':<{w}}  recall  hits/spoken"]
    for k, r, h, n in zip(scores.keywords, scores.recall, scores.hits, scores.occurrences):
        lines.append(f"{k:<{w}}  {r:6.{digits}f}  {h}/{n}")
    hours = scores.duration / 3600.0
    lines.append(f"{'all':<{w}}  {scores.total_recall:6.{digits}f}  "
                 f"{int(scores.hits.sum())}/{int(scores.occurrences.sum())}")
    lines.append(f"false alarms: {scores.false_alarms} in {hours:.3f} h of audio = "
                 f"{scores.fa_per_hour:.2f} per hour of all audio "
                 f"(95 % upper bound {scores.fa_per_hour_upper:.2f}); "
                 f"{scores.fa_per_hour_negative:.2f} per hour of non-keyword audio "
                 f"({scores.negative_duration / 3600.0:.3f} h)")
    lines.append(f"latency after the word's end: p50 {scores.latency(50):.3f} s, "
                 f"p90 {scores.latency(90):.3f} s")
    return "\n".join(lines) + "\n"


class DetCurve(NamedTuple):
    """A DET curve: thresholds (N,) increasing; frr, fa_per_hour, fa_per_hour_negative (N,) at each;
    recall (N, C) per keyword; keywords (C,) names."""

    thresholds: np.ndarray
    frr: np.ndarray
    fa_per_hour: np.ndarray
    fa_per_hour_negative: np.ndarray
    recall: np.ndarray
    keywords: tuple


def det_curve(detections, truth, *, keywords, duration, thresholds, label_map=None, before=0.1,
              after=0.5):
    """False-reject rate against false alarms per hour over a set of thresholds.

    Parameters
    ----------
    detections : sequence of records, or callable threshold -> sequence of records
        A sequence is filtered by ``score >= threshold`` (exact when the detections were made at a
        threshold no higher than any in ``thresholds`` and no detection hides another); a callable
        is called for each threshold (the detector run again, :func:`minikws.detection.detect_sweep`).
    truth, keywords, duration, label_map, before, after
        As :func:`match_detections`.
    thresholds : sequence of float

    Returns
    -------
    DetCurve
        The false-reject rate is ``1 - hits / occurrences`` over all keywords pooled.
    """
    thresholds = np.sort(np.asarray(thresholds, dtype=np.float64))
    if thresholds.ndim != 1 or thresholds.size == 0 or not np.isfinite(thresholds).all():
        raise MinikwsError("thresholds: expected a non-empty 1-D array of finite numbers")
    frr, fa, fan, rec = [], [], [], []
    for th in thresholds:
        if callable(detections):
            ds = detections(float(th))
        else:
            ds = [d for d in detections if float(_field(d, "score")) >= th]
        s = match_detections(ds, truth, keywords=keywords, duration=duration, label_map=label_map,
                             before=before, after=after)
        frr.append(1.0 - s.total_recall)
        fa.append(s.fa_per_hour)
        fan.append(s.fa_per_hour_negative)
        rec.append(s.recall)
    return DetCurve(thresholds, np.array(frr), np.array(fa), np.array(fan), np.array(rec),
                    tuple(keywords))


def operating_point(curve, fa_per_hour):
    """The lowest threshold whose false alarms per hour (of all audio) are <= ``fa_per_hour``.

    Returns ``(index, threshold, frr)`` into the curve; ``(None, nan, 1.0)`` when no threshold is
    that quiet.
    """
    ok = np.flatnonzero(curve.fa_per_hour <= fa_per_hour)
    if not len(ok):
        return None, float("nan"), 1.0
    i = int(ok[np.argmin(curve.frr[ok])])
    return i, float(curve.thresholds[i]), float(curve.frr[i])


def frr_at(curve, fa_per_hour):
    """The false-reject rate at ``fa_per_hour`` false alarms per hour of all audio (best threshold)."""
    return operating_point(curve, fa_per_hour)[2]


def plot_det_curve(curves, *, path, title="DET curve"):
    """Draw DET curves (false-reject rate against false alarms per hour, log axis) as a PNG.

    Parameters
    ----------
    curves : DetCurve or dict of name -> DetCurve
    path : str or os.PathLike
        The PNG file to write (atomically).

    Zero false alarms cannot sit on a log axis: those points are drawn at the left edge (a quarter of the
    smallest non-zero rate of any curve, at most 0.1), marked in the legend as "0 FA".
    """
    if isinstance(curves, DetCurve):
        curves = {"detector": curves}
    nonzero = [v for c in curves.values() for v in c.fa_per_hour if v > 0]
    floor = min(min(nonzero) / 4, 0.1) if nonzero else 0.01  # left of the 0.5 FA/h line
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    try:
        for name, c in curves.items():
            x = np.where(c.fa_per_hour > 0, c.fa_per_hour, floor)
            ax.plot(x, 100 * c.frr, "-o", markersize=3, label=name)
        ax.axvline(floor, color="grey", lw=0.5, ls=":", label=f"0 FA (drawn at {floor:.2g})")
        for v in (0.5, 1.0):
            ax.axvline(v, color="red", lw=0.6, ls="--", label="0.5 and 1 FA/h" if v == 0.5 else None)
        ax.set_xscale("log")
        ax.set_xlabel("false alarms per hour of audio (log scale)")
        ax.set_ylabel("false-reject rate (%)")
        ax.set_ylim(bottom=0)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        ax.set_title(title)
        _save_figure(fig, path)
    finally:
        plt.close(fig)
