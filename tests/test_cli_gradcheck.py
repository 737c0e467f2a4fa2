"""The `minikws gradcheck` command."""
import json
import subprocess
import sys

import minikws.gradcheck
from minikws.cli import main


def test_table(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["layer", "parameter", "rel", "error", "pass"]
    assert any(line.startswith("lstm sequence (numpy)") and line.endswith("ok") for line in out)
    assert "all passed" in out[-1]


def test_json_seed(capsys):
    assert main(["gradcheck", "--json", "--seed", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["seed"] == 3 and report["passed"] is True and report["threshold"] == 1e-6
    assert len(report["checks"]) >= 40
    assert all(c["passed"] and c["rel_error"] <= 1e-6 for c in report["checks"])


def test_exit_status_1_on_a_failure(capsys, monkeypatch):
    rows = [{"layer": "broken", "parameter": "W", "rel_error": 0.5, "passed": False}]
    monkeypatch.setattr(minikws.gradcheck, "check_layers", lambda seed: rows)
    assert main(["gradcheck"]) == 1
    assert "1 FAILED" in capsys.readouterr().out
    assert main(["gradcheck", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["passed"] is False


def test_console_entry_point():
    proc = subprocess.run([sys.executable, "-m", "minikws", "gradcheck", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["passed"] is True
