"""Chapter 6's exercises: each checker passes the library's function and names each mistake it claims to."""
import numpy as np
import pytest

from minikws import exercises
from minikws.exercises import Incorrect
from minikws.models import last_valid_frame


def _check(name, fn):
    return exercises.get(name).check(fn, seed=0)


def test_chapter_6_registers_the_two_exercises_of_its_notebook():
    assert [e.name for e in exercises.list("06")] == ["06.confusion_matrix", "06.last_frame_logits"]


def test_last_valid_frame_reads_each_clip_at_its_own_last_frame():
    x = np.arange(3 * 2 * 1, dtype=float).reshape(3, 2, 1)   # x[t, b] = 2 t + b
    np.testing.assert_array_equal(last_valid_frame(x, np.array([3, 1])), [[4.0], [1.0]])


@pytest.mark.parametrize("name", ["06.last_frame_logits", "06.confusion_matrix"])
def test_reference_passes(name, capsys):
    assert _check(name, exercises.get(name).reference) is True
    assert capsys.readouterr().out.startswith(f"{name}: correct")


@pytest.mark.parametrize("name", ["06.last_frame_logits", "06.confusion_matrix"])
def test_not_attempted_is_reported_not_raised(name, capsys):
    def blank(*args, **kwargs):
        raise NotImplementedError

    assert _check(name, blank) is False
    assert "not attempted yet" in capsys.readouterr().out


def _b(x):
    return np.arange(x.shape[1])


@pytest.mark.parametrize("kind, fn, message", [
    ("shape", lambda x, n: x[n - 1], r"got \(4, 4, 3\): logits\[lengths - 1\] takes every clip"),
    ("last padded frame", lambda x, n: x[-1], "is read at the last frame T - 1"),
    ("off by one", lambda x, n: x[np.minimum(n, x.shape[0] - 1), _b(x)], "one frame too late"),
    ("off by one", lambda x, n: x[np.maximum(n - 2, 0), _b(x)], "one frame too early"),
    ("first frame", lambda x, n: x[0], "is read at the first frame"),
    ("time batch swapped", lambda x, n: x[_b(x), n - 1], "reads logits as batch-major"),
    ("mean over frames", lambda x, n: (x * (np.arange(x.shape[0])[:, None] < n)[..., None]).sum(0) / n[:, None],
     "is the mean over the valid frames"),
    ("raises", lambda x, n: x[n, _b(x)], "your function raised IndexError"),
])
def test_last_frame_logits_diagnoses(kind, fn, message):
    assert kind in exercises.get("06.last_frame_logits").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("06.last_frame_logits", fn)


def _cm(y_true, y_pred, num_classes):
    M = np.zeros((num_classes, num_classes))
    np.add.at(M, (y_true, y_pred), 1)
    return M


@pytest.mark.parametrize("kind, fn, message", [
    ("transposed", lambda t, p, *, num_classes: _cm(t, p, num_classes).T, "is transposed"),
    ("normalised", lambda t, p, *, num_classes: _cm(t, p, num_classes) / np.maximum(
        _cm(t, p, num_classes).sum(1, keepdims=True), 1), "is normalised by row"),
    ("absent classes", lambda t, p, *, num_classes: _cm(t, p, int(max(t.max(), p.max())) + 1),
     "classes that never occur still get a row and a column"),
    ("shape", lambda t, p, *, num_classes: _cm(t, p, num_classes)[:, :-1], r"expected shape \(5, 5\), got \(5, 4\)"),
    ("raises", lambda t, p, *, num_classes: _cm(t, p, 2), "your function raised IndexError"),
])
def test_confusion_matrix_diagnoses(kind, fn, message):
    assert kind in exercises.get("06.confusion_matrix").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("06.confusion_matrix", fn)
