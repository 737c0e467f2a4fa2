"""minikws.exercises: the core's diagnoses, and chapters 3-5's checkers against their references and
against one wrong answer of each kind they claim to name."""
import json
import math

import numpy as np
import pytest

from minikws import exercises, nn, optim
from minikws.errors import MinikwsError
from minikws.exercises import Incorrect
from minikws.exercises.core import call, compare, read_rel_error


def nie(*args, **kwargs):
    raise NotImplementedError


def wrong(name, fn, match):
    """Assert that exercise ``name`` rejects ``fn`` with a message matching ``match``."""
    with pytest.raises(Incorrect, match=match) as info:
        exercises.get(name).check(fn, seed=0)
    message = str(info.value)
    assert message.startswith(name + ": ")
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------------
# The registry and Exercise.check.
# ---------------------------------------------------------------------------------------------------
def test_list_has_this_helpers_chapters_with_fields():
    names = [e.name for e in exercises.list()]
    assert names == sorted(names)
    for name in ("03.gate_grads", "03.lstm_step_backward", "04.log_softmax", "04.softmax_ce",
                 "04.masked_loss", "05.adamw_update", "05.warmup_cosine"):
        ex = exercises.get(name)
        assert ex.chapter == name[:2] and ex.title and callable(ex.reference) and ex.diagnoses
    assert [e.name for e in exercises.list(chapter=5)] == ["05.adamw_update", "05.warmup_cosine"]
    assert exercises.list(chapter="05") == exercises.list(chapter=5)


def test_get_unknown_name_is_a_one_line_error():
    with pytest.raises(MinikwsError, match="no such exercise.*04.log_softmax"):
        exercises.get("04.nope")


@pytest.mark.parametrize("ex", exercises.list(), ids=lambda e: e.name)
def test_every_checker_passes_its_reference(ex, capsys):
    for seed in (0, 1):
        assert ex.check(ex.reference, seed=seed) is True
    out = capsys.readouterr().out.splitlines()
    assert out == [out[0]] * 2 or all(line.startswith(f"{ex.name}: correct") for line in out)
    assert len(out) == 2 and out[0].startswith(f"{ex.name}: correct")


@pytest.mark.parametrize("ex", exercises.list(), ids=lambda e: e.name)
def test_not_implemented_is_not_attempted_without_an_exception(ex, capsys):
    assert ex.check(nie) is False
    assert capsys.readouterr().out == f"{ex.name}: not attempted yet (your function raises NotImplementedError)\n"


