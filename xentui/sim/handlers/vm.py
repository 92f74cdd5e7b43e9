"""VM power operations that matter for recovery: start, start_on, power_state_reset, shutdown,
VM.get_allowed_VBD_devices and VM.get_allowed_VIF_devices.

VM.start_on follows message_forwarding.ml `start_on`: the VM operation check
(xapi_vm_lifecycle.ml), the VBD marking (xapi_vbd_helpers.ml `valid_operations`:
VDI_IN_USE), then, under the global lock, `reserve_memory_for_vm` ->
xapi_vm_helpers.ml `assert_can_boot_here` (HOST_NOT_LIVE, HOST_DISABLED,
VM_REQUIRES_SR, VM_REQUIRES_NETWORK, HOST_NOT_ENOUGH_FREE_MEMORY, HOST_NOT_ENOUGH_PCPUS),
`allocate_vm_to_host` (scheduled_to_be_resident_on) and only then the call on the host.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional

from xentui.sim import host_facts, memory, sm_locks
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import NULL_REF, as_bool, check_ref, host_proc, is_host_alive, local_host_ref, make
from xentui.sim.xapi_host import CallContext


def reset_power_state(ctx: CallContext, vm: str) -> None:
    db = ctx.database
    resident = db.get_field("VM", vm, "resident_on")
    db.update(
        "VM",
        vm,
        power_state="Halted",
        resident_on=NULL_REF,
        scheduled_to_be_resident_on=NULL_REF,
        domid=-1,
        requires_reboot=False,
    )
    for cls in ("VBD", "VIF"):
        for ref in db.find(cls, VM=vm):
            db.set_field(cls, ref, "currently_attached", False)
    if db.exists("host", resident):
        memory.refresh_memory_free(db, resident)


def power_state_reset(ctx: CallContext, vm: Any) -> str:
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    record = db.get_record("VM", vm)
    if record.get("is_control_domain"):
        raise ApiError("CANNOT_RESET_CONTROL_DOMAIN", vm)
    if record.get("power_state") in ("Running", "Paused"):
        resident = record.get("resident_on") or NULL_REF
        if db.exists("host", resident):
            if resident == local_host_ref(ctx):
                if record.get("uuid") in ctx.world.running_domains(ctx.master_proc.name):
                    raise ApiError("DOMAIN_EXISTS", vm)  # xapi_vm.ml: [vm] only
            elif is_host_alive(ctx, resident):
                raise ApiError("HOST_IS_LIVE", resident)
    reset_power_state(ctx, vm)
    return ""


# --- the checks, in xapi's order -------------------------------------------------------


def _check_operation(db: "Database", vm: str) -> None:
    """xapi_vm_lifecycle.ml check_operation_error for start/start_on."""
    state = db.get_field("VM", vm, "power_state")
    if db.get_field("VM", vm, "is_control_domain"):
        raise ApiError("OPERATION_NOT_ALLOWED", "Operations on the control domain are not allowed")
    if db.get_field("VM", vm, "is_a_template"):
        raise ApiError("VM_IS_TEMPLATE", vm)
    if state != "Halted":
        raise ApiError("VM_BAD_POWER_STATE", vm, "halted", str(state).lower())
    current = db.get_field("VM", vm, "current_operations")
    if current:
        task, op = next(iter(current.items()))
        raise ApiError("OTHER_OPERATION_IN_PROGRESS", "VM", vm, str(op), str(task))


def _check_vbds_attachable(db: "Database", vm: str) -> None:
    """mark_vbds -> xapi_vbd_helpers.ml valid_operations for `attach`: a VDI that another
    (not suspended, not system) VM holds attached, reserved or busy, with either side RW and
    the VDI not sharable, is VDI_IN_USE; RW on a read-only VDI is VDI_READONLY."""
    for vbd in db.find("VBD", VM=vm):
        rec = db.get_record("VBD", vbd)
        if rec.get("empty"):
            continue
        vdi: Any = rec.get("VDI")
        if not db.exists("VDI", vdi):
            continue
        vdi_rec = db.get_record("VDI", vdi)
        if not vdi_rec.get("managed", True):
            raise ApiError("VDI_NOT_MANAGED", vdi)
        if rec.get("currently_attached"):
            continue
        others = []
        for other in vdi_rec.get("VBDs", []):
            if other == vbd or not db.exists("VBD", other):
                continue
            other_rec = db.get_record("VBD", other)
            owner: Any = other_rec.get("VM")
            if db.exists("VM", owner) and (
                db.get_field("VM", owner, "power_state") == "Suspended"
                or db.get_field("VM", owner, "is_control_domain")
            ):
                continue
            if other_rec.get("currently_attached") or other_rec.get("current_operations"):
                others.append(other_rec)
        need_write = rec.get("mode") == "RW"
        someone_rw = any(o.get("mode") == "RW" for o in others)
        if not vdi_rec.get("sharable") and (someone_rw or (need_write and others)):
            raise ApiError("VDI_IN_USE", vdi)
        if need_write and vdi_rec.get("read_only"):
            raise ApiError("VDI_READONLY", vdi)


def _required_srs(db: "Database", vm: str) -> List[str]:
    out: List[str] = []
    for vbd in db.get_field("VM", vm, "VBDs"):
        if db.get_field("VBD", vbd, "empty"):
            continue
        vdi = db.get_field("VBD", vbd, "VDI")
        if db.exists("VDI", vdi):
            sr = db.get_field("VDI", vdi, "SR")
            if sr not in out:
                out.append(sr)
    return out


def _network_available(db: "Database", network: str, host: str) -> bool:
    """xapi_network_attach_helpers.ml assert_can_see_named_networks."""
    pifs = db.get_field("network", network, "PIFs")
    if pifs:
        return any(db.get_field("PIF", p, "host") == host for p in pifs)
    other_config = db.get_field("network", network, "other_config")
    if other_config.get("assume_network_is_shared") == "true" or not db.get_field("network", network, "managed"):
        return True
    hosts = [
        db.get_field("VM", db.get_field("VIF", vif, "VM"), "resident_on")
        for vif in db.get_field("network", network, "VIFs")
        if db.exists("VM", db.get_field("VIF", vif, "VM"))
        and db.get_field("VM", db.get_field("VIF", vif, "VM"), "power_state") == "Running"
    ]
    return not hosts or host in hosts


def host_is_live(db: "Database", host: str) -> bool:
    metrics = db.get_field("host", host, "metrics")
    return db.exists("host_metrics", metrics) and bool(db.get_field("host_metrics", metrics, "live"))


def assert_can_boot_here(db: "Database", vm: str, host: str, do_memory_check: bool = True) -> None:
    """xapi_vm_helpers.ml assert_can_boot_here, in its order."""
    if not host_is_live(db, host):
        raise ApiError("HOST_NOT_LIVE")
    if not db.get_field("host", host, "enabled"):
        raise ApiError("HOST_DISABLED", host)
    attached = {
        db.get_field("PBD", p, "SR")
        for p in db.get_field("host", host, "PBDs")
        if db.get_field("PBD", p, "currently_attached")
    }
    for sr in _required_srs(db, vm):
        if sr not in attached:
            raise ApiError("VM_REQUIRES_SR", vm, sr)
    for vif in db.get_field("VM", vm, "VIFs"):
        network = db.get_field("VIF", vif, "network")
        if db.exists("network", network) and not _network_available(db, network, host):
            raise ApiError("VM_REQUIRES_NETWORK", vm, network)
    if do_memory_check:
        record = db.get_record("VM", vm)
        normal, shadow = memory.vm_start_memory(record)
        required = normal + shadow
        available = memory.host_free_memory(db, host, ignore_vm=vm)
        if available < required:
            raise ApiError("HOST_NOT_ENOUGH_FREE_MEMORY", str(required), str(available))
    pcpus = len(db.get_field("host", host, "host_CPUs"))
    vcpus = int(db.get_field("VM", vm, "VCPUs_max"))
    if pcpus and vcpus > pcpus and db.get_field("VM", vm, "platform").get("vcpu-unrestricted") != "true":
        raise ApiError("HOST_NOT_ENOUGH_PCPUS", str(vcpus), str(pcpus))


def _update_memory_overhead(db: "Database", vm: str) -> None:
    """Xapi_vm_helpers.update_memory_overhead: recomputed before every start."""
    overhead = memory.vm_memory_overhead(db.get_record("VM", vm))
    if overhead != db.get_field("VM", vm, "memory_overhead"):
        db.set_field("VM", vm, "memory_overhead", overhead)


def _boot(ctx: CallContext, vm: str, host: str, paused: bool) -> None:
    """allocate_vm_to_host, then the call on the host (do_op_on); the reservation is
    cleared whatever happens."""
    db = ctx.database
    db.set_field("VM", vm, "scheduled_to_be_resident_on", host)
    try:
        target = host_proc(ctx, host)
        if target is None:
            raise ApiError("CANNOT_CONTACT_HOST", host)
        sm_locks.assert_activatable(db, vm, host)  # VDI.activate on the host (sm)
        domid = ctx.world.start_domain(target.name, db.get_field("VM", vm, "uuid"))
        db.update(
            "VM",
            vm,
            power_state="Paused" if paused else "Running",
            resident_on=host,
            scheduled_to_be_resident_on=NULL_REF,
            domid=domid,
            memory_target=db.get_field("VM", vm, "memory_dynamic_max"),
        )
        for cls in ("VBD", "VIF"):
            for ref in db.find(cls, VM=vm):
                db.set_field(cls, ref, "currently_attached", True)
        host_facts.create_guest_metrics(db, vm)  # the guest agent reports soon after boot
    finally:
        if db.exists("VM", vm) and db.get_field("VM", vm, "scheduled_to_be_resident_on") != NULL_REF:
            db.set_field("VM", vm, "scheduled_to_be_resident_on", NULL_REF)
        memory.refresh_memory_free(db, host)


def start(ctx: CallContext, vm: Any, start_paused: Any, force: Any) -> str:
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    _check_operation(db, vm)
    _check_vbds_attachable(db, vm)
    _update_memory_overhead(db, vm)
    affinity = db.get_field("VM", vm, "affinity")
    hosts = sorted(db.refs("host"), key=lambda h: db.get_field("host", h, "name_label"))
    if db.exists("host", affinity):
        hosts.remove(affinity)
        hosts.insert(0, affinity)
    # xapi_vm_helpers.ml choose_host_for_vm_no_wlb: the first host (affinity first) that passes
    # assert_can_boot_here; if none does, again ignoring memory (the start then fails on that
    # host's memory check); if still none, NO_HOSTS_AVAILABLE []
    for memory_check in (True, False):
        for host in hosts:
            try:
                assert_can_boot_here(db, vm, host, do_memory_check=memory_check)
            except ApiError:
                continue
            if not is_host_alive(ctx, host):
                continue
            if not memory_check:
                assert_can_boot_here(db, vm, host)  # reserve_memory_for_vm: HOST_NOT_ENOUGH_FREE_MEMORY
            _boot(ctx, vm, host, as_bool(start_paused))
            return ""
    raise ApiError("NO_HOSTS_AVAILABLE")


def start_on(ctx: CallContext, vm: Any, host: Any, start_paused: Any, force: Any) -> str:
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    host = check_ref(db, "host", host)
    # message_forwarding.ml start_on, before the VM operation: no start on an evacuating host
    if "evacuate" in db.get_field("host", host, "current_operations").values():
        raise ApiError("HOST_EVACUATE_IN_PROGRESS", host)
    _check_operation(db, vm)
    _check_vbds_attachable(db, vm)
    _update_memory_overhead(db, vm)
    assert_can_boot_here(db, vm, host)
    _boot(ctx, vm, host, as_bool(start_paused))
    return ""


def _shutdown(ctx: CallContext, vm: Any) -> str:
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    state = db.get_field("VM", vm, "power_state")
    if state not in ("Running", "Paused"):
        raise ApiError("VM_BAD_POWER_STATE", vm, "running", str(state).lower())
    host = db.get_field("VM", vm, "resident_on")
    target = host_proc(ctx, host) if db.exists("host", host) else None
    if target is None:
        raise ApiError("CANNOT_CONTACT_HOST", host)
    ctx.world.stop_domain(target.name, db.get_field("VM", vm, "uuid"))
    reset_power_state(ctx, vm)
    return ""


# --- VM.get_allowed_VBD_devices (xapi_vm_helpers.ml allowed_VBD_devices) ----------------

_DISK_NAME = re.compile(r"^(?:xvd|hd|sd|vd)([a-z]+)\d*$")


def _disk_number(text: str) -> Optional[int]:
    """Device_number.of_string (either interpretation), reduced to the disk number."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    match = _DISK_NAME.match(text)
    if not match:
        return None
    number = 0
    for letter in match.group(1):
        number = number * 26 + (ord(letter) - ord("a") + 1)
    return number - 1


