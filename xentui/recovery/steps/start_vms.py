"""Start the dead host's VMs on a survivor (VM.start_on), behind the same fence gate as declare-dead."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, IsMaster, NoDoubleClaim, Silent, VmsHalted
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, StepSkipped
from xentui.recovery.step_kind import StepKind
from xentui.xapi.error_table import explain
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import VM, Host


def declare(
    vms: Sequence[VM],
    dead_names: Sequence[str],
    survivor: Host,
    flagged: Sequence[str],
    dead_addresses: Optional[Dict[str, str]] = None,
) -> Step:
    names = ", ".join(v.name_label for v in vms)
    pre = [IsMaster(survivor.name_label), VmsHalted(tuple(v.uuid for v in vms))]
    # The same fence gate as declare-dead, on every path (a resumed run too):
    # attested AND silent right now, or a VM could run twice.
    for n in dead_names:
        pre += [Fenced(n), Silent(n, (dead_addresses or {}).get(n, "?"))]
    if flagged:
        pre.append(NoDoubleClaim())
    return Step(
        id="start-vms",
        title=f"Start the dead host's VMs on {survivor.name_label}",
        why="They were running on the dead host and are down now.",
        changes=f"Starts {names} on {survivor.name_label} (VM.start_on). VMs with disks on local "
        "(non-shared) storage of the dead host are not started.",
        risk="high",
        risk_text="If the dead host was not really off, a VM would run twice. Needs enough free "
        "memory on the survivor; a 'VDI already attached RW' error means a stale storage "
        "lock (resetvdis.py).",
        xe=tuple(f"xe vm-start uuid={v.uuid} on={survivor.name_label}" for v in vms),
        calls=tuple(f"VM.start_on({v.name_label}, {survivor.name_label}, false, false)" for v in vms),
        preconditions=tuple(pre),
        verify="Each VM's power_state is Running, resident on the survivor.",
        on_failure="Read the error per VM: HOST_NOT_ENOUGH_FREE_MEMORY (stop something or start "
        "fewer), VDI in use (storage lock), SR not plugged (plug its PBD).",
        confirm=Confirm.F8,
        target_host=survivor.name_label,
        requires_fenced=tuple(dead_names),
        params={
            "host": survivor.name_label,
            "vm_uuids": ",".join(v.uuid for v in vms),
            "vm_names": ",".join(v.name_label for v in vms),
            "flagged": ",".join(flagged),
        },
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """Each VM in turn: looked up afresh (its own idempotence check: one already
    running anywhere, or left down on purpose, is not started), started, and its
    power state read back at once. What happened to each goes to ctx.scratch
    for verify."""
    survivor = ctx.step.params["host"]
    wanted = [u for u in ctx.step.params.get("vm_uuids", "").split(",") if u]
    flagged = {n for n in ctx.step.params.get("flagged", "").split(",") if n}
    client = ctx.client(survivor)
    started: List[str] = []
    skipped: List[str] = []
    failed: List[str] = []
    left_down: List[Dict[str, str]] = []  # deliberately not started: {uuid, name, reason} (run_record.LEFT_DOWN)
    ctx.scratch.update(started=started, skipped=skipped, failed=failed, left_down=left_down)
    host_ref = None
    hosts = ex.call_xapi(ctx, client, "host.get_all_records")
    for ref, rec in hosts.items():
        if rec.get("name_label") == survivor:
            host_ref = ref
    if host_ref is None:
        raise StepFailed(f"{survivor} not found in the pool")
    srs = ex.call_xapi(ctx, client, "SR.get_all_records")
    for uuid in wanted:
        try:
            ref = ex.call_xapi(ctx, client, "VM.get_by_uuid", uuid, shown=[uuid])
        except XapiFailure as exc:
            skipped.append(f"{uuid}: {exc.code}")
            continue
        rec = ex.call_xapi(ctx, client, "VM.get_record", ref, shown=[uuid])
        name = rec.get("name_label", uuid)
        if name in flagged:
            skipped.append(f"{name}: claimed by two masters — check it by hand")
            left_down.append({"uuid": uuid, "name": name, "reason": "claimed by two masters"})
            continue
        if rec.get("power_state") != "Halted":
            where = hosts.get(rec.get("resident_on"), {}).get("name_label", "?")
            skipped.append(f"{name}: already {rec.get('power_state')} on {where}")
            continue
        local = local_disk_elsewhere(ex, ctx, client, rec, srs, host_ref)
        if local:
            skipped.append(f"{name}: disks on local storage {local} of another host — not started")
            left_down.append({"uuid": uuid, "name": name, "reason": f"disks on local storage {local}"})
            continue
        ctx.say(f"starting {name} on {survivor}")
        try:
            ex.call_xapi(ctx, client, "VM.start_on", ref, host_ref, False, False, shown=[name, uuid, survivor])
            state = ex.call_xapi(ctx, client, "VM.get_power_state", ref)
            if state != "Running":
                failed.append(f"{name}: power state {state} after start")
            else:
                started.append(name)
        except XapiFailure as exc:
            failed.append(f"{name}: {start_failure_reason(exc, survivor, _names(hosts, srs))}")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    """Judges what the action read back: a partial start fails the step; nothing
    to start (every VM already running or left down) makes it "skipped"."""
    survivor = ctx.step.params["host"]
    started, skipped, failed = ctx.scratch["started"], ctx.scratch["skipped"], ctx.scratch["failed"]
    left_down = ctx.scratch["left_down"]
    if left_down:  # so that the workload finding tells "left down on purpose" from "not restarted"
        ex.audit.record(
            ex.run_id,
            au.NOTE,
            step_id=ctx.step.id,
            host=survivor,
            outcome="left-down",
            inputs={"vms": left_down},
            detail=", ".join(v["name"] for v in left_down),
        )
    if started:
        ctx.notes.append("started: " + ", ".join(started))
    if skipped:
        ctx.notes.append("not started: " + "; ".join(skipped))
    if failed:
        # A partial start is a failure of the step, but the VMs that started stay running and
        # are named; each one that did not gets xapi's reason in plain words.
        raise StepFailed(
            f"{len(failed)} of {len(failed) + len(started)} VMs did not start on {survivor}: "
            + "; ".join(failed)
            + (f" (started: {', '.join(started)})" if started else "")
        )
    if not started:
        raise StepSkipped("nothing to start: " + "; ".join(skipped))
    return f"Running on {survivor}: {', '.join(started)}"


def local_disk_elsewhere(
    ex: StepRunner,
    ctx: StepContext,
    client: Any,
    vm_rec: Mapping[str, Any],
    srs: Mapping[str, Mapping[str, Any]],
    host_ref: str,
) -> str:
    """Name of a non-shared SR a VM's disks live on that is not attached to `host_ref`."""
    for vbd in vm_rec.get("VBDs", []) or []:
        try:
            vdi = ex.call_xapi(ctx, client, "VBD.get_VDI", vbd)
            if not vdi or vdi == "OpaqueRef:NULL":
                continue
            sr = ex.call_xapi(ctx, client, "VDI.get_SR", vdi)
        except XapiFailure:
            continue
        rec = srs.get(sr)
        if rec is None or rec.get("shared"):
            continue
        pbds = rec.get("PBDs", []) or []
        on_host = False
        for pbd in pbds:
            try:
                if ex.call_xapi(ctx, client, "PBD.get_host", pbd) == host_ref:
                    on_host = True
            except XapiFailure:
                continue
        if not on_host:
            name: str = rec.get("name_label", sr)
            return name
    return ""