@pytest.mark.parametrize("mode", ["autograde", "validate"])
def test_not_attempted_fails_under_nbgrader_autograding(mode, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", mode)
    with pytest.raises(Incorrect, match=r"^04.log_softmax: not attempted yet"):
        exercises.get("04.log_softmax").check(nie)


@pytest.mark.parametrize("ex", exercises.list(), ids=lambda e: e.name)
def test_a_function_that_raises_is_reported_with_the_exception(ex):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    with pytest.raises(Incorrect, match=r"your function raised KeyError: 'oops' \(called with "):
        ex.check(broken)


def test_fresh_inputs_unless_seeded():
    seen = []

    def spy(z):
        seen.append(z.copy())
        return nn.log_softmax(z)

    ex = exercises.get("04.log_softmax")
    ex.check(spy)
    first = len(seen)
    ex.check(spy)
    assert not np.array_equal(seen[0], seen[first])
    ex.check(spy, seed=3)
    ex.check(spy, seed=3)
    assert np.array_equal(seen[2 * first], seen[3 * first])


def test_report_file_gets_one_json_line_per_check(tmp_path, monkeypatch):
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("MINIKWS_EXERCISES_REPORT", str(report))
    ex = exercises.get("04.log_softmax")
    ex.check(nn.log_softmax)
    ex.check(nie)
    with pytest.raises(Incorrect):
        ex.check(lambda z: -nn.log_softmax(z))
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["pass", "not attempted", "fail"]
    assert all(r["name"] == "04.log_softmax" for r in rows)
    assert "wrong sign" in rows[2]["message"]


def test_check_of_something_not_callable():
    with pytest.raises(Incorrect, match="expected your function, got int"):
        exercises.get("04.log_softmax").check(3)


# ---------------------------------------------------------------------------------------------------
# The core's diagnoses.
# ---------------------------------------------------------------------------------------------------
def test_read_rel_error_follows_cs231n():
    assert read_rel_error(0.5).endswith("probably wrong")
    assert "very likely wrong" in read_rel_error(1e-3)
    assert "kinks" in read_rel_error(1e-5)
    assert read_rel_error(1e-9).endswith("good")
    assert "NaN" in read_rel_error(math.nan)


def test_compare_names_each_kind_of_difference(rng):
    A = rng.standard_normal((3, 4))
    S = rng.standard_normal((4, 4))
    assert compare("x", A, A) == 0.0
    with pytest.raises(Incorrect, match=r"x: expected shape \(3, 4\), got \(3, 5\)"):
        compare("x", np.zeros((3, 5)), A)
    with pytest.raises(Incorrect, match=r"x is transposed: expected shape \(3, 4\), got \(4, 3\)"):
        compare("x", A.T, A)
    with pytest.raises(Incorrect, match=r"x is transposed: its transpose is right"):
        compare("x", S.T, S)
    with pytest.raises(Incorrect, match="x contains NaN where the correct values are finite"):
        compare("x", np.where(A > 0, np.nan, A), A)
    with pytest.raises(Incorrect, match="wrong sign"):
        compare("x", -A, A)
    with pytest.raises(Incorrect, match="x is missing the mask"):
        compare("x", 2 * A + 1, A, mistakes={"is missing the mask": 2 * A + 1})
    with pytest.raises(Incorrect, match=r"constant factor: it is 0.5 times the correct value"):
        compare("x", 0.5 * A, A)
    bad = A.copy()
    bad[:, 2:] += 1
    with pytest.raises(Incorrect, match=r"x is wrong in right \(relative error 2.*e-01, > 1e-2: probably wrong\); left is right"):
        compare("x", bad, A, blocks={"left": np.s_[:, :2], "right": np.s_[:, 2:]})
    with pytest.raises(Incorrect, match=r"x \(B=3\) is wrong: relative error .* \(> 1e-2: probably wrong\)"):
        compare("x", A + rng.standard_normal(A.shape), A, where=" (B=3)")
    with pytest.raises(Incorrect, match=r"relative error 1.0e-05 \(between 1e-7 and 1e-4"):
        compare("x", np.full(3, 1 + 2e-5), np.ones(3))


def test_compare_never_prints_the_expected_values():
    expected = np.array([[1.234567, 7.654321]])
    for got in (np.array([[0.5, 0.25]]), np.zeros((2, 1)), -expected):
        with pytest.raises(Incorrect) as info:
            compare("x", got, expected)
        assert "1.23" not in str(info.value) and "7.65" not in str(info.value)


def test_call_reports_missing_return_wrong_arity_and_in_place_changes():
    x = np.ones(3)
    with pytest.raises(Incorrect, match="is None: did you forget a return statement"):
        call(lambda a: None, x)
    with pytest.raises(Incorrect, match=r"expected your function to return 2 values \(a, b\), got 3 values"):
        call(lambda a: (a, a, a), x, outputs=("a", "b"))
    with pytest.raises(Incorrect, match="not an array of numbers"):
        call(lambda a: "text", x)

    def in_place(a):
        a *= 2
        return a

    with pytest.raises(Incorrect, match="changed its input a in place"):
        call(in_place, x)
    assert np.array_equal(x, np.ones(3))


def test_exercise_names_are_checked():
    from minikws.exercises.core import exercise
    with pytest.raises(ValueError, match="expected 'NN.short_name'"):
        exercise("3.x", title="t", reference=abs)
    with pytest.raises(ValueError, match="registered twice"):
        exercise("04.log_softmax", title="t", reference=abs)


# ---------------------------------------------------------------------------------------------------
# 03.gate_grads: one wrong answer per diagnosis.
# ---------------------------------------------------------------------------------------------------
def _gates(gates):
    H = gates.shape[1] // 4
    return [gates[:, k * H:(k + 1) * H] for k in range(4)]


def _gate_grads(dh, dc, c_prev, c, gates, *, through_h=True, with_dc=True, c_in_f=None, f_deriv=None,
                dc_prev_f=True, o_sign=1.0):
    i, f, g, o = _gates(gates)
    tanh_c = np.tanh(c)
    dc_t = (dc if with_dc else 0) + (dh * o * (1 - tanh_c**2) if through_h else 0)
    c_f = c_prev if c_in_f is None else c_in_f
    df = f * (1 - f) if f_deriv is None else f_deriv(f)
    da = np.concatenate([dc_t * g * i * (1 - i), dc_t * c_f * df, dc_t * i * (1 - g**2),
                         o_sign * dh * tanh_c * o * (1 - o)], axis=1)
    return da, dc_t * f if dc_prev_f else dc_t


def test_gate_grads_accepts_a_student_rewrite():
    assert exercises.get("03.gate_grads").check(_gate_grads, seed=0)


def test_gate_grads_names_the_forget_gate():
    msg = wrong("03.gate_grads", lambda *a: _gate_grads(*a, f_deriv=lambda f: 1 - f**2),
                r"da \(B=3, H=5\) is wrong in the forget gate f \(relative error .*\)")
    assert "the input gate i, the candidate g, the output gate o are right" in msg


def test_gate_grads_names_the_output_gate_sign():
    wrong("03.gate_grads", lambda *a: _gate_grads(*a, o_sign=-1.0),
          r"da .* is wrong in the output gate o .*probably wrong.*the input gate i, the forget gate f, "
          r"the candidate g are right")


def test_gate_grads_missing_path_through_h():
    wrong("03.gate_grads", lambda *a: _gate_grads(*a, through_h=False),
          "da .* leaves out the gradient that reaches c_t through h_t")


def test_gate_grads_missing_dc_from_the_next_step():
    wrong("03.gate_grads", lambda *a: _gate_grads(*a, with_dc=False), "da .* leaves out dc, the gradient arriving")


def test_gate_grads_c_t_for_c_prev():
    wrong("03.gate_grads", lambda dh, dc, c_prev, c, gates: _gate_grads(dh, dc, c_prev, c, gates, c_in_f=c),
          "uses c_t in the forget gate's gradient where .* has c_{t-1}")


def test_gate_grads_dc_prev_missing_f():
    wrong("03.gate_grads", lambda *a: _gate_grads(*a, dc_prev_f=False), "dc_prev .* is missing the factor f_t")


def test_gate_grads_sign_and_shape_and_nan():
    wrong("03.gate_grads", lambda *a: tuple(-x for x in nn.lstm_gate_grads(*a)), "da .* has the wrong sign")

    def gates_as_list(*a):
        da, dcp = nn.lstm_gate_grads(*a)
        return da.reshape(da.shape[0], 4, -1).transpose(1, 0, 2), dcp

    wrong("03.gate_grads", gates_as_list, r"da \(B=3, H=5\): expected shape \(3, 20\), got \(4, 3, 5\)")

    def nan(*a):
        da, dcp = nn.lstm_gate_grads(*a)
        return da * np.nan, dcp

    wrong("03.gate_grads", nan, "da .* contains NaN where the correct values are finite")


# ---------------------------------------------------------------------------------------------------
# 03.lstm_step_backward
# ---------------------------------------------------------------------------------------------------
def _step_backward(dh, dc, cache, *, dWx_T=False, db_batch=False, dh_prev_zero=False, scale_f=1.0):
    da, dc_prev = nn.lstm_gate_grads(dh, dc, cache.c_prev, cache.c, cache.gates)
    H = dh.shape[1]
    da = da.copy()
    da[:, H:2 * H] *= scale_f
    dWx = cache.x.T @ da
    return (da @ cache.Wx.T, np.zeros_like(dh) if dh_prev_zero else da @ cache.Wh.T, dc_prev,
            dWx.T if dWx_T else dWx, cache.h_prev.T @ da, da if db_batch else da.sum(axis=0))


def test_step_backward_transposed_dWx():
    wrong("03.lstm_step_backward", lambda *a: _step_backward(*a, dWx_T=True),
          r"dWx \(B=3, D=4, H=5\) is transposed: expected shape \(4, 20\), got \(20, 4\)")


def test_step_backward_db_not_summed_over_the_batch():
    wrong("03.lstm_step_backward", lambda *a: _step_backward(*a, db_batch=True),
          r"db .*: expected shape \(20,\), got \(3, 20\)")


def test_step_backward_missing_recurrent_path():
    wrong("03.lstm_step_backward", lambda *a: _step_backward(*a, dh_prev_zero=True),
          r"dh_prev .* is missing the recurrent path")


def test_step_backward_names_the_gate_of_dWx():
    wrong("03.lstm_step_backward", lambda *a: _step_backward(*a, scale_f=1.5),
          r"dx .* is wrong: relative error")  # dx is checked first and mixes all gates
    # with dx right and only dWx's forget block off, the message names the gate
    def only_dWx(dh, dc, cache):
        out = list(nn.lstm_step_backward(dh, dc, cache))
        H = dh.shape[1]
        out[3] = out[3].copy()
        out[3][:, H:2 * H] *= 1.5
        return tuple(out)

    wrong("03.lstm_step_backward", only_dWx, r"dWx .* is wrong in the forget gate f .*; the input gate i, "
                                             r"the candidate g, the output gate o are right")


def test_step_backward_wrong_number_of_outputs():
    wrong("03.lstm_step_backward", lambda dh, dc, cache: nn.lstm_step_backward(dh, dc, cache)[:5],
          r"expected your function to return 6 values \(dx, dh_prev, dc_prev, dWx, dWh, db\), got 5")


# ---------------------------------------------------------------------------------------------------
# 04.log_softmax, 04.softmax_ce, 04.masked_loss
# ---------------------------------------------------------------------------------------------------
def test_log_softmax_overflow():
    wrong("04.log_softmax", lambda z: np.log(np.exp(z) / np.exp(z).sum(-1, keepdims=True)),
          "NaN or inf for logits of order 1e4: exp overflows; subtract the maximum")


def test_log_softmax_wrong_axis():
    wrong("04.log_softmax", lambda z: nn.log_softmax(z, axis=0), "normalised over the batch axis")


def test_log_softmax_sign_and_shape():
    wrong("04.log_softmax", lambda z: -nn.log_softmax(z), "has the wrong sign")
    wrong("04.log_softmax", lambda z: nn.log_softmax(z)[..., 0], r"expected shape \(3, 5\), got \(3,\)")


def _ce(logits, targets, mask=None, *, loss_sign=1, mean=True, grad_sign=1, grad_norm=True, onehot=True,
        use_mask=True, count_all=False):
    C = logits.shape[-1]
    m = np.ones(targets.shape) if (mask is None or not use_mask) else mask.astype(float)
    y = (np.arange(C) == np.where(m > 0, targets, 0)[..., None]).astype(float)
    if not use_mask:
        y = (np.arange(C) == np.where(targets >= 0, targets, C - 1)[..., None]).astype(float)
    N = m.size if count_all else m.sum()
    log_p = nn.log_softmax(logits)
    loss = -loss_sign * float((m * (log_p * y).sum(-1)).sum()) / (N if mean else 1)
    p = np.exp(log_p)
    d = grad_sign * (p - (y if onehot else 0)) * m[..., None] / (N if grad_norm else 1)
    return loss, d


def test_softmax_ce_accepts_a_student_rewrite():
    assert exercises.get("04.softmax_ce").check(_ce, seed=0)
    assert exercises.get("04.masked_loss").check(_ce, seed=0)


def test_softmax_ce_loss_sign():
    wrong("04.softmax_ce", lambda *a: _ce(*a, loss_sign=-1), "loss .* has the wrong sign")


def test_softmax_ce_sum_not_mean():
    wrong("04.softmax_ce", lambda *a: _ce(*a, mean=False), "loss .* is a sum, not a mean")


def test_softmax_ce_gradient_sign():
    wrong("04.softmax_ce", lambda *a: _ce(*a, grad_sign=-1), r"dlogits .* has the wrong sign")


def test_softmax_ce_gradient_missing_division():
    wrong("04.softmax_ce", lambda *a: _ce(*a, grad_norm=False), r"dlogits .* is missing the division by N")


def test_softmax_ce_gradient_missing_onehot():
    wrong("04.softmax_ce", lambda *a: _ce(*a, onehot=False), r"dlogits .* is missing the one-hot term")


def test_softmax_ce_overflow():
    def naive(logits, targets, mask=None):
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(len(targets)), targets]))
        d = p.copy()
        d[np.arange(len(targets)), targets] -= 1
        return loss, d / len(targets)

    wrong("04.softmax_ce", naive, "NaN or inf for logits of order 1e4")


