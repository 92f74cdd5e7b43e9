"""The typed pool model: tolerance of odd records, events, derived views."""

from __future__ import annotations

import xmlrpc.client
from datetime import datetime, timezone

from xentui.xapi.model import NULL_REF, PIF, SNAPSHOT_CLASSES, VM, Host, HostMetrics, Pool, PoolSnapshot


def _add(cls, ref, snapshot):
    return {"id": "1", "timestamp": "0.0", "class": cls, "operation": "add", "ref": ref, "snapshot": snapshot}


def test_every_record_type_tolerates_an_empty_record():
    for builder in (Pool, Host, HostMetrics, PIF, VM):
        obj = builder.from_record("OpaqueRef:x", {})
        assert obj.ref == "OpaqueRef:x"
    host = Host.from_record("OpaqueRef:h", {})
    assert host.enabled is True  # unknown = assume enabled, never invent a problem
    assert host.metrics_ref == NULL_REF and host.resident_vms == ()
    assert host.live is None and host.xapi_version == ""
    vm = VM.from_record("OpaqueRef:v", {})
    assert vm.power_state == "Halted" and vm.domid == -1 and vm.resident_on == NULL_REF


def test_wire_types_are_decoded():
    rec = {
        "memory_total": "8589934592",  # int64 as a decimal string
        "live": "true",  # JSON-RPC style bool
        "last_updated": xmlrpc.client.DateTime("20240102T03:04:05Z"),
        "memory_free": "not-a-number",
    }
    metrics = HostMetrics.from_record("OpaqueRef:m", rec)
    assert metrics.memory_total == 8589934592
    assert metrics.live is True
    assert metrics.last_updated == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert metrics.memory_free == 0
    aware = HostMetrics.from_record("OpaqueRef:m", {"last_updated": datetime(2024, 1, 1)})
    assert aware.last_updated.tzinfo is timezone.utc


def test_odd_values_do_not_break_records():
    host = Host.from_record(
        "OpaqueRef:h",
        {
            "resident_VMs": "OpaqueRef:only-one",  # a lone ref, not a list
            "PIFs": None,
            "software_version": "garbage",
            "API_version_major": None,
            "name_label": None,
        },
    )
    assert host.resident_vms == ("OpaqueRef:only-one",)
    assert host.pifs == () and host.software_version == {}
    assert host.api_version_major == 0 and host.name_label == ""


def test_snapshot_from_event_from_joins_metrics_and_derives_views():
    m0, m1 = "OpaqueRef:m0", "OpaqueRef:m1"
    h0, h1 = "OpaqueRef:h0", "OpaqueRef:h1"
    reply = {
        "events": [
            _add("host_metrics", m0, {"live": True}),
            _add("host_metrics", m1, {"live": False}),
            _add("host", h0, {"name_label": "h0", "metrics": m0, "address": "10.0.0.1"}),
            _add("host", h1, {"name_label": "h1", "metrics": m1, "address": "10.0.0.2"}),
            _add("pool", "OpaqueRef:p", {"name_label": "pool", "master": h0}),
            _add("vm", "OpaqueRef:dom0", {"is_control_domain": True, "resident_on": h0, "power_state": "Running"}),
            _add("vm", "OpaqueRef:t", {"is_a_template": True}),
            _add("vm", "OpaqueRef:v1", {"name_label": "b", "resident_on": h1, "power_state": "Running"}),
            _add("vm", "OpaqueRef:v2", {"name_label": "a", "resident_on": h1, "power_state": "Running"}),
            _add("pif", "OpaqueRef:pif", {"host": h1, "management": True, "device": "eth0"}),
            _add("message", "OpaqueRef:msg", {"name": "ignored"}),
        ],
        "valid_ref_counts": {},
        "token": "00000000000000000011,00000000000000000000",
    }
    snapshot = PoolSnapshot.from_event_from(reply)
    assert snapshot.token == reply["token"]
    assert snapshot.master.name_label == "h0"
    assert [h.name_label for h in snapshot.hosts_not_live()] == ["h1"]
    assert [v.name_label for v in snapshot.vms_on(h1)] == ["a", "b"]
    assert snapshot.vm_count_by_host() == {h0: 0, h1: 2}
    assert snapshot.management_pif(h1).device == "eth0"
    assert snapshot.host_by_name("h1").address == "10.0.0.2"
    assert set(snapshot.raw) == set(SNAPSHOT_CLASSES)


def test_apply_events_is_immutable_and_handles_mod_and_del():
    base = PoolSnapshot.from_event_from({"events": [_add("vm", "OpaqueRef:v", {"name_label": "x"})], "token": "1"})
    mod = {"class": "VM", "operation": "mod", "ref": "OpaqueRef:v", "snapshot": {"name_label": "y"}}
    changed = base.apply_events([mod], "2")
    assert base.vms["OpaqueRef:v"].name_label == "x"  # the old value is untouched
    assert changed.vms["OpaqueRef:v"].name_label == "y" and changed.token == "2"
    gone = changed.apply_events([{"class": "vm", "operation": "del", "ref": "OpaqueRef:v"}])
    assert gone.vms == {} and gone.token == "2"
    # A mod without a snapshot (malformed) leaves the object alone.
    same = changed.apply_events([{"class": "vm", "operation": "mod", "ref": "OpaqueRef:v"}])
    assert same.vms["OpaqueRef:v"].name_label == "y"


def test_from_records_accepts_datamodel_class_names():
    snapshot = PoolSnapshot.from_records(
        {
            "VM": {"OpaqueRef:v": {"name_label": "v"}},
            "host": {"OpaqueRef:h": {"name_label": "h"}},
            "task": {"OpaqueRef:t": {}},
        }
    )
    assert snapshot.vms["OpaqueRef:v"].name_label == "v"
    assert snapshot.hosts["OpaqueRef:h"].name_label == "h"
    assert snapshot.pool is None and snapshot.master is None


def test_builders_read_only_the_declared_record_fields():
    """RECORD_FIELDS is what the state.db reader decodes: a builder reading
    any other field would silently get its default from state.db."""
    from xentui.xapi.model import _BUILDERS, RECORD_FIELDS

    class Recording(dict):
        def __init__(self):
            super().__init__()
            self.asked = set()

        def get(self, key, default=None):
            self.asked.add(key)
            return default

        def __getitem__(self, key):
            self.asked.add(key)
            raise KeyError(key)

        def __contains__(self, key):
            self.asked.add(key)
            return False

    assert set(RECORD_FIELDS) == set(_BUILDERS)
    for cls, builder in _BUILDERS.items():
        rec = Recording()
        builder("OpaqueRef:x", rec)
        assert rec.asked == RECORD_FIELDS[cls], cls


def test_state_db_keep_decodes_only_the_kept_tables_and_fields():
    from xentui.host.statedb import parse_state_db

    body = (
        b'<?xml version="1.0"?><database><manifest/>'
        b'<table name="VM"><row ref="OpaqueRef:v" _ref="OpaqueRef:v" uuid="u" name__label="web" '
        b'other__config="(())" power_state="Running"/></table>'
        b'<table name="VBD"><row ref="OpaqueRef:b" _ref="OpaqueRef:b" VM="OpaqueRef:v"/></table></database>'
    )
    full = parse_state_db(body).tables
    lean = parse_state_db(body, keep={"vm": {"uuid", "name_label"}}).tables
    assert set(full) == {"vm", "vbd"} and set(lean) == {"vm"}
    assert lean["vm"]["OpaqueRef:v"] == {"uuid": "u", "name_label": "web"}
