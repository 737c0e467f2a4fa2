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
from minikws._validate import check_positive_int
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
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display needed; keeps an interactive backend if one runs
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
