"""The typed pool model: frozen dataclasses built from xapi records.

A `PoolSnapshot` is built from one `event.from` full snapshot (token "") and
kept current by applying later events (`PoolSnapshot.apply_events`). Records
from older xapi versions may lack fields; every `from_record` tolerates that
and falls back to a neutral default rather than failing, because during an
outage a partial picture is worth far more than an exception.
"""

from __future__ import annotations

import collections.abc
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

NULL_REF = "OpaqueRef:NULL"

# isinstance() against typing.Mapping goes through typing's generic alias (a few
# microseconds a call); the collections.abc class answers the same question at
# a fraction of that, and the readers below run tens of thousands of times on
# a 2,000-VM reply.
_ABC_MAPPING = collections.abc.Mapping

# The classes a snapshot subscribes to, in xapi's lower-case event names.
SNAPSHOT_CLASSES: Tuple[str, ...] = (
    "pool",
    "host",
    "host_metrics",
    "pif",
    "pif_metrics",
    "network",
    "vm",
    "sr",
    "pbd",
    "vdi",
    "vbd",
)

# The classes whose every object a snapshot reads and follows. VDIs and VBDs are
# not among them: only the disks of guests that are not running matter (their
# sm locks), and those are read as single objects (xentui.xapi.disks), so a
# 2,000-VM pool does not send 4,000 disk records on every full look.
EVENT_CLASSES: Tuple[str, ...] = tuple(c for c in SNAPSHOT_CLASSES if c not in ("vdi", "vbd"))


# --- tolerant field readers -------------------------------------------------


def _str(rec: Mapping[str, Any], key: str, default: str = "") -> str:
    value = rec.get(key, default)
    return default if value is None else str(value)


def _ref(rec: Mapping[str, Any], key: str) -> str:
    value = rec.get(key) or NULL_REF
    return str(value)


