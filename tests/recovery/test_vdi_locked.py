"""VDI_LOCKED: sm's attach keys (VDI.sm_config `host_<ref>`, `activating`) left
by a host that is gone. Rule on hand-built observations, the model's trimming
of sm_config, and `xentui status --json` against the simulator's scenarios.

sm: drivers/blktap2.py VDI._add_tag writes the keys, VDIUnavailable is
SR_BACKEND_FAILURE_46 "The VDI is not available" (xentui/sim/sm_locks.py)."""

from __future__ import annotations

import json

from tests.recovery.recovery_builders import PoolBuilder, codes, ground_truth, observation, view
from xentui.cli import main
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.findings import Code, Severity
from xentui.xapi.model import VDI, PoolSnapshot


def _host_ref(name: str) -> str:
    return f"OpaqueRef:host-{name}"  # recovery_builders' host refs


def _disk(b: PoolBuilder, vm: str, sm_config: dict) -> str:
    """A VDI with `sm_config` and a VBD linking it to `vm`; returns the VDI uuid."""
    vdi_ref, uuid = f"OpaqueRef:vdi-{vm}", f"vdi-uuid-{vm}"
    b.tables.setdefault("vdi", {})[vdi_ref] = {"uuid": uuid, "name_label": f"{vm} disk 0", "sm_config": sm_config}
    b.tables.setdefault("vbd", {})[f"OpaqueRef:vbd-{vm}"] = {"VM": f"OpaqueRef:vm-{vm}", "VDI": vdi_ref}
    # an empty CD drive next to it (VDI NULL) must not confuse the join
    b.tables["vbd"][f"OpaqueRef:cd-{vm}"] = {"VM": f"OpaqueRef:vm-{vm}", "VDI": "OpaqueRef:NULL"}
    return uuid


def _diagnose(b: PoolBuilder, xen3_reach: str = pv.TIMEOUT):
    probes = {"xen3": "timeout"} if xen3_reach == pv.TIMEOUT else {}
    gt = ground_truth(b, "xen1", role="master", probes=probes)
    views = [
        view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1")),
        view(b, "xen3", xen3_reach, pv.SLAVE if xen3_reach == pv.ANSWERS else pv.UNKNOWN, master=b.address("xen1")),
    ]
    return diagnose(observation(b, "xen1", gt=gt, live=True, views=views))


def _locked_pool(*, xen3_live: bool = False) -> PoolBuilder:
    # xen3 crashed; its VMs' power state was reset by hand (host-declare-dead never ran)
    b = PoolBuilder().host("xen1").host("xen2").host("xen3", live=xen3_live, enabled=xen3_live)
    b.vm("web01", "xen1").vm("app01", None).vm("app02", None)
    return b


def test_lock_of_a_dead_host_blocks_health_and_names_vm_vdi_host_and_error():
    b = _locked_pool()
    uuid = _disk(b, "app01", {"host_" + _host_ref("xen3"): "RW", "vhd-parent": "x"})
    f = _diagnose(b)
    locked = [x for x in f if x.code is Code.VDI_LOCKED]
    assert len(locked) == 1 and "POOL_HEALTHY" not in codes(f)
    one = locked[0]
    assert one.severity is Severity.CRITICAL and one.host == "xen3"
    assert "app01" in one.summary and "xen3" in one.summary
    assert "SR_BACKEND_FAILURE_46 The VDI is not available" in one.summary
    assert f"resetvdis.py single {uuid}" in one.explanation
    assert "fenced" in one.explanation and "powered off" in one.explanation
    assert "param-key=activating" not in one.explanation  # no leaked activating key here
    assert any(uuid in e and "host_" + _host_ref("xen3") in e for e in one.evidence)
    assert one.data["vm_name"] == "app01" and one.data["vdi_uuids"] == uuid and one.data["holders"] == "xen3"


def test_leaked_activating_key_gets_the_raw_remove_command():
    b = _locked_pool()
    uuid = _disk(b, "app02", {"host_" + _host_ref("xen3"): "RW", "activating": "True"})
    (one,) = [x for x in _diagnose(b) if x.code is Code.VDI_LOCKED]
    assert f"xe vdi-param-remove uuid={uuid} param-name=sm-config param-key=activating" in one.explanation
    assert one.data["keys"] == "activating,host_" + _host_ref("xen3")
    # an `activating` key alone (no host key) still blocks the start
    b2 = _locked_pool()
    _disk(b2, "app02", {"activating": "True"})
    (two,) = [x for x in _diagnose(b2) if x.code is Code.VDI_LOCKED]
    assert two.host == "" and "unfinished activation" in two.summary