def test_masked_loss_mask_ignored():
    wrong("04.masked_loss", lambda *a: _ce(*a, use_mask=False, count_all=True),
          "loss .* counts the padded frames")


def test_masked_loss_divided_by_all_positions():
    wrong("04.masked_loss", lambda *a: _ce(*a, count_all=True), r"loss .* divides by all T\*B positions")


def test_masked_loss_gradient_not_masked():
    def grad_unmasked(logits, targets, mask):
        loss, d = nn.softmax_cross_entropy(logits, targets, mask)
        return loss, d + (~mask)[..., None] * 0.1
    wrong("04.masked_loss", grad_unmasked, "dlogits .* is not zero at the padded frames")


# ---------------------------------------------------------------------------------------------------
# 05.adamw_update, 05.warmup_cosine
# ---------------------------------------------------------------------------------------------------
def _adamw(theta, g, m, v, t, *, lr, betas, eps, weight_decay, l2=False, decay_lr=True, bc1=True, bc2=True,
           eps_inside=False, decay_after=False, no_decay=False, in_place=False, f64=False):
    b1, b2 = betas
    if l2:
        g = g + weight_decay * theta
    elif not no_decay and not decay_after:
        theta = theta * (1 - (lr if decay_lr else 1) * weight_decay)
    if in_place:
        m *= b1
        m += (1 - b1) * g
    else:
        m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat = m / (1 - b1**t) if bc1 else m
    v_hat = v / (1 - b2**t) if bc2 else v
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    theta = theta - lr * m_hat / denom
    if decay_after:
        theta = theta * (1 - lr * weight_decay)
    if f64:
        theta = theta.astype(np.float64)
    return theta, m, v