def _bool(rec: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = rec.get(key, default)
    if isinstance(value, str):  # JSON-RPC and some dumps send "true"/"false"
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _int(rec: Mapping[str, Any], key: str, default: int = 0) -> int:
    # xapi sends int64 as decimal strings over XML-RPC.
    value = rec.get(key, default)
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a JSON 1e400 is infinity
        return default


def _float(rec: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    try:
        return float(rec.get(key, default))
    except (TypeError, ValueError):
        return default


def _refs(rec: Mapping[str, Any], key: str) -> Tuple[str, ...]:
    value = rec.get(key) or ()
    if isinstance(value, str):  # a lone ref, not a set: don't split it into characters
        return (value,)
    if type(value) is list:  # the usual case, checked first: decoding 2,000 VMs calls this ~10,000 times
        return tuple(v if type(v) is str else str(v) for v in value)
    if isinstance(value, _ABC_MAPPING) or not isinstance(value, collections.abc.Iterable):
        return ()
    return tuple(str(v) for v in value)


def _map(rec: Mapping[str, Any], key: str) -> Dict[str, str]:
    value = rec.get(key) or {}
    if not isinstance(value, _ABC_MAPPING):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _time(rec: Mapping[str, Any], key: str) -> Optional[datetime]:
    """xapi datetimes: `YYYYMMDDTHH:MM:SSZ` (XML-RPC gives a DateTime object)."""
    value = rec.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # already decoded (use_builtin_types, state.db readers)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = getattr(value, "value", value)  # xmlrpc.client.DateTime
    text = str(text)
    for fmt in ("%Y%m%dT%H:%M:%SZ", "%Y%m%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


# --- records -----------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    ref: str
    uuid: str
    name_label: str
    master: str
    default_sr: str
    ha_enabled: bool
    ha_statefiles: Tuple[str, ...]
    other_config: Dict[str, str] = field(default_factory=dict, compare=False)
    # pool.tls_verification_enabled (xapi >= 1.290): False when the field is absent
    tls_verification_enabled: bool = False

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "Pool":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            name_label=_str(rec, "name_label"),
            master=_ref(rec, "master"),
            default_sr=_ref(rec, "default_SR"),
            ha_enabled=_bool(rec, "ha_enabled"),
            ha_statefiles=_refs(rec, "ha_statefiles"),
            other_config=_map(rec, "other_config"),
            tls_verification_enabled=_bool(rec, "tls_verification_enabled"),
        )


@dataclass(frozen=True)
class HostMetrics:
    ref: str
    uuid: str
    live: bool
    memory_total: int
    memory_free: int
    last_updated: Optional[datetime]

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "HostMetrics":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            live=_bool(rec, "live"),
            memory_total=_int(rec, "memory_total"),
            memory_free=_int(rec, "memory_free"),
            last_updated=_time(rec, "last_updated"),
        )


@dataclass(frozen=True)
class Host:
    ref: str
    uuid: str
    name_label: str
    hostname: str
    address: str
    enabled: bool
    metrics_ref: str
    control_domain: str
    resident_vms: Tuple[str, ...]
    pifs: Tuple[str, ...]
    pbds: Tuple[str, ...]
    api_version_major: int
    api_version_minor: int
    software_version: Dict[str, str] = field(default_factory=dict, compare=False)
    other_config: Dict[str, str] = field(default_factory=dict, compare=False)
    # Mandatory update guidance still pending (datamodel_host.ml pending_guidances,
    # e.g. "reboot_host"): host.enable refuses while it is not empty.
    pending_guidances: Tuple[str, ...] = ()
    # host.tls_verification_enabled (false after an emergency disable); None when absent
    tls_verification_enabled: Optional[bool] = None
    # Joined in by PoolSnapshot; None when the metrics object is missing.
    metrics: Optional[HostMetrics] = None

    @property
    def xapi_version(self) -> str:
        sv = self.software_version
        return sv.get("xapi") or sv.get("xapi_build") or ""

    @property
    def product_version(self) -> str:
        sv = self.software_version
        return sv.get("product_version") or sv.get("platform_version") or ""

    @property
    def live(self) -> Optional[bool]:
        """`host_metrics.live`, or None when xapi did not tell us."""
        return None if self.metrics is None else self.metrics.live

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "Host":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            name_label=_str(rec, "name_label"),
            hostname=_str(rec, "hostname"),
            address=_str(rec, "address"),
            enabled=_bool(rec, "enabled", True),
            metrics_ref=_ref(rec, "metrics"),
            control_domain=_ref(rec, "control_domain"),
            resident_vms=_refs(rec, "resident_VMs"),
            pifs=_refs(rec, "PIFs"),
            pbds=_refs(rec, "PBDs"),
            api_version_major=_int(rec, "API_version_major"),
            api_version_minor=_int(rec, "API_version_minor"),
            software_version=_map(rec, "software_version"),
            other_config=_map(rec, "other_config"),
            pending_guidances=_refs(rec, "pending_guidances"),
            tls_verification_enabled=(
                _bool(rec, "tls_verification_enabled") if "tls_verification_enabled" in rec else None
            ),
        )


@dataclass(frozen=True)
class PIFMetrics:
    ref: str
    uuid: str
    carrier: bool
    speed: int
    duplex: bool
    vendor_name: str
    device_name: str

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "PIFMetrics":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            carrier=_bool(rec, "carrier"),
            speed=_int(rec, "speed"),
            duplex=_bool(rec, "duplex"),
            vendor_name=_str(rec, "vendor_name"),
            device_name=_str(rec, "device_name"),
        )


