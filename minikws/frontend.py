r"""The front end: audio -> feature frames, for whole clips and for streams through the same code.

A :class:`FrontEnd` owns what turns samples into the network's input: the sample rate, the MFCC
settings (:func:`default_feature_settings`) and the causal cepstral mean normalisation of
eq. :eq:`mfcc-cmn-running`. :meth:`FrontEnd.featurize` turns clips into (F, K) matrices for training
and prediction; :meth:`FrontEnd.push` and :meth:`FrontEnd.flush` turn a stream of chunks into the same
frames as they become computable, carrying a :class:`FrontEndState` between calls.

Why the two paths agree. A clip's frame :math:`t` is the MFCC of padded samples
:math:`[t h, t h + N)` (hop :math:`h`, FFT size :math:`N`) of the clip with :math:`N/2` zeros before and
after it (centre padding, eq. :eq:`mfcc-frame`); its log is floored at an absolute level
(eq. :eq:`frontend-log-floor`), so it depends on those :math:`N` samples only; and the running mean
depends on frames :math:`\le t` only. A stream starts with the :math:`N/2` zeros in its pending
samples, computes frame :math:`t` as soon as sample :math:`t h + N` of the padded signal has arrived,
keeps the samples that later frames still need, and :meth:`FrontEnd.flush` appends the final
:math:`N/2` zeros. Each frame therefore sees exactly the samples it sees in the clip path, through the
same MFCC function, and the mean carried in the state is the clip path's mean: the frames agree to
float rounding (the MFCC runs on blocks of other sizes, the mean is carried rather than summed).

The floor. librosa-style MFCCs floor the dB mel energies at ``top_db`` below the clip's loudest
value, which a stream cannot know until the clip has ended. The front end floors at a fixed level
instead:

.. math::
   :label: frontend-log-floor

   L_{t,m} = 10 \log_{10} \max\bigl(a, E_{t,m}\bigr), \qquad a = 10^{\ell / 10},

with :math:`E_{t,m}` the mel energies of samples in [-1, 1] and :math:`\ell` =
``DEFAULTS.log_floor_db`` (-80 dB: where the per-clip floor lies for a clip whose loudest mel energy is
0 dB, the median of the synthesized set). It is :func:`minikws.features.mfcc` with ``top_db=None`` and
``amin`` = :math:`a`. A front end built with a ``top_db`` (models saved in file format 1 or 2) keeps
featurizing clips as it was trained, but cannot stream (:attr:`FrontEnd.streamable` is False).

Shape legend: S samples, B clips, F feature frames, K cepstral coefficients.
"""
import inspect
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_positive_int
from minikws.audio import resample
from minikws.defaults import DEFAULTS
from minikws.errors import MinikwsError
from minikws.features import mfcc_batch as _mfcc  # the fast batched MFCC; the one call of it is FrontEnd._mfcc
from minikws.features import running_cmn

__all__ = ["default_feature_settings", "FrontEnd", "FrontEndState"]

