r"""The machinery every chapter's exercises share: ``Exercise``, ``Incorrect`` and the diagnoses.

A chapter module (``minikws/exercises/chNN.py``) registers each exercise with :func:`exercise`, a
decorator on its *checker*: a function ``checker(student, rng) -> str`` that calls the student's function
through :func:`call` on fresh random inputs and compares every output with :func:`compare` (and, for a
gradient, with :func:`numerical_gradient`). The checker raises :class:`Incorrect` with a message in plain
words (which output, which shape, a transposed matrix, a flipped sign, a missing term, which gate, the
relative error and what it means), never the correct values; on success it returns a short summary that
:meth:`Exercise.check` prints after "correct".

Relative errors are read as in CS231n (:func:`read_rel_error`): above 1e-2 the formula is probably
wrong, between 1e-4 and 1e-2 it is very likely wrong, between 1e-7 and 1e-4 it is wrong unless the
function has kinks, below 1e-7 (float64) it is right.

When the environment variable ``MINIKWS_EXERCISES_REPORT`` names a file, every check appends one JSON
line ``{"name", "status", "message"}`` to it (status "pass", "fail", "not attempted" or "error"); this is
how ``minikws exercises grade`` learns the results of a notebook it runs in a separate kernel. Under
nbgrader's ``autograde`` and ``validate`` (environment variable ``NBGRADER_EXECUTION``) an unattempted
exercise raises :class:`Incorrect` instead, since nbgrader scores a test cell that does not raise as
passed.
"""
import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from minikws.gradcheck import numerical_gradient as _numerical_gradient
from minikws.gradcheck import rel_error

__all__ = [
    "Exercise", "Incorrect", "NotAttempted", "exercise", "registry",
    "call", "compare", "numerical_gradient", "read_rel_error", "rel_error", "describe_shapes", "TOL",
]

#: A student's result passes when its relative error against the reference is at most this (float64).
TOL = 1e-7

#: Environment variable naming the file that receives one JSON line per check (for the grader).
REPORT_ENV = "MINIKWS_EXERCISES_REPORT"


class Incorrect(AssertionError):
    """A wrong answer; the message says what is wrong in plain words, without giving the answer."""


class NotAttempted(Exception):
    """Raised by :func:`call` when the student's function raises ``NotImplementedError``."""


_REGISTRY = {}


def registry():
    """The dict name -> Exercise of every exercise registered so far (chapter modules not imported)."""
    return _REGISTRY


@dataclass(frozen=True)
class Exercise:
    """One exercise: the student writes a function with the signature of ``reference``.

    Attributes
    ----------
    name : str
        ``"NN.short_name"``, e.g. ``"03.gate_grads"``; NN is the chapter.
    chapter : str
        The two digits of the chapter, ``"03"``.
    title : str
        One line: what the student writes.
    reference : callable
        The library's own implementation; the student's function has its signature.
    checker : callable
        ``checker(student, rng) -> str``; raises :class:`Incorrect`.
    diagnoses : tuple of str
        The kinds of mistake the checker names (tests hold it to each).
    """

    name: str
    chapter: str
    title: str
    reference: Callable
    checker: Callable = field(repr=False)
    diagnoses: tuple = ()

    def check(self, fn, *, seed=None):
        """Check the student's ``fn``: True and one printed line when it is right.

        Parameters
        ----------
        fn : callable
            The student's function, with the signature of :attr:`reference`.
        seed : int, optional
            Seeds the random inputs; default: fresh ones every call.

        Returns
        -------
        bool
            True when every output agrees; False (after printing "not attempted yet") when ``fn``
            raises ``NotImplementedError``.

        Raises
        ------
        Incorrect
            When an output is wrong or ``fn`` raises; the message says what is wrong.
        """
        __tracebackhide__ = True  # IPython and pytest show the message, not these frames
        if not callable(fn):
            message = f"expected your function, got {type(fn).__name__}"
            _report(self.name, "fail", message)
            raise Incorrect(f"{self.name}: {message}")
        rng = np.random.default_rng(seed)
        _ARGNAMES.append(_argnames(self.reference))
        try:
            summary = self.checker(fn, rng)
        except NotAttempted:
            message = "not attempted yet (your function raises NotImplementedError)"
            _report(self.name, "not attempted", "")
            if os.environ.get("NBGRADER_EXECUTION", "").lower() in ("autograde", "validate"):
                # nbgrader scores a test cell that does not raise as passed
                raise Incorrect(f"{self.name}: {message}") from None
            print(f"{self.name}: {message}")
            return False
        except Incorrect as exc:
            _report(self.name, "fail", str(exc))
            raise Incorrect(f"{self.name}: {exc}") from None
        except Exception as exc:  # the checker could not use what the function returned
            message = f"your function's result could not be checked ({type(exc).__name__}: {exc})"
            _report(self.name, "fail", message)
            raise Incorrect(f"{self.name}: {message}") from None
        finally:
            _ARGNAMES.pop()
        print(f"{self.name}: correct" + (f" ({summary})" if summary else ""))
        _report(self.name, "pass", summary or "")
        return True


