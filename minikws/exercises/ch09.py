"""Exercises of chapter 9, the FAQ as experiments (tutorials/09_faq_as_experiments.ipynb).

    09.quantize_per_channel  int8 codes and one scale per output column          :eq:`quant-int8`
    09.prune_layer_units     which rows and columns go when hidden units go      :eq:`prune-units`
"""
import numpy as np

from minikws import compress
from minikws.exercises.core import Incorrect, call, compare, exercise


def _matrices(rng):
    """(D, M) weight matrices with columns of very different ranges, one all-zero column."""
    out = []
    for D, M in [(6, 8), (1, 3), (5, 1), (40, 12)]:
        W = rng.standard_normal((D, M)) * rng.uniform(0.01, 4.0, size=M)
        if M > 2:
            W[:, 1] = 0.0
        out.append(W)
    return out


@exercise("09.quantize_per_channel",
          title="quantize_per_channel(W) -> (q, scale): int8 codes of W (D, M) and one scale per column",
          reference=compress.quantize_per_channel,
          diagnoses=("one scale for the whole matrix", "scales per row", "255 or 128 levels",
                     "truncation instead of rounding", "zero column"))
def check_quantize_per_channel(student, rng):
    for W in _matrices(rng):
        W = W.astype(np.float64)
        q, s = call(student, W, outputs=("q", "scale"))
        s = np.ravel(s)
        want_q, want_s = compress.quantize_per_channel(W)
        where = f" for W of shape {W.shape}"
        if not np.isfinite(s).all() or not np.isfinite(q).all():
            raise Incorrect(f"q or scale holds NaN or inf{where}: an all-zero column has max |W| = 0; give "
                            "it a scale of 1 (its codes are then 0)")
        if s.shape == (W.shape[0],) and W.shape[0] != W.shape[1]:
            raise Incorrect(f"scale has {W.shape[0]} entries{where}, one per row; eq. quant-int8 takes one per "
                            "output column (axis 0 is the input)")
        if s.size == 1 and W.shape[1] > 1:
            raise Incorrect(f"scale is one number{where}: that is per-tensor quantization; give every output "
                            "column its own scale, max |W[:, k]| / 127")
        peak = np.abs(W).max(axis=0)
        compare("scale", s, want_s.astype(np.float64), where=where, tol=1e-6,
                mistakes={"divides by 128; symmetric int8 uses -127..127, so s = max|W| / 127":
                          np.where(peak > 0, peak / 128, 1.0),
                          "divides by 255 (the unsigned range); symmetric int8 codes reach 127":
                          np.where(peak > 0, peak / 255, 1.0),
                          "is max|W| itself; divide it by 127": np.where(peak > 0, peak, 1.0)})
        s64 = np.where(peak > 0, peak / 127, 1.0)
        compare("q", q, want_q.astype(np.float64), where=where,
                mistakes={"truncates W / s toward zero; round to the nearest integer": np.trunc(W / s64),
                          "floors W / s; round to the nearest integer": np.floor(W / s64)})
        if np.abs(q).max() > 127:
            raise Incorrect(f"q reaches {np.abs(q).max():g}{where}; int8 codes lie in -127..127")
    return "4 matrices, one with a zero column, one of a single row"


def _layer(rng, D, H, M):
    return (rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H),
            rng.standard_normal((H, M)))


@exercise("09.prune_layer_units",
          title="prune_layer_units(Wx, Wh, b, W_next, keep) -> (Wx2, Wh2, b2, W_next2): keep only some units",
          reference=compress.prune_layer_units,
          diagnoses=("only the first gate block", "recurrent rows kept", "next layer untouched",
                     "gate blocks of width H2", "input rows pruned"))
def check_prune_layer_units(student, rng):
    for D, H, M, keep in [(5, 6, 7, [0, 2, 3, 5]), (3, 4, 4 * 3, [1, 2, 3]), (1, 2, 3, [1]), (4, 5, 2, [0, 1, 2, 3, 4])]:
        Wx, Wh, b, W_next = _layer(rng, D, H, M)
        keep = np.asarray(keep)
        got = call(student, Wx, Wh, b, W_next, keep, outputs=("Wx2", "Wh2", "b2", "W_next2"))
        want = compress.prune_layer_units(Wx, Wh, b, W_next, keep)
        where = f" for D={D}, H={H}, keeping units {keep.tolist()}"
        H2 = len(keep)
        mistakes = {"keeps the units' columns of the input gate only; each unit has a column in each of the "
                    "four gate blocks i, f, g, o (j, H + j, 2H + j, 3H + j)": Wx[:, np.concatenate([keep] * 4)]}
        narrow = np.concatenate([g * H2 + keep for g in range(4)])
        if narrow.max() < 4 * H:
            mistakes["takes the gate blocks as if they were H2 wide; in Wx they are H wide (block g starts at "
                     "column g H)"] = Wx[:, narrow]
        if got[0].shape == (H2, 4 * H2) and D != H2:
            raise Incorrect(f"Wx2 has shape {got[0].shape}{where}: its rows are the layer's D inputs, which stay; "
                            "only its gate columns go")
        compare("Wx2", got[0], want[0], where=where, mistakes=mistakes)
        if got[1].shape == (H, 4 * H2) and H2 < H:
            raise Incorrect(f"Wh2 has shape {got[1].shape}{where}: the removed units' rows of Wh (their h feeding "
                            "back into the gates) must go too; expected (H2, 4 H2)")
        compare("Wh2", got[1], want[1], where=where)
        compare("b2", got[2], want[2], where=where)
        if got[3].shape == W_next.shape and H2 < H:
            raise Incorrect(f"W_next2 is W_next unchanged{where}: the next layer reads the removed units' outputs "
                            "through their rows of W_next; drop those rows")
        compare("W_next2", got[3], want[3], where=where)
    return "4 layers, one keeping a single unit, one keeping all"
