"""Trainer: batching, learning, determinism, early stopping, checkpoints, and exact resume after SIGKILL."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minikws import io as mio
from minikws.errors import MinikwsError
from minikws.models import KWSModel
from minikws.train import Trainer, TrainConfig, length_batches

CLASSES = ("rise", "fall", "flat")
FEATURES = {"n_mfcc": 4, "n_fft": 256, "hop_length": 80, "win_length": 200, "n_mels": 16}


def toy_data(n, seed):
    """Feature sequences of 6..14 frames whose class is the trend of coefficient 0: up, down or flat."""
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for i in range(n):
        y = i % 3
        T = int(rng.integers(6, 15))
        slope = (2.0, -2.0, 0.0)[y]
        f = 0.3 * rng.standard_normal((T, 4))
        f[:, 0] += slope * np.linspace(-1, 1, T) + rng.normal(0, 0.2)
        feats.append(f.astype(np.float32))
        labels.append(y)
    return feats, np.array(labels)


def make(seed=0, dropout=0.1):
    return KWSModel(classes=CLASSES, sr=8000, features=FEATURES, hidden_size=12, num_layers=2,
                    dropout=dropout, seed=seed)


def quiet(**kw):
    base = dict(epochs=4, batch_size=16, lr=1e-2, patience=0, seed=0, spec_augment=False, wave_augment=False)
    base.update(kw)
    return TrainConfig(**base)


def run(config, checkpoint=None, resume=None, log=None, data_seed=0):
    model = make(seed=config.seed)
    ftr, ytr = toy_data(96, data_seed)
    fva, yva = toy_data(30, data_seed + 1)
    trainer = Trainer(model, config, checkpoint=checkpoint, progress=False, log=log or (lambda s: None))
    trainer.fit(ftr, ytr, fva, yva, resume=resume)
    return model, trainer


def test_length_batches_cover_every_clip_once_with_little_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 200, 1000)
    batches = length_batches(lengths, batch_size=32, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    assert len(batches) == 32  # ceil(1000/32): the count depends on N and the batch size only
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 0.2 * (200 - 10)
    again = length_batches(lengths, batch_size=32, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))


def test_learns_a_toy_problem_and_keeps_history():
    model, trainer = run(quiet(epochs=10))
    h = trainer.history
    assert h["epoch"] == list(range(1, 11))
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert max(h["val_accuracy"]) >= 0.9
    ties = [e for e, a in zip(h["epoch"], h["val_accuracy"]) if a == max(h["val_accuracy"])]
    assert trainer.best_epoch == min(ties, key=lambda e: h["val_loss"][e - 1])  # ties: lower loss
    # the rate after each epoch's last step (6 steps of 16 clips per epoch, 60 in all, a 6-step warm-up,
    # min_lr = 0.02 lr): the peak after epoch 1, the cosine of eq. warmup-cosine, min_lr at the end
    S, W, lr, lo = 60, 6, 1e-2, 1e-2 * 0.02
    want = [lo + 0.5 * (lr - lo) * (1 + np.cos(np.pi * (6 * e - W) / (S - W))) for e in range(1, 11)]
    np.testing.assert_allclose(h["lr"], want, rtol=1e-12)
    assert h["lr"][0] == lr and h["lr"][-1] == lo


def test_learning_rate_schedule_warms_up_and_decays():
    trainer = Trainer(make(), quiet(epochs=10, warmup_epochs=2, min_lr_ratio=0.1), progress=False)
    lrs = [trainer.learning_rate(s, 10) for s in range(100)]
    # 100 steps, a 20-step linear warm-up to 1e-2, then a cosine that reaches min_lr = 1e-3 exactly at
    # the last step
    np.testing.assert_allclose(lrs[:20], 1e-2 * np.arange(1, 21) / 20, rtol=1e-15)
    assert lrs[19] == 1e-2
    assert np.all(np.diff(lrs[19:]) < 0)
    np.testing.assert_allclose(lrs[59], 1e-3 + 0.5 * (1e-2 - 1e-3) * (1 + np.cos(np.pi * 40 / 80)), rtol=1e-14)
    assert lrs[-1] == 1e-2 * 0.1


def test_same_seed_same_weights_other_seed_other_weights():
    a, _ = run(quiet(epochs=2))
    b, _ = run(quiet(epochs=2))
    c, _ = run(quiet(epochs=2, seed=1))
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(v, b.state_dict()[k])
    assert not np.array_equal(a.params["fc.W"], c.params["fc.W"])


def test_early_stopping_restores_the_best_epoch():
    ftr, ytr = toy_data(96, 0)
    fva, yva = toy_data(30, 1)
    yva = np.random.default_rng(5).permutation(yva)  # validation labels unrelated to the data: a plateau
    model = make()
    trainer = Trainer(model, quiet(epochs=30, patience=2), progress=False, log=lambda s: None)
    h = trainer.fit(ftr, ytr, fva, yva)
    n = len(h["epoch"])
    assert n < 30 and n - trainer.best_epoch == 2
    ev = trainer.evaluate(fva, yva)  # the model now holds the best epoch's weights
    assert ev.accuracy == h["val_accuracy"][trainer.best_epoch - 1]
    assert ev.loss == pytest.approx(h["val_loss"][trainer.best_epoch - 1], rel=1e-6)


class Interrupt(Exception):
    pass


def test_resume_in_process_is_exact(tmp_path):
    full, _ = run(quiet(epochs=4), checkpoint=tmp_path / "full.npz")
    ckpt = tmp_path / "run.npz"

    def stop_in_epoch_3(line):
        if line.startswith("epoch   3/"):
            raise Interrupt  # after epoch 3's training, before its checkpoint: epoch 2's is on disk

    with pytest.raises(Interrupt):
        run(quiet(epochs=4), checkpoint=ckpt, log=stop_in_epoch_3)
    assert mio.load_checkpoint(ckpt).epoch == 2
    resumed, trainer = run(quiet(epochs=4), checkpoint=ckpt, resume=ckpt)
    assert trainer.history["epoch"] == [1, 2, 3, 4]
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)
    final = mio.load_checkpoint(ckpt)
    assert final.epoch == 4 and final.best_state is not None
    assert final.history["train_loss"] == mio.load_checkpoint(tmp_path / "full.npz").history["train_loss"]


def test_resume_with_other_settings_or_data_is_refused(tmp_path):
    ckpt = tmp_path / "run.npz"
    run(quiet(epochs=1), checkpoint=ckpt)
    with pytest.raises(MinikwsError, match="lr"):
        run(quiet(epochs=1, lr=5e-3), resume=ckpt)
    with pytest.raises(MinikwsError, match="training data"):
        run(quiet(epochs=1), resume=ckpt, data_seed=7)
    # a model with other settings (here: no running CMN) never takes the checkpoint's weights
    other = KWSModel(classes=CLASSES, sr=8000, features=FEATURES, hidden_size=12, num_layers=2,
                     cmn_window=0)
    ftr, ytr = toy_data(96, 0)
    fva, yva = toy_data(30, 1)
    trainer = Trainer(other, quiet(epochs=1), progress=False, log=lambda s: None)
    with pytest.raises(MinikwsError, match="other settings.*--cmn-window"):
        trainer.fit(ftr, ytr, fva, yva, resume=ckpt)


def test_bad_config():
    for bad in (dict(epochs=0), dict(lr=-1.0), dict(batch_size=1.5), dict(seed=-1), dict(clip_norm=float("nan"))):
        with pytest.raises(MinikwsError):
            TrainConfig(**bad)


# ------------------------------------------------------------------- a real process, killed and resumed
def _tone_folder(root, sr=8000):
    """A tiny folder-per-label data set: 'low' and 'high' tones in noise, 0.3 s each."""
    from minikws.audio import save_wav

    rng = np.random.default_rng(0)
    t = np.arange(int(0.3 * sr)) / sr
    for label, f0 in (("low", 300.0), ("high", 1500.0)):
        os.makedirs(root / label)
        for i in range(24):
            f = f0 * (1 + 0.05 * rng.standard_normal())
            y = 0.4 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)
            save_wav(os.fspath(root / label / f"{label}_speaker{i % 6}_{i}.wav"), y.astype(np.float32), sr)
    return root


def _train_cmd(data, out, *extra):
    return [sys.executable, "-m", "minikws", "train", "--data", os.fspath(data), "--dataset", "folders",
            "--out", os.fspath(out), "--epochs", "8", "--hidden", "8", "--batch-size", "8",
            "--patience", "0", "--seed", "3", "--no-progress", *extra]


def test_sigkill_and_resume_ends_with_identical_weights(tmp_path):
    data = _tone_folder(tmp_path / "data")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    ref = subprocess.run(_train_cmd(data, tmp_path / "ref.npz"), capture_output=True, text=True, env=env,
                         timeout=120)
    assert ref.returncode == 0, ref.stderr

    out, ckpt = tmp_path / "run.npz", tmp_path / "run.ckpt.npz"
    proc = subprocess.Popen(_train_cmd(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    deadline = time.monotonic() + 60
    while not ckpt.exists():  # the first checkpoint appears at the end of epoch 1
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert proc.poll() is None, "training ended before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    killed_at = mio.load_checkpoint(ckpt).epoch
    assert 1 <= killed_at < 8

    resumed = subprocess.run(_train_cmd(data, out, "--resume", os.fspath(ckpt)), capture_output=True,
                             text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    a, b = mio.load_model(tmp_path / "ref.npz"), mio.load_model(out)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    ca, cb = mio.load_checkpoint(tmp_path / "ref.ckpt.npz"), mio.load_checkpoint(ckpt)
    for k in ca.model.state_dict():
        np.testing.assert_array_equal(ca.model.state_dict()[k], cb.model.state_dict()[k], err_msg=k)
    assert ca.history["train_loss"] == cb.history["train_loss"]


@pytest.mark.parametrize("cmn_window", [0, 5])
def test_training_features_are_the_prediction_features(cmn_window):
    """featurize_dataset (training) batches equal-length clips; a model must see in training exactly
    what KWSModel.featurize gives it at prediction time, one clip at a time."""
    from minikws.train import featurize_dataset

    model = KWSModel(classes=CLASSES, sr=8000, features=FEATURES, cmn_window=cmn_window,
                     hidden_size=4, num_layers=1)
    rng = np.random.default_rng(5)
    clips = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in (4000, 4000, 2500, 4000, 300)]
    batched = featurize_dataset(model, clips, sr=8000)
    for y, f in zip(clips, batched):
        alone = model.featurize(y)[0]
        assert f.shape == alone.shape and f.dtype == np.float32
        np.testing.assert_allclose(f, alone, rtol=0, atol=1e-5 * np.abs(alone).max())
    # at another rate, the clips are resampled first, the same way
    up = [np.repeat(y, 2) for y in clips[:2]]
    np.testing.assert_allclose(featurize_dataset(model, up, sr=16000)[0], model.featurize(up[0], sr=16000)[0],
                               rtol=0, atol=1e-4)


def test_evaluate_takes_the_cross_entropy_from_the_logits_even_where_softmax_saturates():
    """A confidently wrong model: softmax gives the true class probability 0 in float32, which a floor
    of 1e-30 would turn into a loss of 69.1 per clip; log_softmax of the logits gives the real one."""
    model = make(dropout=0.0)
    feats, labels = toy_data(12, 4)
    model.fc.params["W"][...] *= 1e4
    trainer = Trainer(model, quiet(), progress=False)
    result = trainer.evaluate(feats, labels)
    logits = model.logits_features(feats).astype(np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    want = -np.mean(z[np.arange(12), labels] - np.log(np.exp(z).sum(axis=1)))
    assert result.loss == pytest.approx(want, rel=1e-12)
    assert want > 100  # far beyond what the floored probabilities could report
    np.testing.assert_array_equal(result.predictions, np.argmax(logits, axis=1))
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, rtol=1e-6)
