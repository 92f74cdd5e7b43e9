"""`xentui status` against the simulator: text, --json, exit codes, time bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from xentui.cli import main

MASTER_DOWN_PASSWORD_ENV = "XENTUI_TEST_PASSWORD"


def run_status(capsys, *argv):
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def sim_target(sim, host):
    return f"sim:{sim.state_dir}/{host}"


def http_target(sim, host):
    h = sim.endpoints.host(host)
    return f"http://{h.address}:{h.port}"


def test_healthy_text(start_sim, capsys):
    sim = start_sim("healthy")
    code, out, err = run_status(capsys, sim_target(sim, "xen1"))
    assert code == 0, err
    assert "Pool:          pool-healthy" in out
    assert "master: xen1 (127.0.0.11)" in out
    assert "Session:       local-root (connected)" in out
    rows = {}
    for line in out.splitlines():
        fields = line.lstrip("* ").split()
        if fields and fields[0].startswith("xen") and len(fields) == 7:
            rows[fields[0]] = (line.startswith("*"), fields)
    assert set(rows) == {"xen1", "xen2", "xen3"}
    this_host, xen1 = rows["xen1"]
    assert this_host and not rows["xen2"][0]  # '*' marks this host
    assert xen1[1] == "master" and rows["xen2"][1][1] == "member"
    assert xen1[2] == "127.0.0.11"
    assert xen1[3:5] == ["yes", "yes"] and xen1[6] == "1"  # live, enabled, web01 runs on xen1


def test_healthy_json(start_sim, capsys):
    sim = start_sim("healthy")
    code, out, _ = run_status(capsys, sim_target(sim, "xen2"), "--json")
    assert code == 0
    data = json.loads(out)
    assert {"connection", "pool", "this_host", "hosts"} <= set(data)
    assert data["connection"]["session_kind"] == "local-root"
    assert data["connection"]["transport"] == "local"
    assert data["pool"]["name"] == "pool-healthy" and data["pool"]["master"] == "xen1"
    assert data["this_host"]["name"] == "xen2" and data["this_host"]["role"] == "member"
    assert data["this_host"]["in_emergency"] is False
    assert sorted(h["name"] for h in data["hosts"]) == ["xen1", "xen2", "xen3"]
    host = next(h for h in data["hosts"] if h["name"] == "xen2")
    assert host["live"] is True and host["enabled"] is True and host["resident_vms"] == 2
    assert host["xapi_version"]


def test_member_over_tcp_with_password_env(start_sim, capsys, monkeypatch):
    sim = start_sim("healthy")
    monkeypatch.setenv(MASTER_DOWN_PASSWORD_ENV, sim.endpoints.root_password)
    code, out, _ = run_status(capsys, http_target(sim, "xen2"), "--password-env", MASTER_DOWN_PASSWORD_ENV, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["connection"]["session_kind"] == "slave-local"
    assert data["connection"]["master_address"] == "127.0.0.11"
    assert data["this_host"]["name"] == "xen2"


def test_emergency_mode_says_why_the_pool_cannot_be_listed(start_sim, capsys):
    sim = start_sim("master-down")
    code, out, err = run_status(capsys, sim_target(sim, "xen2"))
    assert code == 2, err  # critical findings (issue #4 exit codes)
    assert "EMERGENCY MODE" in out
    assert "Master unreachable" in out or "cannot reach its master" in out
    assert "xapi is in emergency mode" in out and "cannot list the pool" in out
    assert "Session:       slave-local (emergency)" in out
    code, out, _ = run_status(capsys, sim_target(sim, "xen2"), "--json")
    data = json.loads(out)
    assert data["pool"] is None and data["hosts"] == []
    assert data["this_host"]["in_emergency"] is True
    assert data["this_host"]["emergency_reason"]["code"] == sim.proc("xen2").emergency_error.code
    assert data["snapshot_error"]["code"] == data["this_host"]["emergency_reason"]["code"]


def test_refused_is_exit_3_with_one_line(start_sim, capsys, monkeypatch):
    sim = start_sim("master-down")
    monkeypatch.setenv(MASTER_DOWN_PASSWORD_ENV, sim.endpoints.root_password)
    code, out, err = run_status(capsys, http_target(sim, "xen1"), "--password-env", MASTER_DOWN_PASSWORD_ENV)
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "Connection refused" in err


def test_auth_failure_is_exit_3(start_sim, capsys, monkeypatch):
    sim = start_sim("healthy")
    monkeypatch.setenv(MASTER_DOWN_PASSWORD_ENV, "wrong-password")
    code, _, err = run_status(capsys, http_target(sim, "xen1"), "--password-env", MASTER_DOWN_PASSWORD_ENV)
    assert code == 3
    assert "Login refused" in err and "wrong-password" not in err


def test_tcp_without_password_and_without_tty_is_exit_3(start_sim, capsys, monkeypatch):
    sim = start_sim("healthy")
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    code, _, err = run_status(capsys, http_target(sim, "xen1"))
    assert code == 3 and "--password-env" in err


def test_password_is_never_taken_from_argv(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["status", "http://127.0.0.1:1", "--password", "secret"])
    assert exit_info.value.code == 2


def test_hung_master_itself_is_exit_3_timed_out(start_sim, capsys, monkeypatch):
    sim = start_sim("master-hung")
    monkeypatch.setenv(MASTER_DOWN_PASSWORD_ENV, sim.endpoints.root_password)
    started = time.monotonic()
    code, _, err = run_status(
        capsys, http_target(sim, "xen1"), "--password-env", MASTER_DOWN_PASSWORD_ENV, "--call-timeout", "0.5"
    )
    assert time.monotonic() - started < 2.0
    assert code == 3 and "Timed out" in err


def test_hung_master_member_console_returns_within_a_hard_bound(start_sim):
    """The installed command, as a subprocess with a hard wall-clock limit."""
    sim = start_sim("master-hung")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "xentui", "status", sim_target(sim, "xen2"), "--call-timeout", "0.5", "--json"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr  # MASTER_UNREACHABLE is critical
    data = json.loads(result.stdout)
    assert data["snapshot_error"]["code"] == "timeout"
    assert data["connection"]["session_kind"] == "slave-local"
    assert data["this_host"]["in_emergency"] is False
    # login (0.5 s) + local login + interpreter start-up; never the 10 s default or "forever"
    assert elapsed < 6.0


def test_password_prompt_only_on_a_tty(monkeypatch):
    from xentui.commands import status
    from xentui.xapi.targets import parse_target

    class Tty:
        def isatty(self):
            return True

    class Endpoint:
        preauthenticated_root = False

    prompts = []
    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(status.getpass, "getpass", lambda prompt: prompts.append(prompt) or "typed")
    assert status._password(parse_target("http://127.0.0.1:1"), Endpoint()) == "typed"
    assert "root@" in prompts[0]
    Endpoint.preauthenticated_root = True  # unix socket / streamlocal: never ask
    assert status._password(parse_target("http://127.0.0.1:1"), Endpoint()) is None
    assert len(prompts) == 1


def test_missing_password_env_variable_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("XENTUI_TEST_UNSET_VAR", raising=False)
    code, _, err = run_status(capsys, "http://127.0.0.1:1", "--password-env", "XENTUI_TEST_UNSET_VAR")
    assert code == 2 and "XENTUI_TEST_UNSET_VAR" in err
