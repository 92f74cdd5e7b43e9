"""Step handlers for the dead host's VMs: declare dead, reset, restart elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xentui.recovery import audit as au
from xentui.recovery.situation import RUNNING_STATES
from xentui.recovery.step_context import StepContext, StepFailed, StepSkipped
from xentui.xapi.errors import XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


def declare_dead(ex: "PlanExecutor", ctx: StepContext) -> str:
    dead = ctx.step.params["host"]
    uuid = ctx.step.params["host_uuid"]
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        ref = ex.host_ref(ctx, client, uuid)
        vms = ex.call_xapi(ctx, client, "VM.get_all_records")
        mine = [rec for rec in vms.values()
                if rec.get("resident_on") == ref and not rec.get("is_control_domain")
                and rec.get("power_state") in RUNNING_STATES]
        before = sorted(rec.get("name_label", "") for rec in mine)
        reset_uuids = sorted(str(rec.get("uuid", "")) for rec in mine)
        if not before and not ex.call_xapi(ctx, client, "host.get_enabled", ref):
            raise StepSkipped(f"{dead} is already disabled with no VM marked running")
        ex.call_xapi(ctx, client, "host.declare_dead", ref, shown=[dead, uuid])
        vms = ex.call_xapi(ctx, client, "VM.get_all_records")
        left = sorted(rec.get("name_label", "") for rec in vms.values()
                      if rec.get("resident_on") == ref and not rec.get("is_control_domain")
                      and rec.get("power_state") in RUNNING_STATES)
        enabled = ex.call_xapi(ctx, client, "host.get_enabled", ref)
    finally:
        if owned:
            client.close()
    if left or enabled:
        raise StepFailed(f"after declare_dead: still running on {dead}: {left}; enabled={enabled}")
    # Remembered so that an interrupted run still restarts these VMs on resume.
    ex.audit.record(ex.run_id, au.NOTE, step_id=ctx.step.id, host=dead, outcome="power-state-reset",
                    inputs={"reset_vm_uuids": reset_uuids}, detail=", ".join(before))
    ctx.notes.append(f"power state reset: {', '.join(before) or 'none'}")
    return f"{dead} disabled; no VM marked running on it (reset: {', '.join(before) or 'none'})"


def power_state_reset(ex: "PlanExecutor", ctx: StepContext) -> str:
    uuid = ctx.step.params["vm_uuid"]
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        ref = ex.call_xapi(ctx, client, "VM.get_by_uuid", uuid, shown=[uuid])
        if ex.call_xapi(ctx, client, "VM.get_power_state", ref) == "Halted":
            raise StepSkipped("already Halted")
        ex.call_xapi(ctx, client, "VM.power_state_reset", ref, shown=[uuid])
        state = ex.call_xapi(ctx, client, "VM.get_power_state", ref)
    finally:
        if owned:
            client.close()
    if state != "Halted":
        raise StepFailed(f"power state is {state} after the reset")
    return "VM is Halted"


def start_vms(ex: "PlanExecutor", ctx: StepContext) -> str:
    survivor = ctx.step.params["host"]
    wanted = [u for u in ctx.step.params.get("vm_uuids", "").split(",") if u]
    flagged = {n for n in ctx.step.params.get("flagged", "").split(",") if n}
    client, owned = ex.client_for(ctx.sit, survivor)
    started, skipped, failed = [], [], []
    try:
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
                continue
            if rec.get("power_state") != "Halted":
                where = hosts.get(rec.get("resident_on"), {}).get("name_label", "?")
                skipped.append(f"{name}: already {rec.get('power_state')} on {where}")
                continue
            local = local_disk_elsewhere(ex, ctx, client, rec, srs, host_ref)
            if local:
                skipped.append(f"{name}: disks on local storage {local} of another host — not started")
                continue
            ctx.say(f"starting {name} on {survivor}")
            try:
                ex.call_xapi(ctx, client, "VM.start_on", ref, host_ref, False, False,
                             shown=[name, uuid, survivor])
                state = ex.call_xapi(ctx, client, "VM.get_power_state", ref)
                if state != "Running":
                    failed.append(f"{name}: power state {state} after start")
                else:
                    started.append(name)
            except XapiFailure as exc:
                failed.append(f"{name}: {' '.join(exc.details)}")
    finally:
        if owned:
            client.close()
    if started:
        ctx.notes.append("started: " + ", ".join(started))
    if skipped:
        ctx.notes.append("not started: " + "; ".join(skipped))
    if failed:
        raise StepFailed("failed to start: " + "; ".join(failed)
                         + (f" (started: {', '.join(started)})" if started else ""))
    if not started:
        raise StepSkipped("nothing to start: " + "; ".join(skipped))
    return f"Running on {survivor}: {', '.join(started)}"


def local_disk_elsewhere(ex: "PlanExecutor", ctx: StepContext, client, vm_rec: dict, srs: dict, host_ref: str) -> str:
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
            return rec.get("name_label", sr)
    return ""
