"""Optimizers, clipping and schedules: hand-computed steps, exact resume, dtypes, bad input.

Agreement with PyTorch over 200 steps is in tests/test_torch_parity.py.
"""
import inspect
import io
import math

import numpy as np
import pytest

from minikws.errors import MinikwsError
from minikws.optim import SGD, Adam, AdamW, clip_grad_norm, linear_warmup_lr, warmup_cosine_lr

OPTIMIZERS = {
    "sgd": lambda p: SGD(p, lr=0.05),
    "sgd_momentum": lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda p: Adam(p, lr=1e-2, weight_decay=1e-2),
    "adamw": lambda p: AdamW(p, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1),
}


def make_params(rng, dtype=np.float64):
    return {"l0.Wx": rng.standard_normal((3, 8)).astype(dtype), "l0.b": rng.standard_normal(8).astype(dtype),
            "fc.W": rng.standard_normal((2, 1)).astype(dtype)}


def grad_sequence(rng, params, steps):
    return [{k: (rng.standard_normal(p.shape) * 10.0 ** rng.uniform(-2, 1)).astype(p.dtype)
             for k, p in params.items()} for _ in range(steps)]


# ------------------------------------------------------------------------------------ known answers
def test_adamw_two_steps_by_hand():
    # eps = 0 so that every number below is a short decimal
    theta = np.array([1.0, -2.0])
    opt = AdamW({"w": theta}, lr=0.1, betas=(0.9, 0.999), eps=0.0, weight_decay=0.1)
    opt.step({"w": np.array([0.5, -1.0])})
    # decay: theta * (1 - 0.1 * 0.1) = [0.99, -1.98]; m1 = [0.05, -0.1], v1 = [0.00025, 0.001];
    # bias-corrected m1 / 0.1 = g, v1 / 0.001 = g^2, so the step is lr * sign(g)
    np.testing.assert_allclose(theta, [0.89, -1.88], rtol=1e-14)
    np.testing.assert_allclose(opt.state["m"]["w"], [0.05, -0.1], rtol=1e-14)
    np.testing.assert_allclose(opt.state["v"]["w"], [0.00025, 0.001], rtol=1e-14)
    opt.step({"w": np.array([0.5, 1.0])})
    # decay: [0.8811, -1.8612]; m2 = [0.095, 0.01], v2 = [0.00049975, 0.001999];
    # 1 - beta1^2 = 0.19, 1 - beta2^2 = 0.001999: m_hat = [0.5, 1/19], sqrt(v_hat) = [0.5, 1]
    np.testing.assert_allclose(theta, [0.8811 - 0.1, -1.8612 - 0.1 / 19], rtol=1e-13)
    assert opt.step_count == 2


def test_adam_bias_correction_makes_the_first_step_lr_whatever_the_gradient_scale():
    for scale in (1e-3, 1.0, 1e3):
        theta = np.zeros(4)
        g = scale * np.array([1.0, -2.0, 0.5, -0.25])
        Adam({"w": theta}, lr=0.01, eps=0.0).step({"w": g})
        np.testing.assert_allclose(theta, -0.01 * np.sign(g), rtol=1e-14)


def test_sgd_momentum_by_hand():
    theta = np.array([1.0])
    opt = SGD({"w": theta}, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([2.0])})  # b1 = g1 = 2 (not (1 - mu) g1): theta = 1 - 0.2
    np.testing.assert_allclose(theta, [0.8], rtol=1e-15)
    opt.step({"w": np.array([4.0])})  # b2 = 0.9 * 2 + 4 = 5.8: theta = 0.8 - 0.58
    np.testing.assert_allclose(theta, [0.22], rtol=1e-14)
    theta = np.array([1.0])
    SGD({"w": theta}, lr=0.1, weight_decay=0.5).step({"w": np.array([2.0])})  # g + 0.5 * 1 = 2.5
    np.testing.assert_allclose(theta, [0.75], rtol=1e-15)


