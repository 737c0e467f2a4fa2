"""Student and solution notebooks: the nbgrader markers, the student version, and what git should hold.

A full notebook (``tutorials/solutions/NN_name.ipynb``) has each solution between the lines
``### BEGIN SOLUTION`` and ``### END SOLUTION`` of a code cell, nbgrader's markers. The student version
(``tutorials/NN_name.ipynb``) replaces every such block by ``# YOUR CODE HERE`` and
``raise NotImplementedError`` at the block's indentation, so that the function still parses and the
exercise's check reports "not attempted yet". ``scripts/make_student_notebooks.py`` writes the student
versions; the tests fail when they are out of date.

Both versions are kept reviewable in git: no outputs, no execution counts, one kernel (``python3``),
no absolute paths (:func:`problems`). Solution and check cells carry nbgrader's cell metadata, so that a
teacher who uses nbgrader can run ``nbgrader generate_assignment`` on the full notebooks as they are.
"""
import copy
import re

import nbformat

__all__ = ["BEGIN", "END", "KERNELSPEC", "nbgrader_metadata", "normalize", "student_version", "problems", "solution_count"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# Paths of one machine: /home/..., /work/..., /tmp/..., C:\...
_ABSOLUTE = re.compile(r"(?<![\w.~])/(?:home|work|tmp|Users|root|mnt|opt|var|srv)/|\b[A-Za-z]:\\\\")
# Cell metadata that tools add on every run (timings, collapsed state); kept out of git.
_VOLATILE_CELL_KEYS = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")


_CHECK = re.compile(r"exercises\.check\(\s*[\"'](\d\d)\.(\w+)[\"']")
_DEF = re.compile(r"^def (\w+)", re.M)


def nbgrader_metadata(cell, index):
    """nbgrader's metadata for a cell: a solution cell (it holds a solution block) or an autograded test
    (it calls ``exercises.check``); None for any other cell.

    With it, ``nbgrader generate_assignment`` accepts the full notebooks as they are (it refuses solution
    blocks outside cells marked as solutions), and ``nbgrader autograde`` gives each check one point.
    """
    if cell.cell_type != "code":
        return None
    if any(line.strip() == BEGIN for line in cell.source.split("\n")):
        names = _DEF.findall(cell.source)
        grade_id = f"solution_{names[0]}" if names else f"solution_cell_{index}"
        return {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                "solution": True, "task": False}
    match = _CHECK.search(cell.source)
    if match:
        return {"grade": True, "grade_id": f"check_{match.group(1)}_{match.group(2)}", "locked": True,
                "points": 1, "schema_version": 3, "solution": False, "task": False}
    return None


def normalize(nb):
    """Strip outputs, execution counts and volatile metadata; set the one kernelspec and nbgrader's cell
    metadata (:func:`nbgrader_metadata`). In place; returns nb."""
    nb.metadata = nbformat.NotebookNode(
        kernelspec=nbformat.NotebookNode(KERNELSPEC),
        language_info=nbformat.NotebookNode(name="python"),
    )
    for i, cell in enumerate(nb.cells):
        for key in _VOLATILE_CELL_KEYS:
            cell.metadata.pop(key, None)
        cell["id"] = f"c{i:03d}"  # stable ids: a re-run changes no line of the file
        cell.metadata.pop("nbgrader", None)
        grading = nbgrader_metadata(cell, i)
        if grading is not None:
            cell.metadata["nbgrader"] = nbformat.NotebookNode(grading)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _replace_solutions(source, where):
    lines = source.split("\n")
    out = []
    inside = None
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise ValueError(f"{where}, line {n}: {BEGIN} inside another solution block")
            inside = line[: len(line) - len(line.lstrip())]
            out.append(f"{inside}# YOUR CODE HERE")
            out.append(f"{inside}raise NotImplementedError")
        elif stripped == END:
            if inside is None:
                raise ValueError(f"{where}, line {n}: {END} without {BEGIN}")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def solution_count(nb):
    """The number of solution blocks in the notebook's code cells."""
    return sum(line.strip() == BEGIN for cell in nb.cells if cell.cell_type == "code"
               for line in cell.source.split("\n"))


def student_version(nb, name="notebook"):
    """A normalized copy of the full notebook ``nb`` with every solution block replaced by a stub."""
    student = normalize(copy.deepcopy(nb))
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.source = _replace_solutions(cell.source, f"{name}, cell {i}")
    return student


def problems(nb, name="notebook"):
    """What keeps ``nb`` from being committed as it is: a list of one-line messages (empty if none)."""
    found = []
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNELSPEC["name"]:
        found.append(f"{name}: kernel {kernel!r}, expected {KERNELSPEC['name']!r}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            found.append(f"{name}, cell {i}: outputs not stripped")
        match = _ABSOLUTE.search(cell.source)
        if match:
            found.append(f"{name}, cell {i}: absolute path {match.group(0)!r}...")
    return found
