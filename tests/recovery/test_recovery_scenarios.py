"""Every simulator scenario yields the findings a seasoned admin would name,
and the plan they would follow (table test against the real simulator)."""

from __future__ import annotations

import contextlib
import time

import pytest

from xentui.recovery.findings import Code, Severity
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.sim.runner import Simulator
from xentui.xapi.targets import parse_target

SCALE = 0.01


@contextlib.contextmanager
def start_sim(scenario: str, state_dir, time_scale: float = SCALE):
    """A simulator whose hosts' files (state.db is written by a background
    thread) are on disk before the test looks at them, as on a real dom0."""
    with Simulator.start(scenario, state_dir=state_dir, time_scale=time_scale) as sim:
        assert sim.flush_files(10.0)
        yield sim


def mark_replaced_nics_like_xapi(sim, host: str) -> None:
    """What xapi's dbsync does when a host boots with other NICs: the PIFs
    whose MAC is no longer present are detached and lose their carrier.
    The simulator's replace_nics fault leaves them attached with carrier
    (reported to SIM-POOL), so the test applies it through the master's DB."""
    with sim.world.lock:
        master = next(p for p in sim.world.procs.values() if p.db is not None)
        db = master.db
        macs = {n.mac.lower() for n in sim.world.machines[host].nics}
        href = next(r for r in db.refs("host") if db.get_field("host", r, "name_label") == host)
        for pif in db.find("PIF", host=href):
            if str(db.get_field("PIF", pif, "MAC")).lower() not in macs:
                db.update("PIF", pif, currently_attached=False)
                db.update("PIF_metrics", db.get_field("PIF", pif, "metrics"), carrier=False)


def observe(state_dir, call_timeout=2.0):
    observer = Observer(parse_target(f"sim:{state_dir}"), call_timeout=call_timeout, probe_timeout=0.5)
    try:
        return observer.observe()
    finally:
        observer.close()


# scenario -> (expected findings as {code: host}, expected plan step ids, connection state)
EXPECTED = {
    "healthy": ({Code.POOL_HEALTHY: ""}, [], "connected"),
    "master-down": (
        {Code.EMERGENCY_MODE: "xen2", Code.MASTER_UNREACHABLE: "xen1", Code.VMS_ON_DEAD_HOST: "xen1"},
        [
            "confirm-master-down:xen1",
            "promote:xen2",
            "declare-dead:xen1",
            "plug-pbds",
            "check-default-sr",
            "start-vms",
            "backup-db",
        ],
        "emergency",
    ),
    "master-hung": (
        {Code.MASTER_UNREACHABLE: "xen1", Code.VMS_ON_DEAD_HOST: "xen1"},
        [
            "confirm-master-down:xen1",
            "promote:xen2",
            "declare-dead:xen1",
            "plug-pbds",
            "check-default-sr",
            "start-vms",
            "backup-db",
        ],
        "connected",  # a slave-local session works; pool-wide calls hang (detail says so)
    ),
    "master-down-ha": (
        {
            Code.EMERGENCY_MODE: "xen2",
            Code.MASTER_UNREACHABLE: "xen1",
            Code.HA_ARMED: "xen2",
            Code.VMS_ON_DEAD_HOST: "xen1",
            Code.ORPHANED_MEMBER: "xen3",
        },
        [
            "confirm-master-down:xen1",
            "ha-disable:xen2",
            "ha-disable:xen3",
            "promote:xen2",
            "recover-members",
            "reset-master:xen3",
            "declare-dead:xen1",
            "plug-pbds",
            "check-default-sr",
            "start-vms",
            "enable-ha",
            "backup-db",
        ],
        "emergency",
    ),
    "split-brain": (
        {Code.TWO_MASTERS: ""},
        ["keep-master:xen2", "demote-master:xen1", "recover-members", "plug-pbds", "check-default-sr", "backup-db"],
        "connected",
    ),
    "no-management-ip": (
        {Code.EMERGENCY_MODE: "xen2", Code.NO_MANAGEMENT_IP: "xen2"},
        ["management-reconfigure:xen2", "plug-pbds", "check-default-sr", "backup-db"],
        "emergency",
    ),
    "replaced-nics-same-names": (
        {Code.STALE_PIF: "xen3"},
        [
            "pif-scan:xen3",
            "management-reconfigure:xen3",
            "forget-stale-pifs:xen3",
            "plug-pbds",
            "check-default-sr",
            "backup-db",
        ],
        "connected",
    ),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_findings_and_plan(scenario, tmp_path):
    expected_findings, expected_steps, conn_state = EXPECTED[scenario]
    with start_sim(scenario, state_dir=tmp_path, time_scale=SCALE) as sim:
        if scenario == "replaced-nics-same-names":
            mark_replaced_nics_like_xapi(sim, "xen3")
        started = time.monotonic()
        obs = observe(tmp_path, call_timeout=1.0 if scenario == "master-hung" else 2.0)
        took = time.monotonic() - started
    got = {(f.code, f.host) for f in obs.findings if f.severity > Severity.INFO or f.code is Code.POOL_HEALTHY}
    assert got == set(expected_findings.items()), [f.summary for f in obs.findings]
    assert obs.connection.state == conn_state
    assert obs.this_host_name == ("xen1" if scenario in ("healthy", "replaced-nics-same-names") else "xen2")
    plan = build_plan(obs)
    assert [s.id for s in plan.steps] == expected_steps
    if scenario == "master-hung":
        # bounded by the timeouts even though the master never answers
        assert took < 1.0 + 1.0 + 3.0
        mu = next(f for f in obs.findings if f.code is Code.MASTER_UNREACHABLE)
        assert mu.data["outcome"] == "hung"
        assert obs.snapshot_source.startswith("state.db")
        assert "pool-wide calls hang" in obs.connection.detail
    if scenario == "master-down":
        em = next(f for f in obs.findings if f.code is Code.EMERGENCY_MODE)
        assert em.data["reason_code"] and em.data["reason_text"]  # xapi's stored reason, in words
        assert obs.snapshot_source.startswith("state.db (as of")
        vms = next(f for f in obs.findings if f.code is Code.VMS_ON_DEAD_HOST)
        assert set(vms.data["vm_names"].split(",")) == {"web01", "db01", "local01"}
    if scenario == "split-brain":
        tm = next(f for f in obs.findings if f.code is Code.TWO_MASTERS)
        assert set(tm.data["masters"].split(",")) == {"xen1", "xen2"}


def test_large_pool_is_healthy_and_bounded(tmp_path):
    with start_sim("large", state_dir=tmp_path, time_scale=SCALE):
        obs = observe(tmp_path, call_timeout=30.0)
    assert [f.code for f in obs.findings] == [Code.POOL_HEALTHY]
    assert len(obs.snapshot.hosts) == 64 and len(obs.peer_views) == 63
    assert build_plan(obs).steps == ()
