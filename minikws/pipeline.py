r"""The training data of every epoch, augmented afresh and prepared ahead in worker processes.

Wave augmentation (:func:`minikws.augment.augment_waveform`) and the MFCC of the augmented clips are
about two thirds of a training epoch's work, and neither depends on the weights. So
:class:`AugmentedEpochs` computes epoch :math:`e + 1`'s features in worker processes while the
trainer learns from epoch :math:`e`'s, and both cores stay busy.

What is computed never depends on how many workers compute it. The training clips are cut into fixed
blocks of :data:`BLOCK` clips, and block :math:`b` of epoch :math:`e` draws every random choice from a
generator of its own,

.. math::
   :label: pipeline-block-seed

   \text{rng}_{e, b} = \text{default\_rng}([\text{seed}, \text{STREAM}, e, b]),

then featurizes its clips in one batched call. A block's features are a function of
(seed, e, b) and the clips alone, so 0, 1 or 2 workers -- or a resumed run -- give bit-identical
epochs (a test). Workers are forked: they inherit the clips instead of receiving a copy, and where
``fork`` does not exist (Windows) the blocks are computed in the calling process, with the same
result.
"""
import concurrent.futures
import math
import multiprocessing
import os
import signal

import numpy as np

from minikws._validate import check_positive_int, check_seed
from minikws.augment import augment_waveform
from minikws.errors import MinikwsError

__all__ = ["AugmentedEpochs", "BLOCK", "augment_block", "default_workers"]

BLOCK = 64
"""Clips per block: the unit of randomness and of work (:eq:`pipeline-block-seed`)."""

_STREAM = 0x6175676D  # "augm": keeps the blocks' generators apart from the trainer's (seed, epoch) one

# What a forked worker inherits: set in the parent just before the pool starts, read in the child.
_SHARED = {}


MAX_WORKERS = 8
"""At most this many default workers: one training process consumes what about eight make."""


def default_workers():
    """Data workers to use: the CPUs this process may run on (``MINIKWS_THREADS`` when set), at most
    :data:`MAX_WORKERS`; or 0 when that is 1 (a one-core machine gains nothing from a worker: the
    blocks run in the calling process) or when the platform cannot fork."""
    value = os.environ.get("MINIKWS_THREADS", "").strip()
    if value:
        try:
            cpus = int(value)
        except ValueError:
            cpus = 0
        if cpus < 1:
            raise MinikwsError(f"MINIKWS_THREADS: expected a positive integer, got {value!r}")
    else:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return min(cpus, MAX_WORKERS)


def augment_block(audio, epoch, block, *, seed, sr, noises=()):
    """The augmented waveforms of block ``block`` of ``epoch`` (:eq:`pipeline-block-seed`).

    Parameters
    ----------
    audio : sequence of ndarray (S_n,)
        All training clips; the block is ``audio[block * BLOCK:(block + 1) * BLOCK]``.
    epoch, block : int
    seed : int
    sr : int
    noises : sequence of ndarray (S_noise,)

    Returns
    -------
    list of ndarray float32 (S_n,)
        :func:`~minikws.augment.augment_waveform` of each clip of the block, in order.
    """
    rng = np.random.default_rng([seed, _STREAM, int(epoch), int(block)])
    return [augment_waveform(y, rng, sr=sr, noises=noises) for y in audio[block * BLOCK:(block + 1) * BLOCK]]


def _block(job, epoch, b):
    """Block ``b`` of ``epoch``: its augmented waveforms, then their features in one batched call."""
    clips = augment_block(job["audio"], epoch, b, seed=job["seed"], sr=job["sr"], noises=job["noises"])
    return job["frontend"].featurize(clips, sr=job["sr"])


def _worker_block(key, epoch, b):
    return _block(_SHARED[key], epoch, b)


