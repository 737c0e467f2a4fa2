"""Streaming inference: feed a stacked LSTM frames or chunks as they arrive, keeping its state.

A keyword spotter listens continuously. Running the whole network again over a sliding window would
redo the same steps many times; an LSTM does not need that, because everything it remembers of the past
is its state (h, c) per layer. :class:`LSTMStream` keeps that state between calls, so that feeding a
sequence in pieces gives exactly the hidden states of one :func:`minikws.nn.lstm_forward` over the whole
of it (equations lstm-gates, lstm-cell, lstm-hidden, step after step).

With the compiled kernel each call runs in C (``minikws._lstm_kernel.lstm_infer``: no cache is kept,
since nothing will be back-propagated); without it the same arithmetic runs in NumPy through
``minikws.nn.lstm_forward(..., backend="numpy")``.

Shapes use the package legend: T time steps, B batch (streams), D input features, H hidden units.
"""
import numpy as np

from minikws import _backend
from minikws._validate import check_float_array, check_positive_int
from minikws.errors import MinikwsError

__all__ = ["LSTMStream"]


def _layer_params(params):
    """[(Wx, Wh, b), ...] from a dict with keys "l0.Wx", "l0.Wh", "l0.b", "l1.Wx", ..."""
    layers = []
    while f"l{len(layers)}.Wx" in params:
        k = len(layers)
        try:
            Wx, Wh, b = params[f"l{k}.Wx"], params[f"l{k}.Wh"], params[f"l{k}.b"]
        except KeyError as exc:
            raise MinikwsError(f"params: layer {k} has Wx but no {exc.args[0]!r}") from None
        for name, a in (("Wx", Wx), ("Wh", Wh), ("b", b)):
            check_float_array(f"params['l{k}.{name}']", a, ndim=1 if name == "b" else 2)
        layers.append((Wx, Wh, b))
    if not layers:
        raise MinikwsError("params: expected keys 'l0.Wx', 'l0.Wh', 'l0.b', ... of a minikws.nn.LSTM")
    dtype = layers[0][0].dtype
    for k, (Wx, Wh, b) in enumerate(layers):
        H = Wh.shape[0]
        if Wh.shape != (H, 4 * H) or b.shape != (4 * H,) or Wx.ndim != 2 or Wx.shape[1] != 4 * H:
            raise MinikwsError(
                f"params: layer {k} has Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape}; "
                "expected (D, 4H), (H, 4H), (4H,)"
            )
        if k and Wx.shape[0] != layers[k - 1][1].shape[0]:
            raise MinikwsError(
                f"params: layer {k} takes {Wx.shape[0]} inputs but layer {k - 1} has "
                f"{layers[k - 1][1].shape[0]} hidden units"
            )
        if any(a.dtype != dtype for a in (Wx, Wh, b)):
            raise MinikwsError(f"params: layer {k} mixes dtypes; all parameters must be {dtype}")
    return layers


