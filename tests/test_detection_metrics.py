"""Detection metrics on hand-built detections whose scores are known."""
import numpy as np
import pytest

from minikws.datasets import Word
from minikws.errors import MinikwsError
from minikws.metrics import (det_curve, format_detection_report, frr_at, match_detections,
                             operating_point, plot_det_curve)


def det(label, time, score=0.9):
    return {"label": label, "time": time, "start": time - 0.5, "end": time, "score": score}


TRUTH = [Word("yes", 1.0, 1.5), Word("top", 3.0, 3.4), Word("stop", 5.0, 5.5), Word("yes", 7.0, 7.4),
         Word("no", 9.0, 9.3)]
KW = ("yes", "no", "stop")


def test_matching_one_to_one_with_the_window():
    dets = [det("yes", 1.2),   # hit yes@1.0 (inside the word)
            det("yes", 1.95),  # second detection of the same word -> false alarm (1.95 <= 2.0)
            det("stop", 3.3),  # on the filler "top" -> false alarm
            det("no", 5.2),    # wrong label on "stop": stop stays a miss, this is a false alarm
            det("yes", 6.91),  # 0.09 s before yes@7.0: inside [s - 0.1, e + 0.5] -> hit
            det("no", 9.81)]   # 0.51 s after no's end: outside -> false alarm, no is a miss
    s = match_detections(dets, TRUTH, keywords=KW, duration=3600.0)
    assert list(s.occurrences) == [2, 1, 1] and list(s.hits) == [2, 0, 0]
    np.testing.assert_allclose(s.recall, [1.0, 0.0, 0.0])
    assert s.false_alarms == 4 and s.fa_per_hour == pytest.approx(4.0)
    keyword_seconds = 0.5 + 0.5 + 0.4 + 0.3  # "top" is not keyword audio
    assert s.negative_duration == pytest.approx(3600.0 - keyword_seconds)
    assert s.fa_per_hour_negative == pytest.approx(4.0 * 3600.0 / (3600.0 - keyword_seconds))
    np.testing.assert_allclose(sorted(s.latencies), [-0.49, -0.3])
    assert s.latency(50) == pytest.approx(-0.395)
    assert sorted(s.matches) == [(0, 0), (4, 2)]
    text = format_detection_report(s)
    assert "per hour of all audio" in text and "per hour of non-keyword audio" in text


def test_the_matching_is_maximal_when_windows_overlap():
    truth = [Word("yes", 0.0, 0.4), Word("yes", 0.6, 1.0)]
    # 0.55 lies in both windows ([-0.1, 0.9] and [0.5, 1.5]) and is nearer the second word; 1.3 lies
    # only in the second. Giving 0.55 to the nearer word would leave 1.3 a false alarm.
    s = match_detections([det("yes", 0.55), det("yes", 1.3)], truth, keywords=("yes",), duration=10.0)
    assert list(s.hits) == [2] and s.false_alarms == 0
    s = match_detections([det("yes", 0.95), det("yes", 0.7)], truth, keywords=("yes",), duration=10.0)
    assert list(s.hits) == [2] and s.false_alarms == 0


def test_label_map_and_zero_false_alarm_bound():
    truth = [Word("yes", 1.0, 1.5), Word("stop", 3.0, 3.5)]
    amap = {"yes": "command", "no": "command", "stop": "stop"}
    s = match_detections([det("command", 1.6), det("stop", 3.7)], truth, keywords=("command", "stop"),
                         duration=7200.0, label_map=amap)
    assert list(s.hits) == [1, 1] and s.false_alarms == 0 and s.fa_per_hour == 0.0
    assert s.fa_per_hour_upper == pytest.approx(3.0 / 2.0, rel=0.01)  # the rule of three: ~3 / H
    with pytest.raises(MinikwsError, match="duration"):
        match_detections([], truth, keywords=("stop",), duration=0.0)


def test_det_curve_and_operating_points(tmp_path):
    truth = [Word("yes", 10.0 * k, 10.0 * k + 0.5) for k in range(10)]
    dets = [det("yes", 10.0 * k + 0.6, score=0.1 * (k + 1)) for k in range(10)]   # hits, scores .1-1
    dets += [det("yes", 10.0 * k + 5.0, score=0.05 + 0.1 * k) for k in range(4)]  # FAs .05-.35
    curve = det_curve(dets, truth, keywords=("yes",), duration=3600.0,
                      thresholds=[0.0, 0.2, 0.4, 0.6])
    np.testing.assert_allclose(curve.frr, [0.0, 0.1, 0.3, 0.5])
    np.testing.assert_allclose(curve.fa_per_hour, [4.0, 2.0, 0.0, 0.0])
    assert frr_at(curve, 1.0) == pytest.approx(0.3)
    assert frr_at(curve, 2.0) == pytest.approx(0.1)
    assert operating_point(curve, 0.5)[1] == pytest.approx(0.4)
    rerun = det_curve(lambda th: [d for d in dets if d["score"] >= th], truth, keywords=("yes",),
                      duration=3600.0, thresholds=[0.0, 0.2, 0.4, 0.6])
    np.testing.assert_allclose(rerun.frr, curve.frr)
    png = tmp_path / "det.png"
    plot_det_curve({"a": curve, "b": rerun}, path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
