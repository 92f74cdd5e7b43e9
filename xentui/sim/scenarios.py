"""Scenario data files -> world state.

A scenario (xentui/sim/scenarios/<name>.json) describes the pool as it was
when healthy (hosts, networks, storage, VMs) and then the `steps` that broke
it. Steps that in reality involve waiting (a survivor restarted after its
master died) are applied as their resulting state, without waiting.

Keys: name, description, console, root_password, pool_name, hosts (list of
names, or {"count": N, "prefix": "xen"}), master, nics (per host),
shared_srs [{name, type}], local_srs (bool), vms [{name, host|null, sr,
state}], generate_vms {count, running_fraction, sr}, ha (bool),
last_sync_age (simulated seconds since the last DB backup push),
host_memory_gib (number, or {host: GiB}; default 256), vms[].memory_gib (default 2),
after_sync [{"vm": name, "host": h, "sr": s}] (VMs created on the master
after the last push: missing from every backup), steps [[action, args...]].
"""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List

from xentui.sim import host_facts, iscsi_san, memory
from xentui.sim.db import Database
from xentui.sim.errors import ApiError

NULL_REF = "OpaqueRef:NULL"
FIRST_HOST_OCTET = 11


class ScenarioError(ValueError):
    pass


@dataclass
class HostSpec:
    name: str
    uuid: str
    address: str
    macs: List[str]


@dataclass
class Scenario:
    name: str
    description: str
    console: str
    root_password: str
    data: Dict[str, Any]
    hosts: List[HostSpec] = field(default_factory=list)
    master: str = ""

    @property
    def steps(self) -> List[List[Any]]:
        return [list(step) for step in self.data.get("steps", [])]


def scenario_dir() -> Path:
    return Path(str(resources.files("xentui.sim") / "scenarios"))


def available() -> Dict[str, str]:
    """name -> one-line description."""
    out = {}
    for path in sorted(scenario_dir().glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[data.get("name", path.stem)] = data.get("description", "")
    return out


def load(name: str, seed: int = 0) -> Scenario:
    path = scenario_dir() / f"{name}.json"
    if not path.is_file():
        raise ScenarioError(f"unknown scenario {name!r} (known: {', '.join(available())})")
    data = json.loads(path.read_text(encoding="utf-8"))
    return from_data(data, seed)


def _uuid(seed: int, *parts: Any) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "xentui-sim/%d/%s" % (seed, "/".join(map(str, parts)))))


def _mac(seed: int, host_index: int, nic: int, generation: int = 0) -> str:
    return "02:%02x:%02x:%02x:%02x:%02x" % (
        seed & 0xFF,
        generation & 0xFF,
        (host_index >> 8) & 0xFF,
        host_index & 0xFF,
        nic,
    )


def from_data(data: Dict[str, Any], seed: int = 0) -> Scenario:
    for key in ("name", "console", "root_password", "hosts"):
        if key not in data:
            raise ScenarioError(f"scenario lacks {key!r}")
    hosts_spec = data["hosts"]
    if isinstance(hosts_spec, dict):
        names = [f"{hosts_spec.get('prefix', 'xen')}{i + 1}" for i in range(int(hosts_spec["count"]))]
    else:
        names = [str(h) for h in hosts_spec]
    if len(names) > 200:
        raise ScenarioError("at most 200 hosts (loopback addresses 127.0.0.11-210)")
    nics = int(data.get("nics", 2))
    scenario = Scenario(
        name=data["name"],
        description=data.get("description", ""),
        console=data["console"],
        root_password=data["root_password"],
        data=data,
        master=data.get("master", names[0]),
    )
    for index, name in enumerate(names):
        scenario.hosts.append(
            HostSpec(
                name=name,
                uuid=_uuid(seed, data["name"], "host", name),
                address=f"127.0.0.{FIRST_HOST_OCTET + index}",
                macs=[_mac(seed, index, n) for n in range(nics)],
            )
        )
    if scenario.console not in names or scenario.master not in names:
        raise ScenarioError("console and master must name hosts of the scenario")
    return scenario


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(int(t), tz=timezone.utc)


