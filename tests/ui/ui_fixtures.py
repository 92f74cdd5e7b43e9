"""Hand-built Observations for UI tests and snapshots (fixed clock, fixed ages).

A three-host pool "prod-pool": xcp-a (master, 127.0.0.11), xcp-b (the
console host, 127.0.0.12), xcp-c (127.0.0.13). Each scenario returns the
Observation the observer would produce as seen from xcp-b.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from xentui.host.facts import (
    Fact,
    GroundTruth,
    InterfaceAddress,
    Inventory,
    LinkState,
    PeerProbe,
    PoolRole,
)
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.observation import EmergencyState, Observation
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.session_info import ConnectionInfo, SessionKind

# 2026-11-25 03:30:00 UTC: every age in snapshots is computed against this.
FIXED_NOW = 1795663800.0

HOSTS = (
    # name, uuid, address, mac
    ("xcp-a", "a0a0a0a0-0000-4000-8000-00000000000a", "127.0.0.11", "02:00:7f:00:00:0b"),
    ("xcp-b", "b0b0b0b0-0000-4000-8000-00000000000b", "127.0.0.12", "02:00:7f:00:00:0c"),
    ("xcp-c", "c0c0c0c0-0000-4000-8000-00000000000c", "127.0.0.13", "02:00:7f:00:00:0d"),
)
CONSOLE_HOST = "xcp-b"


def pool_records(
    vms_per_host: int = 3,
    master: str = "xcp-a",
    live: Optional[Dict[str, bool]] = None,
    mgmt_ip: Optional[Dict[str, str]] = None,
    extra_stale_pif: bool = False,
) -> Dict[str, Dict[str, dict]]:
    live = live or {}
    mgmt_ip = mgmt_ip or {}
    recs: Dict[str, Dict[str, dict]] = {
        k: {} for k in ("pool", "host", "host_metrics", "pif", "pif_metrics", "network", "vm")
    }
    recs["network"]["OpaqueRef:net0"] = {
        "uuid": "net0-uuid",
        "name_label": "Pool-wide network associated with eth0",
        "bridge": "xenbr0",
        "PIFs": [],
    }
    recs["network"]["OpaqueRef:net1"] = {"uuid": "net1-uuid", "name_label": "Storage", "bridge": "xenbr1", "PIFs": []}
    for index, (name, uuid, address, mac) in enumerate(HOSTS):
        href = f"OpaqueRef:host-{name}"
        recs["host_metrics"][f"OpaqueRef:hm-{name}"] = {
            "uuid": f"hm-{uuid}",
            "live": live.get(name, True),
            "memory_total": str(256 * 2**30),
            "memory_free": str((100 + 20 * index) * 2**30),
        }
        recs["host"][href] = {
            "uuid": uuid,
            "name_label": name,
            "hostname": name,
            "address": address,
            "enabled": True,
            "metrics": f"OpaqueRef:hm-{name}",
            "control_domain": f"OpaqueRef:dom0-{name}",
            "API_version_major": "2",
            "API_version_minor": "21",
            "software_version": {"xapi": "25.6.0", "product_version": "8.3.0"},
        }
        devices = ["eth0", "eth1"] + (["eth2"] if extra_stale_pif and name == "xcp-a" else [])
        for dev_index, dev in enumerate(devices):
            pref = f"OpaqueRef:pif-{name}-{dev}"
            recs["pif_metrics"][f"OpaqueRef:pm-{name}-{dev}"] = {
                "uuid": f"pm-{name}-{dev}",
                "carrier": dev != "eth2",
                "speed": "10000",
            }
            recs["pif"][pref] = {
                "uuid": f"pif-{name}-{dev}",
                "device": dev,
                "host": href,
                "network": "OpaqueRef:net0" if dev == "eth0" else "OpaqueRef:net1",
                "MAC": mac[:-2] + f"{dev_index:02x}" if dev_index else mac,
                "MTU": "1500",
                "VLAN": "-1",
                "physical": True,
                "currently_attached": dev != "eth2",
                "management": dev == "eth0",
                "ip_configuration_mode": "Static" if dev == "eth0" else "None",
                "IP": mgmt_ip.get(name, address) if dev == "eth0" else "",
                "netmask": "255.0.0.0" if dev == "eth0" else "",
                "gateway": "127.0.0.1" if dev == "eth0" else "",
                "DNS": "127.0.0.53" if dev == "eth0" else "",
                "metrics": f"OpaqueRef:pm-{name}-{dev}",
            }
        for vm_index in range(vms_per_host):
            vref = f"OpaqueRef:vm-{name}-{vm_index}"
            recs["vm"][vref] = {
                "uuid": f"vm-{name}-{vm_index:04d}",
                "name_label": f"{name[-1]}-vm{vm_index:02d}",
                "power_state": "Running",
                "resident_on": href,
                "is_a_template": False,
                "is_control_domain": False,
                "is_a_snapshot": False,
                "domid": str(vm_index + 1),
                "memory_static_max": str(4 * 2**30),
                "VCPUs_max": "2",
            }
        recs["vm"][f"OpaqueRef:dom0-{name}"] = {
            "uuid": f"dom0-{name}",
            "name_label": f"Control domain on host: {name}",
            "power_state": "Running",
            "resident_on": href,
            "is_control_domain": True,
        }
    recs["vm"]["OpaqueRef:vm-halted"] = {
        "uuid": "vm-halted",
        "name_label": "old-backup",
        "power_state": "Halted",
        "resident_on": "OpaqueRef:NULL",
        "memory_static_max": str(2 * 2**30),
        "VCPUs_max": "1",
    }
    recs["pool"]["OpaqueRef:pool"] = {
        "uuid": "pool-uuid",
        "name_label": "prod-pool",
        "master": f"OpaqueRef:host-{master}",
        "default_SR": "OpaqueRef:NULL",
        "ha_enabled": False,
    }
    return recs


def _host(name: str) -> Tuple[str, str, str, str]:
    return next(h for h in HOSTS if h[0] == name)


def ground_truth(
    *,
    role: str = "slave",
    master_address: str = "127.0.0.11",
    addresses: bool = True,
    peers: Tuple[Tuple[str, str], ...] = (),
    state_db: Optional[dict] = None,
    age: float = 0.0,
) -> GroundTruth:
    name, uuid, address, mac = _host(CONSOLE_HOST)
    t = FIXED_NOW - age
    addrs = (InterfaceAddress("inet", address, 8),) if addresses else ()
    probes = tuple(
        PeerProbe(
            host_name=peer,
            address=_host(peer)[2],
            port=443,
            outcome=outcome,
            seconds=1.0 if outcome == "timeout" else 0.001,
            probed_at=FIXED_NOW - 2,
        )
        for peer, outcome in peers
    )
    return GroundTruth(
        host_root="/",
        pool_role=Fact(
            PoolRole(role, master_address if role == "slave" else ""), "/etc/xensource/pool.conf", FIXED_NOW - 3600
        ),
        inventory=Fact(
            Inventory(
                installation_uuid=uuid,
                control_domain_uuid=f"dom0-{name}",
                management_interface="xenbr0",
                product_version="8.3.0",
            ),
            "/etc/xensource-inventory",
            FIXED_NOW - 86400,
        ),
        state_db=Fact(state_db, "/var/lib/xcp/state.db", FIXED_NOW - 240)
        if state_db is not None
        else Fact(None, "/var/lib/xcp/state.db", t, error="not read"),
        management_link=Fact(LinkState("xenbr0", mac, "UP", True, addrs), "ip -j addr show xenbr0", FIXED_NOW - 2),
        xapi_running=Fact(True, "/var/run/xapi.pid", FIXED_NOW - 2),
        peers=probes,
        gathered_at=FIXED_NOW - 2,
    )


def _connection(
    state: str, kind: SessionKind, *, demo: bool = False, label: str = "local", read_only: bool = False
) -> ConnectionInfo:
    return ConnectionInfo(
        transport="local",
        label=label,
        target="local",
        session_kind=kind,
        state=state,
        this_host_uuid=_host(CONSOLE_HOST)[1],
        master_address="127.0.0.11",
        read_only=read_only,
        demo=demo,
    )


def healthy(**kw) -> Observation:
    snap = PoolSnapshot.from_records(pool_records())
    return Observation(
        at=FIXED_NOW - 1,
        connection=_connection("connected", SessionKind.PASSWORD, **kw),
        snapshot=snap,
        snapshot_source="xapi event.from",
        ground_truth=ground_truth(peers=(("xcp-a", "open"), ("xcp-c", "open"))),
        emergency=EmergencyState(in_emergency=False),
        this_host_name=CONSOLE_HOST,
        findings=(Finding(Code.POOL_HEALTHY, Severity.OK, "3 hosts live, master xcp-a answers"),),
    )


def _down_findings(cause: str) -> Tuple[Finding, ...]:
    return (
        Finding(
            Code.MASTER_UNREACHABLE,
            Severity.CRITICAL,
            f"master xcp-a (127.0.0.11) {cause}",
            explanation="Promote a surviving member to master, then repoint the others.",
            host="xcp-a",
            evidence=("tcp probe 127.0.0.11:443: " + cause,),
            data={"master_name": "xcp-a", "master_address": "127.0.0.11", "since": str(FIXED_NOW - 420)},
        ),
        Finding(
            Code.EMERGENCY_MODE,
            Severity.CRITICAL,
            "xcp-b is in emergency mode: only emergency calls answer",
            host="xcp-b",
        ),
        Finding(
            Code.VMS_ON_DEAD_HOST,
            Severity.WARNING,
            "3 VMs are recorded as running on xcp-a",
            host="xcp-a",
            data={"count": "3"},
        ),
        Finding(
            Code.STALE_PIF,
            Severity.INFO,
            "xcp-a has a PIF whose NIC is gone (eth2)",
            host="xcp-a",
            data={"pif_uuid": "pif-xcp-a-eth2"},
        ),
    )


def master_down(**kw) -> Observation:
    records = pool_records(extra_stale_pif=True)
    snap = PoolSnapshot.from_records(records)
    return Observation(
        at=FIXED_NOW - 1,
        connection=_connection("emergency", SessionKind.SLAVE_LOCAL, **kw),
        snapshot=snap,
        snapshot_source="state.db (4 min old)",
        ground_truth=ground_truth(peers=(("xcp-a", "refused"), ("xcp-c", "open")), state_db=records),
        emergency=EmergencyState(
            in_emergency=True,
            reason_code="INTERNAL_ERROR",
            reason_params=("Connection refused: 127.0.0.11:443",),
            since=FIXED_NOW - 420,
        ),
        this_host_name=CONSOLE_HOST,
        findings=_down_findings("refuses connections"),
    )


def master_hung(**kw) -> Observation:
    records = pool_records()
    snap = PoolSnapshot.from_records(records)
    findings = (
        Finding(
            Code.MASTER_UNREACHABLE,
            Severity.CRITICAL,
            "master xcp-a (127.0.0.11) accepts but never answers",
            host="xcp-a",
            evidence=("tcp probe 127.0.0.11:443: no answer within 1 s",),
            data={"master_name": "xcp-a", "master_address": "127.0.0.11", "since": str(FIXED_NOW - 180)},
        ),
        Finding(Code.VMS_ON_DEAD_HOST, Severity.WARNING, "3 VMs are recorded as running on xcp-a", host="xcp-a"),
    )
    return Observation(
        at=FIXED_NOW - 1,
        connection=_connection("timed-out", SessionKind.SLAVE_LOCAL, **kw),
        snapshot=snap,
        snapshot_source="state.db (4 min old)",
        ground_truth=ground_truth(peers=(("xcp-a", "timeout"), ("xcp-c", "open")), state_db=records),
        emergency=EmergencyState(in_emergency=False),
        this_host_name=CONSOLE_HOST,
        findings=findings,
    )


def no_management_ip(**kw) -> Observation:
    records = pool_records()
    snap = PoolSnapshot.from_records(records)
    findings = (
        Finding(
            Code.NO_MANAGEMENT_IP,
            Severity.CRITICAL,
            "xcp-b has no IP address on xenbr0",
            host="xcp-b",
            explanation="Reconfigure the management interface (host.local_management_reconfigure).",
        ),
        Finding(
            Code.EMERGENCY_MODE,
            Severity.CRITICAL,
            "xcp-b is in emergency mode: only emergency calls answer",
            host="xcp-b",
        ),
    )
    return Observation(
        at=FIXED_NOW - 1,
        connection=_connection("emergency", SessionKind.SLAVE_LOCAL, **kw),
        snapshot=snap,
        snapshot_source="state.db (4 min old)",
        ground_truth=ground_truth(addresses=False, peers=(("xcp-a", "open"), ("xcp-c", "open")), state_db=records),
        emergency=EmergencyState(in_emergency=True, reason_code="HOST_HAS_NO_MANAGEMENT_IP", since=FIXED_NOW - 900),
        this_host_name=CONSOLE_HOST,
        findings=findings,
    )


def large(vm_count: int = 2000) -> Observation:
    records = pool_records(vms_per_host=vm_count // len(HOSTS) + 1)
    snap = PoolSnapshot.from_records(records)
    obs = master_down()
    return Observation(
        at=obs.at,
        connection=obs.connection,
        snapshot=snap,
        snapshot_source=obs.snapshot_source,
        ground_truth=obs.ground_truth,
        emergency=obs.emergency,
        this_host_name=obs.this_host_name,
        findings=obs.findings,
    )


SCENARIOS = {
    "healthy": healthy,
    "master-down": master_down,
    "master-hung": master_hung,
    "no-management-ip": no_management_ip,
}
