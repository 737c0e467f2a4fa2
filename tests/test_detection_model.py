"""Stream models: the task, tag set and head in the model and its file; the feedback head's gradients."""
import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.gradcheck import numerical_gradient, rel_error
from minikws.io import load_model, save_model
from minikws.models import KWSModel
from minikws.nn.losses import softmax_cross_entropy

KW = ("yes", "no", "stop")


def stream_model(head="feedback", tags="words", dtype=np.float64, dropout=0.0):
    classes = ("O",) + KW if tags == "words" else ("O", "command", "stop")
    m = KWSModel(classes=classes, hidden_size=5, num_layers=2, dropout=dropout, dtype=dtype, seed=3,
                 features={"n_mfcc": 4, "n_mels": 8}, task="stream", tags=tags, head=head, keywords=KW)
    if m.W_o is not None:
        m.W_o[...] = np.random.default_rng(0).standard_normal(m.W_o.shape) * 2.0  # a strong feedback
    return m


@pytest.mark.parametrize("head,dropout_seed", [("feedback", None), ("feedback", 5), ("softmax", None)])
def test_frame_gradients_through_the_head(head, dropout_seed):
    m = stream_model(head, dropout=0.3 if dropout_seed else 0.0)
    m.mean[...] = 0.1
    m.std[...] = 1.3
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 4))
    y = rng.integers(0, m.num_classes, size=(6, 2))
    mask = rng.random((6, 2)) > 0.3

    def loss_of():
        r = None if dropout_seed is None else np.random.default_rng(dropout_seed)
        logits, _, _ = m.forward_frames(x, train=dropout_seed is not None, rng=r)
        return softmax_cross_entropy(logits, y, mask)[0]

    m.zero_grad()
    r = None if dropout_seed is None else np.random.default_rng(dropout_seed)
    logits, _, cache = m.forward_frames(x, train=dropout_seed is not None, rng=r)
    dx = m.backward_frames(softmax_cross_entropy(logits, y, mask)[1], cache)

    def at(array):
        def f(value):
            saved = array.copy()
            array[...] = value
            try:
                return loss_of()
            finally:
                array[...] = saved
        return f

    errors = {k: rel_error(numerical_gradient(at(p), p), m.grads[k]) for k, p in m.params.items()}
    errors["x"] = rel_error(numerical_gradient(at(x), x), dx)
    assert ("fc.W_o" in errors) == (head == "feedback")
    assert max(errors.values()) <= 1e-7, errors


def test_feedback_changes_the_outputs_and_streams_in_chunks():
    m = stream_model("feedback")
    x = np.random.default_rng(2).standard_normal((9, 1, 4))
    logits, _, _ = m.forward_frames(x)
    np.testing.assert_allclose(np.exp(logits).sum(-1), 1.0, rtol=1e-12)  # log-probabilities
    h, _ = m._encode(x, None, False, None)
    parts, o, = [], None
    for a, b in ((0, 1), (1, 6), (6, 9)):
        out, o = m.feedback_step(h[a:b], o)
        parts.append(out)
    np.testing.assert_allclose(np.concatenate(parts), logits, rtol=1e-12)
    m.W_o[...] = 0
    plain = m.forward_frames(x)[0]
    assert np.abs(plain - logits).max() > 1e-3


def test_stream_model_file_keeps_task_tags_and_head(tmp_path):
    m = stream_model("feedback", tags="article", dtype=np.float32)
    save_model(m, tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert (back.task, back.tags, back.head, back.keywords) == ("stream", "article", "feedback", KW)
    np.testing.assert_array_equal(back.W_o, m.W_o)
    with pytest.raises(MinikwsError, match="stream model"):
        back.forward(np.zeros((3, 1, 4), np.float32), np.array([3]))
    with pytest.raises(MinikwsError, match="classes: a stream model's classes"):
        KWSModel(classes=("O", "yes"), task="stream", tags="words", keywords=KW)
    with pytest.raises(MinikwsError, match="clip model has no"):
        KWSModel(classes=("a", "b"), head="feedback")
    clip = KWSModel(classes=("a", "b"))
    assert clip.get_config()["task"] == "clip"
