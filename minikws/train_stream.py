r"""Training a frame tagger on continuous streams, and scoring it as a keyword detector.

The clip task (:mod:`minikws.train`) reads one label at a clip's last frame; the stream task gives
every frame a tag (the article's section 5.2: ``O`` / ``command`` / ``stop``, or one tag per keyword,
:func:`minikws.datasets.tag_names`) and trains on the masked frame cross-entropy
:eq:`softmax-ce` over segments of long recordings:

    stream features -> random segments of ``segment`` seconds -> model.forward_frames (T, B, C)
    -> masked softmax cross-entropy -> model.backward_frames -> clip the gradient norm
    -> warm-up + cosine learning rate -> AdamW step.

It reuses the clip trainer's pieces (:class:`minikws.optim.AdamW`, :func:`minikws.optim.clip_grad_norm`,
:func:`minikws.optim.warmup_cosine_lr`); the best epoch is the one with the lowest masked frame loss
on the validation streams.

Reproducibility: epoch e draws its segment offsets, batch order and dropout masks from
``default_rng([seed, e])``.

Shape legend: T frames, B batch (segments), K coefficients, C tags.
"""
import math
import sys
import time
from typing import NamedTuple

import numpy as np

from minikws._validate import check_positive_int, check_real
from minikws.defaults import DEFAULTS
from minikws.errors import MinikwsError

__all__ = ["StreamTrainConfig", "frame_end_times", "stream_targets", "segment_batches",
           "train_stream_model", "stream_posteriors", "evaluate_streams", "StreamEvaluation"]


# The thresholds of a DET sweep: coarse over the range, fine near 1, where the rare false alarms are
# (a confident tagger's false alarms on sound-alikes reach 0.995: the sweep runs to 0.9995).
THRESHOLDS = tuple(np.round(np.linspace(0.05, 0.95, 19), 3)) + (0.97, 0.98, 0.99, 0.995, 0.998, 0.999,
                                                                 0.9995)


class StreamTrainConfig(NamedTuple):
    """Settings of a stream-training run: epochs, batch_size (segments per step), segment (seconds
    per segment), lr, weight_decay, warmup_epochs, min_lr_ratio, clip_norm, placement, span and tail
    (where the keyword tags go, :func:`minikws.datasets.frame_targets`; tail None: ``span / 2``),
    seed, context (seconds run ahead of each segment, out of the loss, :func:`segment_batches`)."""

    epochs: int = 12
    batch_size: int = 16
    segment: float = 4.0
    lr: float = DEFAULTS.lr
    weight_decay: float = DEFAULTS.weight_decay
    warmup_epochs: float = DEFAULTS.warmup_epochs
    min_lr_ratio: float = DEFAULTS.min_lr_ratio
    clip_norm: float = DEFAULTS.clip_norm
    placement: str = "end"
    span: float = 0.2
    tail: float = None
    seed: int = 0
    context: float = 0.0

    def check(self):
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_real("segment", self.segment, low=0.2)
        if self.tail is not None:
            check_real("tail", self.tail, low=0.0)
        check_real("lr", self.lr, low=1e-12)
        for name in ("weight_decay", "warmup_epochs", "min_lr_ratio", "clip_norm", "span", "context"):
            check_real(name, getattr(self, name), low=0.0)
        check_positive_int("seed", self.seed, minimum=0)
        return self


