"""Hand-built observations for the recovery unit tests (no simulator needed).

`PoolBuilder` makes xapi-shaped records ({class: {ref: record}}) so the
typed model is built exactly as from a live snapshot or state.db.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Dict, List, Optional, Sequence, Tuple

from xentui.host.facts import Fact, GroundTruth, InterfaceAddress, Inventory, LinkState, PeerProbe, PoolRole
from xentui.recovery import peers as pv
from xentui.recovery.observation import EmergencyState, Observation
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.session_info import ConnectionInfo, SessionKind

NOW = 1_800_000_000.0


def _ref(kind: str, name: str) -> str:
    return f"OpaqueRef:{kind}-{name}"


class PoolBuilder:
    def __init__(self, master: str = "xen1", ha: bool = False) -> None:
        self.tables: Dict[str, Dict[str, dict]] = {
            c: {} for c in ("pool", "host", "host_metrics", "pif", "pif_metrics", "network", "vm", "sr", "pbd")
        }
        self.hosts: List[str] = []
        self.master = master
        self.ha = ha
        self.network = _ref("net", "xenbr0")
        self.tables["network"][self.network] = {"uuid": "net0", "name_label": "Pool-wide network", "bridge": "xenbr0"}
        self.sr = _ref("sr", "SAN")
        self.tables["sr"][self.sr] = {
            "uuid": "sr-san",
            "name_label": "SAN",
            "type": "lvmoiscsi",
            "shared": True,
            "content_type": "user",
        }

    def address(self, name: str) -> str:
        return f"127.0.0.{10 + int(name[-1])}"

    def uuid(self, name: str) -> str:
        return f"uuid-{name}"

    def host(
        self, name: str, *, live: bool = True, enabled: bool = True, xapi: str = "25.1.0", pbd_attached: bool = True
    ) -> "PoolBuilder":
        self.hosts.append(name)
        href = _ref("host", name)
        mref = _ref("hm", name)
        self.tables["host_metrics"][mref] = {"uuid": f"hm-{name}", "live": live}
        self.tables["host"][href] = {
            "uuid": self.uuid(name),
            "name_label": name,
            "hostname": name,
            "address": self.address(name),
            "enabled": enabled,
            "metrics": mref,
            "API_version_major": 2,
            "API_version_minor": 21,
            "software_version": {"xapi": xapi, "product_version": "8.3.0"},
        }
        self.pif(name, "eth0", management=True)
        pbd = _ref("pbd", name)
        self.tables["pbd"][pbd] = {
            "uuid": f"pbd-{name}",
            "host": href,
            "SR": self.sr,
            "currently_attached": pbd_attached,
        }
        return self

    def pif(
        self,
        host: str,
        device: str,
        *,
        management: bool = False,
        attached: bool = True,
        carrier: bool = True,
        mac: str = "",
        ip: str = "",
    ) -> "PoolBuilder":
        ref = _ref("pif", f"{host}-{device}-{mac or 'orig'}")
        mref = _ref("pm", f"{host}-{device}-{mac or 'orig'}")
        self.tables["pif_metrics"][mref] = {"uuid": "pm" + ref[-12:], "carrier": carrier}
        self.tables["pif"][ref] = {
            "uuid": f"pif-{host}-{device}-{mac or 'orig'}",
            "device": device,
            "host": _ref("host", host),
            "network": self.network if device == "eth0" else _ref("net", device),
            "MAC": mac or f"02:00:00:00:0{host[-1]}:0{device[-1]}",
            "physical": True,
            "currently_attached": attached,
            "management": management,
            "ip_configuration_mode": "Static" if management else "None",
            "IP": ip or (self.address(host) if management else ""),
            "netmask": "255.0.0.0" if management else "",
            "metrics": mref,
            "VLAN": -1,
        }
        return self

    def vm(self, name: str, host: Optional[str], state: str = "Running") -> "PoolBuilder":
        ref = _ref("vm", name)
        self.tables["vm"][ref] = {
            "uuid": f"vm-{name}",
            "name_label": name,
            "power_state": state if host else "Halted",
            "resident_on": _ref("host", host) if host else "OpaqueRef:NULL",
        }
        return self

    def snapshot(self, *, default_sr: bool = True) -> PoolSnapshot:
        self.tables["pool"] = {
            _ref("pool", "p"): {
                "uuid": "pool-uuid",
                "name_label": "pool",
                "master": _ref("host", self.master),
                "default_SR": self.sr if default_sr else "OpaqueRef:NULL",
                "ha_enabled": self.ha,
            }
        }
        return PoolSnapshot.from_records(self.tables)


def ground_truth(
    b: PoolBuilder,
    this: str,
    *,
    role: str = "slave",
    master_address: str = "",
    probes: Optional[Dict[str, str]] = None,
    link_ip: bool = True,
    xapi_running: bool = True,
    link_mac: str = "",
) -> GroundTruth:
    probes = probes or {}
    peers = tuple(PeerProbe(h, b.address(h), 80, probes.get(h, "open"), 0.01, NOW) for h in b.hosts if h != this)
    addrs = (InterfaceAddress("inet", b.address(this), 8),) if link_ip else ()
    return GroundTruth(
        host_root="/",
        pool_role=Fact(PoolRole(role, master_address if role == "slave" else ""), "pool.conf", NOW),
        inventory=Fact(Inventory(b.uuid(this), "dom0-" + this, "xenbr0"), "inventory", NOW),
        state_db=Fact(b.tables, "state.db", NOW - 240),
        management_link=Fact(
            LinkState("xenbr0", link_mac or f"02:00:00:00:0{this[-1]}:00", "UP", True, addrs),
            "ip -j addr show xenbr0",
            NOW,
        ),
        xapi_running=Fact(xapi_running, "xapi pid", NOW),
        peers=peers,
        gathered_at=NOW,
    )


def observation(
    b: PoolBuilder,
    this: str,
    *,
    gt: GroundTruth,
    live: bool,
    state: str = "connected",
    emergency: Optional[Tuple[str, Sequence[str]]] = None,
    views: Sequence[pv.PeerView] = (),
    default_sr: bool = True,
) -> Observation:
    snap = b.snapshot(default_sr=default_sr)
    kind = SessionKind.SLAVE_LOCAL if emergency else SessionKind.LOCAL_ROOT
    conn = ConnectionInfo("local", "local", "", kind, state=state, this_host_uuid=b.uuid(this))
    em = EmergencyState(True, emergency[0], tuple(emergency[1])) if emergency else EmergencyState(False)
    if state in ("refused", "timed-out") and not emergency:
        em = None
    return Observation(
        at=NOW,
        connection=conn,
        snapshot=snap,
        snapshot_source="xapi event.from" if live else "state.db (as of ..., 4 min old)",
        ground_truth=gt,
        emergency=em,
        this_host_name=this,
        peer_views=tuple(views),
    )


def view(
    b: PoolBuilder,
    name: str,
    reach: str,
    role: str = pv.UNKNOWN,
    master: str = "",
    reason: str = "",
    running: Sequence[str] = (),
) -> pv.PeerView:
    return pv.PeerView(
        name,
        b.address(name),
        reach,
        role=role,
        master_address=master,
        reason_code=reason,
        running_vm_uuids=tuple(running),
    )


def codes(findings) -> List[str]:
    return [f.code.value for f in findings]


def random_uuid() -> str:
    return str(uuidlib.uuid4())
