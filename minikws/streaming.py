r"""Streaming inference: audio in chunks -> front end -> stacked LSTM -> head, keeping every state.

A keyword spotter listens continuously. Running the whole network again over a sliding window would
redo the same steps many times; nothing needs that, because everything the pipeline remembers of the
past is a small state: the front end's pending samples and running mean
(:class:`minikws.frontend.FrontEndState`) and each LSTM layer's (h, c). A :class:`Stream` keeps them
between calls, so that a clip's audio pushed in chunks of any size gives the per-frame outputs of
the clip path, :meth:`KWSModel.forward_frames <minikws.models.KWSModel.forward_frames>` on
:meth:`KWSModel.featurize <minikws.models.KWSModel.featurize>` (:eq:`lstm-gates`, :eq:`lstm-cell`,
:eq:`lstm-hidden` step after step, then :eq:`kws-model`), to float rounding: the same arithmetic,
in blocks of other sizes.

With the compiled kernel each LSTM layer runs in C (``minikws._lstm_kernel.lstm_infer``: no cache is
kept, since nothing will be back-propagated); without it the same arithmetic runs in NumPy through
``minikws.nn.lstm_forward(..., backend="numpy")``.

The head turns the top layer's :math:`h_t` into the stream's output. It is pluggable: any object with
``new_state()`` and ``forward(h, state) -> (out, state)``; :class:`LinearHead` (the model's Linear
layer: logits) is the default, and a head with a state of its own (the article's output feedback
:math:`o_{t-1}`) fits the same protocol.

Shapes use the package legend: S samples, F frames, K coefficients, H hidden units, C classes.
"""
from typing import NamedTuple

import numpy as np

from minikws import _backend
from minikws.errors import MinikwsError
from minikws.nn.layers import affine_forward
from minikws.nn.lstm import lstm_forward

__all__ = ["Stream", "StreamState", "LinearHead"]


def _layer_params(lstm):
    """[(Wx (D, 4H), Wh (H, 4H), b (4H,)), ...] of a minikws.nn.LSTM, layer by layer (its own arrays)."""
    return [(lstm.params[f"l{k}.Wx"], lstm.params[f"l{k}.Wh"], lstm.params[f"l{k}.b"])
            for k in range(lstm.num_layers)]


class LinearHead:
    """The model's Linear layer as a stream's head: :math:`z_t = W^\\top h_t + b` (eq. :eq:`kws-model`).

    Stateless; ``forward(h (F, H), None) -> (logits (F, C), None)``. The arrays are the model's, so a
    stream sees later updates of the weights.
    """

    def __init__(self, model):
        self.W, self.b = model.fc.params["W"], model.fc.params["b"]

    def new_state(self):
        return None

    def forward(self, h, state):
        return affine_forward(h, self.W, self.b)[0], state


class StreamState(NamedTuple):
    """A stream's state between chunks: the front end's, each LSTM layer's (h (1, H), c (1, H)) and
    the head's."""

    frontend: object
    lstm: list
    head: object


class Stream:
    """Audio pushed in chunks through a model's front end, its LSTM stack and a head.

    Parameters
    ----------
    model : minikws.models.KWSModel
        Its front end must be streamable (the causal floor; models of file format 3). The weights and
        normalisation statistics are used, not copied.
    head : object, optional
        ``new_state()`` and ``forward(h (F, H), state) -> (out (F, ...), state)``; default
        :class:`LinearHead`, whose outputs are the per-frame logits (F, C).
    backend : {"auto", "numpy", "cython"}
        "cython" runs each layer in the compiled kernel, "numpy" the reference loop, "auto" the kernel
        when built.

    Attributes
    ----------
    backend : str
        The LSTM implementation in use, "cython" or "numpy".
    state : StreamState
        A copy of the current state.

    Examples
    --------
    >>> import numpy as np
    >>> from minikws.models import KWSModel
    >>> from minikws.streaming import Stream
    >>> model = KWSModel(classes=["yes", "no"], sr=8000, hidden_size=4, num_layers=1)
    >>> stream = Stream(model)
    >>> y = np.zeros(8000, dtype=np.float32)
    >>> stream.push(y[:1000]).shape      # 1000 samples at a 160-sample hop: 6 frames computable
    (6, 2)
    >>> sum(len(stream.push(y[i:i + 160])) for i in range(1000, 8000, 160)) + len(stream.flush())
    45
    """

    def __init__(self, model, *, head=None, backend="auto"):
        self.model = model
        self.frontend = model.frontend
        if not self.frontend.streamable:
            raise MinikwsError(f"model: its front end cannot stream ({self.frontend!r}: the floor is "
                               "relative to each clip's maximum); retrain the model to stream")
        self._layers = _layer_params(model.lstm)
        self.dtype = model.dtype
        self.backend = _backend.resolve(backend)
        self.head = LinearHead(model) if head is None else head
        self.reset()

    @property
    def state(self):
        return StreamState(self._frontend, [(h.copy(), c.copy()) for h, c in self._lstm], self._head)

    def reset(self):
        """Start a new stream: no samples pending, running mean and h = c = 0 forgotten."""
        self._frontend = self.frontend.new_state()
        self._lstm = [(np.zeros((1, Wh.shape[0]), self.dtype), np.zeros((1, Wh.shape[0]), self.dtype))
                      for _, Wh, _ in self._layers]
        self._head = self.head.new_state()

    def push(self, samples):
        """Feed the next samples (S,) at the model's rate -> the head's outputs for the new frames.

        Returns
        -------
        ndarray (F_new, ...)
            With :class:`LinearHead`, logits (F_new, C); F_new may be 0.
        """
        frames, self._frontend = self.frontend.push(samples, self._frontend)
        return self._outputs(frames)

    def flush(self):
        """End the utterance: outputs of its last frames (the front end's end padding); then :meth:`reset`."""
        frames, _ = self.frontend.flush(self._frontend)
        out = self._outputs(frames)
        self.reset()
        return out

    def hidden(self, samples):
        """Like :meth:`push`, but return the top layer's :math:`h_t` (F_new, H), not the head's output."""
        frames, self._frontend = self.frontend.push(samples, self._frontend)
        return self._hidden(frames)

    def _hidden(self, frames):
        x = ((frames - self.model.mean) / self.model.std)[:, None, :]  # the model's normalisation
        for (Wx, Wh, b), (h, c) in zip(self._layers, self._lstm):
            x = self._layer(x, h, c, Wx, Wh, b)
        return x[:, 0, :]

    def _outputs(self, frames):
        out, self._head = self.head.forward(self._hidden(frames), self._head)
        return out

    def _layer(self, x, h, c, Wx, Wh, b):
        """One layer over a chunk (F, 1, D), updating its (h, c) in place; returns h_t (F, 1, H)."""
        if x.shape[0] == 0:
            return np.zeros((0,) + h.shape, dtype=self.dtype)
        if self.backend == "cython":
            args = [np.ascontiguousarray(a) for a in (x, Wx, Wh, b)]
            return _backend.kernel().lstm_infer(args[0], h, c, *args[1:])
        out, (hT, cT), _ = lstm_forward(x, h, c, Wx, Wh, b, backend="numpy")
        h[...] = hT
        c[...] = cT
        return out
