"""Chapter 9's exercises: the reference passes, and each mistake the checkers name is named."""
import numpy as np
import pytest

from minikws import compress
from minikws.exercises import Incorrect, get


def test_references_pass():
    assert get("09.quantize_per_channel").check(compress.quantize_per_channel, seed=0)
    assert get("09.prune_layer_units").check(compress.prune_layer_units, seed=0)


def _per_column(W, divisor=127, rounding=np.rint):
    peak = np.abs(W).max(axis=0)
    s = np.where(peak > 0, peak / divisor, 1.0)
    return rounding(W / s), s


def _no_zero_guard(W):
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.abs(W).max(axis=0) / 127
        return np.rint(W / s), s


@pytest.mark.parametrize("wrong, message", [
    (lambda W: (np.rint(W / (np.abs(W).max() / 127)), np.array([np.abs(W).max() / 127])), "per-tensor"),
    (lambda W: (W, np.abs(W).max(axis=1) / 127), "one per row"),
    (lambda W: _per_column(W, 128), "divides by 128"),
    (lambda W: _per_column(W, 255), "divides by 255"),
    (lambda W: _per_column(W, rounding=np.trunc), "truncates"),
    (lambda W: _no_zero_guard(W), "zero column"),
])
def test_quantization_mistakes_are_named(wrong, message):
    with pytest.raises(Incorrect, match=message):
        get("09.quantize_per_channel").check(wrong, seed=0)


def _cols(H, keep):
    return np.concatenate([g * H + np.asarray(keep) for g in range(4)])


@pytest.mark.parametrize("wrong, message", [
    (lambda Wx, Wh, b, Wn, keep: (Wx[:, np.concatenate([keep] * 4)], *compress.prune_layer_units(Wx, Wh, b, Wn, keep)[1:]),
     "input gate only"),
    (lambda Wx, Wh, b, Wn, keep: (Wx[:, _cols(len(keep), keep)], *compress.prune_layer_units(Wx, Wh, b, Wn, keep)[1:]),
     "H2 wide"),
    (lambda Wx, Wh, b, Wn, keep: (Wx[:len(keep)][:, _cols(Wh.shape[0], keep)],
                                  *compress.prune_layer_units(Wx, Wh, b, Wn, keep)[1:]), "D inputs"),
    (lambda Wx, Wh, b, Wn, keep: (Wx[:, _cols(Wh.shape[0], keep)], Wh[:, _cols(Wh.shape[0], keep)],
                                  b[_cols(Wh.shape[0], keep)], Wn[keep]), "rows of Wh"),
    (lambda Wx, Wh, b, Wn, keep: (*compress.prune_layer_units(Wx, Wh, b, Wn, keep)[:3], Wn.copy()),
     "W_next unchanged"),
])
def test_pruning_mistakes_are_named(wrong, message):
    with pytest.raises(Incorrect, match=message):
        get("09.prune_layer_units").check(wrong, seed=0)


def test_unattempted_is_reported_not_raised(capsys):
    def blank(W):
        raise NotImplementedError

    assert get("09.quantize_per_channel").check(blank) is False
    assert "not attempted" in capsys.readouterr().out