def _names(*tables: Mapping[str, Mapping[str, Any]]) -> Dict[str, str]:
    """ref -> name_label for the records we already hold (hosts, SRs)."""
    return {ref: str(rec.get("name_label") or ref) for table in tables for ref, rec in table.items()}


def _gib(text: str) -> str:
    try:
        return f"{int(text) / 1024**3:.1f} GiB"
    except ValueError:
        return text


def start_failure_reason(exc: XapiFailure, survivor: str, names: Dict[str, str]) -> str:
    """Why xapi refused VM.start_on, in plain words, with xapi's code for reference."""
    code, params = exc.code, [names.get(p, p) for p in exc.details[1:]]
    if code == "HOST_NOT_ENOUGH_FREE_MEMORY" and len(params) >= 2:
        words = (
            f"not enough free memory on {survivor} (needs {_gib(params[0])}, {_gib(params[1])} free); "
            "shut down a less important VM or start it on another host"
        )
    elif code == "VM_REQUIRES_SR" and len(params) >= 2:
        words = f"its storage {params[1]} is not attached on {survivor}; plug the SR's PBD there first"
    elif code == "VM_REQUIRES_NETWORK" and len(params) >= 2:
        words = f"{survivor} has no interface on the VM's network {params[1]}"
    elif code == "HOST_DISABLED":
        words = f"{survivor} is disabled and accepts no VMs; enable it once it is healthy"
    elif code == "HOST_NOT_LIVE":
        words = f"xapi does not consider {survivor} live"
    elif code == "VDI_IN_USE":
        words = "one of its disks is attached to another VM"
    else:
        words = explain(code, params).one_line()
    return f"{words} [xapi: {code}]"


STEP = StepKind("start-vms", declare=declare, action=action, verify=verify)
