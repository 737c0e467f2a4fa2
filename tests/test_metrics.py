"""minikws.metrics against scikit-learn's numbers and text (golden fixture) and known answers."""
import json
import os

import numpy as np
import pytest

from minikws import metrics
from minikws.errors import MinikwsError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "metrics_sklearn.npz")


@pytest.fixture(scope="module")
def ref():
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_scores_match_sklearn(ref):
    C = len(ref["classes"])
    s = metrics.class_scores(ref["y_true"], ref["y_pred"], num_classes=C)
    np.testing.assert_allclose(s.precision, ref["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.recall, ref["recall"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.f1, ref["f1"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(s.support, ref["support"])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(ref["y_true"], ref["y_pred"], num_classes=C), ref["confusion"])


@pytest.mark.parametrize("digits", [2, 4])
def test_report_text_is_sklearns(ref, digits):
    text = metrics.classification_report(
        ref["y_true"], ref["y_pred"], classes=list(ref["classes"]), digits=digits)
    assert text == str(ref[f"report_{digits}"])


def test_known_answers():
    y_true = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0]
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(0.6)
    M = metrics.confusion_matrix(y_true, y_pred, num_classes=3)
    np.testing.assert_array_equal(M, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    s = metrics.class_scores(y_true, y_pred, num_classes=3)
    np.testing.assert_allclose(s.precision, [0.5, 2 / 3, 0.0])
    np.testing.assert_allclose(s.recall, [0.5, 1.0, 0.0])
    np.testing.assert_allclose(s.f1, [0.5, 0.8, 0.0])
    np.testing.assert_array_equal(s.support, [2, 2, 1])
    assert metrics.accuracy([], []) != metrics.accuracy([], [])  # nan for no examples


def test_metrics_dict_is_json_and_consistent():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 50)
    p = np.where(rng.random(50) < 0.8, y, 3)
    d = metrics.classification_metrics(y, p, classes=["a", "b", "c", "d"])
    d2 = json.loads(json.dumps(d))
    assert d2["accuracy"] == pytest.approx(np.mean(y == p))
    assert np.array(d2["confusion_matrix"]).sum() == 50
    assert d2["per_class"]["a"]["support"] == int(np.sum(y == 0))
    w = sum(d2["per_class"][c]["f1"] * d2["per_class"][c]["support"] for c in "abcd") / 50
    assert d2["weighted_avg"]["f1"] == pytest.approx(w)


def test_confusion_text_rows():
    M = np.array([[3, 1], [0, 12]])
    text = metrics.format_confusion_matrix(M, classes=["yes", "no"])
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[1].split()[-2:] == ["3", "1"] and lines[2].split()[-2:] == ["0", "12"]


@pytest.mark.parametrize("bad", [
    dict(y_true=[0, 1], y_pred=[0]),
    dict(y_true=[0, 5], y_pred=[0, 1]),
    dict(y_true=[0.0, 1.0], y_pred=[0, 1]),
    dict(y_true=[[0, 1]], y_pred=[[0, 1]]),
    dict(y_true=[-1, 1], y_pred=[0, 1]),
])
def test_bad_labels_raise(bad):
    with pytest.raises(MinikwsError):
        metrics.confusion_matrix(**bad, num_classes=3)


def test_pngs_are_written_atomically(tmp_path):
    M = np.array([[5, 1, 0], [0, 6, 0], [2, 0, 4]])
    cm_png = tmp_path / "cm.png"
    metrics.plot_confusion_matrix(M, classes=["yes", "no", "_silence_"], path=cm_png)
    curves_png = tmp_path / "curves.png"
    history = {"train_loss": [2.3, 1.1, 0.5], "val_loss": [2.0, 1.2, 0.7],
               "train_accuracy": [0.2, 0.6, 0.9], "val_accuracy": [0.3, 0.55, 0.8]}
    metrics.plot_training_curves(history, path=curves_png)
    for png in (cm_png, curves_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 2000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "curves.png"]  # no temp left
    with pytest.raises(MinikwsError):
        metrics.plot_confusion_matrix(M, classes=["a", "b"], path=tmp_path / "x.png")
