"""Every equation label the code cites is defined once, in a docstring's ``.. math::`` block.

The book and the docstrings share one set of labels (STYLE.md: "the book states an equation once, with
one label; the docstring that implements it cites that label"). Labels are defined as

    .. math::
        :label: lstm-cell

in a docstring, and cited in two ways: :eq:`lstm-cell` in docstrings, ``[lstm-cell]`` in code comments
(Python, Cython and C alike). This test reads minikws/ (.py and .pyx) and csrc/ (.c and .h) as text and
fails on a cited label that no docstring defines, on a label defined twice, on a ``:label:`` outside a
math block or a docstring, on a label cited in parentheses, ``(lstm-cell)``, the older comment syntax,
and on a comment's ``[lstm-cell]`` inside a docstring, and on several labels in one bracket
(``[lstm-cell, lstm-hidden]``, which neither syntax reads).
"""
import ast
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABEL = r"[a-z]{2,}[a-z0-9]*(?:-[a-z0-9]+)+"

# ``.. math::`` then its option lines; the label is one of the options.
MATH_BLOCK = re.compile(r"^[ \t]*\.\. math::[^\n]*\n((?:[ \t]+:[a-z-]+:[^\n]*\n)+)", re.M)
LABEL_OPTION = re.compile(r":label:[ \t]*(\S+)")
EQ_CITATION = re.compile(r":eq:`([^`]+)`")
COMMENT_CITATION = re.compile(rf"(?<![\w\[\]])\[({LABEL})\](?![\w(\[])")
PAREN_CITATION = re.compile(rf"(?<![\w`])\(({LABEL})\)")
# ``[lstm-cell, lstm-hidden]`` or ``[lstm-bptt-c, -gates]``: several labels in one pair of brackets
LIST_CITATION = re.compile(rf"\[({LABEL})((?:,[ \t]*-?[a-z0-9-]+)+)\]")


def source_files():
    """minikws' Python and Cython sources, and the C kernel's sources (not the generated .c)."""
    files = []
    for top, exts in (("minikws", (".py", ".pyx")), ("csrc", (".c", ".h"))):
        for folder, _, names in os.walk(os.path.join(ROOT, top)):
            files += [os.path.join(folder, n) for n in names if n.endswith(exts)]
    assert files, f"no sources found under {ROOT}"
    return sorted(files)


