"""The package's shape: its map lists every module, and imports only point down the data flow."""
import ast
import pathlib

import pytest

import minikws

ROOT = pathlib.Path(minikws.__file__).parent

# audio -> features -> front end -> nn -> optim -> models -> io -> train -> serve, exercises -> cli: a
# module may import modules of its own layer or of lower ones, never of a higher one (a reader meets the imports in the
# order the data flows).
LAYERS = [
    {"minikws.errors", "minikws.defaults"},
    {"minikws._validate", "minikws._backend", "minikws._lstm_kernel", "minikws._fileio"},
    {"minikws.audio"},
    {"minikws.augment", "minikws.features", "minikws.datasets"},
    {"minikws.frontend", "minikws.pipeline"},
    {"minikws.nn"},
    {"minikws.optim", "minikws.gradcheck"},
    {"minikws.models", "minikws.compress"},
    {"minikws.io", "minikws.streaming", "minikws.metrics", "minikws.export", "minikws.detection"},
    {"minikws.train", "minikws.train_stream"},
    {"minikws.serve", "minikws.exercises"},  # the service; the chapters' checks, built on every layer below
    {"minikws.cli", "minikws.__main__"},
]


def layer_of(module):
    for depth, layer in enumerate(LAYERS):
        for name in layer:
            if module == name or module.startswith(name + "."):
                return depth
    raise AssertionError(f"{module} is in no layer of LAYERS")


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if name != "minikws":
            yield name, path


def minikws_imports(path):
    """(module imported, at module top?) for every import of a minikws module in the file."""
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("minikws"):
            names = ([f"minikws.{a.name}" for a in node.names] if node.module == "minikws" else [node.module])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("minikws")]
        else:
            continue
        out.extend((n, node in tree.body) for n in names)
    return out


def test_the_package_map_lists_every_module():
    listed = minikws.__doc__
    for name, _ in modules():
        top = ".".join(name.split(".")[:2])
        if top != "minikws.__main__":
            assert top in listed, f"{top} is missing from minikws/__init__.py's map"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_no_module_imports_upward(name, path):
    mine = layer_of(name)
    for imported, _ in minikws_imports(path):
        if imported in ("minikws", "minikws.__version__"):  # the package itself (its version)
            continue
        theirs = layer_of(imported)
        assert theirs <= mine, f"{name} (layer {mine}) imports {imported} (layer {theirs})"


@pytest.mark.parametrize("name", ["minikws.frontend", "minikws.models", "minikws.io", "minikws.streaming",
                                  "minikws.train", "minikws.augment", "minikws.audio"])
def test_the_pipeline_modules_import_at_the_top(name):
    path = ROOT / (name.split(".", 1)[1] + ".py")
    inner = [imported for imported, at_top in minikws_imports(path) if not at_top]
    assert not inner, f"{name} imports {inner} inside functions"
