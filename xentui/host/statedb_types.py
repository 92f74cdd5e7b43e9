"""Field types for decoding state.db values.

state.db stores every value as a string; only the datamodel says whether
"true" is a bool or a name, or whether "('a')" is a set. This table lists the
non-string fields of the classes a recovery reader uses (checked against
ocaml/idl/datamodel*.ml). Fields not listed stay strings: that is always
safe, because references, enums, datetimes and strings are strings on the wire
too. Keys are lower-case class names and API field names.
"""

from __future__ import annotations

from typing import Dict, FrozenSet

BOOL = "bool"
INT = "int"
FLOAT = "float"
SET = "set"
MAP = "map"


def _kinds(**groups: str) -> Dict[str, str]:
    """`_kinds(bool="a b", int="c")` -> {"a": "bool", "b": "bool", "c": "int"}."""
    table: Dict[str, str] = {}
    for kind, names in groups.items():
        for name in names.split():
            table[name] = kind
    return table


# Fields with the same meaning on every class that has them.
COMMON: Dict[str, str] = _kinds(
    set="tags allowed_operations",
    map="other_config current_operations blobs sm_config xenstore_data",
)

FIELD_KINDS: Dict[str, Dict[str, str]] = {
    "pool": _kinds(
        bool="ha_enabled ha_allow_overcommit ha_overcommitted wlb_enabled wlb_verify_cert "
        "redo_log_enabled policy_no_vendor_device live_patching_disabled igmp_snooping_enabled "
        "is_psr_pending tls_verification_enabled client_certificate_auth_enabled "
        "migration_compression coordinator_bias update_sync_enabled "
        "ha_reboot_vm_on_internal_shutdown ext_auth_cache_enabled",
        int="ha_host_failures_to_tolerate ha_plan_exists_for ext_auth_max_threads "
        "local_auth_max_threads ext_auth_cache_size ext_auth_cache_expiry",
        set="ha_statefiles metadata_VDIs repositories",
        map="ha_configuration gui_config health_check_config restrictions guest_agent_config cpu_info",
    ),
    "host": _kinds(
        bool="enabled ssl_legacy tls_verification_enabled https_only multipathing ssh_enabled "
        "ssh_auto_mode secure_boot",
        int="memory_overhead API_version_major API_version_minor ssh_enabled_timeout boot_free_mem "
        "console_idle_timeout",
        set="resident_VMs PIFs PBDs host_CPUs patches updates crashdumps supported_bootloaders "
        "capabilities ha_statefiles ha_network_peers PCIs PGPUs PUSBs features certificates "
        "editions pending_guidances virtual_hardware_platform_versions updates_requiring_reboot "
        "recommended_guidances pending_guidances_recommended pending_guidances_full "
        "ntp_custom_servers",
        map="API_version_vendor_implementation software_version cpu_configuration logging "
        "cpu_info license_params license_server bios_strings power_on_config chipset_info "
        "external_auth_configuration guest_VCPUs_params",
    ),
    "host_metrics": _kinds(bool="live", int="memory_total memory_free"),
    "pif": _kinds(
        bool="physical currently_attached management disallow_unplug managed",
        int="MTU VLAN",
        set="bond_master_of VLAN_slave_of tunnel_access_PIF_of tunnel_transport_PIF_of "
        "sriov_physical_PIF_of sriov_logical_PIF_of IPv6 capabilities",
        map="properties",
    ),
    "pif_metrics": _kinds(
        bool="carrier duplex",
        int="speed",
        float="io_read_kbs io_write_kbs",
    ),
    "network": _kinds(
        bool="managed",
        int="MTU",
        set="PIFs VIFs purpose",
        map="assigned_ips",
    ),
    "vm": _kinds(
        bool="is_a_template is_default_template is_control_domain is_a_snapshot "
        "is_snapshot_from_vmpp is_vmss_snapshot ha_always_run has_vendor_device requires_reboot",
        int="user_version domid memory_overhead memory_target memory_static_max "
        "memory_dynamic_max memory_dynamic_min memory_static_min VCPUs_max VCPUs_at_startup "
        "hardware_platform_version start_delay shutdown_delay order",
        float="HVM_shadow_multiplier",
        set="consoles VIFs VBDs VUSBs crash_dumps VTPMs snapshots children attached_PCIs VGPUs "
        "pending_guidances groups",
        map="VCPUs_params HVM_boot_params platform last_boot_CPU_flags blocked_operations "
        "bios_strings snapshot_info NVRAM",
    ),
    "vm_metrics": _kinds(
        bool="hvm nested_virt nomigrate",
        int="memory_actual VCPUs_number",
        set="state",
        map="VCPUs_utilisation VCPUs_CPU VCPUs_params VCPUs_flags",
    ),
    "sr": _kinds(
        bool="shared local_cache_enabled clustered is_tools_sr",
        int="virtual_allocation physical_utilisation physical_size",
        set="VDIs PBDs",
    ),
    "pbd": _kinds(bool="currently_attached", map="device_config"),
    "vdi": _kinds(
        bool="sharable read_only storage_lock managed missing is_a_snapshot allow_caching "
        "metadata_latest is_tools_iso cbt_enabled",
        int="virtual_size physical_utilisation",
        set="VBDs crash_dumps snapshots",
    ),
    "vbd": _kinds(
        bool="bootable currently_attached empty unpluggable storage_lock",
        int="status_code",
        set="qos_supported_algorithms",
        map="runtime_properties qos_algorithm_params",
    ),
    "vif": _kinds(
        bool="currently_attached MAC_autogenerated",
        int="MTU status_code",
        set="qos_supported_algorithms ipv4_allowed ipv6_allowed ipv4_addresses ipv6_addresses",
        map="runtime_properties qos_algorithm_params",
    ),
    "bond": _kinds(bool="auto_update_mac", int="links_up", set="slaves", map="properties"),
    "vlan": _kinds(int="tag"),
}

# One-to-many reference sets xapi does not trust on disk: it rebuilds them from the
# pointing field when it loads the database (datamodel_schema.ml, "we always
# regenerate one-to-many Set(Ref _) fields"). (owner class, set field) <- (class, field)
REVERSE_SETS = (
    (("host", "resident_VMs"), ("vm", "resident_on")),
    (("host", "PIFs"), ("pif", "host")),
    (("host", "PBDs"), ("pbd", "host")),
    (("network", "PIFs"), ("pif", "network")),
    (("sr", "PBDs"), ("pbd", "SR")),
    (("sr", "VDIs"), ("vdi", "SR")),
    (("vm", "VBDs"), ("vbd", "VM")),
    (("vdi", "VBDs"), ("vbd", "VDI")),
    (("vm", "VIFs"), ("vif", "VM")),
    (("network", "VIFs"), ("vif", "network")),
)

# Columns that are bookkeeping, not fields.
BOOKKEEPING: FrozenSet[str] = frozenset({"ref", "_ref", "__ctime", "__mtime"})


def field_kind(cls: str, field: str) -> str:
    """ "bool", "int", "float", "set", "map" or "string"."""
    kind = FIELD_KINDS.get(cls, {}).get(field)
    if kind is None:
        kind = COMMON.get(field, "string")
    return kind
