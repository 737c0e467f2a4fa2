r"""The keyword-spotting model: front end -> normalisation -> stacked LSTM -> Linear -> softmax.

This is the article's section 4.2 network (two LSTM layers, a fully connected layer and a softmax) as
one object that also holds what is needed to use it on audio: its :class:`~minikws.frontend.FrontEnd`
(sample rate, MFCC settings, running CMN), the label set and the per-coefficient normalisation
statistics measured on the training data.

Shape legend: T time steps (= F feature frames), B batch, K cepstral coefficients (the LSTM's input
size D), H hidden units, C classes.

The features :math:`x_t` are a clip's MFCC frames after the causal cepstral mean normalisation of
eq. :eq:`mfcc-cmn-running`, computed by the front end (:meth:`KWSModel.featurize`; ``cmn_window=0``
turns it off). The article
feeds raw MFCCs; subtracting a running mean removes what a voice's timbre and a microphone add to every
frame alike, so that voices never heard in training look more like those that were. For a batch of
feature sequences :math:`x_{1..T}` (padded to the longest clip) the model computes

.. math::
   :label: kws-model

   \tilde x_t = (x_t - \mu) / \sigma, \qquad
   h^{(1)}_t = \mathrm{LSTM}_1(\tilde x_t, h^{(1)}_{t-1}), \; \ldots, \;
   h^{(L)}_t = \mathrm{LSTM}_L(h^{(L-1)}_t, h^{(L)}_{t-1}), \qquad
   z_t = W^\top \mathrm{dropout}(h^{(L)}_t) + b, \qquad p_t = \mathrm{softmax}(z_t)

with :math:`\mu, \sigma` (K,) the per-coefficient mean and standard deviation of the training frames.
Every frame has logits :math:`z_t` (:meth:`KWSModel.forward_frames`: per-frame tags, streaming); the
clip's label is read at its last valid frame, :math:`z_{\ell_b}` for a clip of :math:`\ell_b` frames
(:meth:`KWSModel.forward`). The LSTM is causal, so the padding after frame :math:`\ell_b` cannot change
that output.
"""
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_positive_int, check_real, check_seed
from minikws.defaults import DEFAULTS
from minikws.errors import MinikwsError
from minikws.frontend import FrontEnd, default_feature_settings
from minikws.nn import LSTM, Linear
from minikws.nn.layers import dropout_backward, dropout_forward
from minikws.nn.losses import softmax, softmax_cross_entropy

__all__ = [
    "default_feature_settings",
    "KWSCache",
    "KWSModel",
    "last_valid_frame",
]


def last_valid_frame(x, lengths):
    r"""Each sequence's value at its last valid frame: ``x[lengths[b] - 1, b]`` for every b.

    The model reads a clip's label at the clip's last frame, :math:`z_{\ell_b}` in :eq:`kws-model`;
    the frames after it are padding.

    Parameters
    ----------
    x : ndarray (T, B, ...)
        Time-major values, e.g. hidden states (T, B, H) or per-frame logits (T, B, C).
    lengths : ndarray of int (B,)
        Valid frames per sequence, 1 <= lengths[b] <= T.

    Returns
    -------
    ndarray (B, ...)

    Notes
    -----
    A pure function of arrays (chapter 6's exercise ``06.last_frame_logits`` asks for it).
    """
    x = np.asarray(x)
    if x.ndim < 2:
        raise MinikwsError(f"x: expected shape (T, B, ...), got {x.shape}")
    T, B = x.shape[:2]
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise MinikwsError(f"lengths: expected {B} integers, got {lengths.dtype} shape {lengths.shape}")
    if B and (lengths.min() < 1 or lengths.max() > T):
        raise MinikwsError(f"lengths: each must lie in [1, T={T}], got [{lengths.min()}, {lengths.max()}]")
    return x[lengths - 1, np.arange(B)]


class KWSCache(NamedTuple):
    """What the backward methods of :class:`KWSModel` need from the forward ones.

    T, B (ints) the LSTM's output shape; drop (DropoutCache) of the dropout before the Linear layer;
    lengths (B,) valid frames of each clip, or None for a frame-level forward.
    """

    T: int
    B: int
    drop: object
    lengths: object