def build_database(scenario: Scenario, now: float, seed: int = 0) -> Database:
    """The pool database as the master holds it while the pool is healthy."""
    data = scenario.data
    db = Database(lambda: now)
    nics = len(scenario.hosts[0].macs) if scenario.hosts else 0
    networks = []
    for n in range(nics):
        networks.append(
            db.create(
                "network",
                uuid=_uuid(seed, scenario.name, "net", n),
                name_label="Pool-wide network associated with eth%d" % n,
                bridge="xenbr%d" % n,
                MTU=1500,
                managed=True,
            )
        )
    host_refs: Dict[str, str] = {}
    for spec in scenario.hosts:
        total = host_memory_bytes(data, spec.name)
        metrics = db.create(
            "host_metrics",
            uuid=_uuid(seed, scenario.name, "hm", spec.name),
            memory_total=total,
            memory_free=total,
            live=True,
            last_updated=_dt(now),
        )
        host = db.create(
            "host",
            uuid=spec.uuid,
            name_label=spec.name,
            hostname=spec.name,
            address=spec.address,
            enabled=True,
            metrics=metrics,
            memory_overhead=memory.xen_overhead(total),
            API_version_major=2,
            API_version_minor=21,
            API_version_vendor="XenSource",
            edition="xcp-ng",
            sched_policy="credit",
            iscsi_iqn=iscsi_san.iqn_for(spec.uuid),
            other_config={"iscsi_iqn": iscsi_san.iqn_for(spec.uuid)},
        )
        host_facts.fill_host(db, host)
        host_refs[spec.name] = host
        dom0 = db.create(
            "VM",
            uuid=_uuid(seed, scenario.name, "dom0", spec.name),
            name_label="Control domain on host: %s" % spec.name,
            is_control_domain=True,
            power_state="Running",
            resident_on=host,
            domid=0,
            VCPUs_max=8,
            domain_type="pv",
            **_memory_fields(DOM0_MEMORY, 8, "pv"),
        )
        db.set_field("host", host, "control_domain", dom0)
        for n, mac in enumerate(spec.macs):
            pif_metrics = db.create(
                "PIF_metrics",
                carrier=True,
                speed=10000,
                duplex=True,
                device_name="eth%d" % n,
                vendor_name="Intel Corporation",
            )
            management = n == 0
            db.create(
                "PIF",
                uuid=_uuid(seed, scenario.name, "pif", spec.name, n),
                device="eth%d" % n,
                host=host,
                network=networks[n],
                MAC=mac,
                MTU=1500,
                VLAN=-1,
                metrics=pif_metrics,
                physical=True,
                currently_attached=management,
                management=management,
                managed=True,
                ip_configuration_mode="Static" if management else "None",
                IP=spec.address if management else "",
                netmask="255.0.0.0" if management else "",
                gateway="",
                DNS="",
                primary_address_type="IPv4",
                ipv6_configuration_mode="None",
            )
    pool = db.create(
        "pool",
        uuid=_uuid(seed, scenario.name, "pool"),
        name_label=data.get("pool_name", scenario.name),
        master=host_refs[scenario.master],
        ha_enabled=bool(data.get("ha")),
        ha_cluster_stack="xhad",
        ha_host_failures_to_tolerate=1 if data.get("ha") else 0,
    )
    srs: Dict[str, str] = {}
    for sr_spec in data.get("shared_srs", []):
        sr = db.create(
            "SR",
            uuid=_uuid(seed, scenario.name, "sr", sr_spec["name"]),
            name_label=sr_spec["name"],
            type=sr_spec.get("type", "lvmoiscsi"),
            shared=True,
            content_type="user",
            physical_size=4 * 1024**4,
        )
        srs[sr_spec["name"]] = sr
        for spec in scenario.hosts:
            db.create(
                "PBD",
                host=host_refs[spec.name],
                SR=sr,
                currently_attached=True,
                device_config={"target": "127.0.0.1", "SCSIid": sr_spec["name"]},
            )
    if srs:
        db.set_field("pool", pool, "default_SR", next(iter(srs.values())))
    if data.get("ha") and srs:
        # pool.ha_statefiles holds VDI refs (xapi_ha.ml): the statefile VDI on the heartbeat SR
        statefile = db.create(
            "VDI",
            uuid=_uuid(seed, scenario.name, "statefile"),
            SR=next(iter(srs.values())),
            name_label="Statefile for HA",
            type="ha_statefile",
            virtual_size=4 * 1024**2,
        )
        db.set_field("pool", pool, "ha_statefiles", [statefile])
    if data.get("local_srs", True):
        for spec in scenario.hosts:
            sr = db.create(
                "SR",
                uuid=_uuid(seed, scenario.name, "local", spec.name),
                name_label="Local storage on %s" % spec.name,
                type="lvm",
                shared=False,
                content_type="user",
                physical_size=512 * 1024**3,
            )
            srs["local:" + spec.name] = sr
            db.create(
                "PBD", host=host_refs[spec.name], SR=sr, currently_attached=True, device_config={"device": "/dev/sda3"}
            )
    vms = list(data.get("vms", []))
    gen = data.get("generate_vms")
    if gen:
        count = int(gen["count"])
        running = float(gen.get("running_fraction", 0.8))
        for i in range(count):
            host = scenario.hosts[i % len(scenario.hosts)].name
            vms.append(
                {"name": "vm%04d" % (i + 1), "host": host if (i % 100) < running * 100 else None, "sr": gen.get("sr")}
            )
    for vm in vms:
        create_vm(db, scenario, seed, vm, host_refs, srs, networks)
    memory.refresh_all_memory_free(db)
    return db


