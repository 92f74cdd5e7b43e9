"""xapi's memory accounting, as the master does it before a VM starts.

Sources (xen-api HEAD): ocaml/xapi/memory_check.ml (`host_compute_free_memory_with_maximum_compression`,
`vm_compute_start_memory`, `vm_compute_used_memory`, `vm_compute_memory_overhead`) and
ocaml/xapi-idl/memory/memory.ml (`Memory_model`: overhead = extra + shadow + per-vCPU pages).

The master never asks the host how much is free: it subtracts, from
host_metrics.memory_total minus host.memory_overhead (what Xen keeps), the
dynamic_min + memory_overhead of every VM resident on or scheduled to the host,
dom0 included. host_metrics.memory_free is what the host reports (Xen's free
pages); the simulator writes the same sum there whenever a domain starts or stops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

MIB = 1024 * 1024
PAGE = 4096
PAGES_PER_MIB = MIB // PAGE


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def mib_of_bytes_used(value: int) -> int:
    return _ceil_div(int(value), MIB)


# Memory_model data per domain type: (extra_internal_mib, extra_external_mib)
_MODEL = {"hvm": (1, 1), "pvh": (1, 1), "pv": (0, 1), "pv_in_pvh": (1, 1)}


def _shim_mib(domain_type: str, static_max_mib: int) -> int:
    return 23 + static_max_mib // 90 if domain_type == "pv_in_pvh" else 0


def shadow_mib(static_max_mib: int, vcpus: int, multiplier: float) -> int:
    pages = 256 * vcpus + static_max_mib + static_max_mib
    return max(1, int(_ceil_div(pages, PAGES_PER_MIB) * multiplier))


def _multiplier(rec: Mapping[str, Any]) -> float:
    # Linux (pv) guests use the default shadow multiplier, the others the VM's own.
    if str(rec.get("domain_type") or "pv") == "pv":
        return 1.0
    return float(rec.get("HVM_shadow_multiplier") or 1.0)


def overhead_mib(rec: Mapping[str, Any]) -> int:
    domain_type = str(rec.get("domain_type") or "pv")
    internal, external = _MODEL.get(domain_type, _MODEL["hvm"])
    static_max_mib = mib_of_bytes_used(int(rec.get("memory_static_max") or 0))
    vcpus = int(rec.get("VCPUs_max") or 1)
    return (
        internal
        + external
        + shadow_mib(static_max_mib, vcpus, _multiplier(rec))
        + _ceil_div(38 * vcpus, PAGES_PER_MIB)
        + _shim_mib(domain_type, static_max_mib)
    )


def vm_memory_overhead(rec: Mapping[str, Any]) -> int:
    """Memory_check.vm_compute_memory_overhead, in bytes (VM.memory_overhead)."""
    return overhead_mib(rec) * MIB


def vm_start_memory(rec: Mapping[str, Any]) -> Tuple[int, int]:
    """Memory_check.vm_compute_start_memory with the Dynamic_min policy: (normal, shadow) bytes.
    required_host_free = dynamic_min (rounded up to MiB) + overhead."""
    target_mib = mib_of_bytes_used(int(rec.get("memory_dynamic_min") or 0))
    static_max_mib = mib_of_bytes_used(int(rec.get("memory_static_max") or 0))
    shadow = shadow_mib(static_max_mib, int(rec.get("VCPUs_max") or 1), _multiplier(rec))
    footprint = target_mib + overhead_mib(rec)
    return (footprint - shadow) * MIB, shadow * MIB


def vm_used_memory(rec: Mapping[str, Any]) -> int:
    """Memory_check.vm_compute_used_memory Dynamic_min: dynamic_min + memory_overhead."""
    return int(rec.get("memory_dynamic_min") or 0) + int(rec.get("memory_overhead") or 0)


def host_free_memory(db: "Database", host: str, ignore_vm: Optional[str] = None) -> int:
    """Memory_check.host_compute_free_memory_with_maximum_compression (never below 0)."""
    metrics = db.get_field("host", host, "metrics")
    total = int(db.get_field("host_metrics", metrics, "memory_total")) if db.exists("host_metrics", metrics) else 0
    available = total - int(db.get_field("host", host, "memory_overhead"))
    consumers = set(db.get_field("host", host, "resident_VMs"))
    consumers.update(v for v in db.find("VM", scheduled_to_be_resident_on=host) if v != ignore_vm)
    for vm in consumers:
        available -= int(db.get_field("VM", vm, "memory_dynamic_min")) + int(db.get_field("VM", vm, "memory_overhead"))
    return max(0, available)


def refresh_memory_free(db: "Database", host: str) -> None:
    """What the host's monitor thread reports after a domain came or went."""
    metrics = db.get_field("host", host, "metrics")
    if db.exists("host", host) and db.exists("host_metrics", metrics):
        db.set_field("host_metrics", metrics, "memory_free", host_free_memory(db, host))


def refresh_all_memory_free(db: "Database") -> None:
    """refresh_memory_free for every host in one pass over the VMs (scenario start)."""
    used = {host: 0 for host in db.refs("host")}
    for rec in db.records("VM").values():
        for host in {rec["resident_on"], rec["scheduled_to_be_resident_on"]}:
            if host in used:
                used[host] += vm_used_memory(rec)
    for host, consumed in used.items():
        metrics = db.get_field("host", host, "metrics")
        if db.exists("host_metrics", metrics):
            total = int(db.get_field("host_metrics", metrics, "memory_total"))
            free = max(0, total - int(db.get_field("host", host, "memory_overhead")) - consumed)
            db.set_field("host_metrics", metrics, "memory_free", free)


def xen_overhead(total: int) -> int:
    """host.memory_overhead. dbsync_slave.ml sets it to total - boot_free_mem plus
    squeezed's reserve; the simulator takes Xen's share (about 1/64 of RAM, in whole
    MiB) and counts dom0 once, as the resident VM it is."""
    return _ceil_div(total // 64, MIB) * MIB
