"""Chapter 2's exercises: each checker passes the library's function and names each mistake it claims to."""
import numpy as np
import pytest

from minikws import exercises, nn
from minikws.exercises import Incorrect


def _check(name, fn):
    return exercises.get(name).check(fn, seed=0)


def _sig(a):
    return 1 / (1 + np.exp(-a))


def test_chapter_2_registers_the_two_exercises_of_its_notebook():
    assert [e.name for e in exercises.list("02")] == ["02.gates", "02.lstm_step"]


def test_lstm_gates_and_preactivations_are_the_equations():
    rng = np.random.default_rng(1)
    B, D, H = 2, 3, 4
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    a = nn.lstm_preactivations(x, h, Wx, Wh, b)
    np.testing.assert_allclose(a, x @ Wx + h @ Wh + b, rtol=1e-12)
    i, f, g, o = nn.lstm_gates(a)
    np.testing.assert_allclose(i, _sig(a[:, :H]), rtol=1e-12)
    np.testing.assert_allclose(g, np.tanh(a[:, 2 * H:3 * H]), rtol=1e-12)
    h1, c1, _ = nn.lstm_step_forward(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(c1, f * c + i * g, rtol=1e-12)
    np.testing.assert_allclose(h1, o * np.tanh(c1), rtol=1e-12)


@pytest.mark.parametrize("name", ["02.gates", "02.lstm_step"])
def test_reference_passes(name, capsys):
    assert _check(name, exercises.get(name).reference) is True
    assert capsys.readouterr().out.startswith(f"{name}: correct")


@pytest.mark.parametrize("name", ["02.gates", "02.lstm_step"])
def test_not_attempted_is_reported_not_raised(name, capsys):
    def blank(*args):
        raise NotImplementedError

    assert _check(name, blank) is False
    assert "not attempted yet" in capsys.readouterr().out


# -------------------------------------------------------------------------------------- 02.gates
def _blocks(a):
    H = a.shape[1] // 4
    return [a[:, k * H:(k + 1) * H] for k in range(4)]


@pytest.mark.parametrize("kind, fn, message", [
    ("outputs", lambda a: np.concatenate(nn.lstm_gates(a), axis=1), "expected your function to return 4 values"),
    ("shape", lambda a: tuple(v[:1] for v in nn.lstm_gates(a)), r"i for a of shape \(4, 12\): expected shape \(4, 3\), got \(1, 3\)"),
    ("wrong nonlinearity", lambda a: tuple(_sig(v) for v in _blocks(a)), "g for a of shape .* applies the sigmoid to its block"),
    ("wrong nonlinearity", lambda a: (np.tanh(_blocks(a)[0]),) + nn.lstm_gates(a)[1:], "i for .* applies tanh to its block"),
    ("block order", lambda a: (_sig(_blocks(a)[1]), _sig(_blocks(a)[0]), np.tanh(_blocks(a)[2]), _sig(_blocks(a)[3])),
     r"i for .* is computed from block 1 \(the forget gate f's pre-activations\)"),
    ("raises", lambda a: nn.lstm_gates(a[:, :-1]), "your function raised MinikwsError"),
])
def test_gates_diagnoses(kind, fn, message):
    assert kind in exercises.get("02.gates").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("02.gates", fn)


# ---------------------------------------------------------------------------------- 02.lstm_step
def _step(order=(0, 1, 2, 3), forget=True, inp=True, squash=True, recurrent=True, bias=True, swap=False):
    def student(x, h_prev, c_prev, Wx, Wh, b):
        a = x @ Wx + (h_prev @ Wh if recurrent else 0) + (b if bias else 0)
        blk = _blocks(a)
        i, f, g, o = (blk[order[0]], blk[order[1]], blk[order[2]], blk[order[3]])
        i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
        c = (f * c_prev if forget else 0) + (i * g if inp else 0)
        h = o * (np.tanh(c) if squash else c)
        return (c, h) if swap else (h, c)
    return student


@pytest.mark.parametrize("kind, fn, message", [
    ("outputs", lambda *args: exercises.get("02.lstm_step").reference(*args)[0], "expected your function to return 2 values"),
    ("shape", lambda x, h, c, Wx, Wh, b: (h[:, :1], c), r"c for B=4, D=5, H=3 is .*|h for B=4, D=5, H=3: expected shape \(4, 3\), got \(4, 1\)"),
    ("h c swapped", _step(swap=True), "c for B=4, D=5, H=3 is h_t: return"),
    ("missing forget term", _step(forget=False), "is missing the forget term"),
    ("missing input term", _step(inp=False), "is missing the input term"),
    ("h without tanh", _step(squash=False), r"h for B=4, D=5, H=3 is o_t \* c_t"),
    ("gate order", _step(order=(0, 2, 1, 3)), r"this is \[i, g, f, o\] \(TensorFlow's order\)"),
    ("gate order", _step(order=(0, 1, 3, 2)), r"this is \[i, f, o, g\]"),
    ("missing recurrent term", _step(recurrent=False), "is missing the recurrent term"),
    ("missing bias", _step(bias=False), "is missing the bias b"),
    ("raises", lambda x, h, c, Wx, Wh, b: (x @ Wh, c), "your function raised ValueError"),
])
def test_lstm_step_diagnoses(kind, fn, message):
    assert kind in exercises.get("02.lstm_step").diagnoses
    with pytest.raises(Incorrect, match=message):
        _check("02.lstm_step", fn)
