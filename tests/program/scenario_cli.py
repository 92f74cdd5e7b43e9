"""Run `xentui recover` for the scenario tests: the installed command as a separate
process, or the CLI in this process against a simulator, and read what it ran."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from xentui.cli import main as xentui_main
from xentui.recovery import audit as au

# The command pip installed next to this interpreter (any venv, any checkout), else PATH's.
XENTUI = (
    str(Path(sys.executable).parent / "xentui")
    if (Path(sys.executable).parent / "xentui").exists()
    else (shutil.which("xentui") or "xentui")
)
SCALE = 0.01


def run(*args, env=None, timeout=60):
    """The installed command with `args`, its output captured."""
    return subprocess.run([XENTUI, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(autouse=True)
def cli_state_dir(tmp_path, monkeypatch):
    """xentui's state (audit log, run records) under tmp_path, for every test of
    a module that imports this fixture."""
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


def run_cli(capsys, target: str, *extra: str):
    """`xentui recover TARGET --run` in this process: (exit code, what it printed)."""
    code = xentui_main(["recover", target, "--run", "--time-scale", str(SCALE), "--probe-timeout", "0.5", *extra])
    return code, capsys.readouterr().out


def ran_steps(out: str):
    """The ids of the steps a --run printed as started ("[>] title  (id)"), in order."""
    return [line.split("(")[-1].rstrip(")") for line in out.splitlines() if line.startswith("[>]")]


class Killed(BaseException):
    """The process dying mid-run (a BaseException, so nothing in xentui catches it)."""


def run_cli_killed_at(capsys, monkeypatch, module, name: str, target: str) -> None:
    """`run_cli` that dies where it calls `module.name`, as if the process were
    killed there; what it printed is dropped."""

    def die(*args, **kwargs):
        raise Killed()

    with monkeypatch.context() as patch:
        patch.setattr(module, name, die)
        with pytest.raises(Killed):
            run_cli(capsys, target)
    capsys.readouterr()
