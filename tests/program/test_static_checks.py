"""The static checks the tree passes, run from the test extras so CI fails when
they fail: ruff check and ruff format over the package and the tests, and mypy
--strict over the package.

The import contracts run in tests/program/test_layering.py, the whole-graph
import cycle check in tests/program/test_no_import_cycles.py.
"""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

RUFF_PATHS = ["xentui", "tests", "benchmarks", "screenshots", "packaging"]


def _need(module: str, minimum: tuple) -> None:
    if importlib.util.find_spec(module) is not None:
        return
    if sys.version_info < minimum:
        pytest.skip(f"the pinned {module} needs Python {'.'.join(map(str, minimum))}+ (see the test extras)")
    pytest.fail(f"{module} is missing: pip install -e '.[test]'")


def _ruff(*args: str) -> "subprocess.CompletedProcess[str]":
    _need("ruff", (3, 7))
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *RUFF_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_check():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check():
    """The tree is formatted by `ruff format` (tests included)."""
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_whole_package(tmp_path):
    """`mypy --strict` (pyproject's settings) on every module of xentui, UI included."""
    _need("mypy", (3, 10))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
