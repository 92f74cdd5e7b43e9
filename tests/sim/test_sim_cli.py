"""`xentui sim serve/ctl/scenarios` as commands, in subprocesses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sim.sessions import make_tcp_session, make_unix_session, wait_until

XENTUI = [sys.executable, "-m", "xentui"]


def run(*args, timeout=30):
    return subprocess.run(XENTUI + list(args), capture_output=True, text=True, timeout=timeout)


def test_scenarios_lists_one_line_each():
    result = run("sim", "scenarios")
    assert result.returncode == 0
    names = [line.split(":")[0] for line in result.stdout.splitlines()]
    for name in (
        "healthy",
        "master-down",
        "master-hung",
        "master-down-ha",
        "split-brain",
        "replaced-nics",
        "no-management-ip",
        "large",
    ):
        assert name in names


@pytest.mark.parametrize(
    "args",
    [
        ["sim", "serve", "--scenario", "no-such", "--state-dir", "/tmp/xentui-sim-never"],
        ["sim", "serve", "--scenario", "healthy", "--state-dir", "/tmp/xentui-sim-never", "--time-scale", "0"],
        ["sim", "serve", "--scenario", "healthy"],
        ["sim", "serve", "--scenario", "healthy", "--state-dir", "/tmp/x", "--port", "notanumber"],
        ["sim", "ctl", "--state-dir", "/tmp/xentui-sim-never", "explode", "xen1"],
        ["sim", "ctl", "--state-dir", "/tmp/xentui-sim-never", "partition", "xen1"],
        ["sim"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(args):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0]


def test_serve_ctl_and_sigterm(tmp_path: Path):
    state = tmp_path / "st"
    proc = subprocess.Popen(
        XENTUI + ["sim", "serve", "--scenario", "master-down", "--state-dir", str(state), "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: (state / "endpoints.json").exists() and (state / "control.sock").exists(),
            timeout=20,
            what="serve started",
        )
        ep = json.loads((state / "endpoints.json").read_text())
        assert ep["scenario"] == "master-down" and ep["console"] == "xen2" and ep["root_password"]
        hosts = {h["name"]: h for h in ep["hosts"]}
        assert set(hosts) == {"xen1", "xen2"}
        for h in hosts.values():
            assert set(h) == {"name", "uuid", "address", "port", "socket", "root"} and h["port"] > 0
        survivor = hosts["xen2"]
        s = make_unix_session(survivor["socket"])
        s.slave_local_login_with_password("root", "x")
        assert s.xenapi.host.is_in_emergency_mode() is True
        # bring the master back through the control socket: the survivor leaves emergency mode
        result = run("sim", "ctl", "--state-dir", str(state), "power_on", "xen1")
        assert result.returncode == 0, result.stderr
        wait_until(lambda: s.xenapi.host.is_in_emergency_mode() is False, timeout=10, what="hello")
        master = hosts["xen1"]
        m = make_tcp_session(master["address"], master["port"])
        m.login_with_password("root", ep["root_password"])
        status = json.loads(run("sim", "ctl", "--state-dir", str(state), "status").stdout)
        assert {h["name"]: h["role"] for h in status} == {"xen1": "master", "xen2": "slave"}
        bad_host = run("sim", "ctl", "--state-dir", str(state), "hang", "nosuchhost")
        assert bad_host.returncode == 2 and len(bad_host.stderr.strip().splitlines()) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "serving scenario master-down" in out
    assert not (state / "control.sock").exists()