GIB = 1024**3
DOM0_MEMORY = 8 * GIB


def host_memory_bytes(data: Dict[str, Any], host: str) -> int:
    """`host_memory_gib`: one number for every host or {host: GiB} (default 256 GiB)."""
    spec = data.get("host_memory_gib", 256)
    if isinstance(spec, dict):
        spec = spec.get(host, 256)
    return int(float(spec) * GIB)


def _memory_fields(size: int, vcpus: int, domain_type: str) -> Dict[str, Any]:
    """A VM with fixed memory (static = dynamic = target) and xapi's cached overhead."""
    fields: Dict[str, Any] = dict(
        memory_static_min=size,
        memory_static_max=size,
        memory_dynamic_min=size,
        memory_dynamic_max=size,
        memory_target=size,
    )
    fields["memory_overhead"] = memory.vm_memory_overhead({**fields, "VCPUs_max": vcpus, "domain_type": domain_type})
    return fields


def create_vm(
    db: Database,
    scenario: Scenario,
    seed: int,
    vm: Dict[str, Any],
    host_refs: Dict[str, str],
    srs: Dict[str, str],
    networks: List[str],
) -> str:
    host = vm.get("host")
    state = vm.get("state", "Running" if host else "Halted")
    sr_name = vm.get("sr") or ("local:" + host if host else None)
    if sr_name not in srs:
        sr_name = next(iter(srs)) if srs else None
    ref = db.create(
        "VM",
        uuid=_uuid(seed, scenario.name, "vm", vm["name"]),
        name_label=vm["name"],
        power_state=state,
        resident_on=host_refs[host] if host and state != "Halted" else NULL_REF,
        affinity=host_refs[host] if host else NULL_REF,
        domid=-1,
        VCPUs_max=2,
        VCPUs_at_startup=2,
        domain_type="hvm",
        **_memory_fields(int(float(vm.get("memory_gib", 2)) * GIB), 2, "hvm"),
        ha_always_run=bool(vm.get("ha_always_run")),
        ha_restart_priority="restart" if vm.get("ha_always_run") else "",
    )
    if sr_name is not None:
        vdi = db.create(
            "VDI", name_label=vm["name"] + " disk 0", SR=srs[sr_name], virtual_size=20 * 1024**3, type="user"
        )
        db.create(
            "VBD",
            VM=ref,
            VDI=vdi,
            device="xvda",
            userdevice="0",
            bootable=True,
            mode="RW",
            type="Disk",
            currently_attached=state != "Halted",
        )
    if networks:
        db.create(
            "VIF",
            VM=ref,
            network=networks[0],
            device="0",
            MAC=_mac(seed, 250, len(db.refs("VIF")) % 256, 9),
            MTU=1500,
            currently_attached=state != "Halted",
        )
    if state != "Halted":
        host_facts.create_guest_metrics(db, ref)
    return ref


def host_refs_of(db: Database) -> Dict[str, str]:
    return {db.get_field("host", ref, "name_label"): ref for ref in db.refs("host")}


def srs_of(db: Database) -> Dict[str, str]:
    out = {}
    for ref in db.refs("SR"):
        label = db.get_field("SR", ref, "name_label")
        if label.startswith("Local storage on "):
            out["local:" + label[len("Local storage on ") :]] = ref
        else:
            out[label] = ref
    return out


__all__ = [
    "Scenario",
    "ScenarioError",
    "HostSpec",
    "available",
    "load",
    "from_data",
    "build_database",
    "create_vm",
    "ApiError",
]
