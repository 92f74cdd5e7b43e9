"""Findings that agree with each other (issue 10): one observation never says
both "connected to xapi" and "xapi is not running"; a pid file counts only if
it names a live process whose executable is `xapi` (xsconsole's
IsXAPIRunning); a peer that is not xapi gives ONE finding; a powered-off old
master is not shown "live" without saying which source says what; the
"on a slave..." note does not appear while connected to the master."""

from __future__ import annotations

import os
from pathlib import Path

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.cli import main
from xentui.host.access import SimulatedAccess
from xentui.host.xapi_process import check_xapi_running
from xentui.recovery import peers as pv
from xentui.recovery.findings import Code
from xentui.recovery.rules import run_rules
from xentui.ui.viewmodel import host_details, host_rows
from xentui.xapi.session_info import SessionKind

SLAVE_NOTE = "on a slave"


def _codes(findings):
    return {f.code for f in findings}


def _pool():
    return PoolBuilder("xen1").host("xen1").host("xen2").host("xen3").vm("web", "xen2")


# --- rules --------------------------------------------------------------------------


def test_a_live_connection_outranks_a_missing_pid_file():
    b = _pool()
    obs = observation(b, "xen1", gt=ground_truth(b, "xen1", role="master", xapi_running=False), live=True)
    found = run_rules(obs)
    assert Code.XAPI_DOWN not in _codes(found)
    assert Code.POOL_HEALTHY in _codes(found)


def test_refused_with_no_pid_is_still_xapi_down():
    b = _pool()
    obs = observation(
        b, "xen1", gt=ground_truth(b, "xen1", role="master", xapi_running=False), live=False, state="refused"
    )
    assert Code.XAPI_DOWN in _codes(run_rules(obs))


def test_a_peer_that_is_not_xapi_gives_one_finding():
    b = _pool()
    gt = ground_truth(b, "xen1", role="master", xapi_running=False)
    obs = observation(b, "xen1", gt=gt, live=False, state="not-xapi")
    from dataclasses import replace

    obs = replace(
        obs,
        emergency=None,
        connection=replace(
            obs.connection, session_kind=SessionKind.NONE, detail="session.login_with_password answered 42"
        ),
    )
    found = run_rules(obs)
    not_xapi = [f for f in found if f.code is Code.NOT_XAPI]
    assert len(not_xapi) == 1
    assert not_xapi[0].summary == "This is not xapi, or xapi answered with something unreadable"
    assert not {Code.XAPI_DOWN, Code.EMERGENCY_MODE} & _codes(found)


# --- the host list after a promotion ---------------------------------------------------


def test_a_powered_off_old_master_is_not_shown_live_without_the_source():
    # xen2 was promoted; xen1 (old master) is powered off, but the new master's
    # database still has it live until the liveness timeout.
    b = PoolBuilder("xen2").host("xen1", live=True, enabled=False).host("xen2").host("xen3")
    gt = ground_truth(b, "xen2", role="master", probes={"xen1": "refused"})
    obs = observation(b, "xen2", gt=gt, live=True, views=[view(b, "xen1", pv.REFUSED)])
    rows = {r.name: r for r in host_rows(obs)}
    assert rows["xen1"].state == "refused"
    assert "xapi's record still says live" in rows["xen1"].state_source
    details = dict(host_details(obs, rows["xen1"].key, obs.at))
    assert details["State"].startswith("refused (") and "still says live" in details["State"]
    # Without a peer view, the failed probe alone also outranks xapi's stale flag.
    obs = observation(b, "xen2", gt=gt, live=True)
    row = next(r for r in host_rows(obs) if r.name == "xen1")
    assert row.state == "refused" and row.state_source.startswith("probe")
    # A host that answers is "live (xapi)" as before.
    assert next(r for r in host_rows(obs) if r.name == "xen3").state == "live"


# --- the simulator's pid file is real ----------------------------------------------------


def test_sim_pid_file_names_a_live_process_called_xapi(start_sim):
    sim = start_sim("healthy")
    root = Path(sim.state_dir) / "xen3"
    pid = int((root / "var/run/xapi.pid").read_text())
    assert os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "xapi"
    running = check_xapi_running(SimulatedAccess(root), lambda: 0.0)
    assert running.value is True and running.source.endswith("/xapi")
    sim.faults.power_off("xen3")
    assert not (root / "var/run/xapi.pid").exists()
    assert not os.path.exists(f"/proc/{pid}/exe") or os.path.basename(os.readlink(f"/proc/{pid}/exe")) != "xapi"
    assert check_xapi_running(SimulatedAccess(root), lambda: 0.0).value is False


# --- the CLI ---------------------------------------------------------------------------------


def _status(capsys, *argv):
    code = main(["status", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_status_on_a_healthy_master_socket_without_dom0_files(start_sim, capsys, tmp_path):
    sim = start_sim("healthy")
    empty_root = tmp_path / "root"
    empty_root.mkdir()
    code, out, err = _status(capsys, "--socket", sim.endpoints.host("xen1").socket, "--host-root", str(empty_root))
    assert "XAPI_DOWN" not in out and "not running" not in out, out
    assert "Session:       local-root (connected)" in out
    assert SLAVE_NOTE not in out  # connected to the master itself
    assert "POOL_HEALTHY" in out
    assert code == 0, out + err


def test_status_with_a_pid_file_naming_another_process(start_sim, capsys, tmp_path):
    # The pid file names a live process that is not xapi (a stale file whose
    # pid was reused): it is not "xapi running", and the live connection wins.
    sim = start_sim("healthy")
    root = tmp_path / "root"
    (root / "var/run").mkdir(parents=True)
    (root / "var/run/xapi.pid").write_text(f"{os.getpid()}\n")
    code, out, err = _status(capsys, "--socket", sim.endpoints.host("xen1").socket, "--host-root", str(root), "--json")
    import json

    data = json.loads(out)
    assert data["host_files"]["xapi_running"]["value"] is False
    assert "is not xapi" in data["host_files"]["xapi_running"]["source"]
    assert "XAPI_DOWN" not in {f["code"] for f in data["findings"]}
    assert data["connection"]["state"] == "connected"
    assert not any(SLAVE_NOTE in limit for limit in data["connection"]["limits"])


def test_the_slave_note_stays_on_a_member(start_sim, capsys):
    sim = start_sim("healthy")
    code, out, err = _status(capsys, f"sim:{sim.state_dir}/xen2")
    assert SLAVE_NOTE in out


def test_status_says_which_source_says_live():
    from xentui.commands.status_view import render_status, view_from_observation
    from xentui.recovery.diagnosis import diagnose

    b = PoolBuilder("xen2").host("xen1", live=True, enabled=False).host("xen2").host("xen3")
    gt = ground_truth(b, "xen2", role="master", probes={"xen1": "refused"})
    obs = observation(b, "xen2", gt=gt, live=True, views=[view(b, "xen1", pv.REFUSED)])
    from dataclasses import replace

    obs = replace(obs, findings=diagnose(obs))
    text = render_status(view_from_observation(obs, call_timeout=5))
    assert "note: LIVE is what xapi's record says; xen1's xapi port refused to a tcp probe" in text
    assert "xen3's xapi port" not in text