def _report(name, status, message):
    path = os.environ.get(REPORT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "status": status, "message": message}) + "\n")


def exercise(name, *, title, reference, diagnoses=()):
    """Decorator registering ``checker(student, rng) -> str`` as the exercise ``name``.

    Parameters
    ----------
    name : str
        ``"NN.short_name"``; must be new.
    title : str
        One line: what the student writes.
    reference : callable
        The library's implementation (the checker compares against it).
    diagnoses : iterable of str
        The kinds of mistake the checker names, for the tests and ``minikws exercises list``.
    """
    chapter, dot, short = name.partition(".")
    if not (dot and len(chapter) == 2 and chapter.isdigit() and short):
        raise ValueError(f"exercise name {name!r}: expected 'NN.short_name'")
    if name in _REGISTRY:
        raise ValueError(f"exercise name {name!r}: registered twice")

    def register(checker):
        _REGISTRY[name] = Exercise(name, chapter, title, reference, checker, tuple(diagnoses))
        return checker

    return register


# ---------------------------------------------------------------------------------------------------
# Running the student's function.
# ---------------------------------------------------------------------------------------------------
def describe_shapes(args, kwargs=None):
    """``"x (2, 3), h_prev (2, 4), t=5"``: the arguments of a call as a student would recognise them."""
    parts = []
    for k, v in list(args.items() if isinstance(args, dict) else enumerate(args)) + list(
            (kwargs or {}).items()):
        label = f"argument {k + 1}" if isinstance(k, int) else k
        if isinstance(v, np.ndarray):
            parts.append(f"{label} {v.shape}")
        elif isinstance(v, tuple) and all(isinstance(a, np.ndarray) for a in v):
            parts.append(f"{label} " + "/".join(str(a.shape) for a in v))
        else:
            parts.append(f"{label}={v!r}")
    return ", ".join(parts)


def _copy(v):
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, tuple):
        return type(v)(*map(_copy, v)) if hasattr(v, "_fields") else tuple(map(_copy, v))
    return v


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    return True


_ARGNAMES = []  # the reference's parameter names while Exercise.check runs, to name arguments