def frame_end_times(model, n_frames):
    """The time of frame t's last sample, seconds, for t < ``n_frames`` (F,).

    The front end centres frame t on sample ``t * hop`` (it starts with ``n_fft // 2`` samples of
    padding), so the frame ends at sample ``t * hop + n_fft // 2``.
    """
    hop, n_fft = model.features["hop_length"], model.features["n_fft"]
    return (np.arange(n_frames) * hop + n_fft // 2) / model.sr


def stream_targets(model, feats, words, *, keywords, tags, placement, span, tail=None):
    """Frame tags and masks of each stream: lists of int64 (F_i,) and bool (F_i,)."""
    from minikws.datasets import frame_targets

    out_t, out_m = [], []
    for f, ws in zip(feats, words):
        t, m = frame_targets(ws, frame_end=frame_end_times(model, f.shape[0]), keywords=keywords,
                             tags=tags, placement=placement, span=span, tail=tail)
        out_t.append(t)
        out_m.append(m)
    return out_t, out_m


def segment_batches(lengths, *, segment, batch_size, rng, context=0):
    """Cut streams of ``lengths`` frames into segments of at most ``segment`` frames at a random
    phase, shuffled into batches: a list of lists of (stream, first frame, frames, context). Every
    frame of every stream lies in exactly one segment.

    ``context`` frames before a segment's first frame (fewer at the stream's start) are run through
    the LSTM ahead of it, out of the loss: a segment starts from a zero state, so without them a keyword
    cut by the segment's start would be tagged at frames whose state never heard the word (and every
    segment's first frames would be learnt without their past). Each segment runs ``context + frames``
    frames; the loss counts its ``frames``.
    """
    context = check_positive_int("context", context, minimum=0)
    pieces = []
    for i, L in enumerate(lengths):
        L = int(L)
        offset = int(rng.integers(0, segment)) if L > segment else 0
        cuts = ([0] if offset else []) + list(range(offset, L, segment)) + [L]
        pieces += [(i, a, b - a, min(context, a)) for a, b in zip(cuts[:-1], cuts[1:])]
    order = rng.permutation(len(pieces))
    return [[pieces[j] for j in order[k:k + batch_size]] for k in range(0, len(order), batch_size)]


def _batch(feats, targets, masks, batch, dtype):
    """(T, B, K) frames, (T, B) targets and mask for a batch of segments, each with its context frames
    first (masked out of the loss), zero-padded and masked."""
    T, B, K = max(c + n for _, _, n, c in batch), len(batch), feats[0].shape[1]
    x = np.zeros((T, B, K), dtype=dtype)
    y = np.zeros((T, B), dtype=np.int64)
    m = np.zeros((T, B), dtype=bool)
    for b, (i, s, n, c) in enumerate(batch):
        x[:c + n, b] = feats[i][s - c:s + n]
        y[c:c + n, b] = targets[i][s:s + n]
        m[c:c + n, b] = masks[i][s:s + n]
    return x, y, m


def _frame_loss(model, feats, targets, masks, segment):
    """Mean masked frame cross-entropy over whole streams (no dropout), in segments of ``segment``
    frames carried through the LSTM state."""
    from minikws.nn.losses import softmax_cross_entropy

    total, count = 0.0, 0
    for f, t, m in zip(feats, targets, masks):
        state = None
        for s in range(0, f.shape[0], segment):
            logits, state, _ = model.forward_frames(f[s:s + segment, None, :], state=state)
            n = int(m[s:s + segment].sum())
            if n:
                loss, _ = softmax_cross_entropy(logits, t[s:s + segment, None],
                                                m[s:s + segment, None])
                total += loss * n
                count += n
    return total / max(count, 1)


def train_stream_model(streams, *, tags="words", head="softmax", config=None, hidden_size=64,
                       num_layers=2, dropout=0.3, cmn_window=100, features=None, dtype=np.float32,
                       backend="auto", log=None):
    """Build a frame tagger for a :class:`minikws.datasets.StreamSet` and train it on its splits.

    Parameters
    ----------
    streams : StreamSet
        Its ``train`` streams are learnt from; its ``validation`` streams pick the best epoch.
    tags : {"words", "article"}
    head : {"softmax", "feedback"}
        The per-frame softmax, or the article's output-feedback head (trained free-running).
    config : StreamTrainConfig, optional
    hidden_size, num_layers, dropout, cmn_window, features, dtype, backend
        The model's settings (:class:`minikws.models.KWSModel`).
    log : callable, optional
        Receives one line per epoch (default: stderr).

    Returns
    -------
    model : KWSModel
        ``task="stream"``, its classes the tags; the best epoch's weights.
    history : dict of str -> list
        ``epoch``, ``train_loss``, ``val_loss``, ``lr``, ``seconds``.
    """
    from minikws.datasets import tag_names
    from minikws.models import KWSModel
    from minikws.nn.losses import softmax_cross_entropy
    from minikws.optim import AdamW, clip_grad_norm, warmup_cosine_lr

    c = (config or StreamTrainConfig()).check()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    train, val = streams.split("train"), streams.split("validation")
    if not train.audio:
        raise MinikwsError("data: no training streams")
    model = KWSModel(classes=tag_names(streams.keywords, tags), sr=streams.sr, features=features,
                     cmn_window=cmn_window, hidden_size=hidden_size, num_layers=num_layers,
                     dropout=dropout, dtype=dtype, seed=c.seed, backend=backend,
                     **_stream_options(streams.keywords, tags, head))
    ftrain = model.featurize(train.audio)
    ttrain, mtrain = stream_targets(model, ftrain, train.words, keywords=streams.keywords, tags=tags,
                                    placement=c.placement, span=c.span, tail=c.tail)
    fval = model.featurize(val.audio) if val.audio else []
    tval, mval = stream_targets(model, fval, val.words, keywords=streams.keywords, tags=tags,
                                placement=c.placement, span=c.span, tail=c.tail)
    model.fit_normalization(ftrain)
    hop_s = model.features["hop_length"] / model.sr
    segment = max(1, int(round(c.segment / hop_s)))
    context = int(round(c.context / hop_s))
    lengths = [f.shape[0] for f in ftrain]
    steps = len(segment_batches(lengths, segment=segment, batch_size=c.batch_size,
                                rng=np.random.default_rng([c.seed, 0])))
    total_steps = c.epochs * steps
    warmup = min(int(round(c.warmup_epochs * steps)), total_steps - 1)
    opt = AdamW(model.params, lr=c.lr, weight_decay=c.weight_decay)
    history = {k: [] for k in ("epoch", "train_loss", "val_loss", "lr", "seconds")}
    best, best_state, step = math.inf, None, 0
    for epoch in range(c.epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([c.seed, epoch])
        total, seen = 0.0, 0
        for batch in segment_batches(lengths, segment=segment, batch_size=c.batch_size, rng=rng,
                                     context=context):
            x, y, m = _batch(ftrain, ttrain, mtrain, batch, model.dtype)
            if not m.any():
                continue
            model.zero_grad()
            logits, _, cache = model.forward_frames(x, train=True, rng=rng)
            loss, dlogits = softmax_cross_entropy(logits, y, m)
            model.backward_frames(dlogits, cache)
            grads = model.grads
            if c.clip_norm > 0:
                clip_grad_norm(grads, c.clip_norm)
            opt.lr = warmup_cosine_lr(min(step, total_steps - 1), base_lr=c.lr, total_steps=total_steps,
                                      warmup_steps=warmup, min_lr=c.lr * c.min_lr_ratio)
            opt.step(grads)
            step += 1
            total += loss * int(m.sum())
            seen += int(m.sum())
        train_loss = total / max(seen, 1)
        val_loss = _frame_loss(model, fval, tval, mval, segment) if fval else None
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["lr"].append(float(opt.lr))
        history["seconds"].append(time.perf_counter() - t0)
        score = val_loss if val_loss is not None else train_loss
        if score < best:
            best, best_state = score, model.state_dict()
        log(f"epoch {epoch + 1:>3}/{c.epochs}  frame loss {train_loss:.4f}"
            + (f"  val {val_loss:.4f}" if val_loss is not None else "")
            + f"  lr {opt.lr:.2e}  {history['seconds'][-1]:.1f}s")
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


def _stream_options(keywords, tags, head):
    """The KWSModel keywords that make it a stream model (task, tag set, head, keywords)."""
    return {"task": "stream", "tags": tags, "head": head, "keywords": tuple(keywords)}


def stream_posteriors(model, audio, *, sr=None):
    """Per-frame tag posteriors of whole recordings, offline: list of (F_i, C) float32."""
    from minikws.nn.losses import softmax

    out = []
    for f in model.featurize(list(audio), sr=sr):
        logits, _, _ = model.forward_frames(f[:, None, :])
        out.append(softmax(logits[:, 0].astype(np.float64)).astype(np.float32))
    return out


class StreamEvaluation(NamedTuple):
    """scores (metrics.DetectionScores at the operating point), curve (metrics.DetCurve), threshold
    (the operating point's), posteriors (list of (F_i, C))."""

    scores: object
    curve: object
    threshold: float
    posteriors: list


def evaluate_streams(model, streams, *, thresholds=None, fa_per_hour=1.0, posteriors=None,
                     **detector):
    """Score a stream model as a detector on a StreamSet: the DET curve over ``thresholds`` and the
    scores at the lowest threshold with at most ``fa_per_hour`` false alarms per hour of audio."""
    from minikws.datasets import word_tags
    from minikws.detection import detect_sweep
    from minikws.metrics import det_curve, match_detections, operating_point

    probs = posteriors if posteriors is not None else stream_posteriors(model, streams.audio,
                                                                        sr=streams.sr)
    durations = [len(y) / streams.sr for y in streams.audio]
    offsets = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    truth = [w._replace(start=w.start + o, end=w.end + o)
             for ws, o in zip(streams.words, offsets) for w in ws]
    settings = dict(classes=model.classes, frame_shift=model.features["hop_length"] / model.sr,
                    frame_delay=(model.features["n_fft"] // 2) / model.sr, **detector)
    thresholds = THRESHOLDS if thresholds is None else thresholds
    runs = detect_sweep(probs, thresholds, offsets=offsets, **settings)
    keywords = model.classes[1:]
    label_map = word_tags(streams.keywords, model.tags)
    total = float(sum(durations))
    curve = det_curve(lambda th: runs[th], truth, keywords=keywords, duration=total,
                      thresholds=thresholds, label_map=label_map)
    i, th, _ = operating_point(curve, fa_per_hour)
    th = float(curve.thresholds[-1]) if i is None else th
    scores = match_detections(runs[th], truth, keywords=keywords, duration=total, label_map=label_map)
    return StreamEvaluation(scores, curve, th, probs)