class LSTMStream:
    """The state of a stacked LSTM between chunks of a stream.

    Parameters
    ----------
    lstm : minikws.nn.LSTM or dict
        The network: a module with a ``params`` dict, or the dict itself, with keys "l0.Wx" (D, 4H),
        "l0.Wh" (H, 4H), "l0.b" (4H,), "l1.Wx" (H, 4H), ... The arrays are used, not copied, so a
        stream sees later updates of the parameters.
    batch_size : int, default 1
        Number of independent streams B fed side by side.
    backend : {"auto", "numpy", "cython"}, default "auto"
        "cython" uses the compiled kernel, "numpy" the reference loop, "auto" the kernel when built.

    Attributes
    ----------
    backend : str
        The implementation in use, "cython" or "numpy".
    state : list of (h, c)
        Copies of each layer's current state, each (B, H).

    Examples
    --------
    >>> import numpy as np
    >>> from minikws.streaming import LSTMStream
    >>> rng = np.random.default_rng(0)
    >>> params = {"l0.Wx": rng.standard_normal((3, 8)), "l0.Wh": rng.standard_normal((2, 8)),
    ...           "l0.b": np.zeros(8)}
    >>> stream = LSTMStream(params)
    >>> stream.feed(rng.standard_normal((5, 3))).shape   # five frames of one stream: (T, D) -> (T, H)
    (5, 2)
    >>> stream.step(rng.standard_normal(3)).shape        # one more frame: (D,) -> (H,)
    (2,)
    """

    def __init__(self, lstm, *, batch_size=1, backend="auto"):
        params = getattr(lstm, "params", lstm)
        if not isinstance(params, dict):
            raise MinikwsError(
                f"lstm: expected a minikws.nn.LSTM or its params dict, got {type(lstm).__name__}"
            )
        self._layers = _layer_params(params)
        self.dtype = self._layers[0][0].dtype
        self.input_size = self._layers[0][0].shape[0]
        self.hidden_size = self._layers[-1][1].shape[0]
        self.backend = _backend.resolve(backend)
        self.reset(batch_size=batch_size)

    @property
    def num_layers(self):
        return len(self._layers)

    @property
    def state(self):
        return [(h.copy(), c.copy()) for h, c in self._state]

    def reset(self, *, batch_size=None):
        """Start over from h = c = 0 (a new utterance), optionally with another batch size B."""
        if batch_size is not None:
            self.batch_size = check_positive_int("batch_size", batch_size)
        self._state = [
            (np.zeros((self.batch_size, Wh.shape[0]), self.dtype),
             np.zeros((self.batch_size, Wh.shape[0]), self.dtype))
            for _, Wh, _ in self._layers
        ]

    def feed(self, x):
        """Run the next T frames through every layer and return the top layer's hidden states.

        Parameters
        ----------
        x : ndarray (T, B, D), or (T, D) when B = 1
            The next frames, of the parameters' dtype.

        Returns
        -------
        h : ndarray (T, B, H), or (T, H) for (T, D) input
            h_t of the last layer for each new frame; the state moves on to the end of the chunk.
        """
        check_float_array("x", x, ndim=(2, 3))
        squeeze = x.ndim == 2
        if squeeze:
            if self.batch_size != 1:
                raise MinikwsError(
                    f"x: a (T, D) chunk needs batch_size 1, this stream has {self.batch_size}; "
                    "pass (T, B, D)"
                )
            x = x[:, None, :]
        T, B, D = x.shape
        if T == 0 or B != self.batch_size or D != self.input_size:
            raise MinikwsError(
                f"x: expected shape (T >= 1, B, D) = (T, {self.batch_size}, {self.input_size}), "
                f"got {x.shape}"
            )
        if x.dtype != self.dtype:
            raise MinikwsError(f"x: dtype {x.dtype} differs from the parameters' {self.dtype}")
        out = x
        for (Wx, Wh, b), (h, c) in zip(self._layers, self._state):
            out = self._layer(out, h, c, Wx, Wh, b)
        return out[:, 0, :] if squeeze else out

    def step(self, x):
        """Run one frame: x (B, D), or (D,) when B = 1 -> h (B, H) or (H,)."""
        check_float_array("x", x, ndim=(1, 2))
        return self.feed(x[None])[0]

    def _layer(self, x, h, c, Wx, Wh, b):
        """One layer over a chunk, updating its (h, c) in place; returns h_t (T, B, H)."""
        if self.backend == "cython":
            args = [np.ascontiguousarray(a) for a in (x, Wx, Wh, b)]
            return _backend.kernel().lstm_infer(args[0], h, c, *args[1:])
        from minikws.nn.lstm import lstm_forward

        out, (hT, cT), _ = lstm_forward(x, h, c, Wx, Wh, b, backend="numpy")
        h[...] = hT
        c[...] = cT
        return out
