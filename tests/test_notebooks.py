"""The tutorials as committed: student versions in sync with the solutions, outputs stripped, one kernel,
no absolute paths, no solution code for students; and the machinery that makes student versions."""
import importlib.util
import pathlib
import re
import shutil

import nbformat
import pytest

from minikws import exercises
from minikws.exercises.notebooks import BEGIN, END, normalize, problems, solution_count, student_version

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
SOLUTIONS = sorted((TUTORIALS / "solutions").glob("[0-9][0-9]_*.ipynb"))
STUDENTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def _script():
    spec = importlib.util.spec_from_file_location("make_student_notebooks",
                                                  ROOT / "scripts" / "make_student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_this_helpers_chapters_exist_in_both_versions():
    names = {p.name for p in SOLUTIONS}
    for name in ("03_backprop_through_time.ipynb", "04_softmax_cross_entropy_and_feedback.ipynb",
                 "05_adamw.ipynb"):
        assert name in names
        assert (TUTORIALS / name).exists()
    assert {p.name for p in STUDENTS} == names


def test_student_notebooks_are_in_sync_with_the_solutions():
    assert _script().main(["--check"]) == 0


@pytest.mark.parametrize("path", SOLUTIONS + STUDENTS, ids=lambda p: str(p.relative_to(TUTORIALS)))
def test_committed_notebook_is_reviewable(path):
    nb = nbformat.read(path, as_version=4)
    assert problems(nb, path.name) == []
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_version_holds_no_solution(path):
    full = nbformat.read(path, as_version=4)
    student = nbformat.read(TUTORIALS / path.name, as_version=4)
    assert solution_count(full) >= 1
    text = "\n".join(c.source for c in student.cells)
    assert BEGIN not in text and END not in text
    assert text.count("raise NotImplementedError") >= solution_count(full)
    for cell in full.cells:  # no line of a solution block survives in the student's copy
        for block in re.findall(rf"{BEGIN}\n(.*?)\n\s*{END}", cell.source, flags=re.S):
            for line in block.splitlines():
                if len(line.strip()) > 25:
                    assert line.strip() not in text, line


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_a_chapter_checks_exactly_its_registered_exercises(path):
    """The grader expects every exercise of chapter NN from NN_*.ipynb; the notebook must check them all."""
    chapter = path.name[:2]
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    checked = set(re.findall(r"exercises\.check\(\s*[\"'](\d\d\.\w+)[\"']", text))
    registered = {e.name for e in exercises.list(chapter=chapter)}
    if registered or checked:
        assert checked == registered


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_a_chapter_opens_with_its_title_then_what_it_teaches_needs_and_mirrors(path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown"
    assert re.fullmatch(rf"# {path.name[:2]} · \S.*", cells[0].source.strip()), cells[0].source
    assert cells[1].cell_type == "markdown"
    for words in ("teaches", "need", "article"):
        assert words in cells[1].source.lower()


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_markdown_follows_the_books_rules(path):
    """Equation labels live in the docstrings (cited as eq. `label`); headings never skip a level."""
    level = 0
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "markdown":
            continue
        text = cell.source
        assert "\\tag{" not in text and "\\label{" not in text, f"cell {i} defines an equation label"
        assert not re.search(r"\$\$\s*\([A-Za-z0-9_.-]+\)", text), f"cell {i} labels an equation"
        for line in text.splitlines():
            m = re.match(r"(#+) ", line)
            if m:
                assert len(m.group(1)) <= level + 1, f"cell {i}: heading {line!r} skips a level"
                level = len(m.group(1))
        for target in re.findall(r"\]\(([^)]+\.ipynb)\)", text):
            assert (path.parent / target).name == target and re.fullmatch(r"\d\d_\w+\.ipynb", target), target


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_and_check_cells_carry_nbgrader_metadata(path):
    """nbgrader generate_assignment refuses solution blocks outside cells marked as solutions."""
    ids = []
    for cell in nbformat.read(path, as_version=4).cells:
        grading = cell.metadata.get("nbgrader")
        if cell.cell_type == "code" and BEGIN in cell.source:
            assert grading and grading["solution"] and not grading["grade"]
        elif cell.cell_type == "code" and "exercises.check(" in cell.source:
            assert grading and grading["grade"] and grading["points"] == 1 and grading["locked"]
        else:
            assert grading is None
            continue
        assert re.fullmatch(r"[A-Za-z0-9_-]+", grading["grade_id"])
        ids.append(grading["grade_id"])
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------------------------------
# The machinery.
# ---------------------------------------------------------------------------------------------------
def _nb(*sources, kernel="python3"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata.kernelspec = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


def test_student_version_replaces_each_block_at_its_indentation():
    nb = _nb("def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    secret = x * 2\n    ### END SOLUTION\n    return y",
             "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nprint(answer)")
    student = student_version(nb)
    assert student.cells[0].source == ("def f(x):\n    y = 1\n    # YOUR CODE HERE\n"
                                       "    raise NotImplementedError\n    return y")
    assert student.cells[1].source == "# YOUR CODE HERE\nraise NotImplementedError\nprint(answer)"
    assert "secret" in nb.cells[0].source  # the full notebook is untouched


@pytest.mark.parametrize("source, match", [
    ("### BEGIN SOLUTION\nx = 1", "without ### END SOLUTION"),
    ("x = 1\n### END SOLUTION", "without ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another solution block"),
])
def test_unbalanced_markers_are_an_error_naming_the_cell(source, match):
    with pytest.raises(ValueError, match=rf"nb, cell 1.*{match}"):
        student_version(_nb("pass", source), name="nb")


def test_problems_finds_outputs_kernel_and_absolute_paths():
    nb = _nb("print(1)", "open('/home/alice/data.wav')", kernel="conda-env-kws")
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[0].execution_count = 1
    found = problems(nb, "x.ipynb")
    assert "x.ipynb: kernel 'conda-env-kws', expected 'python3'" in found
    assert "x.ipynb, cell 0: outputs not stripped" in found
    assert any("cell 1: absolute path '/home/" in f for f in found)
    assert problems(normalize(_nb("open('data/x.wav')"))) == []


def test_check_fails_when_a_student_notebook_is_stale_or_outputs_are_kept(tmp_path):
    tut = tmp_path / "tutorials"
    shutil.copytree(TUTORIALS / "solutions", tut / "solutions")
    script = _script()
    assert script.main(["--check", "--tutorials", str(tut)]) == 1  # no student versions yet
    assert script.main(["--tutorials", str(tut)]) == 0
    assert script.main(["--check", "--tutorials", str(tut)]) == 0

    student = tut / SOLUTIONS[0].name
    nb = nbformat.read(student, as_version=4)
    nb.cells[-1].source += "\n# edited by hand"
    nbformat.write(nb, student)
    assert script.main(["--check", "--tutorials", str(tut)]) == 1

    assert script.main(["--tutorials", str(tut)]) == 0
    full = tut / "solutions" / SOLUTIONS[0].name
    nb = nbformat.read(full, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="left over\n")]
    nbformat.write(nb, full)
    assert script.main(["--check", "--tutorials", str(tut)]) == 1
