"""Exercises of chapter 5, AdamW (tutorials/05_adamw.ipynb).

    05.adamw_update    one AdamW update of one array, returning (theta, m, v)   :eq:`adamw-update`
    05.warmup_cosine   the learning rate of step s: warm-up, then a half cosine  :eq:`warmup-cosine`
"""
import math

import numpy as np

from minikws import optim
from minikws.exercises.core import Incorrect, call, compare, exercise

# (shape of theta, step number t, lr, betas, eps, weight decay); t = 1 and a one-element array included.
_CASES = [
    ((3, 4), 3, 1e-2, (0.9, 0.999), 1e-8, 0.1),
    ((1,), 1, 1e-3, (0.9, 0.999), 1e-8, 1e-2),
    ((5,), 10, 1e-1, (0.8, 0.99), 5e-2, 0.5),  # a large eps and decay: their placement shows
    ((2, 1, 3), 2, 1e-1, (0.5, 0.9), 1e-8, 0.0),
]


def _adam_variants(theta, g, m, v, t, lr, betas, eps, wd):
    """(theta, m, v) after the usual mistakes, keyed by the words that name them."""
    b1, b2 = betas

    def step(theta0, grad, bc1=True, bc2=True, eps_inside=False):
        m1 = b1 * m + (1 - b1) * grad
        v1 = b2 * v + (1 - b2) * grad**2
        m_hat = m1 / (1 - b1**t) if bc1 else m1
        v_hat = v1 / (1 - b2**t) if bc2 else v1
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return theta0 - lr * m_hat / denom

    decayed = theta * (1 - lr * wd)
    variants = {
        "adds the weight decay to the gradient (L2, as Adam does); AdamW decays the weights themselves, "
        "theta <- (1 - lr * weight_decay) theta, and keeps the decay out of m and v":
            step(theta, g + wd * theta),
        "is missing the weight decay": step(theta, g),
        "decays by (1 - weight_decay); the factor is (1 - lr * weight_decay) (eq. adamw-update)":
            step(theta * (1 - wd), g),
        "is missing both bias corrections, 1/(1 - beta1^t) on m and 1/(1 - beta2^t) on v (eq. adam-update)":
            step(decayed, g, bc1=False, bc2=False),
        "is missing the bias correction 1/(1 - beta1^t) of the first moment m (eq. adam-update)":
            step(decayed, g, bc1=False),
        "is missing the bias correction 1/(1 - beta2^t) of the second moment v (eq. adam-update)":
            step(decayed, g, bc2=False),
        "adds eps inside the square root; (eq. adam-update) adds it to sqrt(v_hat)":
            step(decayed, g, eps_inside=True),
        "moves along the gradient instead of against it: subtract the step": 2 * decayed - step(decayed, g),
        "applies the decay after the Adam step; decay theta_{t-1} first (eq. adamw-update)":
            step(theta, g) * (1 - lr * wd),
    }
    return {k: w for k, w in variants.items() if wd != 0 or "decay" not in k}


@exercise("05.adamw_update",
          title="adamw_update(theta, g, m, v, t, *, lr, betas, eps, weight_decay) -> (theta, m, v)",
          reference=optim.adamw_update,
          diagnoses=("L2 instead of decoupled", "missing decay", "decay without lr", "missing bias correction",
                     "eps inside sqrt", "decay after step", "in place", "moments", "raises"))
