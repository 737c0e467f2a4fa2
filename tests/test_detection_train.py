"""Training a frame tagger on streams (minikws.train_stream) and scoring it as a detector."""
import numpy as np
import pytest

from minikws.errors import MinikwsError

from minikws.datasets import synthesize_streams
from minikws.train_stream import (StreamTrainConfig, evaluate_streams, frame_end_times, segment_batches,
                                  stream_posteriors, train_stream_model)


def test_segments_cover_every_frame_once():
    rng = np.random.default_rng(0)
    lengths = [1000, 37, 400]
    batches = segment_batches(lengths, segment=100, batch_size=4, rng=rng)
    covered = [np.zeros(L, int) for L in lengths]
    for batch in batches:
        assert 1 <= len(batch) <= 4
        for i, s, n, c in batch:
            assert 1 <= n <= 100 and c == 0
            covered[i][s:s + n] += 1
    for c in covered:
        assert (c == 1).all()
    again = segment_batches(lengths, segment=100, batch_size=4, rng=np.random.default_rng(1))
    assert again != batches, "another epoch cuts at another phase"


def test_segments_run_their_context_first_out_of_the_loss():
    from minikws.train_stream import _batch

    lengths = [1000, 37, 400]
    batches = segment_batches(lengths, segment=100, batch_size=4, rng=np.random.default_rng(0),
                              context=30)
    feats = [np.arange(L, dtype=np.float32)[:, None] + 1000 * i for i, L in enumerate(lengths)]
    targets = [np.arange(L) % 3 + 1 for L in lengths]
    masks = [np.ones(L, bool) for L in lengths]
    counted = [np.zeros(L, int) for L in lengths]
    for batch in batches:
        for i, s, n, c in batch:
            assert c == min(30, s), "30 frames before the segment, fewer at the stream's start"
        x, y, m = _batch(feats, targets, masks, batch, np.float32)
        for b, (i, s, n, c) in enumerate(batch):
            np.testing.assert_array_equal(x[:c + n, b, 0], feats[i][s - c:s + n, 0])  # context first
            assert not m[:c, b].any() and m[c:c + n, b].all() and not m[c + n:, b].any()
            np.testing.assert_array_equal(y[c:c + n, b], targets[i][s:s + n])
            counted[i][s:s + n] += 1
    for c in counted:
        assert (c == 1).all(), "every frame is in the loss once, context or not"
    with pytest.raises(MinikwsError, match="context"):
        segment_batches(lengths, segment=100, batch_size=4, rng=np.random.default_rng(0), context=-1)


@pytest.fixture(scope="module")
def tiny():
    return synthesize_streams(keywords=("yes", "stop"), streams=(4, 1, 2), seconds=15.0, seed=2,
                              cache=False)


@pytest.mark.parametrize("head", ["softmax", "feedback"])
def test_training_lowers_the_frame_loss_and_the_detector_scores(tiny, head):
    cfg = StreamTrainConfig(epochs=4, batch_size=4, segment=4.0, seed=1)
    lines = []
    m, hist = train_stream_model(tiny, tags="article", head=head, config=cfg, hidden_size=16,
                                 log=lines.append)
    assert m.task == "stream" and m.head == head and m.classes == ("O", "command", "stop")
    assert len(lines) == 4 and hist["train_loss"][-1] < hist["train_loss"][0]
    again, hist2 = train_stream_model(tiny, tags="article", head=head, config=cfg, hidden_size=16,
                                      log=lambda line: None)
    assert hist2["train_loss"] == hist["train_loss"], "the same run twice gives the same numbers"
    test = tiny.split("test")
    ev = evaluate_streams(m, test)
    assert ev.curve.frr.shape == ev.curve.thresholds.shape == (26,)
    assert ev.curve.thresholds[-1] == 0.9995
    assert ev.scores.keywords == ("command", "stop")
    assert int(ev.scores.occurrences.sum()) == test.keyword_count()
    probs = stream_posteriors(m, test.audio)
    assert probs[0].shape[1] == 3 and np.allclose(probs[0].sum(1), 1.0, atol=1e-5)
    tau = frame_end_times(m, 3)
    np.testing.assert_allclose(tau, [0.016, 0.036, 0.056])