def docstrings(path, text):
    """The docstrings of a file: by the parser for Python, the triple-quoted strings otherwise."""
    if path.endswith(".py"):
        nodes = [n for n in ast.walk(ast.parse(text))
                 if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        return [d for d in (ast.get_docstring(n, clean=False) for n in nodes) if d]
    if path.endswith(".pyx"):
        return re.findall(r'"""(.*?)"""', text, re.S)
    return []


def definitions(text, docs):
    """Labels defined in ``text``, and the ``:label:`` lines that are not in a docstring's math block."""
    in_blocks = [LABEL_OPTION.findall(block) for doc in docs for block in MATH_BLOCK.findall(doc)]
    labels = [label for found in in_blocks for label in found]
    stray = len(LABEL_OPTION.findall(text)) - len(labels)
    return labels, stray


def citations(text):
    """(label, line number, syntax) of every label cited in ``text``."""
    out = []
    for pattern, syntax in ((EQ_CITATION, ":eq:"), (COMMENT_CITATION, "[]"), (PAREN_CITATION, "()"),
                            (LIST_CITATION, "[,]")):
        for m in pattern.finditer(text):
            out.append((m.group(1), text.count("\n", 0, m.start()) + 1, syntax))
    return out


def scan(files):
    """{label: [where defined]}, [(where, label, syntax) cited], [problems found while reading]."""
    defined, cited, problems = {}, [], []
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rel = os.path.relpath(path, ROOT)
        docs = docstrings(path, text)
        labels, stray = definitions(text, docs)
        for label in labels:
            defined.setdefault(label, []).append(rel)
        if stray:
            problems.append(f"{rel}: {stray} ':label:' line(s) outside a docstring's '.. math::' block")
        problems += [f"{rel}: [{label}] in a docstring; docstrings write :eq:`{label}`"
                     for doc in docs for label in COMMENT_CITATION.findall(doc)]
        cited += [(f"{rel}:{line}", label, syntax) for label, line, syntax in citations(text)]
    return defined, cited, problems


def check(files):
    """Every problem with the labels of ``files``, one line each (empty when all is well)."""
    defined, cited, problems = scan(files)
    problems += [f"label {label!r} defined {len(where)} times: {', '.join(where)}"
                 for label, where in sorted(defined.items()) if len(where) > 1]
    for where, label, syntax in cited:
        if syntax == "()" and label in defined:
            problems.append(f"{where}: ({label}) cites a label in parentheses; comments write [{label}]")
        elif syntax == "[,]" and label in defined:
            problems.append(f"{where}: [{label}, ...] cites several labels in one bracket; write one "
                            f"[label] each")
        elif syntax in (":eq:", "[]") and label not in defined:
            problems.append(f"{where}: cites {label!r}, which no docstring's '.. math::' block defines")
    return problems


def test_every_cited_label_is_defined_once():
    problems = check(source_files())
    assert not problems, "\n".join(problems)


def test_the_scan_sees_the_package():
    """The scan reads what it should: the LSTM's labels defined in minikws/nn, cited from C and NumPy."""
    defined, cited, _ = scan(source_files())
    assert {"lstm-gates", "lstm-cell", "lstm-hidden", "lstm-bptt-gates", "mfcc-dct", "mfcc-frame",
            "softmax-ce"} <= set(defined)
    assert defined["lstm-cell"] == [os.path.join("minikws", "nn", "lstm.py")]
    cited_in = {(where.split(":")[0], label) for where, label, _ in cited}
    assert (os.path.join("csrc", "lstm_cell.c"), "lstm-cell") in cited_in
    assert (os.path.join("minikws", "features", "cepstrum.py"), "mfcc-dct") in cited_in
    assert len({label for _, label, _ in cited}) >= 30


@pytest.mark.parametrize("text, problem", [
    ('def f():\n    """See :eq:`no-such-label`."""\n', "cites 'no-such-label'"),
    ("x = 1  # [no-such-label] a comment\n", "cites 'no-such-label'"),
    ('def f():\n    """.. math::\n       :label: eq-a\n\n       a\n    """\n\n'
     'def g():\n    """.. math::\n       :label: eq-a\n\n       b\n    """\n', "defined 2 times"),
    ('def f():\n    """.. math::\n       :label: eq-a\n\n       a\n    """\n    return 1  # (eq-a)\n',
     "in parentheses"),
    ('# :label: eq-a\n', "outside a docstring"),
    ('def f():\n    """.. math::\n       :label: eq-a\n\n       a\n    """\n    return 1  # [eq-a, -b]\n',
     "several labels"),
    ('def f():\n    """.. math::\n       :label: eq-a\n\n       a\n\n    Implements [eq-a].\n    """\n',
     "in a docstring"),
    ('x = 1\n"""\n.. math::\n   :label: eq-a\n\n   a\n"""\n', "outside a docstring"),
])
def test_the_check_finds_each_kind_of_mistake(tmp_path, text, problem):
    path = tmp_path / "module.py"
    path.write_text(text)
    problems = check([str(path)])
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_check_passes_a_correct_file(tmp_path):
    ok = ('def f(a):\n    """Double.\n\n    .. math::\n       :label: eq-double\n\n       2a\n\n'
          '    Implements :eq:`eq-double`.\n    """\n    return 2 * a  # [eq-double]; x[t-1] is no label\n')
    path = tmp_path / "module.py"
    path.write_text(ok)
    assert check([str(path)]) == []
