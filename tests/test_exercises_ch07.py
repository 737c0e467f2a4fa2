"""Chapter 7's exercise: its checker passes the library's function and names each mistake it claims to."""
import numpy as np
import pytest

from minikws import exercises
from minikws.exercises import Incorrect

NAME = "07.fused_gate_preactivations"


def _check(fn):
    return exercises.get(NAME).check(fn, seed=0)


def test_chapter_7_registers_the_exercise_of_its_notebook():
    assert [e.name for e in exercises.list("07")] == [NAME]


def test_reference_passes(capsys):
    assert _check(exercises.get(NAME).reference) is True
    assert capsys.readouterr().out.startswith(f"{NAME}: correct")


def test_one_fused_product_passes(capsys):
    def fused(x, h_prev, Wx, Wh, b):
        return np.concatenate([x, h_prev], axis=1) @ np.concatenate([Wx, Wh], axis=0) + b

    assert _check(fused) is True


def test_not_attempted_is_reported_not_raised(capsys):
    def blank(x, h_prev, Wx, Wh, b):
        raise NotImplementedError

    assert _check(blank) is False
    assert "not attempted yet" in capsys.readouterr().out


def _swapped(x, h, Wx, Wh, b):
    return np.concatenate([h, x], axis=1) @ np.concatenate([Wx, Wh], axis=0) + b


@pytest.mark.parametrize("kind, fn, message", [
    ("shape", lambda x, h, Wx, Wh, b: np.stack(np.split(x @ Wx + h @ Wh + b, 4, axis=1)), "not stacked"),
    ("one gate only", lambda x, h, Wx, Wh, b: (x @ Wx + h @ Wh + b)[:, :h.shape[1]], "one gate's block only"),
    ("missing bias", lambda x, h, Wx, Wh, b: x @ Wx + h @ Wh, "is missing the bias b"),
    ("missing recurrent term", lambda x, h, Wx, Wh, b: x @ Wx + b, "is missing the recurrent term"),
    ("missing input term", lambda x, h, Wx, Wh, b: h @ Wh + b, "is missing the input term"),
    ("swapped stacking", _swapped, r"stacks \[h_prev, x\] against \[Wx; Wh\]"),
    ("raises", lambda x, h, Wx, Wh, b: x @ Wh + b, "your function raised ValueError"),
])
def test_diagnoses(kind, fn, message):
    assert kind in exercises.get(NAME).diagnoses
    with pytest.raises(Incorrect, match=message):
        _check(fn)