def _worker_init():
    # Ctrl-C reaches the whole process group: the training process handles it (and stops the workers);
    # a worker that took it too would print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class AugmentedEpochs:
    """Fresh features of the training clips for each epoch: ``epochs(e) -> list of ndarray (F_n, K)``.

    The ``augment`` argument of :meth:`minikws.train.Trainer.fit`. Calling it for epoch ``e`` returns
    that epoch's features (same order as ``audio``); the trainer then asks for epoch ``e + 1`` with
    :meth:`prefetch`, which the workers compute while epoch ``e`` trains. Close it (or use it in a
    ``with`` block) to stop the workers.

    Parameters
    ----------
    frontend : minikws.frontend.FrontEnd
        Turns the augmented clips into feature matrices (a model's ``frontend``).
    audio : sequence of ndarray (S_n,)
        The training clips, at ``sr``.
    sr : int
    noises : sequence of ndarray (S_noise,)
        Background noises mixed in by :func:`~minikws.augment.augment_waveform`.
    seed : int
        With the epoch and the block, fixes every random choice (:eq:`pipeline-block-seed`).
    workers : int, optional
        Worker processes; default :func:`default_workers`. 0 computes the blocks in the calling
        process, when asked for (no work ahead). Never changes the result.
    progress : callable, optional
        ``progress(total) -> bar``: a progress bar (``update(n)``, ``close()``) over the clips of an
        epoch, shown while a call waits for them.

    Examples
    --------
    >>> with AugmentedEpochs(model.frontend, clips, sr=16000, noises=noises, seed=0) as epochs:
    ...     trainer.fit(feats, labels, augment=epochs)          # doctest: +SKIP
    """

    def __init__(self, frontend, audio, *, sr, noises=(), seed=0, workers=None, progress=None):
        self._job = {"frontend": frontend, "audio": list(audio), "sr": check_positive_int("sr", sr),
                     "noises": [np.asarray(n, dtype=np.float32) for n in noises],
                     "seed": check_seed("seed", seed)}
        self.workers = default_workers() if workers is None else int(workers)
        if self.workers < 0:
            raise MinikwsError(f"workers: expected 0 or more, got {workers}")
        if self.workers and "fork" not in multiprocessing.get_all_start_methods():
            self.workers = 0
        self.blocks = math.ceil(len(self._job["audio"]) / BLOCK)
        self._progress = progress
        self._pool = None
        self._pending = {}  # epoch -> iterator over its blocks, in order

    def __len__(self):
        return len(self._job["audio"])

    # ------------------------------------------------------------------------------------ the work
    def _start(self, epoch):
        if self.workers == 0 or epoch in self._pending:
            return
        if self._pool is None:
            # Forked workers inherit the job through this module's _SHARED (never pickled); a worker
            # that dies (killed, out of memory) breaks the pool, and the waiting call says so.
            self._key = id(self)
            _SHARED[self._key] = self._job
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
        self._pending[epoch] = [self._pool.submit(_worker_block, self._key, epoch, b)
                                for b in range(self.blocks)]

    def _collect(self, futures):
        for future in futures:
            try:
                yield future.result()
            except concurrent.futures.process.BrokenProcessPool:
                self.close()
                raise MinikwsError("data workers: a worker process died (killed, or out of memory?); "
                                   "MINIKWS_THREADS=1 makes the data in the training process") from None

    def __call__(self, epoch):
        """Features of ``epoch`` (0-based): waits for the workers if :meth:`prefetch` started it."""
        epoch = int(epoch)
        if self.workers == 0:
            blocks = (_block(self._job, epoch, b) for b in range(self.blocks))
        else:
            self._start(epoch)
            for stale in [e for e in self._pending if e < epoch]:
                self._cancel(self._pending.pop(stale))  # a resumed or restarted run skipped it
            blocks = self._collect(self._pending.pop(epoch))
        bar = self._progress(len(self)) if self._progress is not None else None
        feats = []
        try:
            for block in blocks:
                feats.extend(block)
                if bar is not None:
                    bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
        return feats

    def prefetch(self, epoch):
        """Start computing ``epoch``'s features in the workers, to be collected by calling for it
        (:meth:`minikws.train.Trainer.train_epoch` does so for the next epoch before it trains).
        Nothing happens without workers."""
        self._start(int(epoch))

    @staticmethod
    def _cancel(futures):
        for future in futures:
            future.cancel()

    def close(self):
        """Stop the worker processes (idempotent); work not yet collected is dropped."""
        for futures in self._pending.values():
            self._cancel(futures)
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            _SHARED.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
