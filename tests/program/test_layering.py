"""The layering rules, as import-linter contracts in pyproject.toml (run here
with the installed `lint-imports`): each layer is importable without the ones
after it (sim -> xapi -> host -> recovery -> ui, commands and cli on top), only
xentui/ui/ imports Textual, and no import cycles, deferred imports included.
A fresh interpreter that cannot load Textual then imports every core module."""

import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "xentui"
LAYERS = ["sim", "xapi", "host", "recovery", "ui"]
CONTRACTS = {"layers", "no-textual-in-core", "textual-only-through-ui", "no-cycles"}


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=sysconfig.get_path("scripts")) or shutil.which("lint-imports")
    if found is None and sys.version_info < (3, 11):
        pytest.skip("the pinned import-linter needs Python 3.11+ (see the test extras)")
    assert found, "lint-imports is missing: pip install -e '.[test]'"
    return found


def test_contracts_are_declared():
    _lint_imports()  # skips before 3.11, so tomllib is there below
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = {c["id"] for c in config["tool"]["importlinter"]["contracts"]}
    assert CONTRACTS <= declared, f"missing import contracts: {sorted(CONTRACTS - declared)}"


def test_import_contracts_hold():
    result = subprocess.run(
        [_lint_imports(), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_layer_imports_without_textual(layer):
    # Import every module of the layer in a fresh interpreter that cannot
    # import textual at all; any hidden dependency fails here.
    modules = sorted(
        "xentui." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts) for p in (PACKAGE / layer).rglob("*.py")
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
