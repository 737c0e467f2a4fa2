"""`minikws info`: versions, the active LSTM backend, BLAS and threads, as a table or JSON."""
import json
import platform

import numpy as np
import pytest
import scipy

import minikws
from minikws import _backend
from minikws.cli import main


def run_json(capsys):
    assert main(["info", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_reports_versions_backend_blas_threads(capsys):
    info = run_json(capsys)
    assert info["versions"]["minikws"] == minikws.__version__
    assert info["versions"]["numpy"] == np.__version__
    assert info["versions"]["scipy"] == scipy.__version__
    assert info["versions"]["python"] == platform.python_version()
    expected = "cython" if _backend.kernel() is not None else "numpy"
    assert info["lstm"]["backend"] == expected
    for lib in ("numpy", "scipy"):
        assert set(info["blas"][lib]) == {"name", "version", "config"}
        assert info["blas"][lib]["name"]
    assert info["threads"]["cpu_count"] >= 1
    assert info["threads"]["blas_threads"]


def test_table_has_every_section(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("versions:", "lstm:", "blas:", "threads:", "backend", np.__version__):
        assert word in out


def test_reports_numpy_backend_when_kernel_is_missing(capsys, monkeypatch):
    monkeypatch.setattr(_backend, "_kernel", None)
    monkeypatch.setattr(_backend, "_kernel_error", ImportError("no C compiler"))
    info = run_json(capsys)
    assert info["lstm"]["backend"] == "numpy"
    assert "not built" in info["lstm"]["kernel"] and "no C compiler" in info["lstm"]["kernel"]


@pytest.mark.skipif(_backend.kernel() is None, reason="minikws._lstm_kernel is not built")
def test_reports_the_cell_instruction_set(capsys):
    lstm = run_json(capsys)["lstm"]
    assert lstm["cell_isa"] == _backend.kernel().isa()
    assert lstm["kernel_threads"] == _backend.kernel().threads() >= 1
    level = {2: "AVX-512", 1: "AVX2+FMA", 0: "portable C"}[_backend.kernel().gemm_level()]
    assert f"({level})" in lstm["gemm"]
