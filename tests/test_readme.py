"""README's Python example runs as printed, and the package gives its submodules as README says."""
import os
import re
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_python_example():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("\n## Python\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    from minikws.audio import save_wav

    t = np.arange(16000) / 16000
    save_wav(tmp_path / "clip.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    exec(compile(readme_python_example(), "README.md", "exec"), namespace)
    assert namespace["C"].shape == (51, 13)  # 1 s at a 20 ms hop, 13 coefficients
    assert (tmp_path / "mfcc.png").read_bytes()[:4] == b"\x89PNG"
    errors = namespace["errors"]
    assert sorted(errors) == ["Wh", "Wx", "b", "x"] and max(errors.values()) < 1e-7
    result = namespace["result"]
    # 4 classes (yes, no, _unknown_, _silence_): the small model must do far better than chance
    assert result["support"] == 24 and result["accuracy"] >= 0.75, result["accuracy"]
    from minikws.io import load_model

    assert load_model(tmp_path / "model.npz").classes == namespace["model"].classes
    out = capsys.readouterr().out
    assert "test accuracy" in out and "clip.wav is" in out


def test_import_minikws_is_cheap_and_gives_every_submodule():
    code = ("import sys, minikws; before = sorted(m for m in sys.modules if m.startswith('minikws')); "
            "heavy = 'numpy' in sys.modules; f = minikws.nn.lstm_forward; m = minikws.models.KWSModel; "
            "print(before, heavy, callable(f), 'minikws.nn' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["['minikws',", "'minikws.errors']", "False", "True", "True"]


def test_help_lists_every_module():
    import pkgutil
    import pydoc

    import minikws

    text = pydoc.render_doc(minikws, renderer=pydoc.plaintext)
    described = text[:text.index("PACKAGE CONTENTS")]  # the package's own map, not pydoc's listing
    public = [m.name for m in pkgutil.iter_modules(minikws.__path__) if not m.name.startswith("_")]
    missing = [name for name in public if f"minikws.{name}" not in described]
    assert not missing, f"help(minikws) does not describe {missing}"
    assert set(public) <= set(minikws.SUBMODULES)
