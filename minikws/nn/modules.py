"""PyTorch-like modules over the functional core: thin holders of ``params`` and ``grads``.

A module keeps its parameters in ``params`` (name -> array) and the gradients of the last backward
passes in ``grads`` (same names and shapes, accumulated until :meth:`Module.zero_grad`), so that an
optimizer from :mod:`minikws.optim` can update ``params`` in place from ``grads``. ``forward`` remembers
what ``backward`` needs; all arithmetic happens in the functions of :mod:`minikws.nn.lstm` and
:mod:`minikws.nn.layers`. The model composes modules by hand (there is no Sequential).

Shapes use the package legend: T time steps, B batch, D input features, H hidden units.
"""
import numpy as np

from minikws import _backend
from minikws._validate import FLOAT_DTYPES, check_float_array, check_positive_int, check_real, check_rng
from minikws.errors import MinikwsError
from minikws.nn.init import lstm_params, xavier_uniform
from minikws.nn.layers import affine_backward, affine_forward, dropout_backward, dropout_forward
from minikws.nn.lstm import lstm_backward, lstm_forward

__all__ = ["Module", "LSTM", "Linear"]


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise MinikwsError(f"dtype: expected float32 or float64, got {dtype}")
    return dtype


def _module_rng(rng):
    """The generator a module draws its initial weights (and an LSTM its dropout masks) from.

    Unlike the rest of the package (:func:`minikws._validate.check_rng` refuses None), a module
    constructor accepts None, as ``torch.nn.LSTM(D, H)`` needs no generator: None means the fixed
    ``numpy.random.default_rng(0)``, never fresh entropy, so ``LSTM(D, H)`` is the same network every
    time.
    """
    return check_rng(np.random.default_rng(0) if rng is None else rng)


class Module:
    """Base class: a ``params`` dict, a ``grads`` dict with the same keys, and their bookkeeping."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def _add_param(self, name, value):
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def zero_grad(self):
        """Set every gradient to zero (in place, so references held elsewhere stay valid)."""
        for g in self.grads.values():
            g.fill(0)

    def num_parameters(self):
        """The number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self):
        """A dict name -> copy of each parameter array (savable with ``np.savez``)."""
        return {name: p.copy() for name, p in self.params.items()}

    def load_state_dict(self, state):
        """Copy the arrays of ``state`` into the parameters, in place.

        Raises
        ------
        MinikwsError
            If a key is missing or unexpected, or an array's shape or dtype differs from the parameter's.
        """
        if not isinstance(state, dict) and not hasattr(state, "keys"):
            raise MinikwsError(f"state: expected a dict of arrays, got {type(state).__name__}")
        missing = sorted(set(self.params) - set(state.keys()))
        extra = sorted(set(state.keys()) - set(self.params))
        if missing or extra:
            raise MinikwsError(f"state: missing keys {missing}, unexpected keys {extra}")
        for name, p in self.params.items():
            v = np.asarray(state[name])
            if v.shape != p.shape or v.dtype != p.dtype:
                raise MinikwsError(
                    f"state[{name!r}]: expected {p.dtype} {p.shape}, got {v.dtype} {v.shape}"
                )
            if not np.isfinite(v).all():
                raise MinikwsError(f"state[{name!r}]: contains NaN or infinite values")
        for name, p in self.params.items():
            np.copyto(p, state[name])