def test_lock_of_a_host_no_longer_in_the_pool():
    b = _locked_pool()
    _disk(b, "app01", {"host_OpaqueRef:forgotten-host": "RW"})
    (one,) = [x for x in _diagnose(b) if x.code is Code.VDI_LOCKED]
    assert "a host no longer in the pool" in one.summary and one.host == ""


def test_locks_that_are_normal_give_no_finding():
    # a running VM's disk carries its own host's key; a live, answering
    # host's key on a halted VM's disk is a start or stop under way
    b = _locked_pool(xen3_live=True)
    _disk(b, "web01", {"host_" + _host_ref("xen1"): "RW"})
    _disk(b, "app01", {"host_" + _host_ref("xen3"): "RW"})
    f = _diagnose(b, xen3_reach=pv.ANSWERS)
    assert codes(f) == ["POOL_HEALTHY"]
    # a VM still marked running on the dead host: VMS_ON_DEAD_HOST covers it
    b2 = PoolBuilder().host("xen1").host("xen2").host("xen3", live=False)
    b2.vm("app01", "xen3")
    _disk(b2, "app01", {"host_" + _host_ref("xen3"): "RW"})
    f2 = _diagnose(b2)
    assert Code.VMS_ON_DEAD_HOST in {x.code for x in f2} and Code.VDI_LOCKED not in {x.code for x in f2}


def test_model_keeps_only_the_lock_keys_of_sm_config():
    snap = PoolSnapshot.from_records(
        {
            "VDI": {
                "OpaqueRef:d": {
                    "uuid": "d",
                    "name_label": "disk",
                    "sm_config": {
                        "host_OpaqueRef:h1": "RW",
                        "activating": "True",
                        "vhd-parent": "p",
                        "host_not_a_ref": "x",
                        "vdi_type": "vhd",
                    },
                    "virtual_size": "10",
                },
                "OpaqueRef:e": {"uuid": "e", "sm_config": {"vdi_type": "vhd"}},
            },
            "VBD": {"OpaqueRef:b": {"VM": "OpaqueRef:v", "VDI": "OpaqueRef:d", "device": "xvda"}},
        }
    )
    d = snap.vdis["OpaqueRef:d"]
    assert d.sm_locks == (("activating", "True"), ("host_OpaqueRef:h1", "RW"))
    assert d.lock_holders() == ("OpaqueRef:h1",) and d.activating
    assert snap.vdis["OpaqueRef:e"].sm_locks == () and snap.locked_vdis() == (d,)
    vbd = snap.vbds["OpaqueRef:b"]
    assert (vbd.vm, vbd.vdi) == ("OpaqueRef:v", "OpaqueRef:d")
    # hostile sm_config: not a map -> no locks, no exception
    assert VDI.from_record("OpaqueRef:x", {"sm_config": ["host_OpaqueRef:h"]}).sm_locks == ()


def _status_json(sim, host, capsys):
    code = main(["status", f"sim:{sim.state_dir}/{host}", "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_status_on_vdi_locked_shows_the_lock_and_exits_non_zero(start_sim, capsys):
    sim = start_sim("vdi-locked")
    assert sim.flush_files(10.0)
    code, data = _status_json(sim, "xen1", capsys)
    locked = [f for f in data["findings"] if f["code"] == "VDI_LOCKED"]
    assert code == 2, [f["summary"] for f in data["findings"]]
    assert data["worst"] == "critical" and "POOL_HEALTHY" not in {f["code"] for f in data["findings"]}
    assert sorted(f["summary"].split()[0] for f in locked) == ["app01", "app02"]
    assert all(f["host"] == "xen3" and f["severity"] == "critical" for f in locked)
    assert all("SR_BACKEND_FAILURE_46 The VDI is not available" in f["summary"] for f in locked)
    app02 = next(f for f in locked if f["summary"].startswith("app02"))
    assert any("activating=" in e for e in app02["evidence"])  # the scenario leaked app02's activating key


def test_status_healthy_and_master_down_show_no_lock(start_sim, capsys):
    healthy = start_sim("healthy")
    code, data = _status_json(healthy, "xen1", capsys)
    assert code == 0 and "VDI_LOCKED" not in {f["code"] for f in data["findings"]}
    down = start_sim("master-down")
    assert down.flush_files(10.0)
    _, data = _status_json(down, "xen2", capsys)
    assert "VDI_LOCKED" not in {f["code"] for f in data["findings"]}
