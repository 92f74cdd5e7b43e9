"""load_snapshot and SnapshotFollower against the simulator."""

from __future__ import annotations

import time

from tests.sim.sessions import wait_until
from tests.xapi.test_xapi_client_sim import SimTcpEndpoint, unix_endpoint
from xentui.xapi.client import XapiClient
from xentui.xapi.errors import ConnectionLost, ConnectionRefused, XapiFailure
from xentui.xapi.live import SnapshotFollower, load_snapshot


def client():
    return XapiClient(call_timeout=3.0, backoff_initial=0.02, backoff_cap=0.2)


def test_full_snapshot_is_one_call_plus_the_stopped_guests_disks(start_sim):
    sim = start_sim("healthy")
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    before = c.calls
    snapshot = load_snapshot(c)
    # one event.from for the pool; spare01 is halted: one for its VBDs, one for their VDIs
    assert c.calls - before == 3
    (spare,) = [v for v in snapshot.guest_vms() if v.power_state != "Running"]
    assert set(snapshot.vbds) == set(spare.vbds) and spare.vbds
    assert {b.vdi for b in snapshot.vbds.values()} - {"OpaqueRef:NULL"} == set(snapshot.vdis)
    assert snapshot.pool.name_label == "pool-healthy"
    assert sorted(h.name_label for h in snapshot.hosts.values()) == ["xen1", "xen2", "xen3"]
    assert all(h.live for h in snapshot.hosts.values())
    assert sorted(v.name_label for v in snapshot.guest_vms()) == ["db01", "mail01", "spare01", "web01", "web02"]
    xen2 = snapshot.host_by_name("xen2")
    assert sorted(v.name_label for v in snapshot.vms_on(xen2.ref)) == ["mail01", "web02"]
    assert snapshot.management_pif(xen2.ref).ip == xen2.address
    assert len(snapshot.srs) >= 1 and snapshot.pbds
    c.close()


def test_live_update_from_another_session_arrives(start_sim):
    sim = start_sim("healthy")
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    updates = []
    follower = SnapshotFollower(c, updates.append, event_timeout=30.0, call_timeout=3.0).start()
    try:
        wait_until(lambda: updates, 5.0, what="first snapshot")
        vm = next(v for v in updates[-1].guest_vms() if v.name_label == "web01")
        other = client()
        other.connect(SimTcpEndpoint(sim, "xen1"), password=sim.endpoints.root_password)
        other.call("VM.set_name_label", vm.ref, "web01-renamed")
        other.close()
        wait_until(lambda: updates[-1].vms[vm.ref].name_label == "web01-renamed", 5.0, what="rename event")
        assert follower.reloads == 1
        calls = follower.calls
    finally:
        started = time.monotonic()
        assert follower.stop(timeout=5.0)
        # event.from waits 30 simulated s = 0.3 s real; stop never waits longer than that call.
        assert time.monotonic() - started < 1.5
    assert calls >= 2
    c.close()


def test_follower_recovers_after_xapi_restart(start_sim):
    sim = start_sim("healthy", time_scale=0.05)
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    updates, errors = [], []
    follower = SnapshotFollower(
        c,
        updates.append,
        on_error=errors.append,
        event_timeout=10.0,
        call_timeout=3.0,
        backoff_initial=0.02,
        backoff_cap=0.2,
    ).start()
    try:
        wait_until(lambda: follower.reloads == 1, 5.0, what="first snapshot")
        ref = c.session_ref
        sim.faults.restart_xapi("xen1")
        wait_until(lambda: follower.reloads >= 2, 10.0, what="reload after restart")
        assert c.session_ref != ref
        # And it keeps following on the new session.
        vm = next(v for v in updates[-1].guest_vms() if v.name_label == "db01")
        c.call("VM.set_name_label", vm.ref, "db01-after-restart", recover_within=5.0)
        wait_until(lambda: updates[-1].vms[vm.ref].name_label == "db01-after-restart", 5.0, what="event")
    finally:
        follower.stop(timeout=5.0)
    assert all(isinstance(e, (ConnectionRefused, ConnectionLost, XapiFailure)) for e in errors), errors
    c.close()


def test_emergency_mode_follower_reports_the_stored_error(start_sim):
    sim = start_sim("master-down")
    c = client()
    c.connect(unix_endpoint(sim, "xen2"))
    errors = []
    follower = SnapshotFollower(
        c, lambda s: None, on_error=errors.append, backoff_initial=0.02, backoff_cap=0.05
    ).start()
    try:
        wait_until(lambda: errors, 5.0, what="an error")
    finally:
        follower.stop(timeout=5.0)
    assert isinstance(errors[0], XapiFailure)
    assert errors[0].code == c.emergency_reason[0]
    assert follower.snapshot is None
    c.close()


def test_large_pool_snapshot_is_three_calls_and_keeps_only_stopped_guests_disks(start_sim):
    sim = start_sim("large")
    c = XapiClient(call_timeout=60.0)
    c.connect(unix_endpoint(sim, "xen1"))
    before = c.calls
    snapshot = load_snapshot(c)
    assert c.calls - before == 3  # the pool; the halted guests' VBDs; their VDIs
    assert len(snapshot.hosts) == 64
    assert len(snapshot.guest_vms()) == 2000
    stopped = [v for v in snapshot.guest_vms() if v.power_state != "Running"]
    assert stopped and len(stopped) < 2000
    assert set(snapshot.vbds) == {ref for v in stopped for ref in v.vbds}
    assert set(snapshot.vdis) == {b.vdi for b in snapshot.vbds.values()} - {"OpaqueRef:NULL"}
    assert sum(snapshot.vm_count_by_host().values()) == sum(
        1 for v in snapshot.guest_vms() if v.power_state in ("Running", "Paused")
    )
    c.close()
