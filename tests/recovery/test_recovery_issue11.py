"""Recovery paths that depended on simulator behaviour kinder than xapi (issue 11),
re-run against the corrected simulator through the real XenAPI SDK: each ends at a
verified state or at a clear stop saying what the admin must do by hand."""

from __future__ import annotations

import XenAPI

from tests.recovery.test_recovery_run import open_observer
from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.steps.declare_dead import declare as step_declare_dead
from xentui.recovery.steps.enable_ha import declare as step_enable_ha
from xentui.recovery.steps.recover_members import declare as step_recover_members
from xentui.xapi.model import Host
from xentui.xapi.targets import parse_target

SCALE = 0.01


def _host(sim, name) -> Host:
    obs_host = next(h for h in sim.endpoints.hosts if h.name == name)
    db = sim.proc("xen1").db
    ref = db.find("host", uuid=obs_host.uuid)[0]
    return Host.from_record(ref, db.get_record("host", ref))


def _add_sr(sim, name, content_type="user", sr_type="lvmoiscsi"):
    db = sim.proc("xen1").db
    with sim.world.lock:
        sr = db.create("SR", name_label=name, type=sr_type, shared=True, content_type=content_type, physical_size=2**40)
        for host in db.refs("host"):
            db.create("PBD", host=host, SR=sr, currently_attached=True, device_config={})
    return sr


def test_enable_ha_takes_the_heartbeat_sr_from_the_statefile_vdi(tmp_path, state_dir):
    """pool.ha_statefiles holds VDI refs: the heartbeat SR is that VDI's SR, never
    "the first shared SR" (which may be an ISO library); with the statefile gone and
    more than one candidate the step asks."""
    with start_sim("healthy", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        iso = _add_sr(sim, "ISO library", content_type="iso", sr_type="iso")
        san2 = _add_sr(sim, "SAN2")
        db = sim.proc("xen1").db
        with sim.world.lock:
            statefile = db.create("VDI", SR=san2, name_label="Statefile for HA", type="ha_statefile")
        with open_observer(tmp_path / "sim") as observer:
            obs = observer.observe()
            srs = sorted(
                (sr for sr in obs.snapshot.srs.values() if sr.shared and sr.content_type != "iso"),
                key=lambda sr: sr.name_label,
            )
            assert iso not in {sr.ref for sr in srs}
            executor = PlanExecutor(observer, AuditLog(state_dir / "audit.jsonl"), time_scale=SCALE)
            # statefile gone, two candidates: the step asks
            asked = executor.run(step_enable_ha(_host(sim, "xen1"), ["OpaqueRef:gone"], srs))
            assert asked.status == "failed" and "choose the heartbeat SR" in asked.detail
            assert set(step_enable_ha(_host(sim, "xen1"), [], srs).choice) == {"SAN", "SAN2"}
            result = executor.run(step_enable_ha(_host(sim, "xen1"), [statefile], srs))
            assert result.status == "done", result.detail
        with sim.world.lock:
            new_statefile = db.get_field("pool", db.refs("pool")[0], "ha_statefiles")[0]
            assert db.get_field("VDI", new_statefile, "SR") == san2


def test_ha_armed_master_without_statefile_is_disarmed_not_waited_for(tmp_path, state_dir):
    """xapi_ha.ml on_server_restart holds a master too: the plan disarms HA on it and the
    start-up carries on as master without a restart (none would come)."""
    with start_sim("healthy", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with sim.world.lock:
            for name in ("xen1", "xen2", "xen3"):
                sim.proc(name).ha_armed = True
            db = sim.proc("xen1").db
            for pool in db.refs("pool"):
                db.set_field("pool", pool, "ha_enabled", True)
        sim.faults.lose_statefile()
        sim.faults.restart_xapi("xen1", immediate=True)
        starts = sim.proc("xen1").starts
        with open_observer(tmp_path / "sim") as observer:
            obs = observer.observe()
            plan = build_plan(obs)
            assert plan.steps[0].id == "ha-disable:xen1", [s.id for s in plan.steps]
            assert "promote:xen1" not in [s.id for s in plan.steps]
            result = PlanExecutor(observer, AuditLog(state_dir / "audit.jsonl"), time_scale=SCALE).run(plan.steps[0])
            assert result.status == "done", result.detail
            assert "answers as master" in result.detail
        assert sim.proc("xen1").starts == starts and sim.proc("xen1").is_master
        ep = sim.endpoints.host("xen1")
        s = XenAPI.Session(f"http://{ep.address}:{ep.port}/")
        s.xenapi.login_with_password("root", sim.endpoints.root_password, "1.1", "test")
        assert s.xenapi.host.is_in_emergency_mode() is False
        s.xenapi.session.logout()


def test_a_hung_member_is_never_sent_declare_dead_or_recover_slaves(tmp_path, state_dir):
    """A hung host would hold host.declare_dead (is_host_alive) and pool.recover_slaves
    (a sequential loop) with no timeout in xapi: declare_dead is refused by its silent
    precondition and recover-members does not call pool.recover_slaves while any host
    is hung (the per-member reset-master steps do the work instead)."""
    with start_sim("healthy", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        sim.faults.hang("xen3")
        audit = AuditLog(state_dir / "audit.jsonl")
        with open_observer(tmp_path / "sim") as observer:
            executor = PlanExecutor(observer, audit, fenced=["xen3"], time_scale=SCALE)
            master, xen2, xen3 = _host(sim, "xen1"), _host(sim, "xen2"), _host(sim, "xen3")
            dead = executor.run(step_declare_dead(xen3, master, []))
            assert dead.status == "refused" and "still accepts connections" in dead.detail
            recover = executor.run(step_recover_members(master, [xen2]))
            assert recover.status == "skipped" and "xen3" in recover.detail
            assert "never answer" in recover.detail
    calls = [r.inputs.get("method") for r in audit.records() if r.kind == "call"]
    assert "pool.recover_slaves" not in calls and "host.declare_dead" not in calls


def test_member_over_tcp_says_why_there_is_no_live_pool_view(tmp_path):
    """A member has no pool database of its own (xapi_event.ml from_inner): over TCP
    with a slave-local session event.from fails there; the observer says so and names
    the master instead of showing a failed call."""
    with start_sim("healthy", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        ep = sim.endpoints.host("xen2")
        observer = Observer(
            parse_target(f"http://{ep.address}:{ep.port}"),
            password=sim.endpoints.root_password,
            call_timeout=2.0,
            probe_timeout=0.5,
        )
        try:
            obs = observer.observe()
        finally:
            observer.close()
    assert "pool member" in obs.connection.detail and "missing table" in obs.connection.detail
    assert sim.endpoints.host("xen1").address in obs.connection.detail
    # the listing calls go to the master's database: the pool is still listed
    assert "get_all_records" in obs.connection.detail
    assert sorted(h.name_label for h in obs.snapshot.hosts.values()) == ["xen1", "xen2", "xen3"]
