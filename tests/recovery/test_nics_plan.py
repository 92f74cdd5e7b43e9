"""replaced-nics (interface-rename gave xen3's new NICs new names), seen from
xen3's console: diagnosis, the plan's network steps in order, and the plan run
through PlanExecutor and through `xentui recover --run`. xapi cannot give xen3
its management address back (networkd has no config for the new names), so the
run stops at the repair step saying what to do by hand (interface-rename
--update + reboot, or the emergency network reset, with what each costs); once
the admin did it, the same run goes on to a healthy pool, verified through the
real XenAPI SDK."""

from __future__ import annotations

import json

import XenAPI

from tests.recovery.test_recovery_run import cli, open_observer, run_plan, sdk_session, wait_healthy
from tests.recovery.test_recovery_scenarios import mark_replaced_nics_like_xapi, start_sim
from tests.sim.sessions import wait_until
from xentui.recovery.audit import AuditLog
from xentui.recovery.findings import Code, Severity
from xentui.recovery.plan_builder import build_plan

SCALE = 0.01
NETWORK_STEPS = ["management-reconfigure:xen3", "pif-scan:xen3", "forget-stale-pifs:xen3", "pif-plug:xen3"]


def admin_renames_and_reboots(sim) -> None:
    """What the step tells the admin: interface-rename --update, reboot."""
    sim.faults.rename_interfaces("xen3")
    wait_until(lambda: sim.proc("xen3").up and not sim.proc("xen3").emergency, what="xen3 rejoined")
    mark_replaced_nics_like_xapi(sim, "xen3")


def assert_xen3_repaired(sim) -> None:
    """Management IP back on xenbr0 over the new eth0, every PIF describes a present NIC."""
    machine = sim.world.machines["xen3"]
    s = sdk_session(sim, "xen1")
    try:
        x = s.xenapi
        xen3 = x.host.get_by_name_label("xen3")[0]
        pifs = {r: x.PIF.get_record(r) for r in x.host.get_PIFs(xen3)}
        assert sorted(p["device"] for p in pifs.values()) == ["eth0", "eth1"]
        assert {p["MAC"] for p in pifs.values()} == {n.mac for n in machine.nics}
        mgmt = x.host.get_management_interface(xen3)
        assert pifs[mgmt]["device"] == "eth0" and pifs[mgmt]["currently_attached"]
        assert x.network.get_bridge(pifs[mgmt]["network"]) == "xenbr0"
        assert x.host_metrics.get_live(x.host.get_metrics(xen3)) is True
    finally:
        s.xenapi.session.logout()
    ep = next(h for h in sim.endpoints.hosts if h.name == "xen3")
    try:
        XenAPI.Session(f"http://{ep.address}:{ep.port}/").xenapi.login_with_password("root", "x", "1.1", "t")
        raise AssertionError("xen3 accepted a pool login")
    except XenAPI.Failure as exc:
        assert exc.details[:2] == ["HOST_IS_SLAVE", "127.0.0.11"]


def test_diagnosis_and_plan_order(tmp_path):
    with start_sim("replaced-nics", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim", host="xen3") as observer:
            obs = observer.observe()
        machine = sim.world.machines["xen3"]
    assert obs.this_host_name == "xen3" and obs.connection.state == "emergency"
    by_code = {f.code: f for f in obs.findings if f.severity > Severity.INFO}
    assert set(by_code) == {Code.EMERGENCY_MODE, Code.NO_MANAGEMENT_IP, Code.STALE_PIF}
    nm = by_code[Code.NO_MANAGEMENT_IP]
    assert nm.host == "xen3" and nm.data["interface"] == "xenbr0" and nm.data["cause"] == "no-uplink"
    assert nm.data["new_nics"] == ",".join(f"{n.device}={n.mac}" for n in machine.nics)
    assert any("no eth0 behind xenbr0" in e for e in nm.evidence)
    stale = by_code[Code.STALE_PIF]
    assert stale.host == "xen3" and stale.severity == Severity.CRITICAL and stale.data["renamed"] == "true"
    old_macs = [n.mac for n in machine.original_nics]
    for device, mac, ev in zip(("eth0", "eth1"), old_macs, stale.evidence):
        assert f"no device {device} on xen3" in ev and mac in ev and "ip -j link show" in ev
        assert "present NICs: eth2" in ev
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert ids[:4] == NETWORK_STEPS, ids
    steps = {s.id: s for s in plan.steps}
    repair = steps[NETWORK_STEPS[0]]
    # never writes a bridge that has no PIF or networkd config: no xapi call at all
    assert repair.calls == () and repair.risk == "none"
    pins = " ".join(f"eth{i}={n.mac}" for i, n in enumerate(machine.nics))
    assert repair.xe[1] == f"interface-rename --update {pins}"
    assert f"interface-rename --update {pins}" in repair.on_failure
    assert "stops the VMs" in repair.on_failure and "xe-reset-networking" in repair.on_failure
    assert "-f" in repair.on_failure and "killed" in repair.on_failure
    assert steps["pif-scan:xen3"].xe[0].startswith("xe pif-scan host-uuid=")
    for step in steps.values():
        assert step.why and step.changes and step.risk and step.verify


def test_plan_stops_with_the_manual_fix_then_runs_to_healthy(tmp_path, state_dir):
    audit = AuditLog(state_dir / "audit.jsonl")
    with start_sim("replaced-nics", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim", host="xen3") as observer:
            plan, results = run_plan(observer, audit)
        assert [(r.step_id, r.status) for r in results] == [("management-reconfigure:xen3", "failed")]
        assert "by hand" in results[0].detail and "interface-rename --update eth0=" in results[0].detail
        assert "host.local_management_reconfigure" not in [
            r.inputs.get("method") for r in audit.records() if r.kind == "call"
        ]
        admin_renames_and_reboots(sim)
        with open_observer(tmp_path / "sim", host="xen3") as observer:
            plan, results = run_plan(observer, audit)
            assert all(r.ok for r in results), [(r.step_id, r.status, r.detail) for r in results]
            obs = wait_healthy(observer)
            assert Code.POOL_HEALTHY in {f.code for f in obs.findings}, [f.summary for f in obs.findings]
            assert not [f for f in obs.findings if f.code in (Code.STALE_PIF, Code.NO_MANAGEMENT_IP)]
        assert_xen3_repaired(sim)


def test_cli_recover_run_stops_then_resumes_to_healthy(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("replaced-nics", state_dir=sim_dir, time_scale=SCALE) as sim:
        base = [
            "recover",
            f"sim:{sim_dir}/xen3",
            "--call-timeout",
            "2",
            "--probe-timeout",
            "0.5",
            "--time-scale",
            str(SCALE),
            "--verify-timeout",
            "10",
        ]
        code, out = cli(capsys, *base, "--plan", "--json")
        assert code == 0
        assert [s["id"] for s in json.loads(out)["plan"]["steps"]][:4] == NETWORK_STEPS
        code, out = cli(capsys, *base, "--run")
        assert code != 0 and "interface-rename --update" in out, out
        admin_renames_and_reboots(sim)
        code, out = cli(capsys, *base, "--run")
        assert code == 0, out
        assert_xen3_repaired(sim)
