"""The disks a snapshot keeps (xentui.xapi.disks): only those of the guests that
are not running, read as single objects and followed by event.from object
subscriptions; and the first look without VM records (load_snapshot(vms_later=True)
+ load_vms) against the simulator."""

from __future__ import annotations

from tests.sim.sessions import wait_until
from tests.xapi.test_xapi_client_sim import SimTcpEndpoint, unix_endpoint
from xentui.xapi import disks
from xentui.xapi.client import XapiClient
from xentui.xapi.live import SnapshotFollower, load_snapshot, load_vms

LOCK_KEY = "host_OpaqueRef:gone"


def _client(sim):
    c = XapiClient(call_timeout=3.0, backoff_initial=0.02, backoff_cap=0.2)
    c.connect(unix_endpoint(sim, "xen1"))
    return c


def _other(sim):
    c = XapiClient(call_timeout=3.0)
    c.connect(SimTcpEndpoint(sim, "xen1"), password=sim.endpoints.root_password)
    return c


def _disk_refs(snapshot, vm):
    return set(vm.vbds), {snapshot.vbds[r].vdi for r in vm.vbds} - {"OpaqueRef:NULL"}


def test_a_guest_that_stops_brings_its_disks_and_their_lock_changes_arrive(start_sim):
    sim = start_sim("healthy")
    c = _client(sim)
    updates = []
    follower = SnapshotFollower(c, updates.append, event_timeout=30.0, call_timeout=3.0).start()
    other = _other(sim)
    try:
        wait_until(lambda: updates, 5.0, what="first snapshot")
        web01 = next(v for v in updates[-1].guest_vms() if v.name_label == "web01")
        assert web01.power_state == "Running" and web01.vbds
        assert not set(web01.vbds) & set(updates[-1].vbds)  # a running guest's disks are not kept
        other.call("VM.hard_shutdown", web01.ref)
        wait_until(lambda: set(web01.vbds) <= set(updates[-1].vbds), 5.0, what="the stopped guest's VBDs")
        vbd_refs, vdi_refs = _disk_refs(updates[-1], web01)
        assert vdi_refs and vdi_refs <= set(updates[-1].vdis)
        vdi = sorted(vdi_refs)[0]
        assert not updates[-1].vdis[vdi].sm_locks
        # a lock set on that disk now arrives as an event on the object subscription
        other.call("VDI.add_to_sm_config", vdi, LOCK_KEY, "RW")
        wait_until(lambda: updates[-1].vdis[vdi].sm_locks == ((LOCK_KEY, "RW"),), 5.0, what="the lock event")
        # the lock cleared arrives too; started again, its disks are dropped
        other.call("VDI.remove_from_sm_config", vdi, LOCK_KEY)
        wait_until(lambda: not updates[-1].vdis[vdi].sm_locks, 5.0, what="the unlock event")
        other.call("VM.start", web01.ref, False, False)
        wait_until(lambda: not set(web01.vbds) & set(updates[-1].vbds), 5.0, what="the disks dropped")
        assert vdi not in updates[-1].vdis
    finally:
        follower.stop(timeout=5.0)
        other.close()
        c.close()


def test_whole_classes_past_the_object_limit_give_the_same_snapshot(start_sim, monkeypatch):
    sim = start_sim("healthy")
    c = _client(sim)
    try:
        for _ in range(20):
            objects = load_snapshot(c)
            monkeypatch.setattr(disks, "OBJECT_LIMIT", 0)
            classes = load_snapshot(c)
            subscribed = disks.subscriptions(classes)
            monkeypatch.setattr(disks, "OBJECT_LIMIT", 1000)
            if objects.token == classes.token:
                break
        assert "vbd" in subscribed and "vdi" in subscribed
        assert objects.raw == classes.raw and objects.vbds and objects.vdis
    finally:
        c.close()


def test_first_look_without_vms_then_load_vms_equals_the_full_snapshot(start_sim):
    sim = start_sim("healthy")
    c = _client(sim)
    try:
        for _ in range(20):
            full = load_snapshot(c)
            first = load_snapshot(c, vms_later=True)
            if first.token == full.token:
                break
        assert first.vms_pending and not first.vms and not first.vbds
        assert first.hosts == full.hosts
        # VM counts while pending come from host.resident_VMs: the same as the VM records give
        assert first.vm_count_by_host() == full.vm_count_by_host() and sum(full.vm_count_by_host().values()) == 4
        completed = load_vms(c, first)
        assert not completed.vms_pending and completed.raw == full.raw
        assert completed.token == first.token  # the first call's token: nothing between the calls is lost
    finally:
        c.close()
