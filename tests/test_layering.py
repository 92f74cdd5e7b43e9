"""The layering rule: only xentui/ui/ imports textual, and each layer is
importable without the ones after it (sim -> xapi -> host -> recovery -> ui)."""

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "xentui"
LAYERS = ["sim", "xapi", "host", "recovery", "ui"]


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_only_ui_imports_textual():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "ui":
            continue
        for name in _imports(path):
            if name == "textual" or name.startswith("textual."):
                offenders.append(f"{rel}: imports {name}")
    assert not offenders, "textual imported outside xentui/ui/:\n" + "\n".join(offenders)


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_layer_does_not_import_later_layers(index):
    layer = LAYERS[index]
    later = LAYERS[index + 1 :]
    offenders = []
    for path in (PACKAGE / layer).rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "xentui" and len(parts) > 1 and parts[1] in later + ["commands", "cli"]:
                offenders.append(f"{path.relative_to(PACKAGE)}: imports {name}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_layer_imports_without_textual(layer):
    # Import every module of the layer in a fresh interpreter that cannot
    # import textual at all; any hidden dependency fails here.
    modules = sorted(
        "xentui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in (PACKAGE / layer).rglob("*.py")
    )
    code = (
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'textual' or name.startswith('textual.'):\n"
        "            raise ImportError('textual is blocked in this test')\n"
        "sys.meta_path.insert(0, _Block())\n"
        "import importlib\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m.replace('.__init__', ''))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