class LSTM(Module):
    """A stack of LSTM layers with dropout between them, like ``torch.nn.LSTM`` (time-major).

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    num_layers : int
        Layers; layer 0 reads x, layer l reads layer l-1's hidden states.
    dropout : float
        Inverted dropout (:eq:`dropout`) on the outputs of every layer but the last, in training only.
    dtype : float32 or float64
    rng : numpy.random.Generator or None
        Draws the initial weights (:func:`minikws.nn.init.lstm_params`) and the dropout masks.
        None means ``numpy.random.default_rng(0)``.
    backend : {"auto", "numpy", "cython"}
        Passed to :func:`minikws.nn.lstm_forward`.

    Attributes
    ----------
    params, grads : dict
        ``"l0.Wx"`` (D, 4H), ``"l0.Wh"`` (H, 4H), ``"l0.b"`` (4H,), ``"l1.Wx"`` (H, 4H), ...
    dstate : list of (dh0, dc0) or None
        Gradients of the initial states after :meth:`backward`.
    """

    def __init__(self, input_size, hidden_size, num_layers=2, dropout=0.0, dtype=np.float32, rng=None,
                 backend="auto"):
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.dtype = _check_dtype(dtype)
        self.rng = _module_rng(rng)
        _backend.resolve(backend)  # reject a bad name now rather than at the first forward
        self.backend = backend
        for layer in range(self.num_layers):
            d_in = self.input_size if layer == 0 else self.hidden_size
            for name, value in lstm_params(d_in, self.hidden_size, self.rng, self.dtype).items():
                self._add_param(f"l{layer}.{name}", value)
        self._caches = None
        self.dstate = None

    def _layer(self, layer):
        p = self.params
        return p[f"l{layer}.Wx"], p[f"l{layer}.Wh"], p[f"l{layer}.b"]

    def forward(self, x, state=None, train=True):
        """Run all layers over a sequence.

        Parameters
        ----------
        x : ndarray (T, B, D)
        state : list of (h, c) per layer, each (B, H), or None
            The state to start from: None for zeros, or the ``state`` a previous call returned, to
            continue a stream chunk by chunk.
        train : bool
            Apply dropout between layers.

        Returns
        -------
        h : ndarray (T, B, H)
            The last layer's hidden states.
        state : list of (hT, cT) per layer
            The final states.
        """
        check_float_array("x", x, ndim=3)
        if state is None:
            state = [(None, None)] * self.num_layers
        elif not isinstance(state, (list, tuple)) or len(state) != self.num_layers:
            raise MinikwsError(f"state: expected a list of {self.num_layers} (h, c) pairs or None")
        caches, new_state, inp = [], [], x
        for layer in range(self.num_layers):
            h0, c0 = state[layer]
            h, final, lstm_cache = lstm_forward(inp, h0, c0, *self._layer(layer), backend=self.backend)
            new_state.append(final)
            drop_cache = None
            if layer < self.num_layers - 1:
                h, drop_cache = dropout_forward(h, self.dropout, self.rng, train=train)
            caches.append((lstm_cache, drop_cache))
            inp = h
        self._caches = caches
        return inp, new_state

    def backward(self, dh, dstate=None):
        """Back-propagate through all layers; add the parameter gradients to ``grads``.

        Parameters
        ----------
        dh : ndarray (T, B, H)
            Gradient of the loss with respect to the last layer's hidden states.
        dstate : list of (dhT, dcT) per layer, or None
            Gradients with respect to the returned final states (None: zeros).

        Returns
        -------
        dx : ndarray (T, B, D)
        """
        if self._caches is None:
            raise MinikwsError("backward: call forward first")
        if dstate is None:
            dstate = [(None, None)] * self.num_layers
        elif not isinstance(dstate, (list, tuple)) or len(dstate) != self.num_layers:
            raise MinikwsError(f"dstate: expected a list of {self.num_layers} (dh, dc) pairs or None")
        d_init = [None] * self.num_layers
        for layer in range(self.num_layers - 1, -1, -1):
            lstm_cache, drop_cache = self._caches[layer]
            if drop_cache is not None:
                dh = dropout_backward(dh, drop_cache)
            dhT, dcT = dstate[layer]
            dh, dh0, dc0, dWx, dWh, db = lstm_backward(dh, lstm_cache, dhT, dcT)
            self.grads[f"l{layer}.Wx"] += dWx
            self.grads[f"l{layer}.Wh"] += dWh
            self.grads[f"l{layer}.b"] += db
            d_init[layer] = (dh0, dc0)
        self.dstate = d_init
        return dh


class Linear(Module):
    """A fully connected layer ``x @ W + b`` (:eq:`affine`) on the last axis.

    Parameters
    ----------
    in_features, out_features : int
    dtype : float32 or float64
    rng : numpy.random.Generator or None
        Draws W (:func:`minikws.nn.init.xavier_uniform`); None means ``numpy.random.default_rng(0)``.

    Attributes
    ----------
    params, grads : dict
        ``"W"`` (in_features, out_features), ``"b"`` (out_features,) zeros at first.
    """

    def __init__(self, in_features, out_features, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.dtype = _check_dtype(dtype)
        rng = _module_rng(rng)
        self._add_param("W", xavier_uniform((self.in_features, self.out_features), rng, self.dtype))
        self._add_param("b", np.zeros(self.out_features, dtype=self.dtype))
        self._cache = None

    def forward(self, x):
        """Apply the layer.

        Parameters
        ----------
        x : ndarray (..., in_features)

        Returns
        -------
        out : ndarray (..., out_features)
        """
        check_float_array("x", x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise MinikwsError(f"x: expected shape (..., {self.in_features}), got {x.shape}")
        lead = x.shape[:-1]
        out, cache = affine_forward(x.reshape(-1, self.in_features), self.params["W"], self.params["b"])
        self._cache = (lead, cache)
        return out.reshape(*lead, self.out_features)

    def backward(self, dout):
        """Add dW, db (:eq:`affine-grad`) to ``grads`` and return dx.

        Parameters
        ----------
        dout : ndarray (..., out_features)

        Returns
        -------
        dx : ndarray (..., in_features)
        """
        if self._cache is None:
            raise MinikwsError("backward: call forward first")
        lead, cache = self._cache
        check_float_array("dout", dout)
        if dout.shape != (*lead, self.out_features):
            raise MinikwsError(f"dout: expected shape {(*lead, self.out_features)}, got {dout.shape}")
        dx, dW, db = affine_backward(dout.reshape(-1, self.out_features), cache)
        self.grads["W"] += dW
        self.grads["b"] += db
        return dx.reshape(*lead, self.in_features)
