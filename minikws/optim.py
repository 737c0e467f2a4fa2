r"""Optimizers, gradient clipping and learning-rate schedules.

An optimizer holds a reference to a ``params`` dict (name -> array, e.g. a module's ``params``) and,
on ``step(grads)``, updates those arrays IN PLACE from a ``grads`` dict with the same names and shapes.
The update rules are PyTorch's (``torch.optim.SGD``, ``torch.optim.Adam``, ``torch.optim.AdamW``),
checked against it to 1e-10 in float64 by ``tests/test_torch_parity.py``. float32 parameters stay
float32: every coefficient is a Python float, which NumPy does not let promote an array.

``lr`` is a plain attribute: a training loop sets it before each step from a schedule, a pure function
of the step number (:func:`linear_warmup_lr`, :func:`warmup_cosine_lr`), so that a resumed run sets the
same rates as an uninterrupted one. ``state_dict()`` returns the step count and the moment arrays (flat
names, arrays only, savable with ``np.savez``); ``load_state_dict`` puts them back exactly.

Equation labels (each appears in a ``.. math::`` block of the docstring named):

    sgd-update         b_t = mu b_{t-1} + g_t;  theta -= lr b_t          SGD
    adam-moments       m_t, v_t (exponential moving averages of g, g^2)  Adam
    adam-update        bias-corrected step with L2 in the gradient      Adam
    adamw-update       decoupled decay, then the Adam step              AdamW
    clip-grad-norm     g *= min(1, max_norm / (||g|| + 1e-6))             clip_grad_norm
    linear-warmup      lr = base_lr (s + 1) / W                          linear_warmup_lr
    warmup-cosine      warm-up, then a half cosine down to min_lr        warmup_cosine_lr
"""
import math

import numpy as np

from minikws._validate import FLOAT_DTYPES, check_positive_int, check_real
from minikws.errors import MinikwsError

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "adam_update", "adamw_update", "clip_grad_norm",
           "linear_warmup_lr", "warmup_cosine_lr"]


def _check_params(params):
    if not isinstance(params, dict):
        raise MinikwsError(f"params: expected a dict name -> array, got {type(params).__name__}")
    if not params:
        raise MinikwsError("params: the dict is empty; there is nothing to optimize")
    for k, p in params.items():
        if not isinstance(k, str):
            raise MinikwsError(f"params: expected string names, got {k!r}")
        if not isinstance(p, np.ndarray) or p.dtype not in FLOAT_DTYPES:
            got = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
            raise MinikwsError(f"params[{k!r}]: expected a float32 or float64 array, got {got}")
        if not p.flags.writeable:
            raise MinikwsError(f"params[{k!r}]: the array is read-only; it must be updated in place")
        if not np.isfinite(p).all():
            raise MinikwsError(f"params[{k!r}]: contains NaN or infinite values")
    return params


def _check_grads(grads, params):
    """Check that ``grads`` matches ``params`` name by name: shape, dtype, finite values."""
    if not isinstance(grads, dict):
        raise MinikwsError(f"grads: expected a dict name -> array, got {type(grads).__name__}")
    if grads.keys() != params.keys():
        missing = sorted(params.keys() - grads.keys())
        extra = sorted(grads.keys() - params.keys())
        raise MinikwsError(f"grads: names differ from params (missing {missing}, unexpected {extra})")
    for k, p in params.items():
        g = grads[k]
        if not isinstance(g, np.ndarray):
            raise MinikwsError(f"grads[{k!r}]: expected a numpy array, got {type(g).__name__}")
        if g.shape != p.shape:
            raise MinikwsError(f"grads[{k!r}]: expected shape {p.shape} like params[{k!r}], got {g.shape}")
        if g.dtype != p.dtype:
            raise MinikwsError(f"grads[{k!r}]: expected dtype {p.dtype} like params[{k!r}], got {g.dtype}")
        if not np.isfinite(g).all():
            raise MinikwsError(f"grads[{k!r}]: contains NaN or infinite values")


