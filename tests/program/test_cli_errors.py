"""Bad input on the command line: one clear line on stderr, a usage exit
code, never a traceback, never silently accepted or misreported."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.sessions import wait_until

XENTUI = [sys.executable, "-m", "xentui"]


def run(*args, env=None, timeout=60):
    return subprocess.run(
        XENTUI + list(args), capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


def one_line(result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))


@pytest.mark.parametrize("command", ["status", "recover"])
def test_socket_naming_a_regular_file_or_directory(tmp_path, env, command):
    regular = tmp_path / "not-a-socket"
    regular.write_text("")
    result = run(command, "--socket", str(regular), env=env)
    assert result.returncode == 2
    assert one_line(result) == f"xentui {command}: --socket {regular}: it is a regular file, not xapi's unix socket"
    result = run(command, "--socket", str(tmp_path), env=env)
    assert result.returncode == 2
    assert one_line(result) == f"xentui {command}: --socket {tmp_path}: it is a directory, not xapi's unix socket"


def test_socket_naming_a_real_socket_is_accepted(tmp_path):
    from xentui.xapi.targets import parse_target

    path = tmp_path / "xapi"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert parse_target(None, socket_path=str(path)).socket_path == str(path)
    assert parse_target(None, socket_path=str(tmp_path / "missing")).kind == "local"  # may appear later


@pytest.mark.parametrize(
    "target,bad",
    [
        ("https://1.2.3", "1.2.3"),
        ("root@300.1.2.3", "300.1.2.3"),
        ("http://256.256.256.256:80", "256.256.256.256"),
        ("10.0.0.1.5", "10.0.0.1.5"),
    ],
)
@pytest.mark.parametrize("command", ["status", "recover"])
def test_invalid_address_without_a_password(env, command, target, bad):
    # No --password-env and no terminal: the address is refused before any
    # password question or connection attempt (which would misreport it as a
    # DNS, TLS or login problem: the C resolver reads 1.2.3 as 1.2.0.3).
    result = run(command, target, "--connect-timeout", "1", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result).startswith(f"xentui {command}: invalid IPv4 address {bad!r} in ")


@pytest.mark.parametrize("option", ["--keep-master", "--prefer-master"])
@pytest.mark.parametrize("mode", ["--plan", "--run"])
def test_keep_or_prefer_master_naming_an_unknown_host(tmp_path, env, option, mode):
    with start_sim("master-down", tmp_path / "sim"):
        result = run(
            "recover",
            f"sim:{tmp_path / 'sim'}",
            mode,
            option,
            "xen9",
            "--confirm-dead",
            "xen1",
            "--call-timeout",
            "2",
            env=env,
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert one_line(result) == f"xentui recover: {option} xen9: no such host in the pool (hosts: xen1, xen2)"
    assert "Run " not in result.stdout  # refused before a run was started or recorded
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_report_audit_log_naming_a_missing_file(tmp_path, env):
    missing = tmp_path / "nope" / "audit.jsonl"
    result = run("report", "--audit-log", str(missing), env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert one_line(result) == f"xentui report: --audit-log {missing}: no such file"


def test_sim_serve_on_a_state_dir_another_simulator_serves(tmp_path):
    state = tmp_path / "st"
    first = subprocess.Popen(
        XENTUI + ["sim", "serve", "--scenario", "healthy", "--state-dir", str(state), "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: (state / "endpoints.json").exists(), timeout=30, what="first simulator serving")
        endpoints = (state / "endpoints.json").read_bytes()
        second = run("sim", "serve", "--scenario", "master-down", "--state-dir", str(state), "--time-scale", "0.01")
        assert second.returncode == 2
        assert one_line(second) == (
            f"xentui sim: error: --state-dir {state}: another simulator (pid {first.pid}) "
            "is serving it; stop that one or choose another directory"
        )
        assert (state / "endpoints.json").read_bytes() == endpoints  # the first one's clients are untouched
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    # The lock went with the process: the directory can be served again.
    from xentui.sim.cli import _lock_state_dir

    os.close(_lock_state_dir(state))
