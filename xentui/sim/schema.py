"""The datamodel subset the simulator stores, with xapi's names and wire types.

Field lists follow xapi-semantics.md §5 and ocaml/idl/datamodel_*.ml: a
realistic subset of each class, always including every field
xentui/xapi/model.py reads. Which fields get a generic `set_<field>` follows
the datamodel's `~qualifier:RW` (a realistic subset of it).

Reverse (one-to-many) set fields such as host.resident_VMs are not stored:
the database computes them from the pointing field (VM.resident_on), exactly
as xapi's database layer does, so they can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Dict, Iterable, Optional, Tuple

NULL_REF = "OpaqueRef:NULL"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

FIELD_TYPES = frozenset(
    {"string", "int", "float", "bool", "datetime", "ref", "enum", "string_set", "ref_set", "map", "int_set"}
)


@dataclass(frozen=True)
class FieldSchema:
    name: str
    type: str
    default: Any = None
    settable: bool = False
    ref_class: Optional[str] = None
    # For computed one-to-many sets: (pointing class, pointing field).
    reverse_of: Optional[Tuple[str, str]] = None

    @property
    def computed(self) -> bool:
        return self.reverse_of is not None

    def fresh_default(self) -> Any:
        """A new default value (maps and sets must not be shared between rows)."""
        if self.type == "map":
            return dict(self.default or {})
        if self.type in ("string_set", "ref_set", "int_set"):
            return list(self.default or ())
        return self.default


@dataclass(frozen=True)
class ClassSchema:
    name: str
    fields: Dict[str, FieldSchema] = field(default_factory=dict)
    gen_events: bool = True

    @property
    def has_name_label(self) -> bool:
        return "name_label" in self.fields

    # Cached: every record an event.from or get_all_records returns walks
    # these (2,582 records in one snapshot of `large`), and `fields` is never
    # changed once the class is declared.
    @cached_property
    def stored_fields(self) -> Tuple[FieldSchema, ...]:
        return tuple(f for f in self.fields.values() if not f.computed)

    @cached_property
    def computed_fields(self) -> Tuple[FieldSchema, ...]:
        return tuple(f for f in self.fields.values() if f.computed)


# --- a compact way to write the field tables ---------------------------------

_DEFAULTS = {
    "string": "",
    "int": 0,
    "float": 0.0,
    "bool": False,
    "datetime": EPOCH,
    "ref": NULL_REF,
    "enum": "",
    "string_set": (),
    "ref_set": (),
    "map": None,
    "int_set": (),
}


def _f(
    name: str,
    type_: str,
    default: Any = None,
    rw: bool = False,
    ref: Optional[str] = None,
    rev: Optional[Tuple[str, str]] = None,
) -> FieldSchema:
    if type_ not in FIELD_TYPES:
        raise ValueError(f"unknown field type {type_!r} for {name}")
    if default is None:
        default = _DEFAULTS[type_]
    return FieldSchema(name=name, type=type_, default=default, settable=rw, ref_class=ref, reverse_of=rev)


def _common(named: bool = True, tags: bool = False) -> Tuple[FieldSchema, ...]:
    out = [_f("uuid", "string")]
    if named:
        out += [_f("name_label", "string", rw=True), _f("name_description", "string", rw=True)]
    if tags:
        out.append(_f("tags", "string_set", rw=True))
    return tuple(out)


def _ops() -> Tuple[FieldSchema, ...]:
    return (_f("allowed_operations", "string_set"), _f("current_operations", "map"))


def _cls(name: str, fields: Iterable[FieldSchema], gen_events: bool = True) -> ClassSchema:
    table: Dict[str, FieldSchema] = {}
    for fs in fields:
        if fs.name in table:
            raise ValueError(f"duplicate field {name}.{fs.name}")
        table[fs.name] = fs
    return ClassSchema(name=name, fields=table, gen_events=gen_events)


_POOL = _cls(
    "pool",
    (
        *_common(tags=True),
        _f("master", "ref", ref="host"),
        _f("default_SR", "ref", rw=True, ref="SR"),
        _f("suspend_image_SR", "ref", rw=True, ref="SR"),
        _f("crash_dump_SR", "ref", rw=True, ref="SR"),
        _f("other_config", "map", rw=True),
        _f("ha_enabled", "bool"),
        _f("ha_configuration", "map"),
        _f("ha_statefiles", "string_set"),
        _f("ha_host_failures_to_tolerate", "int"),
        _f("ha_plan_exists_for", "int"),
        _f("ha_allow_overcommit", "bool", rw=True),
        _f("ha_overcommitted", "bool"),
        _f("ha_cluster_stack", "string", "xhad"),
        _f("blobs", "map"),
        _f("gui_config", "map", rw=True),
        _f("health_check_config", "map", rw=True),
        _f("wlb_url", "string"),
        _f("wlb_username", "string"),
        _f("wlb_enabled", "bool", rw=True),
        _f("wlb_verify_cert", "bool", rw=True),
        _f("redo_log_enabled", "bool"),
        _f("redo_log_vdi", "ref", ref="VDI"),
        _f("vswitch_controller", "string"),
        _f("restrictions", "map"),
        _f("metadata_VDIs", "ref_set"),
        _f("guest_agent_config", "map"),
        _f("cpu_info", "map"),
        _f("policy_no_vendor_device", "bool", rw=True),
        _f("live_patching_disabled", "bool", rw=True),
        _f("igmp_snooping_enabled", "bool"),
        _f("is_psr_pending", "bool", rw=True),
        _f("tls_verification_enabled", "bool"),
        _f("migration_compression", "bool", rw=True),
        _f("coordinator_bias", "bool", True, rw=True),
        *_ops(),
    ),
)

# Fields are those of xapi 24.19 (datamodel_lifecycle.ml dates the newer ones: the ssh_*
# and console_idle_timeout fields are 25.21+, max_cstate 26.0, secure_boot 25.31,
# VM_guest_metrics.netbios_name 24.28: left out).
_HOST = _cls(
    "host",
    (
        *_common(tags=True),
        _f("memory_overhead", "int"),
        *_ops(),
        _f("API_version_major", "int", 2),
        _f("API_version_minor", "int", 21),
        _f("API_version_vendor", "string", "XenSource"),
        _f("API_version_vendor_implementation", "map"),
        _f("enabled", "bool", True),
        _f("software_version", "map"),
        _f("other_config", "map", rw=True),
        _f("capabilities", "string_set"),
        _f("cpu_configuration", "map"),
        _f("sched_policy", "string", "credit"),
        _f("supported_bootloaders", "string_set", ("pygrub", "eliloader")),
        _f("resident_VMs", "ref_set", ref="VM", rev=("VM", "resident_on")),
        _f("logging", "map", rw=True),
        _f("PIFs", "ref_set", ref="PIF", rev=("PIF", "host")),
        _f("suspend_image_sr", "ref", rw=True, ref="SR"),
        _f("crash_dump_sr", "ref", rw=True, ref="SR"),
        _f("crashdumps", "ref_set"),
        _f("patches", "ref_set"),
        _f("updates", "ref_set"),
        _f("PBDs", "ref_set", ref="PBD", rev=("PBD", "host")),
        _f("host_CPUs", "ref_set", ref="host_cpu", rev=("host_cpu", "host")),
        _f("cpu_info", "map"),
        _f("hostname", "string"),
        _f("address", "string"),
        _f("metrics", "ref", ref="host_metrics"),
        _f("license_params", "map"),
        _f("boot_free_mem", "int"),
        _f("ha_statefiles", "string_set"),
        _f("ha_network_peers", "string_set"),
        _f("blobs", "map"),
        _f("external_auth_type", "string"),
        _f("external_auth_service_name", "string"),
        _f("external_auth_configuration", "map"),
        _f("edition", "string", "xcp-ng"),
        _f("license_server", "map", {"address": "localhost", "port": "27000"}),
        _f("bios_strings", "map"),
        _f("power_on_mode", "string"),
        _f("power_on_config", "map"),
        _f("local_cache_sr", "ref", ref="SR"),
        _f("chipset_info", "map"),
        _f("PCIs", "ref_set"),
        _f("PGPUs", "ref_set"),
        _f("PUSBs", "ref_set"),
        _f("ssl_legacy", "bool"),
        _f("guest_VCPUs_params", "map", rw=True),
        _f("display", "enum", "enabled"),
        _f("virtual_hardware_platform_versions", "int_set", (0, 1, 2)),
        _f("control_domain", "ref", ref="VM"),
        _f("updates_requiring_reboot", "ref_set"),
        _f("features", "ref_set"),
        _f("iscsi_iqn", "string"),
        _f("multipathing", "bool"),
        _f("uefi_certificates", "string"),
        _f("certificates", "ref_set"),
        _f("editions", "string_set", ("xcp-ng",)),
        _f("pending_guidances", "string_set"),
        _f("tls_verification_enabled", "bool"),
        _f("last_software_update", "datetime"),
        _f("https_only", "bool"),
        _f("recommended_guidances", "string_set"),
        _f("latest_synced_updates_applied", "enum", "unknown"),
        _f("numa_affinity_policy", "enum", "default_policy"),
        _f("pending_guidances_recommended", "string_set"),
        _f("pending_guidances_full", "string_set"),
        _f("last_update_hash", "string"),
    ),
)

_HOST_METRICS = _cls(
    "host_metrics",
    (
        _f("uuid", "string"),
        _f("memory_total", "int"),
        _f("memory_free", "int"),
        _f("live", "bool"),
        _f("last_updated", "datetime"),
        _f("other_config", "map", rw=True),
    ),
)

# Deprecated since Midnight Ride in favour of host.cpu_info, but create_misc.ml
# create_host_cpuinfo still recreates one per logical CPU at every start.
_HOST_CPU = _cls(
    "host_cpu",
    (
        _f("uuid", "string"),
        _f("host", "ref", ref="host"),
        _f("number", "int"),
        _f("vendor", "string"),
        _f("speed", "int"),
        _f("modelname", "string"),
        _f("family", "int"),
        _f("model", "int"),
        _f("stepping", "string"),
        _f("flags", "string"),
        _f("features", "string"),
        _f("utilisation", "float"),
        _f("other_config", "map", rw=True),
    ),
)

_PIF = _cls(
    "PIF",
    (
        _f("uuid", "string"),
        _f("device", "string"),
        _f("network", "ref", ref="network"),
        _f("host", "ref", ref="host"),
        _f("MAC", "string"),
        _f("MTU", "int", 1500),
        _f("VLAN", "int", -1),
        _f("metrics", "ref", ref="PIF_metrics"),
        _f("physical", "bool", True),
        _f("currently_attached", "bool", True),
        _f("ip_configuration_mode", "enum", "None"),
        _f("IP", "string"),
        _f("netmask", "string"),
        _f("gateway", "string"),
        _f("DNS", "string"),
        _f("bond_slave_of", "ref", ref="Bond"),
        _f("bond_master_of", "ref_set"),
        _f("VLAN_master_of", "ref", ref="VLAN"),
        _f("VLAN_slave_of", "ref_set"),
        _f("management", "bool"),
        _f("other_config", "map", rw=True),
        _f("disallow_unplug", "bool", rw=True),
        _f("tunnel_access_PIF_of", "ref_set"),
        _f("tunnel_transport_PIF_of", "ref_set"),
        _f("ipv6_configuration_mode", "enum", "None"),
        _f("IPv6", "string_set"),
        _f("ipv6_gateway", "string"),
        _f("primary_address_type", "enum", "IPv4"),
        _f("managed", "bool", True),
        _f("properties", "map"),
        _f("capabilities", "string_set"),
        _f("igmp_snooping_status", "enum", "unknown"),
        _f("sriov_physical_PIF_of", "ref_set"),
        _f("sriov_logical_PIF_of", "ref_set"),
        _f("PCI", "ref", ref="PCI"),
    ),
)

_PIF_METRICS = _cls(
    "PIF_metrics",
    (
        _f("uuid", "string"),
        _f("io_read_kbs", "float"),
        _f("io_write_kbs", "float"),
        _f("carrier", "bool", True),
        _f("vendor_id", "string"),
        _f("vendor_name", "string"),
        _f("device_id", "string"),
        _f("device_name", "string"),
        _f("speed", "int", 1000),
        _f("duplex", "bool", True),
        _f("pci_bus_path", "string"),
        _f("last_updated", "datetime"),
        _f("other_config", "map", rw=True),
    ),
)

_NETWORK = _cls(
    "network",
    (
        *_common(tags=True),
        *_ops(),
        _f("VIFs", "ref_set", ref="VIF", rev=("VIF", "network")),
        _f("PIFs", "ref_set", ref="PIF", rev=("PIF", "network")),
        _f("MTU", "int", 1500, rw=True),
        _f("other_config", "map", rw=True),
        _f("bridge", "string"),
        _f("managed", "bool", True),
        _f("blobs", "map"),
        _f("default_locking_mode", "enum", "unlocked", rw=True),
        _f("assigned_ips", "map"),
        _f("purpose", "string_set"),
    ),
)

_VM = _cls(
    "VM",
    (
        *_common(tags=True),
        *_ops(),
        _f("power_state", "enum", "Halted"),
        _f("user_version", "int", 1, rw=True),
        _f("is_a_template", "bool", rw=True),
        _f("is_default_template", "bool"),
        _f("suspend_VDI", "ref", ref="VDI"),
        _f("resident_on", "ref", ref="host"),
        _f("scheduled_to_be_resident_on", "ref", ref="host"),
        _f("affinity", "ref", rw=True, ref="host"),
        _f("memory_overhead", "int"),
        _f("memory_target", "int"),
        _f("memory_static_max", "int"),
        _f("memory_dynamic_max", "int"),
        _f("memory_dynamic_min", "int"),
        _f("memory_static_min", "int"),
        _f("VCPUs_params", "map", rw=True),
        _f("VCPUs_max", "int", 1),
        _f("VCPUs_at_startup", "int", 1),
        _f("actions_after_shutdown", "enum", "destroy"),
        _f("actions_after_reboot", "enum", "restart"),
        _f("actions_after_crash", "enum", "restart"),
        _f("consoles", "ref_set"),
        _f("VIFs", "ref_set", ref="VIF", rev=("VIF", "VM")),
        _f("VBDs", "ref_set", ref="VBD", rev=("VBD", "VM")),
        _f("crash_dumps", "ref_set"),
        _f("VTPMs", "ref_set"),
        _f("PV_bootloader", "string"),
        _f("PV_kernel", "string"),
        _f("PV_ramdisk", "string"),
        _f("PV_args", "string", rw=True),
        _f("PV_bootloader_args", "string"),
        _f("PV_legacy_args", "string"),
        _f("HVM_boot_policy", "string", "BIOS order"),
        _f("HVM_boot_params", "map", rw=True),
        _f("HVM_shadow_multiplier", "float", 1.0),
        _f("platform", "map", rw=True),
        _f("PCI_bus", "string"),
        _f("other_config", "map", rw=True),
        _f("domid", "int", -1),
        _f("domarch", "string"),
        _f("last_boot_CPU_flags", "map"),
        _f("is_control_domain", "bool"),
        _f("metrics", "ref", ref="VM_metrics"),
        _f("guest_metrics", "ref", ref="VM_guest_metrics"),
        _f("last_booted_record", "string"),
        _f("recommendations", "string", rw=True),
        _f("xenstore_data", "map", rw=True),
        _f("ha_always_run", "bool"),
        _f("ha_restart_priority", "string"),
        _f("is_a_snapshot", "bool"),
        _f("snapshot_of", "ref", ref="VM"),
        _f("snapshots", "ref_set"),
        _f("snapshot_time", "datetime"),
        _f("transportable_snapshot_id", "string"),
        _f("blobs", "map"),
        _f("blocked_operations", "map", rw=True),
        _f("snapshot_info", "map"),
        _f("snapshot_metadata", "string"),
        _f("parent", "ref", ref="VM"),
        _f("children", "ref_set"),
        _f("bios_strings", "map"),
        _f("protection_policy", "ref", ref="VMPP"),
        _f("is_snapshot_from_vmpp", "bool"),
        _f("snapshot_schedule", "ref", ref="VMSS"),
        _f("is_vmss_snapshot", "bool"),
        _f("appliance", "ref", ref="VM_appliance"),
        _f("start_delay", "int"),
        _f("shutdown_delay", "int"),
        _f("order", "int"),
        _f("VGPUs", "ref_set"),
        _f("attached_PCIs", "ref_set"),
        _f("suspend_SR", "ref", rw=True, ref="SR"),
        _f("version", "int"),
        _f("generation_id", "string"),
        _f("hardware_platform_version", "int"),
        _f("has_vendor_device", "bool"),
        _f("requires_reboot", "bool"),
        _f("reference_label", "string"),
        _f("domain_type", "enum", "pv"),
        _f("NVRAM", "map"),
        _f("pending_guidances", "string_set"),
    ),
)

_VM_METRICS = _cls(
    "VM_metrics",
    (
        _f("uuid", "string"),
        _f("memory_actual", "int"),
        _f("VCPUs_number", "int"),
        _f("VCPUs_utilisation", "map"),
        _f("VCPUs_CPU", "map"),
        _f("VCPUs_params", "map"),
        _f("VCPUs_flags", "map"),
        _f("state", "string_set"),
        _f("start_time", "datetime"),
        _f("install_time", "datetime"),
        _f("last_updated", "datetime"),
        _f("other_config", "map", rw=True),
        _f("hvm", "bool"),
        _f("nested_virt", "bool"),
        _f("nomigrate", "bool"),
        _f("current_domain_type", "enum", "pv"),
    ),
)

_VM_GUEST_METRICS = _cls(
    "VM_guest_metrics",
    (
        _f("uuid", "string"),
        _f("os_version", "map"),
        _f("PV_drivers_version", "map"),
        _f("PV_drivers_up_to_date", "bool"),
        _f("memory", "map"),
        _f("disks", "map"),
        _f("networks", "map"),
        _f("other", "map"),
        _f("last_updated", "datetime"),
        _f("other_config", "map", rw=True),
        _f("live", "bool"),
        _f("can_use_hotplug_vbd", "enum", "unspecified"),
        _f("can_use_hotplug_vif", "enum", "unspecified"),
        _f("PV_drivers_detected", "bool"),
    ),
)

_SR = _cls(
    "SR",
    (
        *_common(tags=True),
        *_ops(),
        _f("VDIs", "ref_set", ref="VDI", rev=("VDI", "SR")),
        _f("PBDs", "ref_set", ref="PBD", rev=("PBD", "SR")),
        _f("virtual_allocation", "int"),
        _f("physical_utilisation", "int"),
        _f("physical_size", "int"),
        _f("type", "string"),
        _f("content_type", "string"),
        _f("shared", "bool"),
        _f("other_config", "map", rw=True),
        _f("sm_config", "map", rw=True),
        _f("blobs", "map"),
        _f("local_cache_enabled", "bool"),
        _f("introduced_by", "ref", ref="DR_task"),
        _f("clustered", "bool"),
        _f("is_tools_sr", "bool"),
    ),
)

_PBD = _cls(
    "PBD",
    (
        _f("uuid", "string"),
        _f("host", "ref", ref="host"),
        _f("SR", "ref", ref="SR"),
        _f("device_config", "map", rw=True),
        _f("currently_attached", "bool"),
        _f("other_config", "map", rw=True),
    ),
)

_VDI = _cls(
    "VDI",
    (
        *_common(tags=True),
        *_ops(),
        _f("SR", "ref", ref="SR"),
        _f("VBDs", "ref_set", ref="VBD", rev=("VBD", "VDI")),
        _f("crash_dumps", "ref_set"),
        _f("virtual_size", "int"),
        _f("physical_utilisation", "int"),
        _f("type", "enum", "user"),
        _f("sharable", "bool"),
        _f("read_only", "bool"),
        _f("other_config", "map", rw=True),
        _f("storage_lock", "bool"),
        _f("location", "string"),
        _f("managed", "bool", True),
        _f("missing", "bool"),
        _f("parent", "ref", ref="VDI"),
        _f("xenstore_data", "map", rw=True),
        _f("sm_config", "map", rw=True),
        _f("is_a_snapshot", "bool"),
        _f("snapshot_of", "ref", ref="VDI"),
        _f("snapshots", "ref_set"),
        _f("snapshot_time", "datetime"),
        _f("allow_caching", "bool"),
        _f("on_boot", "enum", "persist"),
        _f("metadata_of_pool", "ref", ref="pool"),
        _f("metadata_latest", "bool"),
        _f("is_tools_iso", "bool"),
        _f("cbt_enabled", "bool"),
    ),
)

_VBD = _cls(
    "VBD",
    (
        _f("uuid", "string"),
        *_ops(),
        _f("VM", "ref", ref="VM"),
        _f("VDI", "ref", ref="VDI"),
        _f("device", "string"),
        _f("userdevice", "string", "0"),
        _f("bootable", "bool"),
        _f("mode", "enum", "RW"),
        _f("type", "enum", "Disk"),
        _f("unpluggable", "bool", True),
        _f("storage_lock", "bool"),
        _f("empty", "bool"),
        _f("other_config", "map", rw=True),
        _f("currently_attached", "bool"),
        _f("status_code", "int"),
        _f("status_detail", "string"),
        _f("runtime_properties", "map"),
        _f("qos_algorithm_type", "string"),
        _f("qos_algorithm_params", "map"),
        _f("qos_supported_algorithms", "string_set"),
        _f("metrics", "ref", ref="VBD_metrics"),
    ),
)

_VIF = _cls(
    "VIF",
    (
        _f("uuid", "string"),
        *_ops(),
        _f("device", "string", "0"),
        _f("network", "ref", ref="network"),
        _f("VM", "ref", ref="VM"),
        _f("MAC", "string"),
        _f("MTU", "int", 1500),
        _f("other_config", "map", rw=True),
        _f("currently_attached", "bool"),
        _f("status_code", "int"),
        _f("status_detail", "string"),
        _f("runtime_properties", "map"),
        _f("qos_algorithm_type", "string"),
        _f("qos_algorithm_params", "map"),
        _f("qos_supported_algorithms", "string_set"),
        _f("metrics", "ref", ref="VIF_metrics"),
        _f("MAC_autogenerated", "bool"),
        _f("locking_mode", "enum", "network_default"),
        _f("ipv4_allowed", "string_set"),
        _f("ipv6_allowed", "string_set"),
        _f("ipv4_configuration_mode", "enum", "None"),
        _f("ipv4_addresses", "string_set"),
        _f("ipv4_gateway", "string"),
        _f("ipv6_configuration_mode", "enum", "None"),
        _f("ipv6_addresses", "string_set"),
        _f("ipv6_gateway", "string"),
    ),
)

_TASK = _cls(
    "task",
    (
        *_common(),
        *_ops(),
        _f("created", "datetime"),
        _f("finished", "datetime"),
        _f("status", "enum", "pending"),
        _f("resident_on", "ref", ref="host"),
        _f("progress", "float"),
        _f("type", "string"),
        _f("result", "string"),
        _f("error_info", "string_set"),
        _f("other_config", "map", rw=True),
        _f("subtask_of", "ref", ref="task"),
        _f("subtasks", "ref_set", ref="task", rev=("task", "subtask_of")),
        _f("backtrace", "string"),
    ),
)

_MESSAGE = _cls(
    "message",
    (
        _f("uuid", "string"),
        _f("name", "string"),
        _f("priority", "int"),
        _f("cls", "enum", "Host"),
        _f("obj_uuid", "string"),
        _f("timestamp", "datetime"),
        _f("body", "string"),
    ),
)

# Sessions live in the database (xapi keeps them there) but generate no events.
_SESSION = _cls(
    "session",
    (
        _f("uuid", "string"),
        _f("this_host", "ref", ref="host"),
        _f("this_user", "ref", ref="user"),
        _f("last_active", "datetime"),
        _f("pool", "bool"),
        _f("other_config", "map", rw=True),
        _f("is_local_superuser", "bool"),
        _f("subject", "ref", ref="subject"),
        _f("validation_time", "datetime"),
        _f("auth_user_sid", "string"),
        _f("auth_user_name", "string"),
        _f("rbac_permissions", "string_set"),
        _f("tasks", "ref_set"),
        _f("parent", "ref", ref="session"),
        _f("originator", "string"),
        _f("client_certificate", "bool"),
    ),
    gen_events=False,
)


CLASSES: Dict[str, ClassSchema] = {
    c.name: c
    for c in (
        _POOL,
        _HOST,
        _HOST_METRICS,
        _HOST_CPU,
        _PIF,
        _PIF_METRICS,
        _NETWORK,
        _VM,
        _VM_METRICS,
        _VM_GUEST_METRICS,
        _SR,
        _PBD,
        _VDI,
        _VBD,
        _VIF,
        _TASK,
        _MESSAGE,
        _SESSION,
    )
}

# Lower-case event class name -> datamodel class name ("vm" -> "VM").
BY_LOWER: Dict[str, str] = {name.lower(): name for name in CLASSES}


def _check_reverse_fields() -> None:
    """Fail at import time if a computed set points at a missing field."""
    for cls in CLASSES.values():
        for fs in cls.computed_fields:
            src_cls, src_field = fs.reverse_of  # type: ignore[misc]
            src = CLASSES[src_cls].fields[src_field]
            if src.type != "ref" or src.ref_class != cls.name:
                raise ValueError(f"{cls.name}.{fs.name}: {src_cls}.{src_field} does not point here")


_check_reverse_fields()


# --- value coercion (what ocaml-rpc's unmarshallers accept) ------------------


class FieldTypeError(ValueError):
    """A value that cannot be stored in a field of this type."""


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldTypeError(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise FieldTypeError(value) from None
    raise FieldTypeError(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise FieldTypeError(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise FieldTypeError(value) from None
    raise FieldTypeError(value)


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Simulated POSIX time, as the clock hands it out.
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    text = str(getattr(value, "value", value))  # xmlrpc.client.DateTime has .value
    for fmt in ("%Y%m%dT%H:%M:%SZ", "%Y%m%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise FieldTypeError(value)


def coerce(fs: FieldSchema, value: Any) -> Any:
    """Convert a Python/wire value to the stored form of field `fs`.

    Accepts what xapi's unmarshallers accept (int64 from int or decimal
    string, float from double/int/string, datetime from string or dateTime)
    plus POSIX floats for datetimes, which is what the simulator's clock gives.
    """
    t = fs.type
    if t in ("string", "enum"):
        if isinstance(value, (str,)):
            return value
        if value is None:
            return ""
        if isinstance(value, (dict, list, tuple)):
            raise FieldTypeError(value)
        return str(value)
    if t == "ref":
        if value is None or value == "":
            return NULL_REF
        if not isinstance(value, str):
            raise FieldTypeError(value)
        return value
    if t == "int":
        return _to_int(value)
    if t == "float":
        return _to_float(value)
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise FieldTypeError(value)
    if t == "datetime":
        return _to_datetime(value)
    if t == "map":
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise FieldTypeError(value)
        return {str(k): (v if isinstance(v, str) else str(v)) for k, v in value.items()}
    if t in ("string_set", "ref_set"):
        if value is None:
            return []
        if isinstance(value, (str, bytes, dict)):
            raise FieldTypeError(value)
        return [v if isinstance(v, str) else str(v) for v in value]
    if t == "int_set":
        if value is None:
            return []
        if isinstance(value, (str, bytes, dict)):
            raise FieldTypeError(value)
        return [_to_int(v) for v in value]
    raise FieldTypeError(value)