def test_adamw_accepts_a_student_rewrite():
    assert exercises.get("05.adamw_update").check(_adamw, seed=0)


@pytest.mark.parametrize("kind, match", [
    (dict(l2=True), r"m .* includes the weight decay; in AdamW the moments see only the gradient"),
    (dict(no_decay=True), r"theta .* is missing the weight decay"),
    (dict(decay_lr=False), r"theta .* decays by \(1 - weight_decay\); the factor is \(1 - lr \* weight_decay\)"),
    (dict(bc1=False, bc2=False), r"theta .* is missing both bias corrections"),
    (dict(bc1=False), r"theta .* is missing the bias correction 1/\(1 - beta1\^t\) of the first moment"),
    (dict(bc2=False), r"theta .* is missing the bias correction 1/\(1 - beta2\^t\) of the second moment"),
    (dict(eps_inside=True), r"adds eps inside the square root"),
    (dict(decay_after=True), r"applies the decay after the Adam step"),
    (dict(in_place=True), r"changed its input m in place"),
    (dict(f64=True), r"float32 inputs give a result that is not float32"),
])
def test_adamw_names_the_mistake(kind, match):
    wrong("05.adamw_update", lambda *a, **k: _adamw(*a, **k, **kind), match)


def test_adamw_moments_mistakes():
    def v_not_squared(theta, g, m, v, t, **k):
        theta2, m2, _ = optim.adamw_update(theta, g, m, v, t, **k)
        return theta2, m2, k["betas"][1] * v + (1 - k["betas"][1]) * g
    wrong("05.adamw_update", v_not_squared, "v .* is not the average of the SQUARED gradient")

    def up_the_gradient(theta, g, m, v, t, **k):
        return optim.adamw_update(theta, -g, m, v, t, **k)
    wrong("05.adamw_update", up_the_gradient, r"m \(theta \(3, 4\), t=3, weight_decay=0.1\) is wrong")


