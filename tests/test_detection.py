"""The posterior detector: smoothing, threshold, minimum count, refractory time, streaming."""
import numpy as np
import pytest

from minikws.detection import Detection, PosteriorDetector, detect_posteriors, detect_sweep
from minikws.errors import MinikwsError

CLASSES = ("O", "yes", "no")


def posteriors(T, bumps):
    """(T, 3) posteriors: O everywhere except bumps (label index, first frame, frames, height)."""
    p = np.zeros((T, 3))
    p[:, 0] = 1.0
    for k, start, length, height in bumps:
        p[start:start + length, k] = height
        p[start:start + length, 0] = 1.0 - height
    return p


def test_a_word_fires_once_when_the_smoothed_posterior_holds():
    p = posteriors(300, [(1, 100, 10, 0.9)])
    dets = detect_posteriors(p, classes=CLASSES, frame_shift=0.02, frame_delay=0.025)
    # smoothed over 5 frames: 0.18, 0.36, 0.54, 0.72, 0.9 from frame 100; above 0.5 from frame 102,
    # the third frame in a row is 104.
    assert len(dets) == 1
    d = dets[0]
    assert d.label == "yes" and d.time == pytest.approx(0.025 + 104 * 0.02)
    assert d.score == pytest.approx(0.9)  # the peak of the smoothed posterior so far
    assert d.start == pytest.approx(0.025 + 100 * 0.02) and d.start <= d.end <= d.time
    assert Detection(*d).as_dict()["label"] == "yes"


def test_min_count_refractory_and_rearming():
    s = dict(classes=CLASSES, frame_shift=0.02, smooth=0.0)  # no smoothing: raw frames count
    assert detect_posteriors(posteriors(50, [(2, 10, 2, 1.0)]), **s) == []           # 2 frames < 3
    assert len(detect_posteriors(posteriors(50, [(2, 10, 3, 1.0)]), **s)) == 1
    # Two words 0.3 s apart (15 frames): the second falls in a 0.5 s refractory time, not the 0.2 s default.
    two = posteriors(100, [(1, 10, 5, 1.0), (2, 25, 5, 1.0)])
    assert [d.label for d in detect_posteriors(two, **s, refractory=0.5)] == ["yes"]
    assert [d.label for d in detect_posteriors(two, **s)] == ["yes", "no"]
    # A sound-alike firing early in a word (off as "on" begins) does not block the word's own tag
    # 0.24 s later, at its end, with the default refractory time.
    word = posteriors(100, [(2, 10, 4, 0.6), (1, 22, 6, 0.9)])
    assert [d.label for d in detect_posteriors(word, **s)] == ["no", "yes"]
    assert [d.label for d in detect_posteriors(word, **s, refractory=0.5)] == ["no"]
    # A 3 s plateau is one word: the label re-arms only once it has fallen below the threshold.
    assert len(detect_posteriors(posteriors(400, [(1, 10, 150, 1.0)]), **s)) == 1
    again = posteriors(400, [(1, 10, 50, 1.0), (1, 61, 50, 1.0)])  # one frame below in between
    assert len(detect_posteriors(again, **s)) == 2
    assert detect_posteriors(posteriors(50, [(1, 10, 20, 0.45)]), **s) == []        # below 0.5
    assert len(detect_posteriors(posteriors(50, [(1, 10, 20, 0.45)]), **s, threshold=0.4)) == 1


def _random_posteriors(rng, T):
    logits = rng.standard_normal((T, 3)) * 0.5
    logits[:, 0] += 2.0
    for start in rng.integers(0, T - 30, size=T // 60):
        logits[start:start + rng.integers(3, 25), rng.integers(1, 3)] += rng.uniform(2, 6)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("chunks", [1, 7, 50, "random"])
def test_chunked_posteriors_give_the_offline_detections(rng, chunks):
    p = _random_posteriors(rng, 3000)
    settings = dict(classes=CLASSES, frame_shift=0.02, frame_delay=0.01, threshold=0.6)
    whole = PosteriorDetector(**settings)
    offline = whole.push(p)
    smoothed_offline = whole.last_smoothed
    assert len(offline) > 10
    det = PosteriorDetector(**settings)
    got, smoothed, i = [], [], 0
    while i < len(p):
        n = int(rng.integers(0, 40)) if chunks == "random" else chunks
        got += det.push(p[i:i + n])
        smoothed.append(det.last_smoothed)
        i += n
    assert got == offline  # bit-identical: every frame's sums run over the same values in order
    np.testing.assert_array_equal(np.concatenate(smoothed), smoothed_offline)
    det.reset()
    assert det.push(p) == offline


def test_sweep_and_errors(rng):
    p = _random_posteriors(rng, 2000)
    runs = detect_sweep([p, p], [0.3, 0.9], offsets=[0.0, 40.0], classes=CLASSES, frame_shift=0.02)
    assert len(runs[0.3]) >= len(runs[0.9])
    one = detect_posteriors(p, classes=CLASSES, frame_shift=0.02, threshold=0.3)
    assert len(runs[0.3]) == 2 * len(one)
    assert runs[0.3][len(one)].time == pytest.approx(one[0].time + 40.0)
    with pytest.raises(MinikwsError, match="background"):
        PosteriorDetector(classes=("a", "b"), frame_shift=0.02)
    with pytest.raises(MinikwsError, match="probs"):
        PosteriorDetector(classes=CLASSES, frame_shift=0.02).push(np.zeros((4, 2)))
    with pytest.raises(MinikwsError, match="threshold"):
        PosteriorDetector(classes=CLASSES, frame_shift=0.02, threshold=1.5)
