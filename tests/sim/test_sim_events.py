"""event.from over the simulator's database (ocaml/xapi/xapi_event.ml semantics)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.sim.sim_core_stack import CoreStack, ScaledClock, small_pool
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.wire import I4
from xentui.xapi.model import SNAPSHOT_CLASSES, PoolSnapshot

TOKEN = re.compile(r"^\d{20},\d{20}$")


@pytest.fixture
def clock():
    return ScaledClock(time_scale=0.01)


@pytest.fixture
def db(clock):
    return Database(clock.now)


def ev_from(db, clock, classes=("*",), token="", timeout=0.0):
    return db.event_from(list(classes), token, timeout, clock.wait)


def ops(result):
    return [(e["class"], e["operation"], e["ref"]) for e in result["events"]]


def test_full_snapshot_is_adds_of_everything_subscribed(db, clock):
    pool = small_pool(db)
    db.create("session")  # gen_events = false: never an event
    result = ev_from(db, clock)
    assert TOKEN.match(result["token"])
    assert {e["operation"] for e in result["events"]} == {"add"}
    classes = {e["class"] for e in result["events"]}
    assert classes == {"pool", "host", "host_metrics", "vm", "pif", "pif_metrics", "network", "sr", "pbd"}
    assert len(result["events"]) == sum(db.count(c) for c in db.tables() if c != "session")
    host_event = next(e for e in result["events"] if e["ref"] == pool["hosts"][0])
    assert set(host_event) == {"id", "timestamp", "class", "operation", "ref", "snapshot"}
    assert host_event["timestamp"] == "0.0" and host_event["id"].isdigit()
    assert host_event["snapshot"] == db.get_record("host", pool["hosts"][0])
    counts = result["valid_ref_counts"]
    assert counts["vm"] == 6 and counts["session"] == 1 and counts["vdi"] == 0
    assert all(type(v) is I4 for v in counts.values())
    assert set(counts) == {c.lower() for c in db.tables()}


def test_snapshot_feeds_the_model(db, clock):
    small_pool(db, hosts=3, vms_per_host=4)
    result = ev_from(db, clock, SNAPSHOT_CLASSES)
    snap = PoolSnapshot.from_event_from(result)
    assert len(snap.hosts) == 3 and len(snap.guest_vms()) == 12
    assert snap.master.control_domain in snap.vms


def test_class_and_object_subscriptions(db, clock):
    pool = small_pool(db)
    only_vms = ev_from(db, clock, ["VM"])
    assert {e["class"] for e in only_vms["events"]} == {"vm"}
    one = ev_from(db, clock, ["vm/" + pool["vms"][0], "host/" + pool["hosts"][1]])
    assert ops(one) == [("host", "add", pool["hosts"][1]), ("vm", "add", pool["vms"][0])]
    assert ev_from(db, clock, ["nonsense"])["events"] == []
    for bad in ([""], ["/OpaqueRef:x"], [3]):
        with pytest.raises(ApiError) as err:
            ev_from(db, clock, bad)
        assert err.value.code == "EVENT_SUBSCRIPTION_PARSE_FAILURE"


def test_token_parse_failure(db, clock):
    for bad in ("x", "1", "1,2,3", "a,b", " 1,2"):
        with pytest.raises(ApiError) as err:
            ev_from(db, clock, token=bad)
        assert err.value.details == ["EVENT_FROM_TOKEN_PARSE_FAILURE", bad]


def test_changes_since_token_coalesce(db, clock):
    pool = small_pool(db)
    token = ev_from(db, clock)["token"]
    vm0, vm1, vm2 = pool["vms"][:3]
    db.set_field("VM", vm0, "power_state", "Halted")
    db.set_field("VM", vm0, "name_label", "again")  # two changes -> one mod
    fresh = db.create("VM", name_label="new")
    db.set_field("VM", fresh, "power_state", "Running")  # created + modified -> add only
    brief = db.create("VM", name_label="brief")
    db.destroy("VM", brief)  # born and gone -> nothing
    db.destroy("VM", vm1)  # old object -> del
    result = ev_from(db, clock, ["vm"], token)
    assert ops(result) == [("vm", "add", fresh), ("vm", "mod", vm0), ("vm", "del", vm1)]
    mod = result["events"][1]
    assert mod["snapshot"]["name_label"] == "again" and mod["snapshot"]["power_state"] == "Halted"
    assert "snapshot" not in result["events"][2]
    assert int(result["token"].split(",")[0]) == db.generation
    assert vm2 not in [e["ref"] for e in result["events"]]
    # Nothing new: an immediate timeout returns no events and the same token.
    again = ev_from(db, clock, ["vm"], result["token"])
    assert again["events"] == [] and again["token"] == result["token"]


def test_pointer_change_mods_both_owners(db, clock):
    pool = small_pool(db)
    h0, h1 = pool["hosts"]
    vm = pool["vms"][0]
    token = ev_from(db, clock)["token"]
    db.set_field("VM", vm, "resident_on", h1)
    result = ev_from(db, clock, ["host", "vm"], token)
    assert sorted(ops(result)) == sorted([("host", "mod", h0), ("host", "mod", h1), ("vm", "mod", vm)])
    snaps = {e["ref"]: e["snapshot"] for e in result["events"]}
    assert vm not in snaps[h0]["resident_VMs"] and vm in snaps[h1]["resident_VMs"]


def test_unrelated_changes_keep_the_token(db, clock):
    pool = small_pool(db)
    token = ev_from(db, clock, ["vm"])["token"]
    db.set_field("host", pool["hosts"][0], "name_label", "x")  # not subscribed
    result = ev_from(db, clock, ["vm"], token)
    assert result["events"] == [] and result["token"] == token


def test_blocks_until_a_matching_change(db, clock):
    pool = small_pool(db)
    token = ev_from(db, clock, ["vm"])["token"]
    vm = pool["vms"][0]

    def later():
        time.sleep(0.05)
        db.set_field("host", pool["hosts"][0], "name_label", "noise")  # ignored
        time.sleep(0.05)
        db.set_field("VM", vm, "name_label", "changed")

    threading.Thread(target=later, daemon=True).start()
    start = time.monotonic()
    result = ev_from(db, clock, ["vm"], token, timeout=300.0)  # 300 sim s = 3 s real
    elapsed = time.monotonic() - start
    assert ops(result) == [("vm", "mod", vm)]
    assert 0.08 < elapsed < 2.5  # woke on the change, not on the timeout


def test_times_out_in_simulated_seconds(db, clock):
    small_pool(db)
    token = ev_from(db, clock)["token"]
    start = time.monotonic()
    result = ev_from(db, clock, ["*"], token, timeout=20.0)  # 0.2 s real at 1/100
    elapsed = time.monotonic() - start
    assert result["events"] == [] and result["token"] == token
    assert 0.15 < elapsed < 1.0


def test_close_wakes_blocked_callers(db, clock):
    small_pool(db)
    token = ev_from(db, clock)["token"]
    done = []
    thread = threading.Thread(target=lambda: done.append(ev_from(db, clock, ["*"], token, 3600.0)))
    thread.start()
    time.sleep(0.05)
    db.close()
    thread.join(timeout=1.0)
    assert not thread.is_alive() and done[0]["events"] == []


def test_event_from_over_the_sdk_tracks_changes(tmp_path):
    with CoreStack(tmp_path) as stack:
        pool = small_pool(stack.db)
        api = stack.tcp_session().xenapi
        first = api.event_from(list(SNAPSHOT_CLASSES), "", 30.0)
        snap = PoolSnapshot.from_event_from(first)
        assert first["valid_ref_counts"]["vm"] == 6  # <i4> arrives as a Python int
        vm = pool["vms"][1]
        result = {}

        def watch():
            result["r"] = api.event_from(list(SNAPSHOT_CLASSES), first["token"], 30.0)

        thread = threading.Thread(target=watch)
        thread.start()
        time.sleep(0.05)
        stack.db.update("VM", vm, power_state="Halted", resident_on=None, domid=-1)
        thread.join(timeout=2.0)
        assert not thread.is_alive()
        snap = snap.apply_events(result["r"]["events"], result["r"]["token"])
        assert snap.vms[vm].power_state == "Halted"
        assert snap.vm_count_by_host()[pool["hosts"][0]] == 1
