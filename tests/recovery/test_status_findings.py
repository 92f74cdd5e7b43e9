"""`xentui status` with findings (issue #4): exit codes 0/1/2/3, the findings in
text and --json, the host's own files when xapi cannot list the pool, and the
wall-clock bound against a hung master."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.sim.sessions import make_unix_session
from xentui.cli import main


def run_status(capsys, *argv):
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def sim_target(sim, host):
    return f"sim:{sim.state_dir}/{host}"


def codes(data):
    return {f["code"] for f in data["findings"]}


def test_healthy_is_exit_0_with_the_healthy_finding(start_sim, capsys):
    sim = start_sim("healthy")
    sim.flush_files(10)
    code, out, err = run_status(capsys, sim_target(sim, "xen1"), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert codes(data) == {"POOL_HEALTHY"} and data["worst"] == "ok"
    assert set(data["findings"][0]) == {"code", "severity", "host", "summary", "evidence"}
    assert data["pool"]["name"] == "pool-healthy" and len(data["hosts"]) == 3  # existing keys kept
    code, out, _ = run_status(capsys, sim_target(sim, "xen1"))
    assert code == 0
    assert out.index("Pool:") < out.index("Findings (worst: ok):")


def test_master_down_is_exit_2_with_findings_and_host_files(start_sim, capsys):
    sim = start_sim("master-down")
    sim.flush_files(10)
    code, out, err = run_status(capsys, sim_target(sim, "xen2"), "--json")
    assert code == 2, err
    data = json.loads(out)
    assert {"EMERGENCY_MODE", "MASTER_UNREACHABLE", "VMS_ON_DEAD_HOST"} <= codes(data)
    assert data["worst"] == "critical"
    severities = [f["severity"] for f in data["findings"]]
    order = ["critical", "warning", "info", "ok"]
    assert severities == sorted(severities, key=order.index)  # most severe first
    dead = next(f for f in data["findings"] if f["code"] == "VMS_ON_DEAD_HOST")
    assert dead["host"] == "xen1" and dead["evidence"]
    # xapi cannot list the pool: the live keys stay empty, the files speak, labelled
    assert data["pool"] is None and data["hosts"] == []
    files = data["host_files"]
    assert files["pool_conf"]["value"] == {"role": "slave", "master_address": "127.0.0.11"}
    assert files["pool_conf"]["source"].endswith("pool.conf") and files["pool_conf"]["age_s"] >= 0
    assert sorted(h["name"] for h in files["state_db"]["value"]["hosts"]) == ["xen1", "xen2"]
    assert files["state_db"]["source"].endswith("state.db") and files["state_db"]["as_of"] > 0
    assert files["management_interface"]["value"]["ipv4"] == ["127.0.0.12/8"]

    code, out, _ = run_status(capsys, sim_target(sim, "xen2"))
    assert code == 2
    assert "What this host's own files say:" in out
    assert "Role:       slave, master at 127.0.0.11" in out and "pool.conf, as of" in out
    assert "state.db, as of" in out and "old)" in out
    assert "Management: xenbr0 127.0.0.12/8" in out
    findings = out[out.index("Findings (worst: critical):") :]
    assert "CRITICAL EMERGENCY_MODE" in findings and "MASTER_UNREACHABLE [xen1]" in findings
    assert "VMS_ON_DEAD_HOST [xen1]" in findings and "      - " in findings  # evidence lines


def test_master_hung_member_is_exit_2_within_bounds(start_sim):
    """The installed command as a subprocess, with a hard wall-clock limit."""
    sim = start_sim("master-hung")
    sim.flush_files(10)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "xentui", "status", sim_target(sim, "xen2"), "--call-timeout", "0.5", "--json"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    data = json.loads(result.stdout)
    assert "MASTER_UNREACHABLE" in codes(data)
    assert data["snapshot_error"]["code"] == "timeout"
    assert data["host_files"]["pool_conf"]["value"]["role"] == "slave"
    # one login timeout (0.5 s) + peers (0.5 s) + interpreter start-up; never 10 s or "forever"
    assert elapsed < 6.0


def test_no_management_ip_is_exit_2(start_sim, capsys):
    sim = start_sim("no-management-ip")
    sim.flush_files(10)
    code, out, err = run_status(capsys, sim_target(sim, sim.endpoints.console), "--json")
    assert code == 2, err
    data = json.loads(out)
    assert "NO_MANAGEMENT_IP" in codes(data)
    assert data["host_files"]["management_interface"]["value"]["ipv4"] == []


def test_unplugged_pbd_is_degraded_exit_1(start_sim, capsys):
    sim = start_sim("healthy")
    session = make_unix_session(sim.endpoints.host("xen1").socket)
    session.xenapi.login_with_password("root", sim.endpoints.root_password)
    try:
        api = session.xenapi
        local = [
            ref
            for ref, rec in api.PBD.get_all_records().items()
            if not api.SR.get_shared(rec["SR"]) and api.host.get_name_label(rec["host"]) == "xen1"
        ]
        api.PBD.unplug(local[0])
    finally:
        session.xenapi.session.logout()
    sim.flush_files(10)
    code, out, err = run_status(capsys, sim_target(sim, "xen1"), "--json")
    assert code == 1, err
    data = json.loads(out)
    assert data["worst"] == "warning" and "PBD_UNPLUGGED" in codes(data)


def test_xapi_down_on_a_local_target_shows_files_and_is_exit_3(start_sim, capsys):
    sim = start_sim("healthy")
    sim.flush_files(10)
    sim.faults.power_off("xen2")  # xapi gone; the host's files are still readable
    code, out, err = run_status(capsys, sim_target(sim, "xen2"), "--call-timeout", "1")
    assert code == 3
    assert "cannot connect to xapi" in err and len(err.strip().splitlines()) == 1
    assert "What this host's own files say:" in out and "XAPI_DOWN" in out


def test_emergency_since_is_shown_with_its_source(start_sim, capsys):
    sim = start_sim("master-down")
    sim.flush_files(10)
    code, out, _ = run_status(capsys, sim_target(sim, "xen2"), "--json")
    since = json.loads(out)["this_host"]["emergency_since"]
    assert since["at"] > 0 and "xapi.pid" in since["source"]
    code, out, _ = run_status(capsys, sim_target(sim, "xen2"))
    assert "xapi (re)started into emergency mode at" in out and "mtime of its pid file" in out
