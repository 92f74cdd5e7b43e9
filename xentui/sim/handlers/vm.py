"""VM power operations that matter for recovery: start, start_on, power_state_reset, shutdown."""

from __future__ import annotations

from typing import Optional

from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import NULL_REF, as_bool, check_ref, host_proc, is_host_alive, local_host_ref, make
from xentui.sim.xapi_host import CallContext


def reset_power_state(ctx: CallContext, vm: str) -> None:
    db = ctx.db
    db.update("VM", vm, power_state="Halted", resident_on=NULL_REF, scheduled_to_be_resident_on=NULL_REF,
              domid=-1, requires_reboot=False)
    for cls in ("VBD", "VIF"):
        for ref in db.find(cls, VM=vm):
            db.set_field(cls, ref, "currently_attached", False)


def power_state_reset(ctx: CallContext, vm):
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    record = db.get_record("VM", vm)
    if record.get("is_control_domain"):
        raise ApiError("CANNOT_RESET_CONTROL_DOMAIN", vm)
    if record.get("power_state") in ("Running", "Paused"):
        resident = record.get("resident_on") or NULL_REF
        if db.exists("host", resident):
            if resident == local_host_ref(ctx):
                if record.get("uuid") in ctx.world.running_domains(ctx.master.name):
                    raise ApiError("DOMAIN_EXISTS", vm)  # xapi_vm.ml: [vm] only
            elif is_host_alive(ctx, resident):
                raise ApiError("HOST_IS_LIVE", resident)
    reset_power_state(ctx, vm)
    return ""


def _required_srs(db, vm: str):
    srs = set()
    for vbd in db.find("VBD", VM=vm):
        vdi = db.get_field("VBD", vbd, "VDI")
        if db.exists("VDI", vdi):
            srs.add(db.get_field("VDI", vdi, "SR"))
    return srs


def _check_can_run(ctx: CallContext, vm: str, host: str) -> None:
    db = ctx.db
    if not db.get_field("host", host, "enabled"):
        raise ApiError("HOST_DISABLED", host)
    for sr in _required_srs(db, vm):
        attached = [p for p in db.find("PBD", SR=sr, host=host) if db.get_field("PBD", p, "currently_attached")]
        if not attached:
            raise ApiError("VM_REQUIRES_SR", vm, sr)


def _check_halted(db, vm: str) -> None:
    state = db.get_field("VM", vm, "power_state")
    if db.get_field("VM", vm, "is_control_domain"):
        raise ApiError("OPERATION_NOT_ALLOWED", "Operations on the control domain are not allowed")
    if db.get_field("VM", vm, "is_a_template"):
        raise ApiError("VM_IS_TEMPLATE", vm)
    if state != "Halted":
        raise ApiError("VM_BAD_POWER_STATE", vm, "halted", str(state).lower())


def _boot(ctx: CallContext, vm: str, host: str, paused: bool) -> None:
    db = ctx.db
    target = host_proc(ctx, host)
    if target is None:
        raise ApiError("CANNOT_CONTACT_HOST", host)
    domid = ctx.world.start_domain(target.name, db.get_field("VM", vm, "uuid"))
    db.update("VM", vm, power_state="Paused" if paused else "Running", resident_on=host,
              scheduled_to_be_resident_on=NULL_REF, domid=domid)
    for cls in ("VBD", "VIF"):
        for ref in db.find(cls, VM=vm):
            db.set_field(cls, ref, "currently_attached", True)


def start(ctx: CallContext, vm, start_paused, force):
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    _check_halted(db, vm)
    candidates = []
    affinity = db.get_field("VM", vm, "affinity")
    hosts = sorted(db.refs("host"), key=lambda h: db.get_field("host", h, "name_label"))
    if db.exists("host", affinity):
        hosts.remove(affinity)
        hosts.insert(0, affinity)
    last_error: Optional[ApiError] = None
    for host in hosts:
        try:
            _check_can_run(ctx, vm, host)
        except ApiError as error:
            last_error = error
            continue
        if not is_host_alive(ctx, host):
            continue
        candidates.append(host)
    if not candidates:
        if last_error is not None and last_error.code == "VM_REQUIRES_SR":
            raise last_error
        raise ApiError("NO_HOSTS_AVAILABLE")
    _boot(ctx, vm, candidates[0], as_bool(start_paused))
    return ""


def start_on(ctx: CallContext, vm, host, start_paused, force):
    db = ctx.need_db()
    vm = check_ref(db, "VM", vm)
    host = check_ref(db, "host", host)
    _check_halted(db, vm)
    _check_can_run(ctx, vm, host)
    metrics = db.get_field("host", host, "metrics")
    if db.exists("host_metrics", metrics) and not db.get_field("host_metrics", metrics, "live"):
        raise ApiError("HOST_OFFLINE", host)
    _boot(ctx, vm, host, as_bool(start_paused))
    return ""


def _shutdown(ctx: CallContext, vm):
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


METHODS = [
    make("VM.power_state_reset", ("vm",), power_state_reset),
    make("VM.start", ("vm", "start_paused", "force"), start),
    make("VM.start_on", ("vm", "host", "start_paused", "force"), start_on),
    make("VM.hard_shutdown", ("vm",), _shutdown),
    make("VM.clean_shutdown", ("vm",), _shutdown),
]
