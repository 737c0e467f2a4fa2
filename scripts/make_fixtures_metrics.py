"""Write tests/fixtures/metrics_sklearn.npz: scikit-learn's classification report on random labels.

Run with the reference environment (scikit-learn comes with librosa):
    PYTHONPATH=. /work/venv-ref/bin/python scripts/make_fixtures_metrics.py
tests/test_metrics.py compares minikws.metrics with these numbers and this exact text.
"""
import os

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, precision_recall_fscore_support

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "metrics_sklearn.npz")


def main():
    rng = np.random.default_rng(20240605)
    classes = np.array(["yes", "no", "up", "down", "_unknown_", "_silence_", "never_predicted"])
    C = len(classes)
    y_true = rng.integers(0, C - 1, size=300)  # the last class never occurs in y_true ...
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, C - 2, size=300))  # ... nor in y_pred
    y_pred[:5] = 2  # a few extra "up" so that precision != recall there
    labels = np.arange(C)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    arrays = {
        "y_true": y_true.astype(np.int64),
        "y_pred": y_pred.astype(np.int64),
        "classes": classes,
        "precision": p, "recall": r, "f1": f, "support": s.astype(np.int64),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).astype(np.int64),
    }
    for digits in (2, 4):
        arrays[f"report_{digits}"] = np.array(classification_report(
            y_true, y_pred, labels=labels, target_names=list(classes), digits=digits, zero_division=0))
    np.savez(OUT, **arrays)
    print(arrays["report_2"])


if __name__ == "__main__":
    main()