@dataclass(frozen=True)
class PIF:
    ref: str
    uuid: str
    device: str
    host: str
    network: str
    mac: str
    mtu: int
    vlan: int
    physical: bool
    currently_attached: bool
    management: bool
    ip_configuration_mode: str
    ip: str
    netmask: str
    gateway: str
    dns: str
    metrics_ref: str
    managed: bool = True
    metrics: Optional[PIFMetrics] = None

    @property
    def carrier(self) -> Optional[bool]:
        return None if self.metrics is None else self.metrics.carrier

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "PIF":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            device=_str(rec, "device"),
            host=_ref(rec, "host"),
            network=_ref(rec, "network"),
            mac=_str(rec, "MAC"),
            mtu=_int(rec, "MTU", 1500),
            vlan=_int(rec, "VLAN", -1),
            physical=_bool(rec, "physical", True),
            currently_attached=_bool(rec, "currently_attached"),
            management=_bool(rec, "management"),
            ip_configuration_mode=_str(rec, "ip_configuration_mode", "None"),
            ip=_str(rec, "IP"),
            netmask=_str(rec, "netmask"),
            gateway=_str(rec, "gateway"),
            dns=_str(rec, "DNS"),
            metrics_ref=_ref(rec, "metrics"),
            managed=_bool(rec, "managed", True),
        )


@dataclass(frozen=True)
class Network:
    ref: str
    uuid: str
    name_label: str
    bridge: str
    pifs: Tuple[str, ...]

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "Network":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            name_label=_str(rec, "name_label"),
            bridge=_str(rec, "bridge"),
            pifs=_refs(rec, "PIFs"),
        )


@dataclass(frozen=True)
class VM:
    ref: str
    uuid: str
    name_label: str
    power_state: str
    resident_on: str
    affinity: str
    is_a_template: bool
    is_control_domain: bool
    is_a_snapshot: bool
    domid: int
    memory_static_max: int
    vcpus_max: int
    ha_restart_priority: str
    vbds: Tuple[str, ...] = ()  # VM.VBDs: where a halted guest's disks are found

    @property
    def is_guest(self) -> bool:
        """A real VM: not a template, snapshot or control domain."""
        return not (self.is_a_template or self.is_control_domain or self.is_a_snapshot)

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "VM":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            name_label=_str(rec, "name_label"),
            power_state=_str(rec, "power_state", "Halted"),
            resident_on=_ref(rec, "resident_on"),
            affinity=_ref(rec, "affinity"),
            is_a_template=_bool(rec, "is_a_template"),
            is_control_domain=_bool(rec, "is_control_domain"),
            is_a_snapshot=_bool(rec, "is_a_snapshot"),
            domid=_int(rec, "domid", -1),
            memory_static_max=_int(rec, "memory_static_max"),
            vcpus_max=_int(rec, "VCPUs_max"),
            ha_restart_priority=_str(rec, "ha_restart_priority"),
            vbds=_refs(rec, "VBDs"),
        )


@dataclass(frozen=True)
class SR:
    ref: str
    uuid: str
    name_label: str
    type: str
    content_type: str
    shared: bool
    physical_size: int
    physical_utilisation: int
    pbds: Tuple[str, ...]

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "SR":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            name_label=_str(rec, "name_label"),
            type=_str(rec, "type"),
            content_type=_str(rec, "content_type"),
            shared=_bool(rec, "shared"),
            physical_size=_int(rec, "physical_size"),
            physical_utilisation=_int(rec, "physical_utilisation"),
            pbds=_refs(rec, "PBDs"),
        )


@dataclass(frozen=True)
class PBD:
    ref: str
    uuid: str
    host: str
    sr: str
    currently_attached: bool
    device_config: Dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "PBD":
        return cls(
            ref=ref,
            uuid=_str(rec, "uuid"),
            host=_ref(rec, "host"),
            sr=_ref(rec, "SR"),
            currently_attached=_bool(rec, "currently_attached"),
            device_config=_map(rec, "device_config"),
        )


# sm's attach/activation locks in VDI.sm_config (sm drivers/blktap2.py _add_tag:
# `host_<host ref>` per host that activated the disk, `activating` while an
# activation runs). Only these keys are kept: the rest of sm_config is sm's
# business and can be large (vhd-parent chains, paths).
SM_HOST_LOCK_PREFIX = "host_"
SM_ACTIVATING = "activating"


def _sm_locks(rec: Mapping[str, Any]) -> Tuple[Tuple[str, str], ...]:
    sm_config = _map(rec, "sm_config")
    return tuple(
        sorted(
            (k, v)
            for k, v in sm_config.items()
            if k == SM_ACTIVATING or (k.startswith(SM_HOST_LOCK_PREFIX + "OpaqueRef:"))
        )
    )