def test_decoupled_and_l2_weight_decay_differ_exactly_as_expected():
    # a weight with zero gradient: L2 decay enters Adam's normalised step and moves it by a full lr,
    # however small the decay; AdamW shrinks it by the factor (1 - lr * wd) and nothing else
    lr, wd = 0.01, 1e-4
    a, w = np.array([2.0, -3.0]), np.array([2.0, -3.0])
    Adam({"p": a}, lr=lr, eps=1e-12, weight_decay=wd).step({"p": np.zeros(2)})
    AdamW({"p": w}, lr=lr, eps=1e-12, weight_decay=wd).step({"p": np.zeros(2)})
    np.testing.assert_allclose(a, [2.0 - lr, -3.0 + lr], rtol=1e-10)
    np.testing.assert_array_equal(w, np.array([2.0, -3.0]) * (1 - lr * wd))


def test_adam_and_adamw_coincide_without_weight_decay(rng):
    pa = make_params(rng)
    pw = {k: v.copy() for k, v in pa.items()}
    a, w = Adam(pa, lr=3e-3), AdamW(pw, lr=3e-3, weight_decay=0.0)
    for g in grad_sequence(rng, pa, 20):
        a.step(g)
        w.step(g)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pw[k])


def test_clip_grad_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    total = clip_grad_norm(grads, 10.0)
    assert total == 5.0
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # under the threshold: untouched
    total = clip_grad_norm(grads, 1.0)
    assert total == 5.0
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(grads["a"], [3.0 * coef, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grads["b"], [[4.0 * coef]], rtol=1e-15)
    assert math.isclose(math.hypot(grads["a"][0], grads["b"][0, 0]), 1.0, rel_tol=1e-5)


def test_clip_grad_norm_keeps_float32():
    grads = {"a": np.full(10, 100.0, dtype=np.float32)}
    clip_grad_norm(grads, 1.0)
    assert grads["a"].dtype == np.float32
    assert abs(float(np.linalg.norm(grads["a"].astype(np.float64))) - 1.0) < 1e-5


# --------------------------------------------------------------------------------------- schedules
def test_warmup_cosine_endpoints_and_midpoints():
    kw = dict(base_lr=1.0, total_steps=110, warmup_steps=10, min_lr=0.1)
    assert warmup_cosine_lr(0, **kw) == pytest.approx(0.1, rel=1e-15)  # the first update: base / W
    assert warmup_cosine_lr(4, **kw) == pytest.approx(0.5, rel=1e-15)  # warm-up midpoint (u = 5)
    assert warmup_cosine_lr(9, **kw) == 1.0  # the end of warm-up is the top of the cosine
    assert warmup_cosine_lr(59, **kw) == pytest.approx(0.55, rel=1e-14)  # cosine midpoint: (base + min) / 2
    assert warmup_cosine_lr(109, **kw) == pytest.approx(0.1, rel=1e-14)  # the last update: min_lr
    assert warmup_cosine_lr(500, **kw) == pytest.approx(0.1, rel=1e-14)
    lrs = [warmup_cosine_lr(s, **kw) for s in range(110)]
    assert np.all(np.diff(lrs[:10]) > 0) and np.all(np.diff(lrs[9:]) < 0)


def test_warmup_cosine_without_warmup_starts_near_base():
    assert warmup_cosine_lr(0, base_lr=2.0, total_steps=4) == pytest.approx(1.0 + math.cos(math.pi / 4))
    assert warmup_cosine_lr(3, base_lr=2.0, total_steps=4) == pytest.approx(0.0, abs=1e-15)
    assert warmup_cosine_lr(0, base_lr=2.0, total_steps=1, min_lr=0.5) == pytest.approx(0.5)


def test_linear_warmup():
    assert linear_warmup_lr(0, base_lr=0.3, warmup_steps=3) == pytest.approx(0.1)
    assert linear_warmup_lr(2, base_lr=0.3, warmup_steps=3) == 0.3
    assert linear_warmup_lr(1000, base_lr=0.3, warmup_steps=3) == 0.3
    assert linear_warmup_lr(0, base_lr=0.3) == 0.3


@pytest.mark.parametrize("kw, name", [
    (dict(step=-1), "step"), (dict(step=1.5), "step"), (dict(step=True), "step"),
    (dict(base_lr=-1.0), "base_lr"), (dict(base_lr=float("nan")), "base_lr"),
    (dict(total_steps=0), "total_steps"), (dict(warmup_steps=10), "warmup_steps"),
    (dict(warmup_steps=-1), "warmup_steps"), (dict(min_lr=2.0), "min_lr"),
])
def test_schedule_bad_arguments(kw, name):
    args = dict(step=0, base_lr=1.0, total_steps=10, warmup_steps=2, min_lr=0.0) | kw
    step = args.pop("step")
    with pytest.raises(MinikwsError, match=name):
        warmup_cosine_lr(step, **args)


def test_schedule_defaults_match_the_docstrings():
    sig = inspect.signature(warmup_cosine_lr)
    assert sig.parameters["warmup_steps"].default == 0 and sig.parameters["min_lr"].default == 0.0
    assert all(p.kind == p.KEYWORD_ONLY for n, p in sig.parameters.items() if n != "step")
    sig = inspect.signature(AdamW)
    assert {n: p.default for n, p in sig.parameters.items() if n != "params"} == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)


