"""allowed_operations, kept current the way xapi keeps it: recomputed whenever
a field it depends on changes (xapi calls update_allowed_operations after
every such write; here the database does it inside the same write, so no
handler can forget).

Sources (xen-api HEAD): xapi_vm_lifecycle.ml `update_allowed_operations`
(power-state table of `is_allowed_sequentially`, nothing else while an
operation runs), xapi_host_helpers.ml `valid_operations` (reboot/shutdown
only on a disabled host; power_on needs a power_on_mode), xapi_sr_operations.ml
(destroy/forget only with every PBD unplugged), xapi_vdi.ml `check_operation_error`
(an attached VDI cannot be destroyed, forgotten or have its data destroyed),
xapi_pool_helpers.ml `compute_valid_operations` (nothing while a pool operation runs;
ha_enable only with HA off, ha_disable only with it on).

Simplifications, all towards allowing less: SM capabilities are those of an
LVM-over-iSCSI SR for every SR; the host's `enable` operation (newer than some
24.x builds) is never offered; a VM in a non-empty current_operations allows nothing.
Cost: O(1) per write of a trigger field, plus one row per dependent (a PBD's
SR, a VBD's VDI).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Tuple

NULL_REF = "OpaqueRef:NULL"

_VM_BY_STATE = {
    "Halted": (
        "start",
        "start_on",
        "clone",
        "copy",
        "snapshot",
        "export",
        "destroy",
        "make_into_template",
        "provision",
        "changing_VCPUs",
        "changing_memory_limits",
        "changing_static_range",
        "changing_dynamic_range",
        "changing_shadow_memory",
        "metadata_export",
    ),
    "Running": (
        "clean_shutdown",
        "hard_shutdown",
        "clean_reboot",
        "hard_reboot",
        "suspend",
        "pause",
        "pool_migrate",
        "migrate_send",
        "snapshot",
        "checkpoint",
        "changing_VCPUs_live",
        "changing_dynamic_range",
        "changing_memory_live",
        "metadata_export",
        "send_sysrq",
        "send_trigger",
    ),
    "Paused": ("unpause", "hard_shutdown", "hard_reboot", "metadata_export"),
    "Suspended": (
        "resume",
        "resume_on",
        "hard_shutdown",
        "clone",
        "copy",
        "snapshot",
        "export",
        "destroy",
        "metadata_export",
    ),
}
_TEMPLATE_OPS = (
    "clone",
    "copy",
    "export",
    "destroy",
    "provision",
    "metadata_export",
    "changing_memory_limits",
    "changing_static_range",
    "changing_VCPUs",
)
_CONTROL_DOMAIN_OPS = ("changing_dynamic_range", "changing_memory_live", "metadata_export")

_HOST_ALWAYS = ("provision", "evacuate", "vm_start", "vm_resume", "vm_migrate")
_HOST_DISABLED_ONLY = ("reboot", "shutdown", "apply_updates")

_SR_OPS = (
    "scan",
    "plug",
    "unplug",
    "update",
    "vdi_create",
    "vdi_introduce",
    "vdi_destroy",
    "vdi_resize",
    "vdi_clone",
    "vdi_snapshot",
    "vdi_mirror",
    "vdi_enable_cbt",
    "vdi_disable_cbt",
    "vdi_data_destroy",
    "vdi_list_changed_blocks",
    "vdi_set_on_boot",
    "pbd_create",
    "pbd_destroy",
)
_SR_UNPLUGGED_ONLY = ("destroy", "forget")

_VDI_OPS = (
    "clone",
    "copy",
    "snapshot",
    "mirror",
    "resize",
    "resize_online",
    "generate_config",
    "enable_cbt",
    "disable_cbt",
    "list_changed_blocks",
    "update",
    "blocked",
)
_VDI_DETACHED_ONLY = ("destroy", "forget", "data_destroy", "set_on_boot")


def vm_ops(db: Any, ref: str, f: Mapping[str, Any]) -> List[str]:
    if f.get("current_operations"):
        return []
    if f.get("is_control_domain"):
        return list(_CONTROL_DOMAIN_OPS)
    if f.get("is_a_template") or f.get("is_a_snapshot"):
        return list(_TEMPLATE_OPS)
    blocked = f.get("blocked_operations") or {}
    return [op for op in _VM_BY_STATE.get(str(f.get("power_state")), ()) if op not in blocked]


def host_ops(db: Any, ref: str, f: Mapping[str, Any]) -> List[str]:
    if f.get("current_operations"):
        return []
    ops = list(_HOST_ALWAYS)
    if not f.get("enabled"):
        ops.extend(_HOST_DISABLED_ONLY)
    if f.get("power_on_mode"):
        metrics = f.get("metrics", NULL_REF)
        if db.exists("host_metrics", metrics) and not db.get_field("host_metrics", metrics, "live"):
            ops.append("power_on")
    return ops


def sr_ops(db: Any, ref: str, f: Mapping[str, Any]) -> List[str]:
    if f.get("current_operations"):
        return []
    ops = list(_SR_OPS)
    pbds = db.get_field("SR", ref, "PBDs") if db.exists("SR", ref) else []
    if not any(db.get_field("PBD", p, "currently_attached") for p in pbds):
        ops.extend(_SR_UNPLUGGED_ONLY)
    return ops


def vdi_ops(db: Any, ref: str, f: Mapping[str, Any]) -> List[str]:
    if f.get("current_operations"):
        return []
    ops = list(_VDI_OPS)
    vbds = db.get_field("VDI", ref, "VBDs") if db.exists("VDI", ref) else []
    if not any(db.get_field("VBD", v, "currently_attached") for v in vbds):
        ops.extend(_VDI_DETACHED_ONLY)
    return ops


# xapi_pool_helpers.ml compute_valid_operations. Operations newer than xapi 24.19 are
# left out (exchange_crls_on_join is 26.13.0 per datamodel_lifecycle.ml; sync_bundle
# could not be dated, so it is left out too).
_POOL_BLOCKING = (
    "ha_enable",
    "ha_disable",
    "cluster_create",
    "designate_new_master",
    "tls_verification_enable",
    "configure_repositories",
    "sync_updates",
    "apply_updates",
)
_POOL_WAITING = (
    "cert_refresh",
    "exchange_certificates_on_join",
    "exchange_ca_certificates_on_join",
    "copy_primary_host_certs",
    "eject",
    "get_updates",
)


def pool_ops(db: Any, ref: str, f: Mapping[str, Any]) -> List[str]:
    if f.get("current_operations"):
        return []  # a blocking or waiting operation in progress invalidates every operation
    ops = list(_POOL_BLOCKING) + list(_POOL_WAITING)
    if f.get("ha_enabled"):
        ops = [op for op in ops if op not in ("ha_enable", "tls_verification_enable", "cluster_create")]
    else:
        ops.remove("ha_disable")
    return ops


Derive = Callable[[Any, str, Mapping[str, Any]], List[str]]

# class -> (fields that change the answer, how to compute it)
DERIVED: Dict[str, Tuple[FrozenSet[str], Derive]] = {
    "VM": (
        frozenset(
            {
                "power_state",
                "current_operations",
                "is_control_domain",
                "is_a_template",
                "is_a_snapshot",
                "blocked_operations",
            }
        ),
        vm_ops,
    ),
    "host": (frozenset({"enabled", "current_operations", "power_on_mode"}), host_ops),
    "SR": (frozenset({"current_operations"}), sr_ops),
    "VDI": (frozenset({"current_operations"}), vdi_ops),
    "pool": (frozenset({"current_operations", "ha_enabled"}), pool_ops),
}

# pointing class -> (fields that change the owner's answer, pointer field, owner class)
DEPENDENTS: Dict[str, Tuple[FrozenSet[str], str, str]] = {
    "PBD": (frozenset({"currently_attached", "SR"}), "SR", "SR"),
    "VBD": (frozenset({"currently_attached", "VDI"}), "VDI", "VDI"),
}
