r"""Model compression: magnitude pruning (unstructured and by whole units) and int8 quantization.

The article's FAQ (section 9, Q3) names model pruning (模型裁剪) and quantization from floating to
fixed point (量化加速) as the first steps of deployment. This module makes both real for
:class:`~minikws.models.KWSModel`.

Pruning
    :func:`magnitude_masks` chooses the weights of smallest magnitude, eq. :eq:`prune-magnitude`, per
    matrix or over all of them; :func:`apply_masks` zeroes them and :class:`MaskedOptimizer` keeps them
    zero through fine-tuning (:func:`minikws.train.fine_tune`); :func:`cubic_sparsity` is Zhu and Gupta's gradual schedule,
    eq. :eq:`prune-cubic`. Zeros in a dense matrix save nothing at run time: :func:`prune_units` removes
    whole hidden units instead, eq. :eq:`prune-units`, and returns an ordinary, smaller model.

Quantization
    :func:`quantize_per_channel` stores a weight matrix as int8 with one float scale per output column,
    eq. :eq:`quant-int8`; :class:`Int8KWSModel` runs the network with int8 weights and int8 activations,
    accumulating their products exactly in integers, eq. :eq:`quant-int8-matmul`, with activation
    scales calibrated on training data (:func:`quantize_model`). The cell state, the gate nonlinearities
    and the bias stay in float32: the cell integrates over hundreds of steps, so its rounding errors
    would add up, and the sigmoid is steepest near zero, where one int8 step (1/127 of the range) moves
    a gate visibly; both cost little next to the products.

Shape legend: T time steps, B batch, D inputs, H hidden units, C classes, K cepstral coefficients.
Weights follow minikws' layout: ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) in gate blocks
[i, f, g, o]; ``fc.W`` (H, C), ``fc.b`` (C,).
"""
from typing import NamedTuple

import numpy as np

from minikws._validate import check_float_array, check_real
from minikws.errors import MinikwsError
from minikws.models import KWSModel
from minikws.frontend import FrontEnd
from minikws.nn.lstm import lstm_forward, sigmoid

__all__ = [
    "prunable",
    "magnitude_masks",
    "apply_masks",
    "sparsity",
    "cubic_sparsity",
    "MaskedOptimizer",
    "GradualPruner",
    "prune_units",
    "describe",
    "prune_layer_units",
    "unit_scores",
    "quantize_per_channel",
    "dequantize",
    "quantize_activation",
    "int_matmul",
    "Int8Layer",
    "Int8KWSModel",
    "quantize_model",
]

#: What an int8 model's settings say of it (``get_config()["quantization"]``, checked when a file loads).
QUANTIZATION = {"scheme": "int8-symmetric-per-channel", "activations": "int8-per-tensor"}

QMAX = 127  # symmetric int8: -127..127 (-128 is left out so that q and -q are both representable)


# ---------------------------------------------------------------------------------------------------
# Unstructured magnitude pruning
# ---------------------------------------------------------------------------------------------------
def prunable(params):
    """The names of the weight matrices pruning acts on: every LSTM ``Wx``, ``Wh`` and ``fc.W``.

    Biases and the normalisation statistics are left alone: they are a few hundred numbers, and a zero
    bias changes a unit's operating point rather than removing a connection.
    """
    return sorted(k for k, v in params.items()
                  if v.ndim == 2 and (k.endswith(".Wx") or k.endswith(".Wh") or k == "fc.W"))


def magnitude_masks(params, fraction, *, scope="layer"):
    r"""Masks that keep all but the ``fraction`` of weights with the smallest magnitude.

    .. math::
       :label: prune-magnitude

       M_{jk} = \big[\, |W_{jk}| > \tau \,\big], \qquad
       \tau = \text{the } \lfloor s\, n \rfloor\text{-th smallest } |W_{jk}|

    over the :math:`n` weights of one matrix (``scope="layer"``) or of all prunable matrices at once
    (``scope="global"``, one threshold :math:`\tau` for the whole model, so matrices with many small
    weights lose more of them). Exactly :math:`\lfloor s n \rfloor` weights are removed; ties at the
    threshold are broken by position (a stable sort), so the masks are deterministic.

    Parameters
    ----------
    params : dict of str -> ndarray
        A model's :attr:`~minikws.models.KWSModel.params`.
    fraction : float
        The sparsity :math:`s \in [0, 1)`.
    scope : {"layer", "global"}

    Returns
    -------
    dict of str -> ndarray of bool
        One mask per name of :func:`prunable` (True: the weight is kept).
    """
    s = check_real("fraction", fraction, low=0.0, high=1.0, high_open=True)
    if scope not in ("layer", "global"):
        raise MinikwsError(f"scope: expected 'layer' or 'global', got {scope!r}")
    names = prunable(params)
    if not names:
        raise MinikwsError("params: no weight matrices to prune")
    if scope == "layer":
        return {k: _keep_largest(np.abs(params[k]).ravel(), s).reshape(params[k].shape) for k in names}
    flat = np.concatenate([np.abs(params[k]).ravel() for k in names])
    keep = _keep_largest(flat, s)
    out, start = {}, 0
    for k in names:
        n = params[k].size
        out[k] = keep[start:start + n].reshape(params[k].shape)
        start += n
    return out