@dataclass(frozen=True)
class VDI:
    ref: str
    uuid: str
    name_label: str
    # (key, value) of the sm_config lock keys only, sorted; () for most disks.
    sm_locks: Tuple[Tuple[str, str], ...] = ()

    def lock_holders(self) -> Tuple[str, ...]:
        """The host refs named by `host_<ref>` keys."""
        n = len(SM_HOST_LOCK_PREFIX)
        return tuple(k[n:] for k, _ in self.sm_locks if k.startswith(SM_HOST_LOCK_PREFIX))

    @property
    def activating(self) -> bool:
        return any(k == SM_ACTIVATING for k, _ in self.sm_locks)

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "VDI":
        return cls(ref=ref, uuid=_str(rec, "uuid"), name_label=_str(rec, "name_label"), sm_locks=_sm_locks(rec))


@dataclass(frozen=True)
class VBD:
    """Only the link between a VM and a disk (an empty CD drive has VDI NULL)."""

    ref: str
    vm: str
    vdi: str

    @classmethod
    def from_record(cls, ref: str, rec: Mapping[str, Any]) -> "VBD":
        return cls(ref=ref, vm=_ref(rec, "VM"), vdi=_ref(rec, "VDI"))


_BUILDERS = {
    "pool": Pool.from_record,
    "host": Host.from_record,
    "host_metrics": HostMetrics.from_record,
    "pif": PIF.from_record,
    "pif_metrics": PIFMetrics.from_record,
    "network": Network.from_record,
    "vm": VM.from_record,
    "sr": SR.from_record,
    "pbd": PBD.from_record,
    "vdi": VDI.from_record,
    "vbd": VBD.from_record,
}


