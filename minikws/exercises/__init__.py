"""Exercises that tell a student what is wrong: ``minikws.exercises.get("03.gate_grads").check(fn)``.

Each exercise asks for a function with the signature of one of the library's own functions (its
``reference``). ``check`` calls the student's function on fresh random inputs of several shapes
(T = 1 and B = 1 among them), compares every output with the reference and, for a gradient, with
numerical gradients, and either prints one line ("correct ...") or raises :class:`Incorrect` with a
message in plain words: which output, the expected and received shapes, a transposed matrix, a flipped
sign, a missing term, which gate is off and by how much. A function that still raises
``NotImplementedError`` is reported as "not attempted yet", without an exception, so that a student
notebook runs top to bottom before any exercise is done.

Where things live::

    core.py    Exercise, Incorrect, the @exercise decorator, call() and compare() (the diagnoses)
    chNN.py    the exercises of chapter NN (tutorials/NN_*.ipynb), registered with @exercise
"""
import importlib
import pkgutil
import re

from minikws.errors import MinikwsError
from minikws.exercises.core import Exercise, Incorrect, registry

__all__ = ["Exercise", "Incorrect", "list", "get", "check", "chapters"]

_builtin_list = list
_loaded = False


def _load():
    """Import every chapter module chNN.py of this package (each registers its exercises)."""
    global _loaded
    if not _loaded:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if re.fullmatch(r"ch\d\d", info.name):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True
    return registry()


def list(chapter=None):
    """Every exercise, sorted by name; only those of ``chapter`` ("03" or 3) when given."""
    exercises = sorted(_load().values(), key=lambda e: e.name)
    if chapter is not None:
        chapter = f"{int(chapter):02d}"
        exercises = [e for e in exercises if e.chapter == chapter]
    return exercises


def chapters():
    """The chapters that have exercises, e.g. ``["01", "02", ...]``."""
    return sorted({e.chapter for e in list()})


def get(name):
    """The exercise called ``name`` (e.g. ``"03.gate_grads"``)."""
    exercises = _load()
    if name not in exercises:
        known = ", ".join(sorted(exercises))
        raise MinikwsError(f"exercise {name!r}: no such exercise (known: {known})")
    return exercises[name]


def check(name, fn, *, seed=None):
    """``get(name).check(fn)``: True and one printed line if ``fn`` is right; see :meth:`Exercise.check`."""
    __tracebackhide__ = True
    return get(name).check(fn, seed=seed)