# ----------------------------------------------------------------------- resume, dtypes, in place
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_continues_bit_identically(name, dtype, rng):
    params = make_params(rng, dtype)
    grads = grad_sequence(rng, params, 12)
    full = {k: v.copy() for k, v in params.items()}
    opt = OPTIMIZERS[name](full)
    for s, g in enumerate(grads):
        opt.lr = 0.01 * (s + 1) / 12  # a schedule sets lr before each step
        opt.step(g)
    part = {k: v.copy() for k, v in params.items()}
    first = OPTIMIZERS[name](part)
    for s, g in enumerate(grads[:5]):
        first.lr = 0.01 * (s + 1) / 12
        first.step(g)
    buf = io.BytesIO()
    np.savez(buf, **first.state_dict())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        state = {k: f[k] for k in f.files}
    resumed_params = {k: v.copy() for k, v in part.items()}
    resumed = OPTIMIZERS[name](resumed_params)
    resumed.load_state_dict(state)
    assert resumed.step_count == 5
    for s, g in enumerate(grads[5:], start=5):
        resumed.lr = 0.01 * (s + 1) / 12
        resumed.step(g)
    for k in params:
        np.testing.assert_array_equal(resumed_params[k], full[k], err_msg=k)
        assert resumed_params[k].dtype == dtype


def test_state_dict_is_a_copy_and_flat():
    p = {"w": np.ones(3)}
    opt = AdamW(p)
    opt.step({"w": np.ones(3)})
    sd = opt.state_dict()
    assert set(sd) == {"step", "m.w", "v.w"} and sd["step"].dtype == np.int64 and int(sd["step"]) == 1
    sd["m.w"][...] = 99.0
    assert not np.any(opt.state["m"]["w"] == 99.0)
    opt.load_state_dict(sd)
    sd["m.w"][...] = -1.0  # the optimizer keeps its own copy
    assert np.all(opt.state["m"]["w"] == 99.0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_float32_stays_float32_in_place_and_grads_untouched(name, rng):
    params = make_params(rng, np.float32)
    arrays = dict(params)
    initial = {k: v.copy() for k, v in params.items()}
    opt = OPTIMIZERS[name](params)
    for g in grad_sequence(rng, params, 3):
        before = {k: v.copy() for k, v in g.items()}
        opt.step(g)
        for k in g:
            np.testing.assert_array_equal(g[k], before[k])
    for k, p in params.items():
        assert p is arrays[k] and p.dtype == np.float32
        assert not np.array_equal(p, initial[k]), k
    for k, a in opt.state_dict().items():
        if k != "step":
            assert a.dtype == np.float32, k


def test_step_updates_the_arrays_a_module_holds(rng):
    from minikws.nn import Linear

    lin = Linear(3, 2, dtype=np.float32, rng=rng)
    W = lin.params["W"]
    before = W.copy()
    opt = AdamW(lin.params, lr=0.1)
    lin.grads["W"][...] = 1.0
    opt.step(lin.grads)
    assert lin.params["W"] is W and W.dtype == np.float32
    np.testing.assert_allclose(W, before * (1 - 0.1 * 0.01) - 0.1, rtol=1e-5)


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, name", [
    (lambda p: SGD(p, lr=-0.1), "lr"),
    (lambda p: AdamW(p, lr=float("nan")), "lr"),
    (lambda p: AdamW(p, betas=(1.0, 0.999)), "betas"),
    (lambda p: AdamW(p, betas=(0.9, -0.1)), "betas"),
    (lambda p: Adam(p, betas=(0.9,)), "betas"),
    (lambda p: AdamW(p, eps=-1e-8), "eps"),
    (lambda p: AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: SGD(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: AdamW([np.ones(2)]), "params"),
    (lambda p: AdamW({}), "params"),
    (lambda p: AdamW({"w": np.ones(2, dtype=np.int64)}), "params\\['w'\\]"),
    (lambda p: AdamW({"w": np.array([1.0, np.nan])}), "params\\['w'\\]"),
])
def test_bad_constructor_arguments(make, name):
    with pytest.raises(MinikwsError, match=name):
        make({"w": np.ones(2)})