@dataclass(frozen=True)
class PoolSnapshot:
    """The whole pool as one immutable value.

    `raw` holds the typed objects per lower-case class name, keyed by ref;
    the typed accessors (`hosts`, `vms`, ...) join metrics into their owners.
    `token` is the event.from token to continue from.
    """

    raw: Mapping[str, Mapping[str, Any]]
    token: str = ""
    # True while the VM records are not read yet (a first look drawn before the
    # 2,000-VM part of a big pool arrives): VM counts come from host.resident_VMs
    # meanwhile, and no health may be claimed (xentui.xapi.live.load_vms).
    vms_pending: bool = False

    # -- construction ------------------------------------------------------

    @classmethod
    def empty(cls) -> "PoolSnapshot":
        return cls(raw={name: {} for name in SNAPSHOT_CLASSES})

    @classmethod
    def from_event_from(cls, result: Mapping[str, Any]) -> "PoolSnapshot":
        """Build from the reply of `event.from(classes, "", timeout)`."""
        return cls.empty().apply_events(result.get("events", ()), str(result.get("token", "")))

    @classmethod
    def from_records(cls, records: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> "PoolSnapshot":
        """Build from `{class: {ref: record}}`, e.g. `get_all_records` per class
        or a parsed state.db."""
        raw: Dict[str, Dict[str, Any]] = {name: {} for name in SNAPSHOT_CLASSES}
        for cls_name, recs in records.items():
            builder = _BUILDERS.get(cls_name.lower())
            if builder is None:
                continue
            for ref, rec in recs.items():
                raw[cls_name.lower()][ref] = builder(ref, rec)
        return cls(raw=raw)

    def apply_events(self, events: Iterable[Mapping[str, Any]], token: Optional[str] = None) -> "PoolSnapshot":
        """Return a new snapshot with `add`/`mod`/`del` events applied."""
        raw: Dict[str, Dict[str, Any]] = {name: dict(self.raw.get(name, {})) for name in SNAPSHOT_CLASSES}
        for event in events:
            cls_name = str(event.get("class", "")).lower()
            builder = _BUILDERS.get(cls_name)
            if builder is None:
                continue
            ref = str(event.get("ref", ""))
            if event.get("operation") == "del":
                raw[cls_name].pop(ref, None)
            else:
                snapshot = event.get("snapshot")
                if isinstance(snapshot, _ABC_MAPPING):
                    raw[cls_name][ref] = builder(ref, snapshot)
                elif isinstance(snapshot, _RECORD_TYPES):  # built while decoding (lean_event_hook)
                    raw[cls_name][ref] = snapshot
        return replace(self, raw=raw, token=self.token if token is None else token)

    # -- typed access ------------------------------------------------------

    @property
    def pool(self) -> Optional[Pool]:
        pools = list(self.raw.get("pool", {}).values())
        return pools[0] if pools else None

    # The joins below are built once per snapshot (it never changes) and handed
    # out as copies: a view that looks up each of 64 hosts by name would
    # otherwise rebuild all 64 records 64 times.

    @cached_property
    def _joined_hosts(self) -> Dict[str, Host]:
        metrics = self.raw.get("host_metrics", {})
        return {ref: replace(h, metrics=metrics.get(h.metrics_ref)) for ref, h in self.raw.get("host", {}).items()}

    @cached_property
    def _joined_pifs(self) -> Dict[str, PIF]:
        metrics = self.raw.get("pif_metrics", {})
        return {ref: replace(p, metrics=metrics.get(p.metrics_ref)) for ref, p in self.raw.get("pif", {}).items()}

    @cached_property
    def _guest_vms(self) -> Tuple[VM, ...]:
        return tuple(sorted((v for v in self.raw.get("vm", {}).values() if v.is_guest), key=lambda v: v.name_label))

    @property
    def hosts(self) -> Dict[str, Host]:
        return dict(self._joined_hosts)

    @property
    def pifs(self) -> Dict[str, PIF]:
        return dict(self._joined_pifs)

    @property
    def networks(self) -> Dict[str, Network]:
        return dict(self.raw.get("network", {}))

    @property
    def vms(self) -> Dict[str, VM]:
        return dict(self.raw.get("vm", {}))

    @property
    def srs(self) -> Dict[str, SR]:
        return dict(self.raw.get("sr", {}))

    @property
    def pbds(self) -> Dict[str, PBD]:
        return dict(self.raw.get("pbd", {}))

    @property
    def vdis(self) -> Dict[str, VDI]:
        return dict(self.raw.get("vdi", {}))

    @property
    def vbds(self) -> Dict[str, VBD]:
        return dict(self.raw.get("vbd", {}))

    def locked_vdis(self) -> Tuple[VDI, ...]:
        """VDIs whose sm_config holds an attach or activation lock."""
        return tuple(v for v in self.raw.get("vdi", {}).values() if v.sm_locks)

    # -- derived views -----------------------------------------------------

    @property
    def master(self) -> Optional[Host]:
        pool = self.pool
        return None if pool is None else self._joined_hosts.get(pool.master)

    def host_by_uuid(self, uuid: str) -> Optional[Host]:
        return next((h for h in self._joined_hosts.values() if h.uuid == uuid), None)

    def host_by_name(self, name: str) -> Optional[Host]:
        return next((h for h in self._joined_hosts.values() if h.name_label == name), None)

    def management_pif(self, host_ref: str) -> Optional[PIF]:
        return next(
            (p for p in self._joined_pifs.values() if p.host == host_ref and p.management),
            None,
        )

    def pifs_of(self, host_ref: str) -> Tuple[PIF, ...]:
        return tuple(sorted((p for p in self._joined_pifs.values() if p.host == host_ref), key=lambda p: p.device))

    def guest_vms(self) -> Tuple[VM, ...]:
        return self._guest_vms

    def vms_on(self, host_ref: str) -> Tuple[VM, ...]:
        """Guest VMs the database says are resident on a host."""
        return tuple(v for v in self.guest_vms() if v.resident_on == host_ref)

    def vm_count_by_host(self) -> Dict[str, int]:
        if self.vms_pending:
            # host.resident_VMs holds the running domains, the control domain among them.
            return {ref: len(set(h.resident_vms) - {h.control_domain}) for ref, h in self.raw.get("host", {}).items()}
        counts: Dict[str, int] = {ref: 0 for ref in self._joined_hosts}
        for vm in self.guest_vms():
            if vm.resident_on in counts:
                counts[vm.resident_on] += 1
        return counts

    def hosts_not_live(self) -> Tuple[Host, ...]:
        return tuple(h for h in self._joined_hosts.values() if h.live is False)

    def pbds_of(self, host_ref: str) -> Tuple[PBD, ...]:
        return tuple(p for p in self.pbds.values() if p.host == host_ref)

    def network_of(self, pif: PIF) -> Optional[Network]:
        return self.networks.get(pif.network)


_RECORD_TYPES = (Pool, HostMetrics, Host, PIFMetrics, PIF, Network, VM, SR, PBD, VDI, VBD)

# The API fields each builder reads, per class: everything else in a record
# is dropped unread (a state.db reader decodes only these; see
# xentui.host.gather.read_state_db). tests/xapi/test_model.py checks the builders
# read nothing else.
RECORD_FIELDS: Dict[str, FrozenSet[str]] = {
    "pool": frozenset(
        {
            "uuid",
            "name_label",
            "master",
            "default_SR",
            "ha_enabled",
            "ha_statefiles",
            "other_config",
            "tls_verification_enabled",
        }
    ),
    "host": frozenset(
        {
            "uuid",
            "name_label",
            "hostname",
            "address",
            "enabled",
            "metrics",
            "control_domain",
            "resident_VMs",
            "PIFs",
            "PBDs",
            "API_version_major",
            "API_version_minor",
            "software_version",
            "other_config",
            "pending_guidances",
            "tls_verification_enabled",
        }
    ),
    "host_metrics": frozenset({"uuid", "live", "memory_total", "memory_free", "last_updated"}),
    "pif": frozenset(
        {
            "uuid",
            "device",
            "host",
            "network",
            "MAC",
            "MTU",
            "VLAN",
            "physical",
            "currently_attached",
            "management",
            "ip_configuration_mode",
            "IP",
            "netmask",
            "gateway",
            "DNS",
            "metrics",
            "managed",
        }
    ),
    "pif_metrics": frozenset({"uuid", "carrier", "speed", "duplex", "vendor_name", "device_name"}),
    "network": frozenset({"uuid", "name_label", "bridge", "PIFs"}),
    "vm": frozenset(
        {
            "uuid",
            "name_label",
            "power_state",
            "resident_on",
            "affinity",
            "is_a_template",
            "is_control_domain",
            "is_a_snapshot",
            "domid",
            "memory_static_max",
            "VCPUs_max",
            "ha_restart_priority",
            "VBDs",
        }
    ),
    "sr": frozenset(
        {"uuid", "name_label", "type", "content_type", "shared", "physical_size", "physical_utilisation", "PBDs"}
    ),
    "pbd": frozenset({"uuid", "host", "SR", "currently_attached", "device_config"}),
    "vdi": frozenset({"uuid", "name_label", "sm_config"}),
    "vbd": frozenset({"VM", "VDI"}),
}


def lean_event_hook(obj: Dict[str, Any]) -> Any:
    """A JSON `object_hook` for event.from replies: each event's record is
    turned into its typed, trimmed object (only the fields the model keeps)
    as soon as it is decoded, so a 2,000-VM reply never exists as a full tree
    of dicts. Events of classes the model does not keep lose their record."""
    if "snapshot" in obj and "class" in obj and "operation" in obj:
        cls_name = str(obj["class"]).lower()
        builder = _BUILDERS.get(cls_name)
        record = obj["snapshot"]
        ref = str(obj.get("ref", ""))
        built = builder(ref, record) if builder is not None and isinstance(record, _ABC_MAPPING) else None
        return {"class": cls_name, "operation": obj["operation"], "ref": ref, "snapshot": built}
    return obj