def _cosine(step, *, base_lr, total_steps, warmup_steps=0, min_lr=0.0, u_shift=1, use_min=True, half=1,
            clamp=True, from_zero=False):
    u = step + u_shift
    low = min_lr if use_min else 0.0
    if u <= warmup_steps:
        return base_lr * u / warmup_steps
    uu = min(u, total_steps) if clamp else u
    start = 0 if from_zero else warmup_steps
    progress = (uu - start) / (total_steps - start)
    return low + 0.5 * (base_lr - low) * (1 + math.cos(math.pi * progress / half))


def test_warmup_cosine_accepts_a_student_rewrite():
    assert exercises.get("05.warmup_cosine").check(_cosine, seed=0)


@pytest.mark.parametrize("kind, match", [
    (dict(u_shift=0), "starts the warm-up at 0"),
    (dict(use_min=False), "ignores min_lr"),
    (dict(half=0.5), "runs a full cosine period"),
    (dict(clamp=False), "does not stay at min_lr after total_steps"),
    (dict(from_zero=True), "starts the cosine's progress at step 0"),
])
def test_warmup_cosine_names_the_mistake(kind, match):
    msg = wrong("05.warmup_cosine", lambda s, **k: _cosine(s, **k, **kind), match)
    assert "the learning-rate curve (total_steps=" in msg
