"""The simulator's object store and its generated accessor methods."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
import XenAPI

from tests.sim.sim_core_stack import CoreStack, small_pool
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.methods import MethodTable, generated_methods
from xentui.sim.schema import CLASSES
from xentui.xapi.model import RECORD_FIELDS, SNAPSHOT_CLASSES, PoolSnapshot

REF = re.compile(r"^OpaqueRef:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def db():
    return Database(lambda: 1_700_000_000.0)


def test_schema_has_every_class_and_model_field():
    assert set(CLASSES) == {
        "pool",
        "host",
        "host_metrics",
        "host_cpu",
        "PIF",
        "PIF_metrics",
        "network",
        "VM",
        "VM_metrics",
        "VM_guest_metrics",
        "SR",
        "PBD",
        "VDI",
        "VBD",
        "VIF",
        "task",
        "message",
        "session",
    }
    assert not CLASSES["session"].gen_events and CLASSES["VM"].gen_events
    # Every field xentui/xapi/model.py reads (its own table, so a field the
    # model starts reading is checked here without editing this test).
    by_event_name = {name.lower(): name for name in CLASSES}
    assert set(RECORD_FIELDS) | set(SNAPSHOT_CLASSES) <= set(by_event_name)
    for cls, fields in RECORD_FIELDS.items():
        missing = sorted(f for f in fields if f not in CLASSES[by_event_name[cls]].fields)
        assert not missing, f"{cls} lacks {missing}"


def test_create_fills_defaults_uuid_and_ref(db):
    ref = db.create("VM", name_label="a")
    assert REF.match(ref)
    rec = db.get_record("VM", ref)
    assert rec["name_label"] == "a" and rec["power_state"] == "Halted"
    assert rec["resident_on"] == "OpaqueRef:NULL" and rec["domid"] == -1
    assert rec["other_config"] == {} and rec["VBDs"] == [] and rec["tags"] == []
    assert re.fullmatch(r"[0-9a-f-]{36}", rec["uuid"])
    assert rec["snapshot_time"] == datetime(1970, 1, 1, tzinfo=timezone.utc)
    given = db.create("VM", ref="OpaqueRef:fixed", uuid="u-1")
    assert given == "OpaqueRef:fixed" and db.by_uuid("VM", "u-1") == given


def test_records_are_copies(db):
    ref = db.create("VM", other_config={"a": "1"}, tags=["t"])
    rec = db.get_record("VM", ref)
    rec["other_config"]["b"] = "2"
    rec["tags"].append("u")
    db.get_field("VM", ref, "other_config")["c"] = "3"
    assert db.get_record("VM", ref)["other_config"] == {"a": "1"}
    assert db.get_record("VM", ref)["tags"] == ["t"]


def test_errors(db):
    with pytest.raises(ApiError) as err:
        db.get_record("VM", "OpaqueRef:nope")
    assert err.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]
    with pytest.raises(ApiError) as err:
        db.by_uuid("host", "nope")
    assert err.value.details == ["UUID_INVALID", "host", "nope"]
    ref = db.create("VM")
    with pytest.raises(ApiError) as err:
        db.set_field("VM", ref, "domid", "lots")
    assert err.value.details == ["FIELD_TYPE_ERROR", "domid"]
    with pytest.raises(ValueError):
        db.set_field("VM", ref, "no_such_field", 1)
    with pytest.raises(ValueError):
        db.set_field("host", db.create("host"), "resident_VMs", [ref])  # computed
    with pytest.raises(ValueError):
        db.create("Bond")
    with pytest.raises(ApiError):
        db.create("VM", ref=ref)


def test_coercion(db):
    ref = db.create("VM", domid="5", memory_static_max=1 << 40, resident_on=None)
    assert db.get_field("VM", ref, "domid") == 5
    assert db.get_field("VM", ref, "memory_static_max") == 1 << 40
    assert db.get_field("VM", ref, "resident_on") == "OpaqueRef:NULL"
    metrics = db.create("host_metrics", last_updated=1_700_000_000.0)
    assert db.get_field("host_metrics", metrics, "last_updated") == datetime.fromtimestamp(
        1_700_000_000, tz=timezone.utc
    )
    db.set_field("host_metrics", metrics, "last_updated", "20240102T03:04:05Z")
    assert db.get_field("host_metrics", metrics, "last_updated") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_reverse_sets_follow_the_pointing_field(db):
    h1, h2 = db.create("host"), db.create("host")
    vm = db.create("VM", resident_on=h1)
    assert db.get_field("host", h1, "resident_VMs") == [vm]
    db.set_field("VM", vm, "resident_on", h2)
    assert db.get_field("host", h1, "resident_VMs") == []
    assert db.get_record("host", h2)["resident_VMs"] == [vm]
    db.destroy("VM", vm)
    assert db.get_field("host", h2, "resident_VMs") == []
    sr = db.create("SR")
    pbds = [db.create("PBD", SR=sr, host=h) for h in (h1, h2)]
    assert db.get_field("SR", sr, "PBDs") == pbds
    assert db.get_field("host", h1, "PBDs") == [pbds[0]]


def test_find_refs_and_name_label(db):
    a = db.create("VM", name_label="x", power_state="Running")
    db.create("VM", name_label="y", power_state="Halted")
    assert db.find("VM", power_state="Running") == [a]
    assert db.by_name_label("VM", "x") == [a]
    assert db.count("VM") == 2 and len(db.refs("VM")) == 2
    assert set(db.records("VM")) == set(db.refs("VM"))


def test_update_is_one_generation(db):
    ref = db.create("VM")
    before = db.generation
    db.update("VM", ref, power_state="Running", domid=3)
    assert db.generation == before + 1


def test_clone_is_independent(db):
    pool = small_pool(db)
    copy = db.clone()
    assert copy.tables() == db.tables()
    assert copy.generation == db.generation
    vm = pool["vms"][0]
    copy.set_field("VM", vm, "name_label", "changed")
    copy.set_field("VM", vm, "resident_on", pool["hosts"][1])
    assert db.get_field("VM", vm, "name_label") == "vm0-0"
    assert vm in db.get_field("host", pool["hosts"][0], "resident_VMs")
    assert vm in copy.get_field("host", pool["hosts"][1], "resident_VMs")
    assert vm not in copy.get_field("host", pool["hosts"][0], "resident_VMs")


def test_model_reads_the_records(db):
    small_pool(db)
    snap = PoolSnapshot.from_records(
        {
            cls: db.records(cls)
            for cls in ("pool", "host", "host_metrics", "PIF", "PIF_metrics", "network", "VM", "SR", "PBD")
        }
    )
    assert snap.master is not None and snap.master.name_label == "h0"
    assert snap.master.live is True
    assert snap.vm_count_by_host() == {h: 2 for h in snap.hosts}
    assert snap.management_pif(snap.master.ref).carrier is True
    assert len(SNAPSHOT_CLASSES) == 11


def test_generated_method_names():
    table = MethodTable(generated_methods())
    for name in (
        "VM.get_all",
        "VM.get_all_records",
        "VM.get_record",
        "VM.get_by_uuid",
        "VM.get_by_name_label",
        "VM.get_power_state",
        "VM.get_resident_on",
        "VM.set_name_label",
        "VM.set_other_config",
        "VM.add_to_other_config",
        "VM.remove_from_other_config",
        "VM.add_tags",
        "VM.remove_tags",
        "host.get_resident_VMs",
        "host_metrics.get_live",
        "PIF.get_IP",
        "pool.set_default_SR",
        "SR.get_PBDs",
        "PBD.get_currently_attached",
    ):
        assert table.lookup(name) is not None, name
        assert table.lookup(name.replace(".", "_", 1)) is table.lookup(name)
    for absent in (
        "VM.set_power_state",
        "VM.set_resident_on",
        "host.set_resident_VMs",
        "host_metrics.get_by_name_label",
        "VM.add_to_blobs",
    ):
        assert table.lookup(absent) is None, absent
    assert table.lookup("VM.get_record").params == ("self",)
    assert table.lookup("VM.add_to_other_config").params == ("self", "key", "value")


def test_generated_methods_through_the_sdk(tmp_path):
    with CoreStack(tmp_path) as stack:
        pool = small_pool(stack.db)
        api = stack.tcp_session().xenapi
        vm = pool["vms"][0]
        assert sorted(api.VM.get_all()) == sorted(stack.db.refs("VM"))
        records = api.VM.get_all_records()
        assert records[vm]["name_label"] == "vm0-0" and records[vm]["domid"] == "1"
        uuid = api.VM.get_uuid(vm)
        assert api.VM.get_by_uuid(uuid) == vm
        assert api.VM.get_by_name_label("vm0-0") == [vm]
        assert api.host.get_resident_VMs(pool["hosts"][0]) == stack.db.get_field(
            "host", pool["hosts"][0], "resident_VMs"
        )
        assert api.VM.set_name_label(vm, "renamed") == ""
        assert stack.db.get_field("VM", vm, "name_label") == "renamed"
        api.VM.add_to_other_config(vm, "k", "v")
        with pytest.raises(XenAPI.Failure) as err:
            api.VM.add_to_other_config(vm, "k", "w")
        assert err.value.details == ["MAP_DUPLICATE_KEY", "VM", "other_config", vm, "k"]
        api.VM.remove_from_other_config(vm, "k")
        api.VM.remove_from_other_config(vm, "k")  # removing a missing key is fine
        assert api.VM.get_other_config(vm) == {}
        api.VM.add_tags(vm, "prod")
        api.VM.add_tags(vm, "prod")
        assert api.VM.get_tags(vm) == ["prod"]
        api.VM.remove_tags(vm, "prod")
        assert api.VM.get_tags(vm) == []
        api.VM.set_is_a_template(vm, True)
        assert api.VM.get_is_a_template(vm) is True
        with pytest.raises(XenAPI.Failure) as err:
            api.VM.set_is_a_template(vm, "maybe")
        assert err.value.details == ["FIELD_TYPE_ERROR", "is_a_template"]
        with pytest.raises(XenAPI.Failure) as err:
            api.VM.set_name_label("OpaqueRef:gone", "x")
        assert err.value.details == ["HANDLE_INVALID", "VM", "OpaqueRef:gone"]
        with pytest.raises(XenAPI.Failure) as err:
            api.VM.get_record(vm, "extra")
        assert err.value.details == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "2"]
        with pytest.raises(XenAPI.Failure) as err:
            api.VM.frobnicate(vm)
        assert err.value.details == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
