"""No file of the project names a path that exists only on one developer's
machine: their checkout, their venv, their pyenv or their home. Such a path
makes the README's commands fail on any other machine (issue 9). Tests and
benchmarks find the installed command next to sys.executable or on PATH.

Checked: every file git tracks, plus new files not yet added (not ignored).
Paths of the dom0 itself (/usr/bin/xentui, /root as root's home) are fine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _abs(*parts: str) -> str:
    """An absolute path built from its parts, so that this file itself names
    no developer's path (it is checked like every other file)."""
    return "/" + "/".join(parts)


DEVELOPER_PATHS = re.compile(
    r"(?<![\w.~-])(?:"
    + re.escape(_abs("work", ""))  # the development machine's checkout and venv
    + r"|/home/[\w.-]+/"  # someone's home
    r"|/Users/[\w.-]+/"
    r"|/root/\.(?:pyenv|cache|local|venv|virtualenvs)\b"  # root's own tools, not a dom0 path
    r"|/(?:[\w.-]+/)*\.?venv/bin/"  # an absolute venv (a relative .venv/bin/ is fine)
    r"|/(?:[\w.-]+/)*\.pyenv/"  # a pyenv interpreter
    r"|"
    + re.escape(_abs("tmp", "pytest-of-"))  # a pasted test run
    + r")"
)


def project_files():
    git = shutil.which("git")
    if not git or not (REPO / ".git").exists():
        pytest.fail("this check needs git and a git checkout")
    listed = (
        subprocess.run(
            [git, "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


def test_no_file_names_a_developers_checkout_or_venv():
    offenders = []
    files = project_files()
    assert len(files) > 50  # the listing worked
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images
        for number, line in enumerate(text.splitlines(), 1):
            match = DEVELOPER_PATHS.search(line)
            if match:
                offenders.append(f"{path.relative_to(REPO)}:{number}: {match.group(0)!r} in {line.strip()[:100]}")
    assert not offenders, "absolute paths into a developer's machine:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        f"XENTUI = '{_abs('work', 'venv', 'bin', 'xentui')}'",
        f"    {_abs('home', 'alice', 'src', 'xentui', '.venv', 'bin', 'python')} bench.py",
        f"python = '{_abs('root', '.pyenv', 'versions', '3.6.15', 'bin', 'python3.6')}'",
        f"run {_abs('opt', 'ci', 'venv', 'bin', 'pytest')}",
    ],
)
def test_the_pattern_catches_developer_paths(line):
    assert DEVELOPER_PATHS.search(line)


@pytest.mark.parametrize(
    "line",
    [
        ".venv/bin/python -m pytest -q",
        "python3 -m venv .venv && .venv/bin/pip install -q -e .",
        "HOME=/root TMPDIR=/tmp exec /usr/bin/xentui",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "~/.cache/xentui-build",
    ],
)
def test_the_pattern_leaves_portable_paths_alone(line):
    assert not DEVELOPER_PATHS.search(line)
