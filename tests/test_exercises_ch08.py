"""Chapter 8's exercises: the library's smoothing and confidence against a plain loop, each checker
against its reference, and one wrong answer of each kind a checker claims to name."""
import numpy as np
import pytest

from minikws import exercises
from minikws.detection import PosteriorDetector, detection_confidence, smooth_posteriors
from minikws.exercises import Incorrect


def wrong(name, fn, match):
    with pytest.raises(Incorrect, match=match) as info:
        exercises.get(name).check(fn, seed=0)
    message = str(info.value)
    assert message.startswith(name + ": ") and "\n" not in message
    return message


def test_chapter_8_registers_the_three_exercises_the_notebook_checks():
    assert [e.name for e in exercises.list(chapter=8)] == ["08.confidence", "08.frame_targets", "08.smooth_posteriors"]


# ------------------------------------------------------------------------- the library's functions
@pytest.mark.parametrize("T,C,w", [(20, 3, 5), (1, 2, 4), (3, 2, 8), (6, 1, 1)])
def test_smoothing_and_confidence_match_a_plain_loop(T, C, w):
    p = np.random.default_rng(T).random((T, C))
    smooth = np.array([p[max(0, t - w + 1):t + 1].mean(axis=0) for t in range(T)])
    conf = np.array([smooth[max(0, t - w + 1):t + 1].max(axis=0) for t in range(T)])
    np.testing.assert_allclose(smooth_posteriors(p, w), smooth, rtol=1e-12)
    np.testing.assert_allclose(detection_confidence(smooth, w), conf, rtol=1e-12)


def test_the_detector_smooths_as_the_pure_function_does_in_any_chunking():
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(3) * 0.3, size=200)
    det = PosteriorDetector(classes=("O", "a", "b"), frame_shift=0.02)  # w_s = 5
    pieces, start = [], 0
    for n in (1, 2, 3, 50, 144):
        det.push(p[start:start + n])
        pieces.append(det.last_smoothed)
        start += n
    np.testing.assert_array_equal(np.concatenate(pieces), smooth_posteriors(p, det.w_s))


# ------------------------------------------------------------------------- 08.smooth_posteriors
def moving_sum(p, w, lo_shift=0):
    return np.array([p[max(0, t - w + 1 + lo_shift):t + 1 + lo_shift].sum(axis=0) if t + lo_shift >= 0
                     else np.zeros(p.shape[1]) for t in range(len(p))])


def count(T, w):
    return np.minimum(np.arange(T) + 1, w)[:, None]


def test_smooth_reference_passes():
    assert exercises.get("08.smooth_posteriors").check(smooth_posteriors, seed=0) is True


def test_smooth_wrong_shape():
    wrong("08.smooth_posteriors", lambda p, w: smooth_posteriors(p, w)[:, :1], r"expected shape \(40, 4\)")


def test_smooth_start_divisor():
    wrong("08.smooth_posteriors", lambda p, w: moving_sum(p, w) / w, "divides the first frames by w_s")


def test_smooth_no_division():
    wrong("08.smooth_posteriors", lambda p, w: moving_sum(p, w), "sums the window without dividing")


