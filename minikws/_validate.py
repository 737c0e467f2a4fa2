"""Argument checks shared by the public functions.

Each check raises ``ValueError`` (``MinikwsError``) with a one-line message naming the argument and the
shapes or dtypes involved, before any arithmetic runs, so that a mistake is reported where it is made
rather than as a broadcasting error deep inside a formula.
"""
import numpy as np

from minikws.errors import MinikwsError

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_array(name, a, ndim=None, finite=True):
    """Return ``a`` if it is a float32/float64 ndarray of ``ndim`` dimensions with finite values.

    Parameters
    ----------
    name : str
        The argument's name, used in the error message.
    a : object
        The value to check.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Reject NaN and infinite values.
    """
    if not isinstance(a, np.ndarray):
        raise MinikwsError(f"{name}: expected a numpy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise MinikwsError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if a.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            raise MinikwsError(f"{name}: expected {want} dimensions, got shape {a.shape}")
    if finite and not np.isfinite(a).all():
        raise MinikwsError(f"{name}: contains NaN or infinite values")
    return a


def check_shape(name, a, expected, legend=""):
    """Check ``a.shape`` against ``expected``, a tuple whose ``None`` entries match any size.

    ``legend`` spells the expected shape in the package's dimension letters, e.g. ``"(D, 4H)"``.
    """
    ok = len(a.shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, a.shape)
    )
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected)
        want += ",)" if len(expected) == 1 else ")"
        spelled = f"{legend} = " if legend else ""
        raise MinikwsError(f"{name}: expected shape {spelled}{want}, got {a.shape}")
    return a


def check_same_dtype(**arrays):
    """Check that all given arrays share one dtype; name them in the message if not."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n} {d}" for n, d in dtypes.items())
        raise MinikwsError(f"mixed dtypes: {listed}; convert them to one of float32 or float64")


def check_positive_int(name, value, minimum=1):
    """Return ``value`` as int if it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise MinikwsError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(name, value, *, low=None, high=None, high_open=False, allow_none=False):
    """Return ``value`` as float if it is a finite real number in [low, high] (or [low, high)).

    ``low`` or ``high`` of None leaves that side open; ``allow_none`` lets ``None`` through unchanged.
    Booleans are refused: ``True`` is an int to Python but never a meant number.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise MinikwsError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    ok = np.isfinite(v) and (low is None or v >= low) and (
        high is None or (v < high if high_open else v <= high))
    if not ok:
        if low is not None and high is not None:
            want = f"a number in [{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            want = f"a finite number >= {low:g}"
        elif high is not None:
            want = f"a finite number {'<' if high_open else '<='} {high:g}"
        else:
            want = "a finite number"
        raise MinikwsError(f"{name}: expected {want}, got {value!r}")
    return v


def check_rng(rng, *, name="rng"):
    """Return ``rng`` if it is a ``numpy.random.Generator``.

    ``None`` is refused on purpose: randomness in minikws always comes from a generator the caller
    made with an explicit seed (``numpy.random.default_rng(seed)``), so that a run can be repeated.
    """
    if not isinstance(rng, np.random.Generator):
        raise MinikwsError(
            f"{name}: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}")
    return rng


def check_seed(name, value):
    """Return ``value`` as int if it is a seed numpy accepts: an integer in [0, 2**63)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**63:
        raise MinikwsError(f"{name}: expected an integer seed in [0, 2**63), got {value!r}")
    return int(value)