def _adam_step(theta, g, m, v, t, lr, betas, eps):
    """The moments and the bias-corrected step shared by :func:`adam_update` and :func:`adamw_update`."""
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * g  # [adam-moments]
    v = beta2 * v + (1 - beta2) * (g * g)
    step_size = lr / (1 - beta1 ** t)  # [adam-update]: the bias corrections, as Python floats
    denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
    return theta - step_size * (m / denom), m, v


def adam_update(theta, g, m, v, t, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    r"""One Adam update of one array, with L2 weight decay in the gradient; a pure function.

    Parameters
    ----------
    theta : ndarray
        The parameter :math:`\theta_{t-1}` (any shape, float32 or float64).
    g : ndarray, shape of theta
        Its gradient :math:`g_t`.
    m, v : ndarray, shape of theta
        The moments :math:`m_{t-1}, v_{t-1}` (zeros before the first step).
    t : int
        The 1-based number of this step.
    lr, betas, eps, weight_decay
        As in :class:`Adam`.

    Returns
    -------
    theta, m, v : ndarray
        :math:`\theta_t, m_t, v_t`, new arrays (the inputs are not changed).

    Notes
    -----
    Equations :eq:`adam-moments` and :eq:`adam-update`; :meth:`Adam.step` applies it to every array.
    """
    if weight_decay != 0:
        g = g + weight_decay * theta  # [adam-moments]: L2 enters the gradient
    return _adam_step(theta, g, m, v, t, lr, betas, eps)


def adamw_update(theta, g, m, v, t, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    r"""One AdamW update of one array: decoupled weight decay, then the Adam step; a pure function.

    Parameters
    ----------
    theta : ndarray
        The parameter :math:`\theta_{t-1}` (any shape, float32 or float64).
    g : ndarray, shape of theta
        Its gradient :math:`g_t`.
    m, v : ndarray, shape of theta
        The moments :math:`m_{t-1}, v_{t-1}` (zeros before the first step).
    t : int
        The 1-based number of this step.
    lr, betas, eps, weight_decay
        As in :class:`AdamW`.

    Returns
    -------
    theta, m, v : ndarray
        :math:`\theta_t, m_t, v_t`, new arrays (the inputs are not changed).

    Notes
    -----
    Equation :eq:`adamw-update` (the moments of :eq:`adam-moments` with the plain gradient);
    :meth:`AdamW.step` applies it to every array. Chapter 5's exercise ``05.adamw_update`` asks for it.
    """
    if weight_decay != 0:
        theta = theta * (1 - lr * weight_decay)  # [adamw-update]: decay the weights, not the gradient
    return _adam_step(theta, g, m, v, t, lr, betas, eps)


class Optimizer:
    """Base class: the ``params`` dict, ``lr``, a step count, named state arrays and their (de)serialisation.

    A subclass lists its per-parameter state in ``_slots`` (e.g. ``("m", "v")``); the state array of slot
    ``s`` for parameter ``k`` is ``self.state[s][k]``, zeros of ``params[k]``'s shape and dtype at the start.
    """

    _slots = ()

    def __init__(self, params, lr):
        self.params = _check_params(params)
        self.lr = check_real("lr", lr, low=0.0)
        self.step_count = 0
        self.state = {s: {k: np.zeros_like(p) for k, p in params.items()} for s in self._slots}

    def _begin_step(self, grads):
        """Validate everything before touching any array, so a bad call changes nothing."""
        self.lr = check_real("lr", self.lr, low=0.0)
        _check_grads(grads, self.params)
        self.step_count += 1

    def step(self, grads):
        raise NotImplementedError

    def state_dict(self):
        """The optimizer's state as a flat dict of arrays (copies), savable with ``np.savez``.

        Returns
        -------
        state : dict of str -> ndarray
            ``"step"`` (0-d int64, the number of steps taken) and ``"<slot>.<name>"`` for every state
            array, e.g. ``"m.l0.Wx"``. Hyper-parameters (lr, betas, ...) are not included: they come from
            the constructor and, for ``lr``, from the schedule.
        """
        out = {"step": np.array(self.step_count, dtype=np.int64)}
        for s in self._slots:
            for k, a in self.state[s].items():
                out[f"{s}.{k}"] = a.copy()
        return out

    def load_state_dict(self, state):
        """Restore the step count and state arrays from :meth:`state_dict` (e.g. after ``np.load``).

        The names, shapes and dtypes must be exactly those this optimizer has; nothing is changed
        unless all of them are. The arrays are copied, so the dict may be discarded afterwards.
        """
        if not hasattr(state, "keys"):
            raise MinikwsError(f"state: expected a dict of arrays, got {type(state).__name__}")
        expected = {"step"} | {f"{s}.{k}" for s in self._slots for k in self.params}
        got = set(state.keys())
        if got != expected:
            raise MinikwsError(f"state: names differ from this optimizer's "
                               f"(missing {sorted(expected - got)}, unexpected {sorted(got - expected)})")
        step = np.asarray(state["step"])
        if step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
            raise MinikwsError(f"state['step']: expected a non-negative integer scalar, got {step!r}")
        for s in self._slots:
            for k, p in self.params.items():
                a = state[f"{s}.{k}"]
                name = f"state[{s + '.' + k!r}]"
                if not isinstance(a, np.ndarray) or a.shape != p.shape or a.dtype != p.dtype:
                    got = (a.shape, a.dtype) if isinstance(a, np.ndarray) else type(a).__name__
                    raise MinikwsError(f"{name}: expected shape {p.shape} and dtype {p.dtype}, got {got}")
                if not np.isfinite(a).all():
                    raise MinikwsError(f"{name}: contains NaN or infinite values")
        self.step_count = int(step)
        for s in self._slots:
            for k, p in self.params.items():
                # a fresh array: the previous one may be shared with a state_dict() the caller kept
                self.state[s][k] = np.array(state[f"{s}.{k}"], dtype=p.dtype, copy=True)


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum and L2 weight decay, as ``torch.optim.SGD``.

    Parameters
    ----------
    params : dict of str -> ndarray
        The arrays to update in place (float32 or float64).
    lr : float
        Learning rate, >= 0 (a plain attribute; a schedule may change it between steps).
    momentum : float
        :math:`\mu` in [0, 1); 0 is plain gradient descent.
    weight_decay : float
        :math:`\lambda` >= 0, added to the gradient as :math:`\lambda \theta` (L2 regularisation).

    Notes
    -----
    With :math:`g_t` the gradient of step :math:`t = 1, 2, \dots`:

    .. math::
       :label: sgd-update

       \hat g_t = g_t + \lambda \theta_{t-1}, \qquad
       b_t = \begin{cases} \hat g_1 & t = 1 \\ \mu b_{t-1} + \hat g_t & t > 1 \end{cases}, \qquad
       \theta_t = \theta_{t-1} - \eta\, b_t

    The buffer starts at the first gradient rather than at zero (PyTorch's choice, dampening 0).
    State: ``"momentum.<name>"`` holds :math:`b_t` (zeros before the first step).
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.momentum = check_real("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        self._slots = ("momentum",) if self.momentum > 0 else ()
        super().__init__(params, lr)

    def step(self, grads):
        """Apply one update :eq:`sgd-update` to every array of ``params``, in place.

        Parameters
        ----------
        grads : dict of str -> ndarray
            Same names, shapes and dtypes as ``params``; finite. Not modified.
        """
        self._begin_step(grads)
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for k, theta in self.params.items():
            g = grads[k]
            if wd != 0:
                g = g + wd * theta
            if mu > 0:
                b = self.state["momentum"][k]
                if self.step_count == 1:
                    b[...] = g
                else:
                    b *= mu
                    b += g
                g = b
            theta -= lr * g


class Adam(Optimizer):
    r"""Adam with bias correction and L2 weight decay in the gradient, as ``torch.optim.Adam``.

    Parameters
    ----------
    params : dict of str -> ndarray
        The arrays to update in place (float32 or float64).
    lr : float
        :math:`\eta` >= 0 (a plain attribute; a schedule may change it between steps).
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1): decay rates of the two moment averages.
    eps : float
        :math:`\epsilon` >= 0, added to the denominator.
    weight_decay : float
        :math:`\lambda` >= 0, added to the gradient as :math:`\lambda \theta` -- which the adaptive
        denominator then rescales; see :class:`AdamW` for the decoupled form.

    Notes
    -----
    With :math:`g_t` the gradient of step :math:`t = 1, 2, \dots` and :math:`m_0 = v_0 = 0`:

    .. math::
       :label: adam-moments

       \hat g_t = g_t + \lambda \theta_{t-1}, \qquad
       m_t = \beta_1 m_{t-1} + (1 - \beta_1) \hat g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1 - \beta_2) \hat g_t^2

    .. math::
       :label: adam-update

       \theta_t = \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
           \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    Dividing by :math:`1 - \beta^t` undoes the pull of the zero start: at :math:`t = 1` the step is
    :math:`\eta\, \hat g_1 / (|\hat g_1| + \epsilon)`, about :math:`\eta` per coordinate.
    State: ``"m.<name>"``, ``"v.<name>"``.
    """

    _slots = ("m", "v")
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise MinikwsError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.betas = (check_real("betas[0]", betas[0], low=0.0, high=1.0, high_open=True),
                      check_real("betas[1]", betas[1], low=0.0, high=1.0, high_open=True))
        self.eps = check_real("eps", eps, low=0.0)
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        super().__init__(params, lr)

    def step(self, grads):
        """Apply one update (:eq:`adam-update`, or :eq:`adamw-update` for AdamW) in place.

        Parameters
        ----------
        grads : dict of str -> ndarray
            Same names, shapes and dtypes as ``params``; finite. Not modified.
        """
        self._begin_step(grads)
        update = adamw_update if self._decoupled else adam_update
        for k, theta in self.params.items():
            m, v = self.state["m"][k], self.state["v"][k]
            theta[...], m[...], v[...] = update(theta, grads[k], m, v, self.step_count, lr=self.lr,
                                                betas=self.betas, eps=self.eps,
                                                weight_decay=self.weight_decay)


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Parameters
    ----------
    params : dict of str -> ndarray
        The arrays to update in place (float32 or float64).
    lr : float
        :math:`\eta` >= 0 (a plain attribute; a schedule may change it between steps).
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1).
    eps : float
        :math:`\epsilon` >= 0.
    weight_decay : float
        :math:`\lambda` >= 0: each step first shrinks the weights by the factor :math:`1 - \eta\lambda`.

    Notes
    -----
    The moments :math:`m_t, v_t` are those of :eq:`adam-moments` with :math:`\hat g_t = g_t` (the decay
    does not enter them). The update:

    .. math::
       :label: adamw-update

       \theta'_{t-1} = (1 - \eta \lambda)\, \theta_{t-1}, \qquad
       \theta_t = \theta'_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
           \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    In :class:`Adam` the term :math:`\lambda\theta` is divided by :math:`\sqrt{v_t}` like the gradient,
    so weights with large gradients are barely decayed; here every weight shrinks by the same factor
    (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019).
    State: ``"m.<name>"``, ``"v.<name>"``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(grads, max_norm):
    r"""Scale all gradients together so that their global 2-norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict of str -> ndarray
        Gradients (float32 or float64, finite); scaled IN PLACE, like ``torch.nn.utils.clip_grad_norm_``.
    max_norm : float
        The largest allowed global norm, > 0.

    Returns
    -------
    total_norm : float
        The global norm before clipping.

    Notes
    -----
    .. math::
       :label: clip-grad-norm

       \|g\| = \sqrt{\sum_k \|g_k\|_2^2}, \qquad
       g_k \leftarrow g_k \cdot \min\left(1, \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\right)

    The direction of the whole gradient is kept; only its length is capped. (The 1e-6 is PyTorch's,
    so a norm just at the threshold is scaled by a factor a hair below 1.)
    """
    if not isinstance(grads, dict):
        raise MinikwsError(f"grads: expected a dict name -> array, got {type(grads).__name__}")
    max_norm = check_real("max_norm", max_norm, low=0.0)
    if max_norm == 0:
        raise MinikwsError("max_norm: expected a positive number, got 0")
    squares = 0.0
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or g.dtype not in FLOAT_DTYPES:
            got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise MinikwsError(f"grads[{k!r}]: expected a float32 or float64 array, got {got}")
        norm_k = float(np.linalg.norm(g.ravel()))
        if not math.isfinite(norm_k) and not np.isfinite(g).all():
            raise MinikwsError(f"grads[{k!r}]: contains NaN or infinite values")
        squares += norm_k * norm_k
    total_norm = math.sqrt(squares)
    coef = min(1.0, max_norm / (total_norm + 1e-6))
    if coef < 1.0:
        for g in grads.values():
            g *= coef
    return total_norm


def _check_schedule(step, base_lr, total_steps, warmup_steps):
    step = check_positive_int("step", step, minimum=0)
    base_lr = check_real("base_lr", base_lr, low=0.0)
    warmup_steps = check_positive_int("warmup_steps", warmup_steps, minimum=0)
    if total_steps is not None:
        total_steps = check_positive_int("total_steps", total_steps)
        if warmup_steps >= total_steps:
            raise MinikwsError(f"warmup_steps: expected fewer than total_steps = {total_steps}, "
                               f"got {warmup_steps}")
    return int(step), base_lr


def linear_warmup_lr(step, *, base_lr, warmup_steps=0):
    r"""Learning rate of the 0-based ``step``: a linear ramp over ``warmup_steps``, then constant.

    Parameters
    ----------
    step : int
        Number of updates already made (0 for the first update).
    base_lr : float
        The rate after the warm-up, >= 0.
    warmup_steps : int
        :math:`W` >= 0; 0 means no warm-up.

    Returns
    -------
    lr : float

    Notes
    -----
    .. math::
       :label: linear-warmup

       \eta(s) = \eta_{\text{base}} \min\left(1, \frac{s + 1}{W}\right)

    The first update (:math:`s = 0`) uses :math:`\eta_{\text{base}} / W`, never 0, and update
    :math:`s = W - 1` is the first at the full rate.
    """
    s, base_lr = _check_schedule(step, base_lr, None, warmup_steps)
    if s < warmup_steps:
        return base_lr * (s + 1) / warmup_steps
    return base_lr


def warmup_cosine_lr(step, *, base_lr, total_steps, warmup_steps=0, min_lr=0.0):
    r"""Learning rate of the 0-based ``step``: linear warm-up, then a half cosine down to ``min_lr``.

    Parameters
    ----------
    step : int
        Number of updates already made (0 for the first update).
    base_lr : float
        Peak rate, reached at update :math:`s = W - 1`, >= 0.
    total_steps : int
        :math:`S` >= 1, the number of updates of the run; update :math:`s = S - 1` uses ``min_lr``
        exactly, and later steps keep it.
    warmup_steps : int
        :math:`W` in [0, S - 1], so that at least the last update is on the cosine.
    min_lr : float
        Final rate, in [0, base_lr].

    Returns
    -------
    lr : float

    Notes
    -----
    With :math:`u = s + 1` the 1-based number of the update:

    .. math::
       :label: warmup-cosine

       \eta(s) = \begin{cases}
           \eta_{\text{base}}\, u / W & u \le W \\
           \eta_{\min} + \tfrac12 (\eta_{\text{base}} - \eta_{\min})
               \left(1 + \cos\left(\pi \frac{\min(u, S) - W}{S - W}\right)\right) & u > W
       \end{cases}

    The two pieces meet at :math:`u = W` (both give :math:`\eta_{\text{base}}`), so the schedule is
    continuous; a pure function of the step, so a resumed run uses the same rates.
    """
    s, base_lr = _check_schedule(step, base_lr, total_steps, warmup_steps)
    min_lr = check_real("min_lr", min_lr, low=0.0, high=base_lr)
    u = s + 1
    if u <= warmup_steps:
        return base_lr * u / warmup_steps
    progress = (min(u, total_steps) - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