def _argnames(student):
    if _ARGNAMES and _ARGNAMES[-1]:
        return _ARGNAMES[-1]
    try:
        return [p.name for p in inspect.signature(student).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def call(student, *args, outputs=None, **kwargs):
    """Call the student's function on copies of the inputs; return its outputs as float64 arrays.

    Parameters
    ----------
    student : callable
    *args, **kwargs
        The inputs (arrays, NamedTuples of arrays, numbers). The student receives copies, so the
        checker's own arrays stay intact; a copy the student changes in place is reported.
    outputs : tuple of str, optional
        Names of the outputs when the function returns a tuple (its length is checked); None for a
        function returning one array or number.

    Returns
    -------
    ndarray or tuple of ndarray
        float64 copies of the outputs.

    Raises
    ------
    NotAttempted
        When the function raises ``NotImplementedError``.
    Incorrect
        When it raises anything else, returns the wrong number of outputs or something not numeric,
        or changes an input in place.
    """
    __tracebackhide__ = True
    copies = [_copy(a) for a in args]
    kwcopies = {k: _copy(v) for k, v in kwargs.items()}
    try:
        result = student(*copies, **kwcopies)
    except NotImplementedError:
        raise NotAttempted() from None
    except Exception as exc:  # the student's bug, reported in words rather than as a traceback
        names = _argnames(student)[:len(args)]
        named = dict(zip(names, args)) if len(names) == len(args) else list(args)
        raise Incorrect(f"your function raised {type(exc).__name__}: {exc} "
                        f"(called with {describe_shapes(named, kwargs)})") from None
    names = _argnames(student)
    for i, (orig, seen) in enumerate(zip(args, copies)):
        if not _same(orig, seen):
            label = names[i] if i < len(names) else f"argument {i + 1}"
            raise Incorrect(f"your function changed its input {label} in place; "
                            "return new arrays and leave the inputs as they were")
    for k in kwargs:
        if not _same(kwargs[k], kwcopies[k]):
            raise Incorrect(f"your function changed its input {k} in place; "
                            "return new arrays and leave the inputs as they were")
    if outputs is None:
        return _as_float("your function's result", result)
    if not isinstance(result, (tuple, list)) or len(result) != len(outputs):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else type(result).__name__
        raise Incorrect(f"expected your function to return {len(outputs)} values "
                        f"({', '.join(outputs)}), got {got}")
    return tuple(_as_float(name, r) for name, r in zip(outputs, result))


def _as_float(what, value):
    if value is None:
        raise Incorrect(f"{what} is None: did you forget a return statement?")
    try:
        a = np.asarray(value)
    except Exception:
        a = None
    if a is None or a.dtype == object or a.dtype.kind not in "fiub":
        raise Incorrect(f"{what} is not an array of numbers (got {type(value).__name__})")
    return a.astype(np.float64)


# ---------------------------------------------------------------------------------------------------
# Comparing outputs and saying what is wrong.
# ---------------------------------------------------------------------------------------------------
def read_rel_error(err):
    """CS231n's reading of a relative error, in words, for float64 arithmetic."""
    if not np.isfinite(err):
        return "not a number: something is NaN or infinite"
    if err > 1e-2:
        return "> 1e-2: probably wrong"
    if err > 1e-4:
        return "between 1e-4 and 1e-2: very likely wrong"
    if err > 1e-7:
        return "between 1e-7 and 1e-4: wrong for a smooth function in float64 (fine only near kinks)"
    return "< 1e-7: good"


def numerical_gradient(f, x, df=None, h=1e-6):
    """Centred differences of ``<df, f(x)>`` with respect to x (:func:`minikws.gradcheck.numerical_gradient`)."""
    return _numerical_gradient(f, np.asarray(x, dtype=np.float64), df, h=h)


def compare(what, got, expected, *, where="", mistakes=None, blocks=None, tol=TOL):
    """Raise :class:`Incorrect` unless ``got`` agrees with ``expected``; say how it differs.

    The diagnoses, in this order: a wrong shape (naming a transpose when the values are those of the
    transpose), NaN or infinite values, a flipped sign, a transposed square matrix, a known mistake
    (``mistakes``), a constant factor, the blocks that are off (``blocks``), and otherwise the relative
    error with its reading.

    Parameters
    ----------
    what : str
        The output's name in the student's terms, e.g. ``"da"``.
    got : ndarray
        The student's output (from :func:`call`).
    expected : ndarray
        The reference's output.
    where : str
        The inputs, for the message, e.g. ``" (T=1, B=1, H=3)"``.
    mistakes : dict str -> ndarray, optional
        What the output would be after a known mistake -> a description of the mistake, e.g.
        ``{"is missing the bias correction 1/(1 - beta1^t)": theta_without}``. Keys are the words
        that follow ``what`` in the message.
    blocks : dict str -> index, optional
        Named parts of the output (e.g. the four gate blocks of ``da``), each an index into it; the
        message names the parts that are off and their relative errors.
    tol : float
        Largest relative error that passes.

    Returns
    -------
    float
        The relative error of ``got`` against ``expected``.
    """
    __tracebackhide__ = True
    got = _as_float(what, got)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and rel_error(got.T, expected) <= tol:
            raise Incorrect(f"{what}{where} is transposed: expected shape {expected.shape}, got "
                            f"{got.shape}, and its transpose is right")
        raise Incorrect(f"{what}{where}: expected shape {expected.shape}, got {got.shape}")
    if not np.isfinite(got).all():
        kind = "NaN" if np.isnan(got).any() else "infinite values"
        raise Incorrect(f"{what}{where} contains {kind} where the correct values are finite")
    err = rel_error(got, expected)
    if err <= tol:
        return err
    if rel_error(got, -expected) <= tol:
        raise Incorrect(f"{what}{where} has the wrong sign: it is the negative of the correct value")
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1 and rel_error(got.T, expected) <= tol:
        raise Incorrect(f"{what}{where} is transposed: its transpose is right")
    # A known mistake: the closest one, when it is much closer to got than the right answer is.
    distances = []
    for description, wrong in (mistakes or {}).items():
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == got.shape:
            distances.append((rel_error(got, wrong), description))
    if distances:
        distance, description = min(distances)
        if distance <= 10 * tol and distance < 1e-2 * err:
            raise Incorrect(f"{what}{where} {description}")
    denom = float(np.sum(expected * expected))
    if denom > 0:
        factor = float(np.sum(got * expected)) / denom
        if abs(factor - 1) > 1e-3 and abs(factor) > 1e-12 and rel_error(got, factor * expected) <= 10 * tol:
            raise Incorrect(f"{what}{where} is off by a constant factor: it is {factor:.4g} times the "
                            "correct value (a missing or extra normalisation?)")
    if blocks:
        off = []
        for name, index in blocks.items():
            e = rel_error(got[index], expected[index])
            if e > tol:
                off.append((name, e))
        if off and len(off) < len(blocks):
            right = [name for name in blocks if name not in dict(off)]
            parts = " and ".join(f"{name} (relative error {e:.1e}, {read_rel_error(e)})" for name, e in off)
            raise Incorrect(f"{what}{where} is wrong in {parts}; "
                            f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} right")
    raise Incorrect(f"{what}{where} is wrong: relative error {err:.1e} ({read_rel_error(err)})")