@pytest.mark.parametrize("grads, match", [
    ({"w": np.ones(2)}, "missing \\['v'\\]"),
    ({"w": np.ones(2), "v": np.ones(3), "u": np.ones(1)}, "unexpected \\['u'\\]"),
    ({"w": np.ones(2), "v": np.ones(4)}, "grads\\['v'\\]: expected shape \\(3,\\)"),
    ({"w": np.ones(2), "v": np.ones(3, dtype=np.float32)}, "grads\\['v'\\]: expected dtype float64"),
    ({"w": np.ones(2), "v": np.array([1.0, np.nan, 0.0])}, "grads\\['v'\\]: contains NaN"),
    ({"w": np.ones(2), "v": np.array([1.0, np.inf, 0.0])}, "grads\\['v'\\]: contains NaN"),
    ({"w": np.ones(2), "v": [1.0, 2.0, 3.0]}, "grads\\['v'\\]: expected a numpy array"),
])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_bad_grads_raise_naming_the_key_and_change_nothing(name, grads, match):
    params = {"w": np.ones(2), "v": np.ones(3)}
    opt = OPTIMIZERS[name](params)
    opt.step({"w": np.full(2, 0.5), "v": np.full(3, 0.5)})
    before = {k: v.copy() for k, v in params.items()}
    state = opt.state_dict()
    with pytest.raises(MinikwsError, match=match):
        opt.step(grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    for k, v in opt.state_dict().items():
        np.testing.assert_array_equal(v, state[k])


def test_negative_lr_set_by_a_schedule_is_refused_at_step():
    p = {"w": np.ones(2)}
    opt = AdamW(p)
    opt.lr = -1e-3
    with pytest.raises(MinikwsError, match="lr"):
        opt.step({"w": np.ones(2)})
    np.testing.assert_array_equal(p["w"], np.ones(2))


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("m.w"), "missing \\['m.w'\\]"),
    (lambda d: d.update({"m.x": np.ones(2)}), "unexpected \\['m.x'\\]"),
    (lambda d: d.update({"v.w": np.ones(3)}), "state\\['v.w'\\]"),
    (lambda d: d.update({"v.w": np.ones(2, dtype=np.float32)}), "state\\['v.w'\\]"),
    (lambda d: d.update({"v.w": np.array([np.nan, 1.0])}), "state\\['v.w'\\]"),
    (lambda d: d.update({"step": np.array(-1)}), "step"),
    (lambda d: d.update({"step": np.array(1.5)}), "step"),
])
def test_bad_state_dict_raises_and_changes_nothing(edit, match):
    opt = AdamW({"w": np.ones(2)})
    opt.step({"w": np.ones(2)})
    good = opt.state_dict()
    bad = opt.state_dict()
    edit(bad)
    fresh = AdamW({"w": np.ones(2)})
    with pytest.raises(MinikwsError, match=match):
        fresh.load_state_dict(bad)
    assert fresh.step_count == 0 and not fresh.state["m"]["w"].any()
    fresh.load_state_dict(good)
    assert fresh.step_count == 1


def test_clip_grad_norm_bad_input():
    with pytest.raises(MinikwsError, match="grads\\['b'\\]: contains NaN"):
        clip_grad_norm({"a": np.ones(2), "b": np.array([np.nan])}, 1.0)
    with pytest.raises(MinikwsError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, 0.0)
    with pytest.raises(MinikwsError, match="max_norm"):
        clip_grad_norm({"a": np.ones(2)}, -1.0)
    with pytest.raises(MinikwsError, match="grads\\['a'\\]"):
        clip_grad_norm({"a": np.ones(2, dtype=np.int32)}, 1.0)