class KWSModel:
    """Front end -> normalisation -> LSTM x num_layers -> Linear -> softmax, with its settings.

    Parameters
    ----------
    classes : sequence of str
        The label set, C >= 2 names in class-index order.
    sr, features, cmn_window
        The front end's settings (:class:`~minikws.frontend.FrontEnd`): the sample rate the model
        listens at (other rates are resampled by :meth:`predict_proba`), the MFCC keywords (default
        :func:`~minikws.frontend.default_feature_settings`) and the running CMN's window W in frames
        (eq. :eq:`mfcc-cmn-running`; 0 turns it off).
    frontend : FrontEnd, optional
        A front end to use instead of building one from ``sr``, ``features``, ``cmn_window`` (which must
        then be left out); its dtype must be the model's.
    hidden_size : int
        H, units per LSTM layer.
    num_layers : int
        Stacked LSTM layers (the article uses 2).
    dropout : float
        Dropout probability between LSTM layers and before the Linear layer, in training only.
    dtype : numpy dtype
        float32 (default; fast) or float64 (gradient checks).
    seed : int
        Seed of the weight initialisation.
    backend : {"auto", "numpy", "cython"}
        Which LSTM implementation runs (see :mod:`minikws._backend`).

    Attributes
    ----------
    frontend : FrontEnd
    sr, features, cmn_window
        The front end's (read-only).
    mean, std : ndarray (K,)
        Normalisation statistics (0 and 1 until :meth:`fit_normalization`).
    lstm : minikws.nn.LSTM
    fc : minikws.nn.Linear
        Params "W" (H, C) and "b" (C,).
    """

    def __init__(self, *, classes, sr=None, features=None, cmn_window=None, frontend=None,
                 hidden_size=DEFAULTS.hidden_size, num_layers=DEFAULTS.num_layers, dropout=DEFAULTS.dropout,
                 dtype=np.float32, seed=DEFAULTS.seed, backend="auto"):
        classes = tuple(classes)
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
            raise MinikwsError(f"classes: expected at least 2 non-empty names, got {classes!r}")
        if len(set(classes)) != len(classes):
            raise MinikwsError(f"classes: names must be unique, got {classes!r}")
        self.classes = classes
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise MinikwsError(f"dtype: expected float32 or float64, got {self.dtype}")
        if frontend is None:
            frontend = FrontEnd(sr=DEFAULTS.sr if sr is None else sr, features=features,
                                cmn_window=DEFAULTS.cmn_window if cmn_window is None else cmn_window,
                                dtype=self.dtype)
        elif not isinstance(frontend, FrontEnd):
            raise MinikwsError(
                f"frontend: expected a minikws.frontend.FrontEnd, got {type(frontend).__name__}")
        elif sr is not None or features is not None or cmn_window is not None:
            raise MinikwsError("frontend: give either a FrontEnd or sr/features/cmn_window, not both")
        elif frontend.dtype != self.dtype:
            raise MinikwsError(f"frontend: its dtype {frontend.dtype} differs from the model's {self.dtype}")
        self.frontend = frontend
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.seed = check_seed("seed", seed)
        self.backend = backend
        K = frontend.num_coefficients
        rng = np.random.default_rng([self.seed, 0x5EED])
        self.lstm = LSTM(K, self.hidden_size, num_layers=self.num_layers, dropout=self.dropout,
                         dtype=self.dtype, rng=rng, backend=backend)
        self.fc = Linear(self.hidden_size, len(classes), dtype=self.dtype, rng=rng)
        self.mean = np.zeros(K, dtype=self.dtype)
        self.std = np.ones(K, dtype=self.dtype)

    # ----------------------------------------------------------------------------------- settings
    @property
    def sr(self):
        return self.frontend.sr

    @property
    def features(self):
        return self.frontend.features

    @property
    def cmn_window(self):
        return self.frontend.cmn_window

    @property
    def num_classes(self):
        return len(self.classes)

    def get_config(self):
        """The settings that rebuild this model (JSON-serialisable dict; the front end's under
        ``"frontend"``, model file format 3); weights are in state_dict()."""
        return {"classes": list(self.classes), "frontend": self.frontend.get_config(),
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "dropout": self.dropout,
                "dtype": self.dtype.name, "seed": self.seed}

    @classmethod
    def from_config(cls, config, *, backend="auto"):
        """Build an (untrained) model from :meth:`get_config`'s dict, validating every field."""
        if not isinstance(config, dict):
            raise MinikwsError("model config: expected a JSON object")
        needed = ("classes", "frontend", "hidden_size", "num_layers", "dropout", "dtype", "seed")
        missing = [k for k in needed if k not in config]
        if missing:
            raise MinikwsError(f"model config: missing {missing}")
        if config["dtype"] not in ("float32", "float64"):
            raise MinikwsError(f"model config: dtype must be float32 or float64, got {config['dtype']!r}")
        if not isinstance(config["classes"], list):
            raise MinikwsError("model config: classes must be a list of names")
        dtype = np.dtype(config["dtype"])
        return cls(classes=config["classes"], frontend=FrontEnd.from_config(config["frontend"], dtype=dtype),
                   hidden_size=config["hidden_size"], num_layers=config["num_layers"],
                   dropout=config["dropout"], dtype=dtype, seed=config["seed"], backend=backend)

    # ---------------------------------------------------------------------------------- parameters
    @property
    def params(self):
        """Trainable arrays by name ("lstm.l0.Wx", ..., "fc.W", "fc.b"); the model's own arrays, so an
        optimizer (or a pruning/quantisation step) that changes them in place changes the model."""
        out = {f"lstm.{k}": v for k, v in self.lstm.params.items()}
        out.update({f"fc.{k}": v for k, v in self.fc.params.items()})
        return out

    @property
    def grads(self):
        """Gradients with the keys of :attr:`params`, accumulated by the backward methods."""
        out = {f"lstm.{k}": v for k, v in self.lstm.grads.items()}
        out.update({f"fc.{k}": v for k, v in self.fc.grads.items()})
        return out

    def zero_grad(self):
        self.lstm.zero_grad()
        self.fc.zero_grad()

    def num_parameters(self):
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self):
        """Copies of every array that defines the trained model: params plus "norm.mean", "norm.std"."""
        out = {k: v.copy() for k, v in self.params.items()}
        out["norm.mean"] = self.mean.copy()
        out["norm.std"] = self.std.copy()
        return out

    def load_state_dict(self, state):
        """Copy arrays from :meth:`state_dict` into the model, in place (an optimizer holding the
        params keeps working). Names, shapes, dtypes and finiteness are checked first; nothing is
        changed unless all are right."""
        target = self.params
        target["norm.mean"] = self.mean
        target["norm.std"] = self.std
        missing = sorted(set(target) - set(state))
        extra = sorted(set(state) - set(target))
        if missing or extra:
            raise MinikwsError(f"state: missing arrays {missing}, unexpected arrays {extra}")
        for name, dst in target.items():
            src = state[name]
            if not isinstance(src, np.ndarray) or src.shape != dst.shape or src.dtype != dst.dtype:
                got = (getattr(src, "shape", None), getattr(src, "dtype", type(src).__name__))
                raise MinikwsError(
                    f"state[{name!r}]: expected shape {dst.shape} dtype {dst.dtype}, got {got[0]} {got[1]}")
            if not np.isfinite(src).all():
                raise MinikwsError(f"state[{name!r}]: contains NaN or infinite values")
        if not (state["norm.std"] > 0).all():
            raise MinikwsError("state['norm.std']: standard deviations must be positive")
        for name, dst in target.items():
            np.copyto(dst, state[name])

    # ------------------------------------------------------------------------------------ features
    def featurize(self, waveforms, *, sr=None):
        """The front end's feature frames of each clip, list of (F_b, K) in the model's dtype: see
        :meth:`minikws.frontend.FrontEnd.featurize` (MFCC, then the running CMN; not standardised, which
        :meth:`forward_frames` does)."""
        return self.frontend.featurize(waveforms, sr=sr)

    def fit_normalization(self, feats):
        """Set :attr:`mean` and :attr:`std` from training feature matrices (every frame counts once).

        Parameters
        ----------
        feats : sequence of ndarray (F_b, K)
        """
        if not len(feats):
            raise MinikwsError("feats: no training clips to measure the normalisation on")
        frames = np.concatenate([np.asarray(f, dtype=np.float64) for f in feats], axis=0)
        if frames.ndim != 2 or frames.shape[1] != self.mean.shape[0]:
            raise MinikwsError(f"feats: expected matrices (F, {self.mean.shape[0]}), got {frames.shape[1:]}")
        self.mean[...] = frames.mean(axis=0)
        self.std[...] = np.maximum(frames.std(axis=0), 1e-5)  # a constant coefficient must not divide by 0

    @staticmethod
    def pad(feats, dtype=None):
        """Stack feature matrices of different lengths time-major, zero-padded.

        Parameters
        ----------
        feats : sequence of ndarray (F_b, K)

        Returns
        -------
        x : ndarray (T, B, K)
            T = max F_b; frames past a clip's end are 0.
        lengths : ndarray of int64 (B,)
        """
        lengths = np.array([f.shape[0] for f in feats], dtype=np.int64)
        K = feats[0].shape[1]
        x = np.zeros((int(lengths.max()), len(feats), K), dtype=dtype or feats[0].dtype)
        for b, f in enumerate(feats):
            x[: f.shape[0], b] = f
        return x, lengths

    # ---------------------------------------------------------------------------- forward/backward
    def _check_x(self, x):
        check_float_array("x", x, ndim=3)
        if x.dtype != self.dtype:
            raise MinikwsError(f"x: expected dtype {self.dtype} (the model's), got {x.dtype}")
        if x.shape[2] != self.mean.shape[0]:
            raise MinikwsError(f"x: expected (T, B, K={self.mean.shape[0]}), got shape {x.shape}")

    def _encode(self, x, state, train, rng):
        """Normalise and run the LSTM stack: (T, B, K) -> h (T, B, H), final state."""
        self._check_x(x)
        use_dropout = train and self.dropout > 0
        if use_dropout and not isinstance(rng, np.random.Generator):
            raise MinikwsError("rng: training with dropout needs an explicit numpy.random.Generator")
        if use_dropout:
            self.lstm.rng = rng  # the stack draws its inter-layer dropout masks from its rng attribute
        xn = (x - self.mean) / self.std
        return self.lstm.forward(xn, state=state, train=use_dropout)

    def _head(self, h, train, rng):
        h, drop = dropout_forward(h, self.dropout, rng, train=train and self.dropout > 0)
        return self.fc.forward(h), drop

    def forward_frames(self, x, *, state=None, train=False, rng=None):
        """Logits for every frame, eq. :eq:`kws-model` (frame tags; :class:`minikws.streaming.Stream`
        gives the same logits from audio fed in chunks).

        Parameters
        ----------
        x : ndarray (T, B, K)
            Feature frames as :meth:`featurize` returns them (not standardised), in the model's dtype.
        state : list of (h, c), optional
            Per-layer LSTM states (B, H) to start from (streaming); zeros if None.
        train : bool
            Apply dropout (needs ``rng``).
        rng : numpy.random.Generator, optional
            Source of the dropout masks when ``train`` and ``dropout > 0``.

        Returns
        -------
        logits : ndarray (T, B, C)
        state : list of (h, c)
            Final per-layer states, to continue with the next chunk.
        cache : KWSCache
        """
        h, state = self._encode(x, state, train, rng)
        logits, drop = self._head(h, train, rng)
        return logits, state, KWSCache(x.shape[0], x.shape[1], drop, None)

    def backward_frames(self, dlogits, cache):
        """Back-propagate per-frame logit gradients (T, B, C); accumulates into :attr:`grads`.

        Returns
        -------
        dx : ndarray (T, B, K)
            Gradient with respect to the raw input frames (through the normalisation).
        """
        dh = dropout_backward(self.fc.backward(dlogits), cache.drop)
        return self.lstm.backward(dh) / self.std

    def forward(self, x, lengths, *, train=False, rng=None):
        """Utterance logits, read at each clip's last valid frame.

        Parameters
        ----------
        x : ndarray (T, B, K)
            Zero-padded feature frames (:meth:`featurize`).
        lengths : ndarray of int (B,)
            Valid frames per clip, 1 <= lengths[b] <= T.
        train, rng
            As :meth:`forward_frames`.

        Returns
        -------
        logits : ndarray (B, C)
            :math:`z_{\\ell_b}` for every clip b.
        cache : KWSCache
        """
        self._check_x(x)
        T, B, _ = x.shape
        lengths = np.asarray(lengths)
        if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
            raise MinikwsError(f"lengths: expected {B} integers, got {lengths.dtype} shape {lengths.shape}")
        if lengths.min() < 1 or lengths.max() > T:
            raise MinikwsError(f"lengths: each must lie in [1, T={T}], got [{lengths.min()}, {lengths.max()}]")
        # The LSTM is causal: running it past a clip's end cannot change h at the clip's last frame.
        h, _ = self._encode(x, None, train, rng)
        h_last = last_valid_frame(h, lengths)  # (B, H)
        logits, drop = self._head(h_last, train, rng)
        return logits, KWSCache(T, B, drop, lengths)

    def backward(self, dlogits, cache):
        """Back-propagate utterance logit gradients (B, C) from :meth:`forward`; accumulates grads.

        Returns
        -------
        dx : ndarray (T, B, K)
        """
        dh_last = dropout_backward(self.fc.backward(dlogits), cache.drop)
        dh = np.zeros((cache.T, cache.B, self.hidden_size), dtype=dh_last.dtype)
        dh[cache.lengths - 1, np.arange(cache.B)] = dh_last  # only the read-out frame receives gradient
        return self.lstm.backward(dh) / self.std

    def loss(self, x, lengths, targets, *, train=False, rng=None):
        """Mean softmax cross-entropy of the utterance logits -> (loss, logits (B, C), dlogits, cache)."""
        logits, cache = self.forward(x, lengths, train=train, rng=rng)
        loss, dlogits = softmax_cross_entropy(logits, np.asarray(targets, dtype=np.int64))
        return loss, logits, dlogits, cache

    # ------------------------------------------------------------------------------------ inference
    def predict_proba(self, waveforms, *, sr=None, batch_size=64):
        """Class probabilities for clips of any length and sample rate.

        Parameters
        ----------
        waveforms : ndarray (S,) or sequence of ndarray (S_b,)
        sr : int, optional
            Their sample rate (default: the model's); others are resampled.
        batch_size : int
            Clips per forward pass (clips are grouped by length to waste little padding).

        Returns
        -------
        ndarray (B, C)
            Rows sum to 1; row b for clip b, columns in the order of :attr:`classes`.
        """
        feats = self.featurize(waveforms, sr=sr)
        return self.predict_proba_features(feats, batch_size=batch_size)

    def logits_features(self, feats, *, batch_size=64):
        """Utterance logits from feature matrices (F_b, K) of :meth:`featurize` -> (B, C).

        Clips are sorted by length and run ``batch_size`` at a time, so that little padding is wasted;
        row b is clip b's :math:`z_{\\ell_b}` whatever batch it ran in.
        """
        batch_size = check_positive_int("batch_size", batch_size)
        order = np.argsort([f.shape[0] for f in feats], kind="stable")
        out = np.zeros((len(feats), self.num_classes), dtype=self.dtype)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, lengths = self.pad([feats[i] for i in idx], dtype=self.dtype)
            out[idx], _ = self.forward(x, lengths, train=False)
        return out

    def predict_proba_features(self, feats, *, batch_size=64):
        """Class probabilities from feature matrices (F_b, K) of :meth:`featurize` -> (B, C)."""
        return softmax(self.logits_features(feats, batch_size=batch_size), axis=-1)

    def predict(self, waveforms, *, sr=None):
        """Most probable class index of each clip -> ndarray of int64 (B,)."""
        return np.argmax(self.predict_proba(waveforms, sr=sr), axis=1)

    def __repr__(self):
        return (f"KWSModel(classes={len(self.classes)}, sr={self.sr}, K={self.mean.shape[0]}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"params={self.num_parameters()}, dtype={self.dtype.name})")
