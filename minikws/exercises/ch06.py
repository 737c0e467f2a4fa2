"""Exercises of chapter 6, training a keyword spotter (tutorials/06_training_a_keyword_spotter.ipynb).

    06.last_frame_logits   each clip's logits at its last valid frame, z_{l_b}   :eq:`kws-model`
    06.confusion_matrix    counts of (true class, predicted class) pairs          :eq:`prf`
"""
import numpy as np

from minikws import metrics
from minikws.exercises.core import Incorrect, call, compare, exercise
from minikws.models import last_valid_frame


@exercise("06.last_frame_logits",
          title="last_frame_logits(logits, lengths): (B, C) logits of each clip at its last valid frame",
          reference=last_valid_frame,
          diagnoses=("shape", "last padded frame", "off by one", "first frame", "time batch swapped",
                     "mean over frames", "raises"))
def check_last_frame_logits(student, rng):
    # (T, B, C) and lengths: clips of mixed lengths first (the best diagnosis), then T = 1, B = 1.
    # The square case (T = B) first: a batch-major reading runs there and can be named.
    cases = [((4, 4, 3), [4, 2, 3, 1]), ((7, 5, 3), [7, 2, 5, 1, 4]), ((1, 3, 4), [1, 1, 1]), ((6, 1, 2), [3])]
    for shape, lengths in cases:
        T, B, _ = shape
        logits = rng.standard_normal(shape)
        lengths = np.array(lengths, dtype=np.int64)
        where = f" for logits {shape} and lengths {lengths.tolist()}"
        got = call(student, logits, lengths)
        expected = last_valid_frame(logits, lengths)
        b = np.arange(B)
        mistakes = {}
        if (lengths < T).any():
            mistakes["is read at the last frame T - 1 of the batch, which is padding for the shorter "
                     "clips: read clip b at frame lengths[b] - 1"] = logits[-1]
            mistakes["is read one frame too late: frame lengths[b] is past clip b's end; its last valid "
                     "frame is lengths[b] - 1 (0-based)"] = logits[np.minimum(lengths, T - 1), b]
        if (lengths > 1).any():
            mistakes["is read one frame too early: clip b's last valid frame is lengths[b] - 1, "
                     "not lengths[b] - 2"] = logits[np.maximum(lengths - 2, 0), b]
            mistakes["is read at the first frame: the LSTM has heard the whole clip only at its last "
                     "valid frame, lengths[b] - 1"] = logits[0]
            mask = (np.arange(T)[:, None] < lengths[None, :])[..., None]
            mistakes["is the mean over the valid frames: the model reads only the last valid frame"] = \
                (logits * mask).sum(axis=0) / lengths[:, None]
        if T == B and (lengths < T).any():
            mistakes["reads logits as batch-major (B, T, C): minikws is time-major, logits[t, b] is "
                     "frame t of clip b"] = logits[b, lengths - 1]
        if got.shape == (B, B, logits.shape[2]) and B > 1:
            raise Incorrect(f"last_frame_logits(logits, lengths){where}: expected shape {expected.shape} "
                            f"(B, C), got {got.shape}: logits[lengths - 1] takes every clip at every "
                            "clip's last frame; pair the frame index with the batch index arange(B)")
        compare("last_frame_logits(logits, lengths)", got, expected, where=where, mistakes=mistakes)
    return f"{len(cases)} batches of mixed lengths, T = 1 and B = 1 included"


@exercise("06.confusion_matrix",
          title="confusion_matrix(y_true, y_pred, num_classes): M[i, j] = clips of class i predicted j",
          reference=metrics.confusion_matrix,
          diagnoses=("shape", "transposed", "normalised", "absent classes", "raises"))
def check_confusion_matrix(student, rng):
    cases = [(40, 5), (1, 3), (12, 2), (30, 6)]
    for N, C in cases:
        y_true = rng.integers(0, C, N)
        y_pred = np.where(rng.random(N) < 0.6, y_true, rng.integers(0, C, N))
        if C == 6:  # classes 4 and 5 are never seen: they still get a row and a column
            y_true, y_pred = np.minimum(y_true, 3), np.minimum(y_pred, 3)
        where = f" for {N} clips of {C} classes"
        got = call(student, y_true, y_pred, num_classes=C)
        expected = metrics.confusion_matrix(y_true, y_pred, num_classes=C)
        present = int(max(y_true.max(), y_pred.max())) + 1
        if got.shape == (present, present) and present < C:
            raise Incorrect(f"confusion_matrix(...){where}: expected shape ({C}, {C}), got {got.shape}: "
                            "classes that never occur still get a row and a column (use num_classes)")
        rows = np.maximum(expected.sum(axis=1, keepdims=True), 1)
        compare("confusion_matrix(...)", got, expected, where=where, mistakes={
            "is normalised by row: count the clips (M[i, j] is a number of clips, rows sum to the "
            "support)": expected / rows,
            "is transposed: rows are the true classes, columns the predicted ones": expected.T,
        })
    return f"{len(cases)} label sets, one clip, and classes that never occur"
