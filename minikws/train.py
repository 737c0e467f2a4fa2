"""Training a :class:`minikws.models.KWSModel`: the article's ``train_epoch`` and ``evaluate``, made real.

One epoch (:meth:`Trainer.train_epoch`) walks the training clips in mini-batches of similar length
(little padding), and for each batch runs

    features -> model.forward -> softmax cross-entropy -> model.backward -> clip the global gradient norm
    -> set the learning rate (linear warm-up, then cosine decay) -> AdamW step.

After every epoch the model is evaluated on the validation split (:meth:`Trainer.evaluate`), the best
weights so far are kept, training stops early when validation accuracy has not improved for
``patience`` epochs, and a checkpoint is written atomically. At the end the best weights are restored.

Reproducibility: everything random in epoch ``e`` (batch order, dropout masks, SpecAugment masks) is
drawn from ``numpy.random.default_rng([seed, e])``, and the learning rate is a pure function of the
step number. A run resumed from the checkpoint of epoch ``e`` therefore needs no saved RNG state and
finishes with exactly the weights of an uninterrupted run.

Shape legend: T time steps (frames), B batch, K coefficients, C classes; N clips.
"""
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from minikws._backend import kernel_threads
from minikws._fileio import check_output_file
from minikws._validate import check_positive_int, check_real, check_seed
from minikws.augment import spec_augment
from minikws.compress import GradualPruner, MaskedOptimizer
from minikws.defaults import DEFAULTS
from minikws.errors import MinikwsError
from minikws.io import load_checkpoint, save_checkpoint
from minikws.metrics import classification_metrics
from minikws.models import KWSModel
from minikws.nn.losses import log_softmax, softmax
from minikws.optim import AdamW, clip_grad_norm, warmup_cosine_lr
from minikws.pipeline import AugmentedEpochs

__all__ = [
    "TrainConfig",
    "EvalResult",
    "Trainer",
    "length_batches",
    "featurize_dataset",
    "history_json",
    "train_on_dataset",
    "evaluate_on_dataset",
    "fine_tune",
]


@dataclasses.dataclass
class TrainConfig:
    """Settings of a training run (all have defaults that work on the synthesized set and on FSDD).

    Attributes
    ----------
    epochs : int
        Maximum number of passes over the training clips.
    batch_size : int
        Clips per step.
    lr : float
        Peak learning rate of AdamW, reached after the warm-up.
    weight_decay : float
        AdamW's decoupled weight decay.
    warmup_epochs : float
        Length of the linear warm-up, in epochs.
    min_lr_ratio : float
        The cosine decays to ``lr * min_lr_ratio`` at the last step.
    clip_norm : float
        Global gradient-norm clipping threshold (0 disables it).
    patience : int
        Stop after this many epochs without a better validation accuracy (0: never stop early).
    spec_augment : bool
        Mask random time and frequency bands of the training features (SpecAugment).
    spec_time_masks, spec_max_time, spec_freq_masks, spec_max_freq : int
        How many masks of each kind per clip and their largest width (frames, coefficients).
    wave_augment : bool
        Before every epoch, perturb each training waveform afresh (speed 0.85-1.15, time shift up to
        0.1 s, gain +-6 dB, and background noise at 5-30 dB SNR when the data set has noise) and
        recompute its features (needs the waveforms: :func:`train_on_dataset` passes them).
    seed : int
        Seed of every random choice of the run.
    """

    epochs: int = DEFAULTS.epochs
    batch_size: int = DEFAULTS.batch_size
    lr: float = DEFAULTS.lr
    weight_decay: float = DEFAULTS.weight_decay
    warmup_epochs: float = DEFAULTS.warmup_epochs
    min_lr_ratio: float = DEFAULTS.min_lr_ratio
    clip_norm: float = DEFAULTS.clip_norm
    patience: int = DEFAULTS.patience
    spec_augment: bool = DEFAULTS.spec_augment
    spec_time_masks: int = DEFAULTS.spec_time_masks
    spec_max_time: int = DEFAULTS.spec_max_time
    spec_freq_masks: int = DEFAULTS.spec_freq_masks
    spec_max_freq: int = DEFAULTS.spec_max_freq
    wave_augment: bool = DEFAULTS.wave_augment
    seed: int = DEFAULTS.seed

    def __post_init__(self):
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("patience", self.patience, minimum=0)
        for name in ("spec_time_masks", "spec_max_time", "spec_freq_masks", "spec_max_freq"):
            check_positive_int(name, getattr(self, name), minimum=0)
        for name in ("lr", "weight_decay", "warmup_epochs", "min_lr_ratio", "clip_norm"):
            check_real(name, getattr(self, name), low=0.0)
        if self.lr == 0:
            raise MinikwsError("lr: expected a positive learning rate, got 0")
        check_seed("seed", self.seed)

    def to_dict(self):
        return dataclasses.asdict(self)