def _keep_largest(a, fraction):
    """Boolean (n,): False at the floor(fraction * n) smallest entries of a (stable order)."""
    drop = int(np.floor(fraction * a.size))
    keep = np.ones(a.size, dtype=bool)
    keep[np.argsort(a, kind="stable")[:drop]] = False
    return keep


def apply_masks(params, masks):
    """Zero the pruned weights in place: ``W *= M`` for every masked matrix (eq. :eq:`prune-magnitude`)."""
    for k, m in masks.items():
        if k not in params or params[k].shape != m.shape:
            raise MinikwsError(f"masks[{k!r}]: does not match a parameter of that shape")
        params[k][~m] = 0
    return params


def sparsity(params, names=None):
    """The fraction of exact zeros over the named matrices (default: :func:`prunable`)."""
    names = prunable(params) if names is None else names
    total = sum(params[k].size for k in names)
    zeros = sum(int(np.count_nonzero(params[k] == 0)) for k in names)
    return zeros / total if total else 0.0


def cubic_sparsity(step, *, final, initial=0.0, start=0, steps=1, interval=1):
    r"""Zhu and Gupta's (2017) gradual pruning schedule: the sparsity to prune to at ``step``.

    .. math::
       :label: prune-cubic

       s_t = s_f + (s_i - s_f) \left(1 - \frac{t - t_0}{n \Delta t}\right)^3,
       \qquad t_0 \le t \le t_0 + n \Delta t

    before :math:`t_0` the sparsity is :math:`s_i`, after the last pruning step :math:`s_f`. It prunes
    fast while many weights are redundant and slowly at the end, when each removal costs more. The
    value changes only every :math:`\Delta t` (``interval``) steps.

    Parameters
    ----------
    step : int
        t, the optimizer step.
    final, initial : float
        :math:`s_f` and :math:`s_i` in [0, 1).
    start : int
        :math:`t_0`.
    steps : int
        n, the number of pruning steps.
    interval : int
        :math:`\Delta t`, optimizer steps between two pruning steps.
    """
    s_f = check_real("final", final, low=0.0, high=1.0, high_open=True)
    s_i = check_real("initial", initial, low=0.0, high=1.0, high_open=True)
    for name, v, low in (("step", step, 0), ("start", start, 0), ("steps", steps, 1), ("interval", interval, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise MinikwsError(f"{name}: expected an integer >= {low}, got {v!r}")
    if step <= start:
        return s_i
    done = min((step - start) // interval * interval, steps * interval)  # the last pruning step reached
    return s_f + (s_i - s_f) * (1.0 - done / (steps * interval)) ** 3


class MaskedOptimizer:
    """An optimizer whose every step is followed by :func:`apply_masks`: pruned weights stay zero.

    AdamW's decoupled decay and its moments would otherwise move a pruned weight off zero again after
    its first step. Everything else (``lr``, ``state_dict``, ``load_state_dict``) is the wrapped
    optimizer's, so a :class:`~minikws.train.Trainer` uses it unchanged (``trainer.optimizer =
    MaskedOptimizer(trainer.optimizer, masks)``).
    """

    def __init__(self, optimizer, masks):
        object.__setattr__(self, "optimizer", optimizer)
        object.__setattr__(self, "masks", masks)
        apply_masks(optimizer.params, masks)

    def step(self, grads):
        self.optimizer.step(grads)
        apply_masks(self.optimizer.params, self.masks)

    def __getattr__(self, name):
        return getattr(self.optimizer, name)

    def __setattr__(self, name, value):
        setattr(self.optimizer, name, value)


class GradualPruner(MaskedOptimizer):
    r"""Gradual magnitude pruning during fine-tuning: the sparsity follows eq. :eq:`prune-cubic`.

    After every optimizer step the sparsity the schedule gives for that step is applied: the masks are
    recomputed by :func:`magnitude_masks` whenever the target grows (weights pruned before are zero,
    hence among the smallest, so a mask only ever loses weights) and re-applied after every step, as
    :class:`MaskedOptimizer` does. Zhu and Gupta (2017) prune this way so that the network adapts to
    each small removal instead of losing half its weights at once.

    Parameters
    ----------
    optimizer : Optimizer
    final : float
        :math:`s_f`, the sparsity reached after ``steps`` pruning steps.
    steps : int
        n, the number of pruning steps.
    interval : int
        :math:`\Delta t`, optimizer steps between two pruning steps.
    initial, start
        :math:`s_i` and :math:`t_0` of eq. :eq:`prune-cubic`.
    scope : {"layer", "global"}
        As :func:`magnitude_masks`.
    """

    def __init__(self, optimizer, *, final, steps, interval=1, initial=0.0, start=0, scope="layer"):
        self_schedule = dict(final=final, initial=initial, start=start, steps=steps, interval=interval)
        s0 = cubic_sparsity(0, **self_schedule)
        super().__init__(optimizer, magnitude_masks(optimizer.params, s0, scope=scope))
        object.__setattr__(self, "schedule", self_schedule)
        object.__setattr__(self, "scope", scope)
        object.__setattr__(self, "t", 0)
        object.__setattr__(self, "sparsity", s0)

    def step(self, grads):
        self.optimizer.step(grads)
        object.__setattr__(self, "t", self.t + 1)
        s = cubic_sparsity(self.t, **self.schedule)
        if s > self.sparsity:
            object.__setattr__(self, "masks", magnitude_masks(self.optimizer.params, s, scope=self.scope))
            object.__setattr__(self, "sparsity", s)
        apply_masks(self.optimizer.params, self.masks)


def describe(model):
    """One line saying what a model is: its task and size, and what compression it carries.

    ``"clip model, 2 x 64 LSTM units, 12 classes, float32"``; an int8 model says
    ``"int8 weights per output channel, int8 activations"``; a pruned float model gives the share of
    its weights that are exactly zero (unstructured pruning; removed units show as a smaller H).
    """
    base = (f"{model.task} model, {model.num_layers} x {model.hidden_size} LSTM units, "
            f"{model.num_classes} classes")
    if isinstance(model, Int8KWSModel):
        zeros = [L.Wx for L in model.layers] + [L.Wh for L in model.layers] + [model.fc_W]
        share = sum(int((z == 0).sum()) for z in zeros) / sum(z.size for z in zeros)
        pruned = f", {share:.0%} of the weights zero" if share >= 0.01 else ""
        return f"{base}, int8 weights per output channel and int8 activations{pruned}"
    share = sparsity(model.params)
    return f"{base}, {model.dtype.name}" + (f", {share:.0%} of the weights zero (pruned)" if share >= 0.01 else "")


# ---------------------------------------------------------------------------------------------------
# Structured pruning: whole hidden units
# ---------------------------------------------------------------------------------------------------
def _gate_columns(H, units):
    """Columns of a (., 4H) matrix that belong to ``units`` in each gate block [i, f, g, o]."""
    units = np.asarray(units, dtype=np.int64)
    return np.concatenate([g * H + units for g in range(4)])


def prune_layer_units(Wx, Wh, b, W_next, keep):
    """The index bookkeeping of eq. :eq:`prune-units` for one LSTM layer: keep only units ``keep``.

    Parameters
    ----------
    Wx : ndarray (D, 4H)
    Wh : ndarray (H, 4H)
    b : ndarray (4H,)
    W_next : ndarray (H, M)
        What reads the layer's output: the next layer's Wx (M = 4H') or the linear layer's W (M = C).
    keep : sequence of int
        The H2 units that stay, in increasing order.

    Returns
    -------
    Wx2 (D, 4 H2), Wh2 (H2, 4 H2), b2 (4 H2,), W_next2 (H2, M)
        New arrays; the inputs are not changed.
    """
    H = Wh.shape[0]
    keep = np.asarray(keep, dtype=np.int64)
    cols = _gate_columns(H, keep)  # the unit's column in each of the gate blocks i, f, g, o
    return Wx[:, cols].copy(), Wh[keep][:, cols].copy(), b[cols].copy(), W_next[keep].copy()


def unit_scores(model):
    r"""How much each hidden unit of each LSTM layer feeds forward: one score per unit.

    Unit :math:`j` of layer :math:`\ell` reaches the rest of the network only through its output
    :math:`h_j`, which is multiplied by row :math:`j` of its own :math:`W_h` (the recurrence) and by
    row :math:`j` of the next layer's :math:`W_x` (or of the linear layer's :math:`W`). Its score is
    the Euclidean norm of those two rows together; a unit with small outgoing weights can be removed
    at little cost (eq. :eq:`prune-units`).

    Returns
    -------
    list of ndarray (H,)
        One per layer, float64.
    """
    p = model.params
    scores = []
    for layer in range(model.num_layers):
        out_next = p[f"lstm.l{layer + 1}.Wx"] if layer + 1 < model.num_layers else p["fc.W"]
        Wh = p[f"lstm.l{layer}.Wh"]
        scores.append(np.sqrt(np.sum(Wh.astype(np.float64) ** 2, axis=1)
                              + np.sum(out_next.astype(np.float64) ** 2, axis=1)))
    return scores


def prune_units(model, fraction, *, layers=None):
    r"""A new, smaller model without the ``fraction`` of each layer's hidden units that score lowest.

    Removing unit :math:`j` of layer :math:`\ell` deletes everything that computes it or reads it:

    .. math::
       :label: prune-units

       W_x^{(\ell)}[:, \mathcal{G}_j],\; W_h^{(\ell)}[:, \mathcal{G}_j],\; b^{(\ell)}[\mathcal{G}_j],
       \qquad W_h^{(\ell)}[j, :], \qquad W_x^{(\ell+1)}[j, :] \ \text{or}\ W_{\text{fc}}[j, :],
       \qquad \mathcal{G}_j = \{j,\ H + j,\ 2H + j,\ 3H + j\}

    (its four gate columns, its row of the recurrence, its row in what reads the layer's output). The
    pruned model computes exactly what the original computes with :math:`h_j` forced to zero at every
    step, since a zero :math:`h_j` contributes nothing through those rows; its cell :math:`c_j` is then
    invisible and can go too. Units are ranked by :func:`unit_scores`.

    Parameters
    ----------
    model : KWSModel
    fraction : float
        Share of each layer's units to remove, in [0, 1); ``round(fraction * H)`` units, at least one
        unit is kept.
    layers : sequence of int, optional
        Which layers to prune (default all).

    Returns
    -------
    KWSModel
        An ordinary model (same classes, front end, normalisation) with ``hidden_size`` the kept units
        (the same in every layer: minikws' models have one H for all layers, so ``layers`` must name
        all of them unless the fraction is 0).
    """
    if not isinstance(model, KWSModel) or isinstance(model, Int8KWSModel):
        raise MinikwsError("model: structured pruning needs a float minikws KWSModel")
    s = check_real("fraction", fraction, low=0.0, high=1.0, high_open=True)
    L, H = model.num_layers, model.hidden_size
    layers = list(range(L)) if layers is None else sorted(set(int(k) for k in layers))
    if any(not 0 <= k < L for k in layers):
        raise MinikwsError(f"layers: expected layer numbers in 0..{L - 1}, got {layers}")
    remove = int(round(s * H))
    if remove and len(layers) != L:
        raise MinikwsError("layers: minikws models have one hidden size for every layer; prune all layers")
    if remove >= H:
        raise MinikwsError(f"fraction: {s:g} of {H} units would remove {remove}; at least one must stay")
    scores = unit_scores(model)
    keep = [np.sort(np.argsort(scores[k], kind="stable")[remove:]) for k in range(L)]
    H2 = H - remove
    small = KWSModel(classes=model.classes, frontend=model.frontend, hidden_size=H2, num_layers=L,
                     dropout=model.dropout, dtype=model.dtype, seed=model.seed, backend=model.backend,
                     task=model.task, tags=model.tags, head=model.head, keywords=model.keywords)
    p, q = model.params, small.params
    Wx = p["lstm.l0.Wx"]
    for k in range(L):
        W_next = p[f"lstm.l{k + 1}.Wx"] if k + 1 < L else p["fc.W"]
        Wx, Wh, b, W_next = prune_layer_units(Wx, p[f"lstm.l{k}.Wh"], p[f"lstm.l{k}.b"], W_next, keep[k])
        q[f"lstm.l{k}.Wx"][...], q[f"lstm.l{k}.Wh"][...], q[f"lstm.l{k}.b"][...] = Wx, Wh, b
        Wx = W_next  # the next layer's input rows are already pruned; its columns are pruned next
    q["fc.W"][...] = Wx
    q["fc.b"][...] = p["fc.b"]
    if model.head == "feedback":  # W_o maps o_{t-1} (C classes) to the logits: no hidden unit in it
        q["fc.W_o"][...] = p["fc.W_o"]
    small.mean[...] = model.mean
    small.std[...] = model.std
    return small


# ---------------------------------------------------------------------------------------------------
# int8 quantization
# ---------------------------------------------------------------------------------------------------
def quantize_per_channel(W, *, scale_dtype=np.float32):
    r"""Symmetric per-output-channel int8 quantization of a weight matrix (D, M).

    .. math::
       :label: quant-int8

       s_k = \frac{\max_j |W_{jk}|}{127}, \qquad
       q_{jk} = \mathrm{round}\!\left(\frac{W_{jk}}{s_k}\right) \in \{-127, \ldots, 127\}, \qquad
       \hat W_{jk} = s_k\, q_{jk}

    so that :math:`|W_{jk} - \hat W_{jk}| \le s_k / 2`: the error of every weight is at most half a step
    of its own column. An all-zero column (a pruned unit) gets scale 1 and stays exactly zero.

    Parameters
    ----------
    W : ndarray (D, M)
    scale_dtype : {numpy.float32, numpy.float16}
        How the scales are stored. float16 (what :func:`quantize_model` uses, to halve the scales'
        share of a model file) is rounded *up* from :math:`s_k` before the codes are computed with it,
        so no code exceeds 127 and the half-step bound holds with the stored scale.

    Returns
    -------
    q : ndarray (D, M) int8
    scale : ndarray (M,) of ``scale_dtype``
    """
    check_float_array("W", W, ndim=2)
    scale_dtype = np.dtype(scale_dtype)
    if scale_dtype not in (np.float32, np.float16):
        raise MinikwsError(f"scale_dtype: expected float32 or float16, got {scale_dtype}")
    peak = np.max(np.abs(W), axis=0).astype(np.float64)
    exact = np.where(peak > 0, peak / QMAX, 1.0)
    scale = exact.astype(scale_dtype)
    low = scale.astype(np.float64) < exact
    scale[low] = np.nextafter(scale[low], scale_dtype.type(np.inf))  # round up: |W| / s <= 127
    q = np.clip(np.rint(W / scale.astype(np.float64)), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize(q, scale):
    """:math:`\\hat W = s_k q_{jk}` of eq. :eq:`quant-int8`, float32."""
    return q.astype(np.float32) * np.asarray(scale, dtype=np.float32)


def quantize_activation(x, scale):
    r"""int8 codes of activations with one calibrated scale: :math:`\mathrm{clip}(\mathrm{round}(x / s),
    -127, 127)` (eq. :eq:`quant-int8-matmul`); values beyond the calibrated range saturate."""
    return np.clip(np.rint(x / scale), -QMAX, QMAX).astype(np.int8)


# Below this many terms an int8 x int8 dot product fits float32's 24-bit integer range exactly
# (K * 127 * 127 < 2**24), so the BLAS float32 product of int8 codes IS the int32 accumulation.
_EXACT_FLOAT32_TERMS = (1 << 24) // (QMAX * QMAX)


def int_matmul(a, b):
    r"""The exact int32 product of int8 matrices a (N, K) and b (K, M).

    .. math::
       :label: quant-int8-matmul

       \hat a_{nk} = s_a\, q^a_{nk}, \qquad
       (\hat a \hat W)_{nm} = s_a\, s_m \sum_k q^a_{nk}\, q^W_{km}

    The sum is over integers; each term is at most :math:`127^2` in magnitude, so for
    :math:`K < 2^{24} / 127^2 = 1040` every partial sum is an integer below :math:`2^{24}`, which
    float32 represents exactly: the product is computed by the float32 matrix product of the codes (all
    cores, BLAS) and is bit for bit the int32 accumulation. Longer sums use NumPy's int32 product.
    """
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise MinikwsError(f"int_matmul: expected int8 operands, got {a.dtype} and {b.dtype}")
    if a.shape[-1] < _EXACT_FLOAT32_TERMS:
        return (a.astype(np.float32) @ b.astype(np.float32)).astype(np.int32)
    return a.astype(np.int32) @ b.astype(np.int32)


class Int8Layer(NamedTuple):
    """One LSTM layer in int8: weights and their per-column scales, the float bias, input scales.

    Wx (D, 4H) int8, sx (4H,) float16; Wh (H, 4H) int8, sh (4H,) float16; b (4H,) float32;
    in_scale, h_scale (floats): the calibrated scales of the layer's input and of its output h.
    """

    Wx: np.ndarray
    sx: np.ndarray
    Wh: np.ndarray
    sh: np.ndarray
    b: np.ndarray
    in_scale: float
    h_scale: float


class Int8KWSModel(KWSModel):
    """A :class:`~minikws.models.KWSModel` whose products run in int8 (eq. :eq:`quant-int8-matmul`).

    The front end, the normalisation, the classes and every prediction method (``featurize``,
    ``forward_frames``, ``forward``, ``predict_proba``, ``predict``) are the float model's; what
    differs is the arithmetic of :meth:`_encode` and :meth:`_head`: each product's operands are int8
    codes, their products are summed exactly as integers and rescaled by the two scales, and the gates,
    the cell and the biases are float32. It cannot be trained (there is no backward pass); make one with
    :func:`quantize_model`.

    Attributes
    ----------
    layers : list of Int8Layer
    fc_W : ndarray (H, C) int8
    fc_scale : ndarray (C,) float16
    fc_b : ndarray (C,) float32
    """

    def __init__(self, *, classes, frontend, hidden_size, num_layers, seed=0, backend="auto", task="clip",
                 tags=None, keywords=None):
        super().__init__(classes=classes, frontend=frontend, hidden_size=hidden_size, num_layers=num_layers,
                         dropout=0.0, dtype=np.float32, seed=seed, backend=backend, task=task, tags=tags,
                         keywords=keywords)
        self.lstm = None
        self.fc = None
        self.layers = []
        self.fc_W = self.fc_scale = self.fc_b = None
        self.fc_in_scale = None
        self._activation_scales = None  # ([(in, h) per layer], fc input): set by from_config / quantize_model

    # ----- the arithmetic
    def _encode(self, x, state, train, rng):
        if train:
            raise MinikwsError("model: an int8 model cannot be trained; fine-tune the float model first")
        self._check_x(x)
        T, B, _ = x.shape
        inp = ((x - self.mean) / self.std).astype(np.float32)
        new_state = []
        for k, layer in enumerate(self.layers):
            H = layer.Wh.shape[0]
            h0, c0 = (np.zeros((B, H), np.float32),) * 2 if state is None else state[k]
            inp, hc = _int8_lstm_layer(inp, h0, c0, layer)
            new_state.append(hc)
        return inp, new_state

    def _head(self, h, train, rng):
        """The linear layer in int8: h (..., H) -> logits (..., C)."""
        q = quantize_activation(h.reshape(-1, h.shape[-1]), self.fc_in_scale)
        z = int_matmul(q, self.fc_W).astype(np.float32) * (
            np.float32(self.fc_in_scale) * self.fc_scale.astype(np.float32)) + self.fc_b
        return z.reshape(h.shape[:-1] + (-1,)), None

    def backward_frames(self, dlogits, cache):
        raise MinikwsError("model: an int8 model has no backward pass")

    backward = backward_frames

    def zero_grad(self):
        raise MinikwsError("model: an int8 model has no gradients")

    # ----- parameters and files
    @property
    def params(self):
        out = {}
        for k, L in enumerate(self.layers):
            out.update({f"lstm.l{k}.Wx": L.Wx, f"lstm.l{k}.Wx.scale": L.sx, f"lstm.l{k}.Wh": L.Wh,
                        f"lstm.l{k}.Wh.scale": L.sh, f"lstm.l{k}.b": L.b})
        out.update({"fc.W": self.fc_W, "fc.W.scale": self.fc_scale, "fc.b": self.fc_b})
        return out

    @property
    def grads(self):
        raise MinikwsError("model: an int8 model has no gradients")

    def num_parameters(self):
        return sum(int(v.size) for k, v in self.params.items() if not k.endswith("scale"))

    def get_config(self):
        """The float model's settings plus ``"quantization"``: the scheme and the calibrated activation
        scales (one number per LSTM layer input, per layer output h, and for the linear layer's input)."""
        config = super().get_config()
        config["quantization"] = dict(QUANTIZATION, activation_scales={
            "lstm": [[float(L.in_scale), float(L.h_scale)] for L in self.layers], "fc": self.fc_in_scale})
        return config

    @classmethod
    def from_config(cls, config, *, backend="auto"):
        base = KWSModel.from_config({k: v for k, v in config.items() if k != "quantization"},
                                    backend=backend)
        if base.dtype != np.float32:
            raise MinikwsError("model config: an int8 model computes in float32")
        if base.head != "softmax":
            raise MinikwsError("model config: an int8 model has the plain softmax head")
        scales = _check_activation_scales(config.get("quantization"), base.num_layers)
        model = cls(classes=base.classes, frontend=base.frontend, hidden_size=base.hidden_size,
                    num_layers=base.num_layers, seed=base.seed, backend=backend, task=base.task,
                    tags=base.tags, keywords=base.keywords)
        model._activation_scales = scales
        return model

    def state_dict(self):
        out = {k: np.array(v, copy=True) for k, v in self.params.items()}
        out["norm.mean"] = self.mean.copy()
        out["norm.std"] = self.std.copy()
        return out

    def load_state_dict(self, state):
        """Check and take the int8 arrays, their scales and the float biases (names, shapes, dtypes,
        finite positive scales) before anything is changed."""
        L, H, D, C = self.num_layers, self.hidden_size, self.mean.shape[0], self.num_classes
        want = {"norm.mean": ((D,), np.float32), "norm.std": ((D,), np.float32),
                "fc.W": ((H, C), np.int8), "fc.W.scale": ((C,), np.float16), "fc.b": ((C,), np.float32)}
        for k in range(L):
            Dk = D if k == 0 else H
            want.update({f"lstm.l{k}.Wx": ((Dk, 4 * H), np.int8), f"lstm.l{k}.Wx.scale": ((4 * H,), np.float16),
                         f"lstm.l{k}.Wh": ((H, 4 * H), np.int8), f"lstm.l{k}.Wh.scale": ((4 * H,), np.float16),
                         f"lstm.l{k}.b": ((4 * H,), np.float32)})
        missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
        if missing or extra:
            raise MinikwsError(f"state: missing arrays {missing}, unexpected arrays {extra}")
        for name, (shape, dtype) in want.items():
            a = state[name]
            if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype:
                raise MinikwsError(f"state[{name!r}]: expected shape {shape} dtype {np.dtype(dtype)}, got "
                                   f"{getattr(a, 'shape', None)} {getattr(a, 'dtype', type(a).__name__)}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise MinikwsError(f"state[{name!r}]: contains NaN or infinite values")
            if name.endswith("scale") and not (a > 0).all():
                raise MinikwsError(f"state[{name!r}]: scales must be positive")
            if a.dtype == np.int8 and (a == -128).any():
                raise MinikwsError(f"state[{name!r}]: symmetric int8 codes lie in -127..127")
        if not (state["norm.std"] > 0).all():
            raise MinikwsError("state['norm.std']: standard deviations must be positive")
        if self._activation_scales is None:
            raise MinikwsError("model: no activation scales; build the model with from_config or quantize_model")
        lstm_scales, fc_scale = self._activation_scales
        self.layers = [Int8Layer(state[f"lstm.l{k}.Wx"].copy(), state[f"lstm.l{k}.Wx.scale"].copy(),
                                 state[f"lstm.l{k}.Wh"].copy(), state[f"lstm.l{k}.Wh.scale"].copy(),
                                 state[f"lstm.l{k}.b"].copy(), *lstm_scales[k]) for k in range(L)]
        self.fc_W, self.fc_scale = state["fc.W"].copy(), state["fc.W.scale"].copy()
        self.fc_b, self.fc_in_scale = state["fc.b"].copy(), fc_scale
        self.mean[...] = state["norm.mean"]
        self.std[...] = state["norm.std"]

    def __repr__(self):
        return (f"Int8KWSModel(classes={len(self.classes)}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}, int8 weights and activations)")


def _int8_lstm_layer(x, h0, c0, layer):
    """One LSTM layer (eq. :eq:`lstm-gates` to :eq:`lstm-hidden`) with int8 products: x (T, B, D)."""
    T, B, D = x.shape
    H = layer.Wh.shape[0]
    s_in, s_h = np.float32(layer.in_scale), np.float32(layer.h_scale)
    qx = quantize_activation(x.reshape(T * B, D), s_in)
    sx, sh = layer.sx.astype(np.float32), layer.sh.astype(np.float32)
    ax = int_matmul(qx, layer.Wx).astype(np.float32) * (s_in * sx) + layer.b  # all steps at once
    ax = ax.reshape(T, B, 4 * H)
    h, c = h0.astype(np.float32), c0.astype(np.float32)
    out = np.empty((T, B, H), np.float32)
    for t in range(T):
        a = ax[t] + int_matmul(quantize_activation(h, s_h), layer.Wh).astype(np.float32) * (s_h * sh)
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 3 * H:])
        g = np.tanh(a[:, 2 * H:3 * H])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
    return out, (h, c)


def _activation_scale(values):
    """The per-tensor scale that maps the largest magnitude seen to 127 (1 if all are zero), as the
    float32 number the arithmetic uses."""
    peak = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in values)
    return float(np.float32(peak / QMAX)) if peak > 0 else 1.0


def _check_activation_scales(quantization, num_layers):
    """([(in, h)] * num_layers, fc) from a model file's ``quantization`` settings, each a finite
    positive number; MinikwsError otherwise."""
    scales = quantization.get("activation_scales") if isinstance(quantization, dict) else None
    try:
        lstm, fc = scales["lstm"], scales["fc"]
        pairs = [(float(a), float(b)) for a, b in lstm]
        fc = float(fc)
    except (TypeError, KeyError, ValueError):
        raise MinikwsError("model config: quantization.activation_scales must hold 'lstm' [[in, h], ...] and "
                           "'fc'") from None
    if len(pairs) != num_layers or not all(np.isfinite(v) and v > 0 for v in [x for p in pairs for x in p] + [fc]):
        raise MinikwsError(f"model config: quantization.activation_scales needs {num_layers} finite positive "
                           "(in, h) pairs and a positive 'fc'")
    return pairs, fc


def quantize_model(model, calibration):
    """Post-training int8 quantization of a float :class:`~minikws.models.KWSModel`.

    Weights are quantized per output column (eq. :eq:`quant-int8`); the activations' scales (each LSTM
    layer's input, its output h, the linear layer's input) are the largest magnitudes seen on
    ``calibration``, a few batches of training features, divided by 127.

    Parameters
    ----------
    model : KWSModel
        A trained float model (float32 or float64; the int8 model computes in float32).
    calibration : list of ndarray (F_n, K)
        Feature matrices as :meth:`~minikws.models.KWSModel.featurize` returns them.

    Returns
    -------
    Int8KWSModel
    """
    if not isinstance(model, KWSModel) or isinstance(model, Int8KWSModel):
        raise MinikwsError("model: quantize_model expects a float KWSModel (this one is already int8)")
    if not calibration:
        raise MinikwsError("calibration: need at least one feature matrix")
    x, lengths = model.pad(list(calibration), dtype=model.dtype)
    valid = np.arange(x.shape[0])[:, None] < np.asarray(lengths)[None, :]  # (T, B): frames, not padding
    inputs = [(x - model.mean) / model.std]
    p = model.params
    B, H = x.shape[1], model.hidden_size
    for k in range(model.num_layers):  # the float network's own activations, layer by layer
        zeros = np.zeros((B, H), model.dtype)
        h, _, _ = lstm_forward(inputs[-1], zeros, zeros, p[f"lstm.l{k}.Wx"], p[f"lstm.l{k}.Wh"],
                            p[f"lstm.l{k}.b"], backend="numpy")
        inputs.append(h)
    inputs = [a[valid] for a in inputs]  # the scales come from real frames only
    if model.head != "softmax":
        raise MinikwsError("model: int8 quantization covers the plain softmax head, not the feedback head")
    q = Int8KWSModel(classes=model.classes, frontend=_float32_frontend(model), hidden_size=model.hidden_size,
                     num_layers=model.num_layers, seed=model.seed, backend=model.backend, task=model.task,
                     tags=model.tags, keywords=model.keywords)
    state = {"norm.mean": model.mean.astype(np.float32), "norm.std": model.std.astype(np.float32)}
    for k in range(model.num_layers):
        Wx, sx = quantize_per_channel(p[f"lstm.l{k}.Wx"], scale_dtype=np.float16)
        Wh, sh = quantize_per_channel(p[f"lstm.l{k}.Wh"], scale_dtype=np.float16)
        state.update({f"lstm.l{k}.Wx": Wx, f"lstm.l{k}.Wx.scale": sx, f"lstm.l{k}.Wh": Wh,
                      f"lstm.l{k}.Wh.scale": sh, f"lstm.l{k}.b": p[f"lstm.l{k}.b"].astype(np.float32)})
    W, s = quantize_per_channel(p["fc.W"], scale_dtype=np.float16)
    state.update({"fc.W": W, "fc.W.scale": s, "fc.b": p["fc.b"].astype(np.float32)})
    q._activation_scales = ([(_activation_scale([inputs[k]]), _activation_scale([inputs[k + 1]]))
                             for k in range(model.num_layers)], _activation_scale([inputs[-1]]))
    q.load_state_dict(state)
    return q


def _float32_frontend(model):
    fe = model.frontend
    return fe if fe.dtype == np.float32 else FrontEnd.from_config(fe.get_config(), dtype=np.float32)
