"""Shared pytest fixtures."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    """A freshly seeded generator per test, so tests do not depend on their order."""
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def keyword_model(tmp_path_factory):
    """A small clip model that really tells "yes" and "stop" apart, trained once per session (15-45 s).

    Returns (path of the model file, the model, held-out clips {label: [float32 (16000,)]} spoken by
    voices of another synthesis seed).
    """
    from minikws.datasets import synthesize_commands
    from minikws.io import save_model
    from minikws.train import TrainConfig, train_on_dataset

    ds = synthesize_commands(words=("yes", "stop"), per_word=150, seed=0, sr=16000,
                             unknown_words=("no", "go", "top", "left", "yet", "shop"))
    model, _ = train_on_dataset(ds, hidden_size=32, config=TrainConfig(epochs=20, seed=0), progress=False,
                                log=lambda *args: None)
    path = tmp_path_factory.mktemp("keyword_model") / "yes_stop.npz"
    save_model(model, path)
    held_out = synthesize_commands(words=("yes", "stop"), per_word=6, seed=7, sr=16000, unknown_words=(),
                                   silence=False, snr_db=(30.0, 30.0))
    clips = {}
    for y, label in zip(held_out.audio, held_out.labels):
        clips.setdefault(held_out.classes[int(label)], []).append(y)
    return path, model, clips
