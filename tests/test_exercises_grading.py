"""`minikws exercises list` and `minikws exercises grade`: a folder with a complete, a blank and a broken
submission (and a real chapter) is scored correctly; a looping or crashing notebook is reported."""
import json
import pathlib
import shutil

import nbformat
import pytest

from minikws.cli import main
from minikws.exercises.grading import expected_exercises, grade_notebook

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _output(capsys_text):
    lines = capsys_text.strip().splitlines()
    return lines, json.loads(lines[-1])


def test_grade_json_line_and_table(tmp_path, capsys):
    folder = tmp_path / "subs"
    folder.mkdir()
    _write(folder / "04_complete.ipynb",
           "from minikws import exercises, nn",
           "exercises.check('04.log_softmax', nn.log_softmax)",
           "exercises.check('04.softmax_ce', nn.softmax_cross_entropy)",
           "exercises.check('04.masked_loss', nn.softmax_cross_entropy)")
    _write(folder / "04_blank.ipynb",
           "from minikws import exercises",
           "def f(*args):\n    raise NotImplementedError",
           "for name in ('04.log_softmax', '04.softmax_ce', '04.masked_loss'):\n    exercises.check(name, f)")
    _write(folder / "04_wrong.ipynb",
           "from minikws import exercises, nn",
           "exercises.check('04.log_softmax', lambda z: -nn.log_softmax(z))",
           "undefined_name",
           "exercises.check('04.softmax_ce', nn.softmax_cross_entropy)")
    (folder / "04_broken.ipynb").write_text('{"cells": [ this is not json', encoding="utf-8")
    shutil.copy(ROOT / "tutorials" / "solutions" / "05_adamw.ipynb", folder / "05_adamw.ipynb")
    shutil.copy(ROOT / "tutorials" / "05_adamw.ipynb", folder / "05_adamw_student.ipynb")

    assert main(["exercises", "grade", str(folder), "--json", "--timeout", "100"]) == 0
    lines, out = _output(capsys.readouterr().out)
    subs = {pathlib.Path(s["file"]).name: s for s in out["submissions"]}
    assert sorted(subs) == ["04_blank.ipynb", "04_broken.ipynb", "04_complete.ipynb", "04_wrong.ipynb",
                            "05_adamw.ipynb", "05_adamw_student.ipynb"]

    full = subs["04_complete.ipynb"]
    assert (full["score"], full["max"]) == (3, 3)
    assert {r["status"] for r in full["results"].values()} == {"pass"}

    blank = subs["04_blank.ipynb"]
    assert (blank["score"], blank["max"]) == (0, 3)
    assert {r["status"] for r in blank["results"].values()} == {"not attempted"}

    wrong = subs["04_wrong.ipynb"]
    assert (wrong["score"], wrong["max"]) == (1, 3)
    assert wrong["results"]["04.log_softmax"]["status"] == "fail"
    assert "has the wrong sign" in wrong["results"]["04.log_softmax"]["message"]
    assert wrong["results"]["04.softmax_ce"]["status"] == "pass"  # graded past the cell that raised
    assert wrong["results"]["04.masked_loss"] == {
        "status": "error", "message": "not checked: the notebook raised NameError: name 'undefined_name' "
                                      "is not defined in cell 2"}

    broken = subs["04_broken.ipynb"]
    assert (broken["score"], broken["max"]) == (0, 3)
    assert broken["problem"].startswith("could not read the notebook (NotJSONError")
    assert {r["status"] for r in broken["results"].values()} == {"error"}

    chapter = subs["05_adamw.ipynb"]
    assert (chapter["score"], chapter["max"]) == (2, 2)
    student = subs["05_adamw_student.ipynb"]
    assert (student["score"], student["max"]) == (0, 2)
    assert {r["status"] for r in student["results"].values()} == {"not attempted"}

    table = "\n".join(lines[:-1])
    assert "04_complete.ipynb: 3/3" in table and "04_broken.ipynb: 0/3" in table
    assert "6 notebooks graded: 6/16 exercises passed" in table


def test_grade_reports_a_loop_and_a_crash_and_goes_on(tmp_path):
    loop = _write(tmp_path / "04_loop.ipynb", "from minikws import exercises",
                  "while True:\n    pass")
    result = grade_notebook(loop, timeout=4)
    assert result["problem"] == "timed out: still running after 4 s"
    assert result["seconds"] < 30
    assert result["results"]["04.log_softmax"]["message"] == "not checked: timed out: still running after 4 s"

    crash = _write(tmp_path / "03_crash.ipynb", "import os\nos._exit(1)")
    result = grade_notebook(crash, timeout=30)
    assert result["problem"].startswith("the kernel died")
    assert (result["score"], result["max"]) == (0, 2)


def test_expected_exercises_from_the_name_and_the_text():
    assert expected_exercises("alice_05_adamw.ipynb") == ["05.adamw_update", "05.warmup_cosine"]
    assert expected_exercises("homework.ipynb", 'exercises.check("04.log_softmax", f)') == ["04.log_softmax"]
    assert expected_exercises("notes.ipynb") == []


def test_list_prints_every_exercise(capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    assert "03.gate_grads" in out and "05.warmup_cosine" in out
    assert main(["exercises", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["exercises"]
    assert {"name": "05.adamw_update", "chapter": "05",
            "title": rows[[r["name"] for r in rows].index("05.adamw_update")]["title"],
            "reference": "minikws.optim.adamw_update"} in rows


@pytest.mark.parametrize("argv, message", [
    (["exercises", "grade", "/nonexistent/folder"], "/nonexistent/folder: no such file or folder"),
    (["exercises", "grade", "{tmp}"], "no .ipynb notebook found"),
    (["exercises", "grade", "{tmp}", "--timeout", "0"], "--timeout: expected a positive number"),
])
def test_grade_user_mistakes_are_one_line_errors(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