def test_smooth_centred():
    def centred(p, w):
        T = len(p)
        return np.array([p[max(0, t - w // 2):t - w // 2 + w].sum(axis=0) / w for t in range(T)])
    wrong("08.smooth_posteriors", centred, "centred window, which needs frames from the future")


def test_smooth_running_mean():
    wrong("08.smooth_posteriors", lambda p, w: np.cumsum(p, axis=0) / np.arange(1, len(p) + 1)[:, None],
          "running mean from frame 0")


def test_smooth_window_too_long_and_too_short():
    wrong("08.smooth_posteriors", lambda p, w: smooth_posteriors(p, w + 1), r"averages w_s \+ 1 frames")
    wrong("08.smooth_posteriors", lambda p, w: smooth_posteriors(p, max(w - 1, 1)), "averages w_s - 1 frames")


def test_smooth_leaves_out_the_current_frame():
    def previous(p, w):
        s = moving_sum(p, w, lo_shift=-1)
        return s / count(len(p), w)
    wrong("08.smooth_posteriors", previous, "leaves out the current frame")


def test_smooth_wrong_axis():
    wrong("08.smooth_posteriors", lambda p, w: smooth_posteriors(p.T, w).T, r"smooths across the tags \(axis 1\)")


def test_smooth_in_place():
    def in_place(p, w):
        p[:] = smooth_posteriors(p, w)
        return p
    wrong("08.smooth_posteriors", in_place, "in place")


def test_smooth_other_error_reads_the_relative_error():
    wrong("08.smooth_posteriors", lambda p, w: smooth_posteriors(p, w) + 1e-3, "relative error")


def test_smooth_raises():
    def broken(p, w):
        return p[w + 100]
    wrong("08.smooth_posteriors", broken, "your function raised IndexError")


# ------------------------------------------------------------------------- 08.confidence
def moving_max(s, w):
    return np.array([s[max(0, t - w + 1):t + 1].max(axis=0) for t in range(len(s))])


def test_confidence_reference_passes():
    assert exercises.get("08.confidence").check(detection_confidence, seed=0) is True


def test_confidence_wrong_shape():
    wrong("08.confidence", lambda s, w: moving_max(s, w).max(axis=1), r"expected shape \(40, 4\), got \(40,\)")


def test_confidence_whole_history():
    wrong("08.confidence", lambda s, w: np.maximum.accumulate(s, axis=0), "maximum over every frame so far")


def test_confidence_centred():
    def centred(s, w):
        return np.array([s[max(0, t - w // 2):t - w // 2 + w].max(axis=0) for t in range(len(s))])
    wrong("08.confidence", centred, "centred window")


def test_confidence_mean():
    wrong("08.confidence", smooth_posteriors, "averages the window; the confidence is its maximum")


def test_confidence_window_length():
    wrong("08.confidence", lambda s, w: moving_max(s, w + 1), r"over w_m \+ 1 frames")
    wrong("08.confidence", lambda s, w: moving_max(s, max(w - 1, 1)), "over w_m - 1 frames")


def test_confidence_wrong_axis():
    wrong("08.confidence", lambda s, w: np.repeat(s.max(axis=1, keepdims=True), s.shape[1], axis=1),
          r"maximum over the tags \(axis 1\)")


def test_confidence_in_place():
    def in_place(s, w):
        s[:] = moving_max(s, w)
        return s
    wrong("08.confidence", in_place, "in place")


def test_confidence_raises():
    def broken(s, w):
        raise ValueError("no")
    wrong("08.confidence", broken, "your function raised ValueError: no")


# ------------------------------------------------------------------------- 08.frame_targets
from minikws.datasets import frame_targets  # noqa: E402
from minikws.exercises.ch08 import _targets  # noqa: E402


def with_mistake(kind, only_article=False):
    def student(words, *, frame_end, keywords, tags="words", placement="end", span=0.2):
        if only_article and tags != "article":
            return frame_targets(words, frame_end=frame_end, keywords=keywords, tags=tags,
                                 placement=placement, span=span)
        return _targets(words, frame_end, keywords, tags, placement, span, kind=kind)
    return student


def test_frame_targets_reference_passes_and_the_mistake_model_is_right_without_a_mistake():
    ex = exercises.get("08.frame_targets")
    assert ex.check(frame_targets, seed=0) is True
    assert ex.check(with_mistake(None), seed=1) is True


@pytest.mark.parametrize("kind,match", [
    ("whole word", "targets .* tag the whole word; placement='end' tags only"),
    ("full span", r"run d past the word's end; placement='end' stops at e \+ d/2"),
    ("fillers tagged", "give fillers a keyword's tag"),
    ("index", "are one too low: index into tag_names"),
    ("no mask", "the mask .* masks nothing"),
    ("tagged masked", "also masks the tagged frames"),
    ("fillers masked", "masks the fillers; fillers are O and count in the loss"),
])
def test_frame_targets_names_each_mistake(kind, match):
    wrong("08.frame_targets", with_mistake(kind), match)


def test_frame_targets_article_stop_is_its_own_tag():
    wrong("08.frame_targets", with_mistake("article stop", only_article=True),
          r"tags='article'.* tag 'stop' as 'command'")


def test_frame_targets_wrong_shape():
    def short(words, **kw):
        t, m = frame_targets(words, **kw)
        return t[:-1], m[:-1]
    wrong("08.frame_targets", short, r"targets .*: expected shape \(\d+,\), got \(\d+,\)")


def test_frame_targets_raises():
    def broken(words, **kw):
        raise KeyError("tag")
    wrong("08.frame_targets", broken, "your function raised KeyError")