class EvalResult(NamedTuple):
    """loss (float, mean cross-entropy), accuracy (float), predictions (N,) int64, probs (N, C)."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    probs: np.ndarray


def length_batches(lengths, *, batch_size, rng, bucket_batches=16):
    """Shuffled mini-batches of clips of similar length.

    The clips are shuffled, cut into buckets of ``batch_size * bucket_batches``, each bucket is sorted
    by length and cut into batches, and the batches of all buckets are shuffled. Padding stays small,
    yet every epoch sees different batches. The number of batches depends only on N and batch_size.

    Parameters
    ----------
    lengths : ndarray of int (N,)
        Frames of each clip.
    batch_size : int
    rng : numpy.random.Generator
    bucket_batches : int
        Batches per bucket.

    Returns
    -------
    list of ndarray of int64
        Clip indices of each batch; together a permutation of ``range(N)``.
    """
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    bucket = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), bucket):
        chunk = order[start:start + bucket]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def featurize_dataset(model, audio, *, sr, progress=False, desc="features"):
    """Features of every clip of a data set (:meth:`KWSModel.featurize`), computed once before training.

    The same function as at prediction time, in chunks of 256 clips so that a progress bar can move
    (within a chunk, clips of equal length are featurized in one batched call).

    Parameters
    ----------
    model : KWSModel
        Supplies the sample rate and the feature settings (MFCC, running CMN).
    audio : sequence of ndarray (S_n,)
    sr : int
        The clips' sample rate.

    Returns
    -------
    list of ndarray (F_n, K)
    """
    feats = []
    bar = _progress_bar(total=len(audio), enabled=progress, desc=desc)
    try:
        for start in range(0, len(audio), 256):
            part = list(audio[start:start + 256])
            feats.extend(model.featurize(part, sr=sr))
            bar.update(len(part))
    finally:
        bar.close()
    return feats


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s, refresh=True):
        pass

    def close(self):
        pass


def _progress_bar(*, total, enabled, desc):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


def _fingerprint(feats, labels):
    """A short hash of the training data's shape and labels, so a resume on other data is caught."""
    h = hashlib.sha256()
    h.update(np.asarray([f.shape[0] for f in feats], dtype=np.int64).tobytes())
    h.update(np.asarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


class Trainer:
    """Trains a model with AdamW, warm-up + cosine learning rate, clipping, early stopping, checkpoints.

    Parameters
    ----------
    model : KWSModel
        Trained in place.
    config : TrainConfig, optional
    checkpoint : str or os.PathLike, optional
        Where to write the checkpoint after every epoch (atomically).
    progress : bool, optional
        Show tqdm progress bars; default: only when stderr is a terminal.
    log : callable, optional
        Receives one line of text per epoch (default: print it to stderr).
    run_info : dict, optional
        JSON settings stored in the checkpoint beside the trainer's own (the command line keeps where
        the data came from there, so that ``--resume`` needs no other flag); not compared on resume.

    Attributes
    ----------
    history : dict of str -> list
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``,
        ``lr`` (at the epoch's last step), ``seconds``.
    best_epoch : int or None
        1-based epoch of the best validation accuracy.
    """

    def __init__(self, model, config=None, *, checkpoint=None, progress=None, log=None, run_info=None):
        self.model = model
        self.config = TrainConfig() if config is None else config
        if not isinstance(self.config, TrainConfig):
            raise MinikwsError(f"config: expected a TrainConfig, got {type(self.config).__name__}")
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        if self.checkpoint is not None:  # now, not after the first epoch
            check_output_file(self.checkpoint, name=f"checkpoint {self.checkpoint}")
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.log = log if log is not None else (lambda line: print(line, file=sys.stderr, flush=True))
        self.optimizer = AdamW(model.params, lr=self.config.lr, weight_decay=self.config.weight_decay)
        self.history = {k: [] for k in ("epoch", "train_loss", "train_accuracy", "val_loss",
                                        "val_accuracy", "lr", "seconds")}
        self.best_epoch = None
        self.best_state = None
        self.step = 0
        self.run_info = dict(run_info or {})

    # --------------------------------------------------------------------------------- schedule
    def _steps_per_epoch(self, n):
        return math.ceil(n / self.config.batch_size)

    def learning_rate(self, step, steps_per_epoch):
        """AdamW's learning rate at 0-based ``step``: linear warm-up, then cosine decay."""
        c = self.config
        total = c.epochs * steps_per_epoch
        warmup = min(int(round(c.warmup_epochs * steps_per_epoch)), total - 1)
        return warmup_cosine_lr(step, base_lr=c.lr, total_steps=total, warmup_steps=warmup,
                                min_lr=c.lr * c.min_lr_ratio)

    # ------------------------------------------------------------------------------ epoch, eval
    def _batch(self, feats, labels, idx, rng=None):
        x, lengths = self.model.pad([feats[i] for i in idx], dtype=self.model.dtype)
        if rng is not None and self.config.spec_augment:
            x = self._spec_augment(x, lengths, rng)
        return x, lengths, np.asarray(labels)[idx].astype(np.int64)

    def _spec_augment(self, x, lengths, rng):
        """Time and frequency masks on raw frames, filled with the normalisation mean (-> 0)."""
        xn = (x - self.model.mean) / self.model.std
        out = np.empty_like(x)
        for b in range(x.shape[1]):
            L = int(lengths[b])
            masked = spec_augment(np.ascontiguousarray(xn[:L, b]), rng=rng,
                                  num_time_masks=self.config.spec_time_masks,
                                  max_time=self.config.spec_max_time,
                                  num_freq_masks=self.config.spec_freq_masks,
                                  max_freq=self.config.spec_max_freq)
            out[:L, b] = masked * self.model.std + self.model.mean
            out[L:, b] = 0
        return out

    def train_epoch(self, feats, labels, epoch, *, augment=None):
        """One pass over the training clips; returns (mean loss, accuracy) over the epoch.

        Parameters
        ----------
        feats : list of ndarray (F_n, K)
        labels : ndarray of int (N,)
        epoch : int
            0-based; seeds this epoch's randomness with ``(config.seed, epoch)``.
        augment : callable, optional
            As :meth:`fit`; replaces ``feats`` for this epoch.
        """
        c = self.config
        rng = np.random.default_rng([c.seed, epoch])
        if augment is not None:
            feats = augment(epoch)
            if epoch + 1 < c.epochs and hasattr(augment, "prefetch"):
                augment.prefetch(epoch + 1)  # computed in the workers while this epoch trains
        lengths = np.array([f.shape[0] for f in feats])
        batches = length_batches(lengths, batch_size=c.batch_size, rng=rng)
        steps = len(batches)
        bar = _progress_bar(total=steps, enabled=self.progress, desc=f"epoch {epoch + 1}/{c.epochs}")
        total_loss, correct, seen = 0.0, 0, 0
        try:
            for i, idx in enumerate(batches):
                x, lens, y = self._batch(feats, labels, idx, rng)
                self.model.zero_grad()
                loss, logits, dlogits, cache = self.model.loss(x, lens, y, train=True, rng=rng)
                self.model.backward(dlogits, cache)
                grads = self.model.grads
                if c.clip_norm > 0:
                    clip_grad_norm(grads, c.clip_norm)
                self.optimizer.lr = self.learning_rate(epoch * steps + i, steps)
                self.optimizer.step(grads)
                total_loss += float(loss) * len(idx)
                correct += int(np.sum(np.argmax(logits, axis=1) == y))
                seen += len(idx)
                bar.update(1)
                bar.set_postfix_str(f"loss {total_loss / seen:.3f} acc {correct / seen:.3f}", refresh=False)
        finally:
            bar.close()
        return total_loss / seen, correct / seen

    def evaluate(self, feats, labels, *, batch_size=None):
        """Loss, accuracy and predictions on clips, without dropout -> :class:`EvalResult`."""
        labels = np.asarray(labels, dtype=np.int64)
        logits = self.model.logits_features(feats, batch_size=batch_size or 128)
        logp = log_softmax(logits.astype(np.float64), axis=-1)  # finite even where softmax saturates
        loss = float(-np.mean(logp[np.arange(len(labels)), labels])) if len(labels) else float("nan")
        probs = softmax(logits, axis=-1)
        preds = np.argmax(logits, axis=1)
        acc = float(np.mean(preds == labels)) if len(labels) else float("nan")
        return EvalResult(loss, acc, preds, probs)

    # ------------------------------------------------------------------------------- the run
    def _trainer_record(self, feats, labels):
        return {"config": self.config.to_dict(), "data": _fingerprint(feats, labels)}

    def _save_checkpoint(self, epoch, record):
        record = {**record, "best_epoch": self.best_epoch, "run": self.run_info}
        save_checkpoint(self.checkpoint, model=self.model, optimizer_state=self.optimizer.state_dict(),
                        epoch=epoch, history=self.history, trainer=record, best_state=self.best_state)

    def _resume(self, path, record):
        ck = load_checkpoint(path)
        if ck.model.get_config() != self.model.get_config():
            raise MinikwsError(f"{os.fspath(path)}: checkpoint is of a model with other settings "
                               f"({ck.model.get_config()}); use the same --hidden/--layers/"
                               "--cmn-window/data")
        old = {k: v for k, v in ck.trainer.items() if k not in ("best_epoch", "run")}
        epochs = record["config"].get("epochs")
        if isinstance(old.get("config"), dict) and "epochs" in old["config"]:
            # More epochs than the interrupted run planned extend it (the cosine schedule is stretched
            # to the new end); fewer than it has completed cannot be.
            if epochs < ck.epoch:
                raise MinikwsError(f"{os.fspath(path)}: checkpoint has completed {ck.epoch} epochs; "
                                   f"epochs {epochs} must be at least that")
            old = {**old, "config": {**old["config"], "epochs": epochs}}
        if old != record:
            diff = sorted(k for k in set(old.get("config", {})) | set(record["config"])
                          if old.get("config", {}).get(k) != record["config"].get(k))
            what = f"settings {diff}" if diff else "training data"
            raise MinikwsError(f"{os.fspath(path)}: checkpoint was made with other {what}; resume with "
                               "the same settings and data")
        self.model.load_state_dict(ck.model.state_dict())
        self.optimizer.load_state_dict(ck.optimizer_state)
        self.history = {k: list(v) for k, v in ck.history.items()}
        self.best_state = ck.best_state
        self.best_epoch = ck.trainer.get("best_epoch")
        return ck.epoch

    def _should_stop(self, epoch_done):
        p = self.config.patience
        return p > 0 and self.best_epoch is not None and epoch_done - self.best_epoch >= p

    def fit(self, train_feats, train_labels, val_feats=None, val_labels=None, *, resume=None,
            augment=None, normalize=True):
        """Train, evaluating on the validation clips after every epoch; restore the best weights.

        Parameters
        ----------
        train_feats : list of ndarray (F_n, K)
            Raw MFCC matrices (the model's dtype); the model's normalisation is measured on them
            unless resuming.
        train_labels : ndarray of int (N,)
        val_feats, val_labels : optional
            The validation split (early stopping and best-epoch selection); without it the last epoch
            is kept.
        resume : str or os.PathLike, optional
            A checkpoint of this run to continue from. Every setting must be the checkpoint's, except
            ``config.epochs``, which may be larger than the run planned: the cosine schedule is then
            stretched to the new last step.
        augment : callable, optional
            ``augment(epoch) -> list of ndarray (F_n, K)``: fresh features of the training clips (same
            order and labels), called at the start of every 0-based epoch; a function of the epoch
            alone, so that a resumed run sees the same data. If it has a ``prefetch(epoch)`` method
            (:class:`minikws.pipeline.AugmentedEpochs`), that is called for the next epoch before this
            one trains.
        normalize : bool
            Measure the model's normalisation statistics on ``train_feats`` first (default). Fine-tuning
            a trained (e.g. pruned) model passes False, so that its weights keep the inputs they learnt.

        Returns
        -------
        dict
            :attr:`history`.
        """
        if not len(train_feats):
            raise MinikwsError("training data: no clips in the training split")
        train_labels = np.asarray(train_labels, dtype=np.int64)
        if len(train_labels) != len(train_feats):
            raise MinikwsError(f"train_labels: {len(train_labels)} labels for {len(train_feats)} clips")
        has_val = val_feats is not None and len(val_feats) > 0
        record = self._trainer_record(train_feats, train_labels)
        start = 0
        if resume is not None:
            start = self._resume(resume, record)
        elif normalize:
            self.model.fit_normalization(train_feats)
            if self.checkpoint and os.path.exists(self.checkpoint):
                self.log(f"note: {self.checkpoint} exists; this fresh run replaces it with its own "
                         f"checkpoints (resume={self.checkpoint!r} would continue it instead)")
        if start > 0 and self._should_stop(start):
            start = self.config.epochs  # the interrupted run had already stopped early
        for epoch in range(start, self.config.epochs):
            t0 = time.perf_counter()
            loss, acc = self.train_epoch(train_feats, train_labels, epoch, augment=augment)
            val = self.evaluate(val_feats, val_labels) if has_val else None
            h = self.history
            h["epoch"].append(epoch + 1)
            h["train_loss"].append(loss)
            h["train_accuracy"].append(acc)
            h["val_loss"].append(val.loss if val else None)
            h["val_accuracy"].append(val.accuracy if val else None)
            h["lr"].append(float(self.optimizer.lr))
            h["seconds"].append(time.perf_counter() - t0)
            if self._is_best(val):
                self.best_epoch = epoch + 1
                self.best_state = self.model.state_dict()
            line = (f"epoch {epoch + 1:>3}/{self.config.epochs}  loss {loss:.4f}  acc {acc:.4f}"
                    + (f"  val_loss {val.loss:.4f}  val_acc {val.accuracy:.4f}" if val else "")
                    + f"  lr {self.optimizer.lr:.2e}  {h['seconds'][-1]:.1f}s")
            self.log(line)
            if self.checkpoint:
                self._save_checkpoint(epoch + 1, record)
            if self._should_stop(epoch + 1):
                self.log(f"early stop: no better validation accuracy for {self.config.patience} epochs "
                         f"(best epoch {self.best_epoch})")
                break
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.history

    def _is_best(self, val):
        if val is None:
            return True  # no validation split: the latest weights are the ones kept
        if self.best_epoch is None:
            return True
        i = self.best_epoch - 1
        best_acc, best_loss = self.history["val_accuracy"][i], self.history["val_loss"][i]
        return val.accuracy > best_acc or (val.accuracy == best_acc and val.loss < best_loss)


def history_json(history):
    """The history with every number a plain float/int (for JSON output)."""
    return json.loads(json.dumps(history, default=float))


def _split(dataset, subset):
    return dataset.select(subset)


def train_on_dataset(dataset, *, hidden_size=DEFAULTS.hidden_size, num_layers=DEFAULTS.num_layers,
                     dropout=DEFAULTS.dropout, features=None, cmn_window=DEFAULTS.cmn_window, config=None,
                     checkpoint=None, resume=None, progress=None, log=None, dtype=np.float32,
                     backend="auto", run_info=None, workers=None):
    """Build a :class:`~minikws.models.KWSModel` for a data set and train it on its splits.

    Parameters
    ----------
    dataset : minikws.datasets.Dataset
        Its "train" clips are learnt from, its "validation" clips pick the best epoch and stop early.
    hidden_size, num_layers, dropout, features, cmn_window, dtype, backend
        The model's settings (see :class:`~minikws.models.KWSModel`); ``features`` defaults to
        :func:`~minikws.frontend.default_feature_settings` at the data set's sample rate.
    config : TrainConfig, optional
    checkpoint, resume, progress, log, run_info
        As :class:`Trainer` and :meth:`Trainer.fit`.
    workers : int, optional
        Data worker processes preparing the next epoch's augmented features while an epoch trains
        (:class:`minikws.pipeline.AugmentedEpochs`; default: one per CPU, none on one core). The
        result never depends on it.

    Returns
    -------
    model : KWSModel
        Trained, with the best validation epoch's weights.
    trainer : Trainer
        Holds the history.
    """
    config = TrainConfig() if config is None else config
    train = _split(dataset, "train")
    val = _split(dataset, "validation")
    if len(train.audio) == 0:
        raise MinikwsError("data: the training split is empty")
    present = np.unique(train.labels)
    if len(present) < 2:
        raise MinikwsError(f"data: the training split holds {len(present)} class(es); need at least 2")
    model = KWSModel(classes=dataset.classes, sr=int(dataset.sr), features=features,
                     cmn_window=cmn_window, hidden_size=hidden_size, num_layers=num_layers,
                     dropout=dropout, dtype=dtype, seed=config.seed, backend=backend)
    show = sys.stderr.isatty() if progress is None else bool(progress)
    trainer = Trainer(model, config, checkpoint=checkpoint, progress=progress, log=log, run_info=run_info)
    augment = None
    if config.wave_augment:
        noises = [v for _, v in sorted(dataset.noise.items())]

        def bar(total):  # while an epoch waits for its data: the pause before the epoch's bar shows
            return _progress_bar(total=total, enabled=show, desc="augment")

        augment = AugmentedEpochs(model.frontend, train.audio, sr=dataset.sr, noises=noises,
                                  seed=config.seed, workers=workers, progress=bar)
    # With data workers on every core, a kernel call split over threads waits for any part whose core a
    # worker holds, spinning meanwhile: the kernel gets one thread (which changes no number).
    threads = kernel_threads(1) if augment is not None and augment.workers else contextlib.nullcontext()
    try:
        if augment is not None and resume is None:
            augment.prefetch(0)  # the first epoch's data, while the plain features are computed
        ftrain = featurize_dataset(model, train.audio, sr=dataset.sr, progress=show, desc="features (train)")
        fval = featurize_dataset(model, val.audio, sr=dataset.sr, progress=show, desc="features (val)")
        with threads:
            trainer.fit(ftrain, train.labels, fval, val.labels if len(val.audio) else None,
                        resume=resume, augment=augment)
    finally:
        if augment is not None:
            augment.close()
    return model, trainer


def evaluate_on_dataset(model, dataset, *, subset="test", batch_size=128):
    """Predict a split of a data set and score it.

    The data set's class names are matched to the model's by name, so a folder set whose classes are
    a subset of the model's (or ordered differently) is scored correctly.

    Returns
    -------
    dict
        :func:`minikws.metrics.classification_metrics` over the model's classes.
    y_true, y_pred : ndarray of int64 (N,)
        In the model's class indices.
    """
    part = _split(dataset, subset)
    if len(part.audio) == 0:
        raise MinikwsError(f"data: the {subset!r} split is empty")
    index = {name: k for k, name in enumerate(model.classes)}
    unknown = sorted(set(dataset.classes) - set(index))
    if unknown:
        raise MinikwsError(f"data: classes {unknown} are not among the model's {list(model.classes)}")
    mapping = np.array([index[name] for name in dataset.classes], dtype=np.int64)
    y_true = mapping[np.asarray(part.labels, dtype=np.int64)]
    feats = featurize_dataset(model, part.audio, sr=dataset.sr)
    probs = model.predict_proba_features(feats, batch_size=batch_size)
    y_pred = np.argmax(probs, axis=1).astype(np.int64)
    return classification_metrics(y_true, y_pred, classes=model.classes), y_true, y_pred


def fine_tune(model, dataset, *, epochs, lr=2e-3, masks=None, gradual=None, scope="layer", seed=0,
              progress=None, log=None):
    """Retrain a pruned model on a data set's training split, its pruned weights held at zero.

    The trainer is :class:`Trainer` with AdamW, warm-up and cosine decay as in training, SpecAugment
    on, and the model's normalisation statistics kept (its weights learnt them).

    Parameters
    ----------
    model : KWSModel
    dataset : minikws.datasets.Dataset
    epochs : int
    lr : float
        Peak learning rate.
    masks : dict of str -> ndarray of bool, optional
        One-shot pruning: the masks of :func:`minikws.compress.magnitude_masks`, held by
        :class:`minikws.compress.MaskedOptimizer` after every step.
    gradual : float, optional
        Gradual pruning instead: the final sparsity, reached along eq. :eq:`prune-cubic` in (up to) 10
        pruning steps spread over the first two thirds of the fine-tuning (:class:`minikws.compress.GradualPruner`,
        masks by ``scope``); the last epoch's weights are kept, since earlier ones are less sparse.
    scope : {"layer", "global"}
    seed : int

    Returns
    -------
    minikws.train.Trainer
        Holds the fine-tuning history; with ``masks`` the best validation epoch's weights are kept.
    """
    if masks is not None and gradual is not None:
        raise MinikwsError("fine_tune: give either masks (one-shot pruning) or gradual (a final sparsity)")
    train, val = dataset.select("train"), dataset.select("validation")
    ftrain = featurize_dataset(model, train.audio, sr=dataset.sr)
    fval = featurize_dataset(model, val.audio, sr=dataset.sr) if len(val.audio) and gradual is None else None
    config = TrainConfig(epochs=epochs, lr=lr, wave_augment=False, patience=0, seed=seed)
    trainer = Trainer(model, config, progress=progress, log=log)
    if masks is not None:
        trainer.optimizer = MaskedOptimizer(trainer.optimizer, masks)
    elif gradual is not None:
        span = max(1, 2 * epochs * math.ceil(len(ftrain) / config.batch_size) // 3)  # first 2/3 of the steps
        steps = min(10, span)
        trainer.optimizer = GradualPruner(trainer.optimizer, final=gradual, steps=steps,
                                          interval=max(1, span // steps), scope=scope)
    trainer.fit(ftrain, train.labels, fval, val.labels if fval is not None else None, normalize=False)
    return trainer
