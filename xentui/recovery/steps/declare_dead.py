"""Declare the dead host dead: reset its VMs' power state and disable it (host.declare_dead)."""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, IsMaster, Silent
from xentui.recovery.situation import RUNNING_STATES
from xentui.recovery.step_context import (
    StepContext,
    StepFailed,
    StepRunner,
    host_ref_by_uuid,
    master_of,
    timed_out_but_going_on,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import CallTimeout
from xentui.xapi.model import Host


def declare(dead: Host, master: Host, vm_names: Sequence[str]) -> Step:
    vms = ", ".join(vm_names) if vm_names else "none"
    return Step(
        id=f"declare-dead:{dead.name_label}",
        title=f"Declare {dead.name_label} dead (reset its VMs' power state)",
        why=f"The database still says VMs run on {dead.name_label} ({vms}); they cannot start "
        "elsewhere until their power state is reset.",
        changes=f"Marks every VM resident on {dead.name_label} as Halted and disables "
        f"{dead.name_label} in the pool database. Nothing is sent to the dead host.",
        risk="critical",
        risk_text="If the host is not really off, its VMs run twice after the restart step and "
        "their disks are corrupted. Only after you have attested it is fenced.",
        xe=(f"xe host-declare-dead uuid={dead.uuid} --force",),
        calls=(f"host.declare_dead({dead.name_label})",),
        preconditions=(Fenced(dead.name_label), Silent(dead.name_label, dead.address), IsMaster(master.name_label)),
        verify=f"No VM is left Running on {dead.name_label}; the host is disabled.",
        on_failure="HOST_IS_LIVE: xapi reached the host, so it is NOT dead: stop and fence it. "
        "Otherwise reset each VM: xe vm-reset-powerstate uuid=<vm> --force.",
        confirm=Confirm.TYPED_HOST,
        target_host=dead.name_label,
        requires_fenced=(dead.name_label,),
        params={"host": dead.name_label, "host_uuid": dead.uuid, "address": dead.address, "master": master.name_label},
    )


def _running_on(vms: Mapping[str, Mapping[str, Any]], host_ref: str) -> List[Mapping[str, Any]]:
    return [
        rec
        for rec in vms.values()
        if rec.get("resident_on") == host_ref
        and not rec.get("is_control_domain")
        and rec.get("power_state") in RUNNING_STATES
    ]


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    dead = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    ref = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    mine = _running_on(ex.call_xapi(ctx, client, "VM.get_all_records"), ref)
    before = sorted(rec.get("name_label", "") for rec in mine)
    reset_uuids = sorted(str(rec.get("uuid", "")) for rec in mine)
    ctx.scratch.update(host_ref=ref, before=before, reset_uuids=reset_uuids)
    if not before and not ex.call_xapi(ctx, client, "host.get_enabled", ref):
        return f"{dead} is already disabled with no VM marked running"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    dead = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    try:
        ex.call_xapi(
            ctx, client, "host.declare_dead", ctx.scratch["host_ref"], shown=[dead, ctx.step.params["host_uuid"]]
        )
    except CallTimeout as exc:
        ctx.scratch["still_running"] = True
        # is_host_alive asks the host with no timeout of xapi's own: the call goes on
        # there; not a failure. Judge by the result in verify (and on the next run).
        timed_out_but_going_on(ctx, "host.declare_dead", exc, f"it is still contacting {dead}")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    dead = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    ref = ctx.scratch["host_ref"]
    left = sorted(
        rec.get("name_label", "") for rec in _running_on(ex.call_xapi(ctx, client, "VM.get_all_records"), ref)
    )
    enabled = ex.call_xapi(ctx, client, "host.get_enabled", ref)
    if (left or enabled) and ctx.scratch.get("still_running"):
        raise StepFailed(
            f"host.declare_dead is still running in xapi (it contacts {dead} with no "
            "timeout); xapi did not refuse it: run again to check the result"
        )
    if left or enabled:
        raise StepFailed(f"after declare_dead: still running on {dead}: {left}; enabled={enabled}")
    before = ctx.scratch["before"]
    # Remembered so that an interrupted run still restarts these VMs on resume.
    ex.audit.record(
        ex.run_id,
        au.NOTE,
        step_id=ctx.step.id,
        host=dead,
        outcome="power-state-reset",
        inputs={"reset_vm_uuids": ctx.scratch["reset_uuids"]},
        detail=", ".join(before),
    )
    ctx.notes.append(f"power state reset: {', '.join(before) or 'none'}")
    return f"{dead} disabled; no VM marked running on it (reset: {', '.join(before) or 'none'})"


STEP = StepKind("declare-dead", declare=declare, already_done=already_done, action=action, verify=verify)