def get_allowed_VBD_devices(ctx: CallContext, vm: Any) -> Any:
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    top = 255 if db.get_field("VM", vm, "is_control_domain") else 254
    used = set()
    for vbd in db.get_field("VM", vm, "VBDs"):
        for text in (db.get_field("VBD", vbd, "device"), db.get_field("VBD", vbd, "userdevice")):
            number = _disk_number(text)
            if number is not None:
                used.add(number)
    return [str(n) for n in range(top + 1) if n not in used]


def get_allowed_VIF_devices(ctx: CallContext, vm: Any) -> Any:
    """xapi_vm_helpers.ml allowed_VIF_devices: "0".."15" minus the VIFs' device strings."""
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    used = {str(db.get_field("VIF", v, "device")) for v in db.get_field("VM", vm, "VIFs")}
    return [str(n) for n in range(16) if str(n) not in used]


METHODS = [
    make("VM.power_state_reset", ("vm",), power_state_reset),
    make("VM.start", ("vm", "start_paused", "force"), start),
    make("VM.start_on", ("vm", "host", "start_paused", "force"), start_on),
    make("VM.hard_shutdown", ("vm",), _shutdown),
    make("VM.clean_shutdown", ("vm",), _shutdown),
    make("VM.get_allowed_VBD_devices", ("vm",), get_allowed_VBD_devices),
    make("VM.get_allowed_VIF_devices", ("vm",), get_allowed_VIF_devices),
]
