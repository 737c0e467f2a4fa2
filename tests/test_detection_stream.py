"""The audio detector: chunked streaming gives the offline call's detections and posteriors."""
import numpy as np
import pytest

from minikws.datasets import synthesize_streams
from minikws.detection import Detector, detect
from minikws.errors import MinikwsError
from minikws.models import KWSModel

KW = ("yes", "no", "stop")


@pytest.fixture(scope="module")
def audio():
    s = synthesize_streams(keywords=KW, streams=(0, 0, 1), seconds=4.0, seed=4, cache=False)
    return s.audio[0]


def stream_model(head):
    m = KWSModel(classes=("O",) + KW, hidden_size=12, dtype=np.float32, seed=1, task="stream",
                 tags="words", head=head, keywords=KW)
    m.fit_normalization(m.featurize([np.random.default_rng(0).standard_normal(16000).astype(np.float32)
                                     * 0.1]))
    m.fc.params["W"][...] *= 4.0  # sharper posteriors than a fresh initialisation gives
    if m.W_o is not None:
        m.W_o[...] = np.random.default_rng(2).standard_normal(m.W_o.shape).astype(np.float32)
    return m


def _threshold(model, audio):
    """A threshold that the offline posteriors cross a few times: detections to compare."""
    d = Detector(model, record=True, threshold=1.0)
    d.push(audio)
    d.flush()
    p = d.posteriors[:, 1:].max(axis=1)
    return float(np.quantile(p, 0.9))


@pytest.mark.parametrize("head", ["softmax", "feedback"])
@pytest.mark.parametrize("chunk", [1, 159, 160, 1600, "random"])
def test_chunked_audio_gives_the_offline_detections(audio, head, chunk):
    model = stream_model(head)
    th = _threshold(model, audio)
    settings = dict(threshold=th, min_count=2, refractory=0.2)
    whole = Detector(model, record=True, **settings)
    offline = whole.push(audio) + whole.flush()
    assert offline, "the test needs detections to compare"
    assert offline == detect(model, audio, **settings)
    rng = np.random.default_rng(7)
    d = Detector(model, record=True, **settings)
    got, i = [], 0
    while i < len(audio):
        n = int(rng.integers(0, 3000)) if chunk == "random" else chunk
        got += d.push(audio[i:i + n])
        i += n
    got += d.flush()
    np.testing.assert_allclose(d.posteriors, whole.posteriors, rtol=1e-4, atol=1e-5)
    assert [x.label for x in got] == [x.label for x in offline]
    np.testing.assert_allclose([x.time for x in got], [x.time for x in offline], atol=1e-9)
    np.testing.assert_allclose([x.score for x in got], [x.score for x in offline], rtol=1e-4)


def test_clip_models_are_refused_and_resampling(audio):
    with pytest.raises(MinikwsError, match="clip model"):
        Detector(KWSModel(classes=("a", "b"), hidden_size=4))
    model = stream_model("softmax")
    with pytest.raises(MinikwsError, match="too low"):
        detect(model, audio[:4000], sr=2000)
    from minikws.audio import resample

    y8 = resample(audio, orig_sr=16000, target_sr=8000)
    dets = detect(model, y8, sr=8000, threshold=0.3)
    assert all(0 <= d.time <= 4.1 for d in dets)
