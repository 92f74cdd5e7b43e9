"""load_snapshot / SnapshotFollower against a scripted fake xapi and
hand-written event.from replies (the simulator versions are in
tests/xapi/test_xapi_live_sim.py)."""

from __future__ import annotations

import time

import pytest

from tests.xapi.test_xapi_client_fakexapi import FakeXapi
from xentui.xapi.client import XapiClient
from xentui.xapi.errors import CallTimeout, ConnectionRefused, MalformedReply
from xentui.xapi.live import SnapshotFollower, load_snapshot
from xentui.xapi.model import NULL_REF


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def pool(tmp_path):
    fake = FakeXapi(tmp_path)
    metrics = fake.add("host_metrics", {"live": True, "memory_total": "1024"})
    host = fake.add(
        "host",
        {
            "name_label": "h0",
            "address": "10.0.0.1",
            "metrics": metrics,
            "software_version": {"xapi": "25.0"},
            "enabled": True,
        },
    )
    fake.add("pool", {"name_label": "p", "master": host})
    fake.add("vm", {"name_label": "web", "power_state": "Running", "resident_on": host})
    fake.add("message", {"name": "ignored: not subscribed"})
    fake.host_ref = host
    yield fake
    fake.stop()


@pytest.fixture
def client(pool):
    c = XapiClient(call_timeout=2.0, backoff_initial=0.02, backoff_cap=0.1)
    c.connect(pool.unix_endpoint())
    yield c
    c.close()


def test_load_snapshot_is_one_event_from_call(pool, client):
    before = list(pool.methods_called())
    snapshot = load_snapshot(client, timeout=2.0)
    new_calls = pool.methods_called()[len(before) :]
    assert new_calls == ["event.from"]
    assert snapshot.pool.name_label == "p"
    assert snapshot.master.name_label == "h0"
    assert snapshot.master.live is True
    assert snapshot.master.xapi_version == "25.0"
    assert [v.name_label for v in snapshot.vms_on(pool.host_ref)] == ["web"]
    assert snapshot.token


def test_follower_applies_events_and_stops_promptly(pool, client):
    updates = []
    follower = SnapshotFollower(client, updates.append, event_timeout=30.0, call_timeout=2.0).start()
    try:
        assert _wait_for(lambda: len(updates) >= 1)
        vm = next(iter(updates[-1].vms))
        pool.modify("vm", vm, name_label="renamed")
        assert _wait_for(lambda: updates[-1].vms[vm].name_label == "renamed")
        new_vm = pool.add("vm", {"name_label": "db", "power_state": "Halted"})
        assert _wait_for(lambda: new_vm in updates[-1].vms)
        pool.delete("vm", new_vm)
        assert _wait_for(lambda: new_vm not in updates[-1].vms)
        assert follower.reloads == 1
    finally:
        started = time.monotonic()
        assert follower.stop()
        # event.from waits 30 fake-seconds = 0.3 s real: stop ends with that call.
        assert time.monotonic() - started < 1.5
    assert not follower.running
    assert follower.calls >= 4


def test_follower_reloads_after_xapi_restart(pool, client):
    updates, errors = [], []
    follower = SnapshotFollower(
        client,
        updates.append,
        on_error=errors.append,
        event_timeout=10.0,
        call_timeout=2.0,
        backoff_initial=0.02,
        backoff_cap=0.1,
    )
    follower.start()
    try:
        assert _wait_for(lambda: follower.reloads == 1)
        pool.stop()
        time.sleep(0.2)
        pool.start()
        assert _wait_for(lambda: follower.reloads >= 2)
        vm = next(iter(updates[-1].vms))
        pool.modify("vm", vm, power_state="Halted", resident_on=NULL_REF)
        assert _wait_for(lambda: updates[-1].vms[vm].power_state == "Halted")
        assert len(pool.logins) == 2  # the client logged in again once
    finally:
        follower.stop()
    assert any(isinstance(e, ConnectionRefused) for e in errors) or follower.reloads >= 2


def test_follower_reports_a_hung_peer_as_timeout(pool, client):
    errors = []
    follower = SnapshotFollower(
        client,
        lambda s: None,
        on_error=errors.append,
        event_timeout=10.0,
        call_timeout=0.3,
        snapshot_timeout=0.3,
        backoff_initial=0.02,
        backoff_cap=0.05,
    )
    pool.hang()
    try:
        follower.start()
        assert _wait_for(lambda: any(isinstance(e, CallTimeout) for e in errors), 3.0)
    finally:
        started = time.monotonic()
        follower.stop()
        pool.hang(False)
    assert time.monotonic() - started < 1.5


class _ScriptedClient:
    """Hand-written event.from replies, no sockets."""

    call_timeout = 1.0

    def __init__(self, replies):
        self.replies = list(replies)
        self.session_ref = "OpaqueRef:s1"
        self.requests = []

    def call(self, method, *args, timeout=None, recover_within=0.0, object_hook=None):
        self.requests.append((method, args))
        if not self.replies:
            time.sleep(0.01)
            return {"events": [], "valid_ref_counts": {}, "token": args[1]}
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply


def test_follower_with_hand_written_replies():
    host = "OpaqueRef:h"
    full = {
        "events": [
            {
                "id": "1",
                "timestamp": "0.0",
                "class": "host",
                "operation": "add",
                "ref": host,
                "snapshot": {"name_label": "a", "uuid": "u1"},
            },  # missing most fields: tolerated
            {
                "id": "2",
                "timestamp": "0.0",
                "class": "pool",
                "operation": "add",
                "ref": "OpaqueRef:p",
                "snapshot": {"name_label": "pool", "master": host},
            },
        ],
        "valid_ref_counts": {"host": 1},
        "token": "00000000000000000002,00000000000000000000",
    }
    mod = {
        "events": [
            {
                "id": "3",
                "class": "host",
                "operation": "mod",
                "ref": host,
                "snapshot": {"name_label": "b", "uuid": "u1", "enabled": False},
            }
        ],
        "valid_ref_counts": {},
        "token": "00000000000000000003,00000000000000000000",
    }
    delete = {
        "events": [{"id": "4", "class": "host", "operation": "del", "ref": host}],
        "valid_ref_counts": {},
        "token": "00000000000000000004,00000000000000000000",
    }
    client = _ScriptedClient([full, mod, "garbage", delete])
    updates, errors = [], []
    follower = SnapshotFollower(client, updates.append, on_error=errors.append, backoff_initial=0.01).start()
    try:
        assert _wait_for(lambda: len(updates) >= 3)
    finally:
        follower.stop()
    assert updates[0].master.name_label == "a"
    assert updates[1].hosts[host].name_label == "b" and updates[1].hosts[host].enabled is False
    assert host not in updates[-1].hosts
    assert any(isinstance(e, MalformedReply) for e in errors)
    # The first call asked for everything with the empty token; later ones continued.
    assert client.requests[0][1][1] == ""
    assert client.requests[1][1][1] == full["token"]
    # After the malformed reply the follower reloaded with the empty token.
    assert client.requests[3][1][1] == ""