FEATURE_KEYS = ("n_mfcc", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax", "top_db", "amin")
_MFCC_DEFAULTS = {k: p.default for k, p in inspect.signature(_mfcc).parameters.items() if k in FEATURE_KEYS}
_BATCH = 256  # clips per batched MFCC call: bounded memory for the STFT


def default_feature_settings(sr):
    """MFCC settings scaled to a sample rate: 25 ms windows every 20 ms, 13 coefficients, causal floor.

    A 20 ms hop (rather than speech recognition's usual 10 ms) halves the number of frames: half the
    LSTM's work, and half as many steps over which the last frame must remember the word. Keywords
    last 300-800 ms, 15-40 frames, plenty for the classification.

    Parameters
    ----------
    sr : int
        Sample rate in Hz (16000 for Speech Commands and the synthesized set, 8000 for FSDD).

    Returns
    -------
    dict
        Keywords of :func:`minikws.features.mfcc`: ``n_mfcc``, ``n_fft`` (the power of two >= the
        window), ``hop_length``, ``win_length``, ``n_mels`` (40 at 16 kHz, fewer below so that no mel
        filter is narrower than an FFT bin), ``fmin`` (20 Hz), ``fmax`` (``sr / 2``), and the absolute
        floor of eq. :eq:`frontend-log-floor`: ``top_db`` None, ``amin`` :math:`10^{\\ell/10}`.
    """
    sr = check_positive_int("sr", sr, minimum=1000)
    win = int(round(0.025 * sr))
    hop = int(round(0.020 * sr))
    n_fft = 1 << (win - 1).bit_length()
    n_mels = 40 if sr >= 16000 else 32 if sr >= 8000 else 24
    return {"n_mfcc": 13, "n_fft": n_fft, "hop_length": hop, "win_length": win,
            "n_mels": n_mels, "fmin": 20.0, "fmax": sr / 2, **_causal_floor()}


def _causal_floor():
    return {"top_db": None, "amin": 10.0 ** (DEFAULTS.log_floor_db / 10.0)}


class FrontEndState(NamedTuple):
    """Where a stream's front end stands between two chunks (a new tuple after every call).

    pending : ndarray (S_p,)
        Samples of the centre-padded stream not yet fully used: frame t of the stream starts at its
        first sample; at the start, the ``n_fft // 2`` zeros of the centre padding.
    cmn : (ndarray (K,), int) or None
        The running mean :math:`m_t` (float64) and the number of frames :math:`t` seen
        (:func:`minikws.features.running_cmn`'s state); None before the first frame.
    """

    pending: np.ndarray
    cmn: object


class FrontEnd:
    """Audio -> MFCC -> running CMN, for whole clips (:meth:`featurize`) and streams (:meth:`push`).

    Parameters
    ----------
    sr : int
        Sample rate the front end works at; :meth:`featurize` resamples clips of other rates.
    features : dict, optional
        Keywords of :func:`minikws.features.mfcc` among :data:`FEATURE_KEYS` (default:
        :func:`default_feature_settings` at ``sr``). ``top_db`` and ``amin`` default to the causal floor
        of eq. :eq:`frontend-log-floor`; other missing keys take :func:`minikws.features.mfcc`'s
        defaults. Frames are always centred (``n_fft // 2`` zeros on each side).
    cmn_window : int
        W of the running cepstral mean normalisation, eq. :eq:`mfcc-cmn-running`; 0 turns it off. The
        default, 100 frames (2 s at the 20 ms hop), is longer than a command, so a clip is normalised by
        the running mean of its own frames; a stream keeps adapting over about 2 s.
    dtype : numpy dtype
        float32 or float64: the MFCCs are computed in it and the frames returned in it.

    Attributes
    ----------
    num_coefficients : int
        K, coefficients per frame.
    hop_length : int
        Samples per frame: a stream gives one new frame per ``hop_length`` samples pushed.
    streamable : bool
        True when the floor is causal (``top_db`` None), so that :meth:`push` gives the clip's frames.

    Examples
    --------
    >>> import numpy as np
    >>> fe = FrontEnd(sr=8000)
    >>> y = np.random.default_rng(0).uniform(-0.1, 0.1, 4000).astype(np.float32)
    >>> clip = fe.featurize(y)[0]
    >>> state, parts = fe.new_state(), []
    >>> for start in range(0, len(y), 1000):          # four chunks of 1000 samples
    ...     frames, state = fe.push(y[start:start + 1000], state)
    ...     parts.append(frames)
    >>> parts.append(fe.flush(state)[0])
    >>> clip.shape, bool(np.allclose(np.concatenate(parts), clip, atol=1e-5))
    ((26, 13), True)
    """

    def __init__(self, *, sr=DEFAULTS.sr, features=None, cmn_window=DEFAULTS.cmn_window, dtype=np.float32):
        self.sr = check_positive_int("sr", sr, minimum=1000)
        self.features = self._check_features(default_feature_settings(self.sr) if features is None
                                             else features)
        self.cmn_window = check_positive_int("cmn_window", cmn_window, minimum=0)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise MinikwsError(f"dtype: expected float32 or float64, got {self.dtype}")
        self._kw = {**_MFCC_DEFAULTS, **self.features}
        self.num_coefficients = self._kw["n_mfcc"]
        self.hop_length = self._kw["hop_length"]
        self.n_fft = self._kw["n_fft"]
        self.streamable = self._kw["top_db"] is None
        # bad settings fail here, not in the middle of a stream
        self._mfcc(np.zeros((1, self.n_fft), dtype=self.dtype), center=False)

    @staticmethod
    def _check_features(features):
        if not isinstance(features, dict):
            raise MinikwsError(f"features: expected a dict of MFCC settings, got {type(features).__name__}")
        unknown = set(features) - set(FEATURE_KEYS)
        if unknown:
            raise MinikwsError(f"features: unknown settings {sorted(unknown)}; known: {list(FEATURE_KEYS)}")
        if "n_mfcc" not in features:
            raise MinikwsError("features: 'n_mfcc' is required")
        out = {**_causal_floor(), **features}
        for key in ("n_mfcc", "n_fft", "hop_length", "win_length", "n_mels"):
            if key in out:
                out[key] = check_positive_int(f"features[{key!r}]", out[key])
        return out

    def get_config(self):
        """The settings that rebuild this front end (JSON-serialisable; the dtype is the model's)."""
        return {"sr": self.sr, "features": dict(self.features), "cmn_window": self.cmn_window}

    @classmethod
    def from_config(cls, config, *, dtype=np.float32):
        """A front end from :meth:`get_config`'s dict, every field checked."""
        if not isinstance(config, dict):
            raise MinikwsError("front end config: expected a JSON object")
        missing = [k for k in ("sr", "features", "cmn_window") if k not in config]
        extra = sorted(set(config) - {"sr", "features", "cmn_window"})
        if missing or extra:
            raise MinikwsError(f"front end config: missing {missing}, unexpected {extra}")
        return cls(sr=config["sr"], features=config["features"], cmn_window=config["cmn_window"],
                   dtype=dtype)

    def __repr__(self):
        floor = "causal floor" if self.streamable else f"top_db={self._kw['top_db']}"
        return (f"FrontEnd(sr={self.sr}, K={self.num_coefficients}, hop={self.hop_length}, "
                f"n_fft={self.n_fft}, cmn_window={self.cmn_window}, {floor}, dtype={self.dtype.name})")

    # ------------------------------------------------------------------------------ the pipeline
    def _mfcc(self, Y, *, center):
        """MFCC frames of sample blocks (B, S) -> (B, F, K), F = 1 + (S + 2 [center] (N // 2) - N) // h.

        The one call of the MFCC in the package's model path: clips come here with ``center=True``
        (the MFCC pads ``n_fft // 2`` zeros on each side, in its cache-sized blocks), streams with
        ``center=False`` and those zeros already in their pending samples.
        """
        return _mfcc(Y, sr=self.sr, center=center, **self.features)

    def _normalize(self, C, state=None):
        """The running CMN of eq. :eq:`mfcc-cmn-running` on (..., F, K) frames, in the front end's dtype."""
        if self.cmn_window:
            C, state = running_cmn(C, window=self.cmn_window, state=state)
        return C.astype(self.dtype, copy=False), state

    # ------------------------------------------------------------------------------- whole clips
    def featurize(self, waveforms, *, sr=None):
        """Feature frames of each clip: MFCC at the front end's rate and settings, then the running CMN.

        Parameters
        ----------
        waveforms : ndarray (S,) or sequence of ndarray (S_b,)
            One clip or several of any lengths; float samples in [-1, 1].
        sr : int, optional
            Their sample rate (default: the front end's); others are resampled first.

        Returns
        -------
        list of ndarray (F_b, K)
            In :attr:`dtype`, :math:`F_b = 1 + \\lfloor (S_b + 2 \\lfloor N/2 \\rfloor - N) / h \\rfloor`;
            mean-normalised per clip by eq. :eq:`mfcc-cmn-running` when :attr:`cmn_window` > 0, not
            standardised (the model does that).
        """
        clips = [waveforms] if isinstance(waveforms, np.ndarray) and waveforms.ndim == 1 else list(waveforms)
        sr = self.sr if sr is None else check_positive_int("sr", sr)
        if sr * 4 < self.sr:
            raise MinikwsError(
                f"sr: {sr} Hz is too low for a model trained at {self.sr} Hz (more than 4x upsampling; "
                "the audio lacks the frequencies the model listens to)")
        ready = []
        for b, y in enumerate(clips):
            y = np.asarray(y)
            if y.ndim != 1 or y.size == 0:
                raise MinikwsError(f"waveforms[{b}]: expected a non-empty 1-D array, got shape {y.shape}")
            if y.dtype.kind != "f":
                raise MinikwsError(f"waveforms[{b}]: expected float samples in [-1, 1], got dtype {y.dtype}")
            ready.append(resample(y, orig_sr=sr, target_sr=self.sr, name=f"waveforms[{b}]", dtype=self.dtype))
        # Clips of one length go through the MFCC together (a batched STFT is several times faster
        # than one clip at a time); each frame still depends on its own clip only.
        out = [None] * len(ready)
        groups = {}
        for b, y in enumerate(ready):
            groups.setdefault(len(y), []).append(b)
        for idx in groups.values():
            for start in range(0, len(idx), _BATCH):
                part = idx[start:start + _BATCH]
                C, _ = self._normalize(self._mfcc(np.stack([ready[b] for b in part]), center=True))
                for j, b in enumerate(part):
                    out[b] = np.ascontiguousarray(C[j])
        return out

    # ----------------------------------------------------------------------------------- streams
    def new_state(self):
        """The state at the start of a stream: the leading centre padding pending, no frames seen."""
        return FrontEndState(np.zeros(self.n_fft // 2, dtype=self.dtype), None)

    def push(self, samples, state):
        """Feed the next samples of a stream; get the frames that became computable.

        Parameters
        ----------
        samples : ndarray (S,)
            The next float samples at :attr:`sr` (any S >= 0; a stream is not resampled).
        state : FrontEndState
            From :meth:`new_state` or the previous :meth:`push`.

        Returns
        -------
        frames : ndarray (F_new, K)
            The stream's next frames, in :attr:`dtype`: frame t as soon as padded sample
            :math:`t h + N` has arrived (F_new may be 0).
        state : FrontEndState
        """
        if not self.streamable:
            raise MinikwsError(
                f"this front end floors each clip at top_db={self._kw['top_db']} below its own maximum "
                "(a model file of format 1 or 2), which a stream cannot know; retrain the model to stream")
        samples = check_float_array("samples", samples, ndim=1)
        state = self._check_state(state)
        pending = np.concatenate([state.pending, samples.astype(self.dtype, copy=False)])
        return self._frames(pending, state.cmn)

    def flush(self, state):
        """End the stream: the frames that the trailing centre padding completes.

        Returns
        -------
        frames : ndarray (F_new, K)
            With every earlier :meth:`push`, the frames :meth:`featurize` gives the whole clip (to rounding).
        state : FrontEndState
            A new stream's (:meth:`new_state`).
        """
        state = self._check_state(state)
        frames, _ = self._frames(np.concatenate([state.pending, self.new_state().pending]), state.cmn)
        return frames, self.new_state()

    def _frames(self, pending, cmn):
        N, h = self.n_fft, self.hop_length
        F = 0 if len(pending) < N else 1 + (len(pending) - N) // h
        if F == 0:
            return np.zeros((0, self.num_coefficients), dtype=self.dtype), FrontEndState(pending, cmn)
        C, cmn = self._normalize(self._mfcc(pending[None, :(F - 1) * h + N], center=False)[0], cmn)
        return C, FrontEndState(pending[F * h:].copy(), cmn)

    def _check_state(self, state):
        if not isinstance(state, FrontEndState):
            raise MinikwsError(f"state: expected a FrontEndState from new_state() or push(), "
                               f"got {type(state).__name__}")
        if state.pending.dtype != self.dtype or state.pending.ndim != 1:
            raise MinikwsError(f"state: pending samples are {state.pending.dtype} {state.pending.shape}, "
                               f"not this front end's 1-D {self.dtype}")
        return state