def check_adamw_update(student, rng):
    for shape, t, lr, betas, eps, wd in _CASES:
        theta = rng.standard_normal(shape)
        g = rng.standard_normal(shape)
        m = 0.1 * rng.standard_normal(shape) if t > 1 else np.zeros(shape)
        v = 0.1 * rng.random(shape) if t > 1 else np.zeros(shape)
        where = f" (theta {shape}, t={t}, weight_decay={wd})"
        kwargs = dict(lr=lr, betas=betas, eps=eps, weight_decay=wd)
        new = call(student, theta, g, m, v, t, outputs=("theta", "m", "v"), **kwargs)
        want = optim.adamw_update(theta, g, m, v, t, **kwargs)
        b1, b2 = betas
        compare("m", new[1], want[1], where=where, mistakes={
            "includes the weight decay; in AdamW the moments see only the gradient": b1 * m + (1 - b1) * (
                g + wd * theta),
            "uses beta1 the wrong way round: m_t = beta1 m_{t-1} + (1 - beta1) g_t (eq. adam-moments)":
                (1 - b1) * m + b1 * g,
        } if wd else None)
        compare("v", new[2], want[2], where=where, mistakes={
            "is not the average of the SQUARED gradient: v_t = beta2 v_{t-1} + (1 - beta2) g_t^2":
                b2 * v + (1 - b2) * g,
            "uses beta2 the wrong way round: v_t = beta2 v_{t-1} + (1 - beta2) g_t^2 (eq. adam-moments)":
                (1 - b2) * v + b2 * g * g,
        })
        compare("theta", new[0], want[0], where=where,
                mistakes=_adam_variants(theta, g, m, v, t, lr, betas, eps, wd))
    # float32 in, float32 out: a Python float coefficient must not promote the array.
    theta = rng.standard_normal(4).astype(np.float32)
    zeros = np.zeros(4, dtype=np.float32)
    try:
        result = student(theta.copy(), theta.copy(), zeros.copy(), zeros.copy(), 1, lr=1e-3,
                         betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    except Exception as exc:
        raise Incorrect(f"your function raised {type(exc).__name__} on float32 arrays: {exc}") from None
    if any(np.asarray(r).dtype != np.float32 for r in result):
        raise Incorrect("float32 inputs give a result that is not float32: keep the parameter's dtype "
                        "(a float64 array coefficient promotes it; use Python floats)")
    return f"{len(_CASES)} cases, t = 1 to 10, with and without decay, float32 kept"


# (total_steps, warmup_steps, base_lr, min_lr); W = 0 and S = W + 1 included.
_SCHEDULES = [(50, 10, 1e-2, 1e-4), (20, 0, 3e-3, 0.0), (6, 5, 1.0, 0.1), (1, 0, 0.5, 0.05), (30, 1, 2e-3, 0.0)]


def _lr_curve(fn, S, W, base, low):
    """fn at every step from 0 to S + 2 (past the end, where the rate must stay at min_lr)."""
    return np.array([fn(s, base_lr=base, total_steps=S, warmup_steps=W, min_lr=low) for s in range(S + 3)],
                    dtype=np.float64)


def _schedule_variants(S, W, base, low):
    def cosine(u, start=W, full=False):
        progress = (min(u, S) - start) / (S - start)
        c = math.cos((2 if full else 1) * math.pi * progress)
        return low + 0.5 * (base - low) * (1 + c)

    def curve(warm, cos):
        return np.array([warm(s + 1) if s + 1 <= W else cos(s + 1) for s in range(S + 3)])

    warm = lambda u: base * u / W  # noqa: E731
    return {
        "starts the warm-up at 0: the first update (s = 0) must use base_lr / W, with u = s + 1":
            np.array([base * s / W if s < W else cosine(s) for s in range(S + 3)]),
        "ignores min_lr: the cosine goes from base_lr down to min_lr, not to 0":
            np.array([warm(s + 1) if s + 1 <= W else cosine(s + 1) - low * 0.5 * (1 - math.cos(
                math.pi * (min(s + 1, S) - W) / (S - W))) for s in range(S + 3)]),
        "runs a full cosine period after the warm-up; it is a half cosine, from base_lr to min_lr":
            curve(warm, lambda u: cosine(u, full=True)),
        "does not stay at min_lr after total_steps: clamp the progress at S":
            np.array([warm(s + 1) if s + 1 <= W else low + 0.5 * (base - low) * (
                1 + math.cos(math.pi * ((s + 1) - W) / (S - W))) for s in range(S + 3)]),
        "starts the cosine's progress at step 0 instead of at the end of the warm-up, (u - W) / (S - W)":
            curve(warm, lambda u: low + 0.5 * (base - low) * (1 + math.cos(math.pi * min(u, S) / S))),
    }


@exercise("05.warmup_cosine",
          title="warmup_cosine_lr(step, *, base_lr, total_steps, warmup_steps=0, min_lr=0.0) -> lr",
          reference=optim.warmup_cosine_lr,
          diagnoses=("warm-up off by one", "min_lr ignored", "full cosine", "no clamp", "progress from 0",
                     "raises"))
def check_warmup_cosine(student, rng):
    for S, W, base, low in _SCHEDULES:
        where = f" (total_steps={S}, warmup_steps={W}, base_lr={base:g}, min_lr={low:g})"

        def wrapped(s, **kw):
            return call(student, s, **kw)

        got = _lr_curve(wrapped, S, W, base, low)
        want = _lr_curve(optim.warmup_cosine_lr, S, W, base, low)
        variants = {k: v for k, v in _schedule_variants(S, W, base, low).items()
                    if (W > 0 or "warm-up" not in k) and (low > 0 or "min_lr" not in k)}
        compare("the learning-rate curve", got, want, where=where, mistakes=variants)
    return f"{len(_SCHEDULES)} schedules, every step and 3 past the end"
