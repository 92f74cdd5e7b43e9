"""Reset one VM's power state (VM.power_state_reset), behind the fence gate."""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, IsMaster, Silent
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import VM, Host


def declare(vm: VM, dead: Host, master: Host) -> Step:
    """One VM's power state reset (no plan lists it today: declare-dead resets
    every VM of the host). The same fence gate as start-vms: the host it was
    resident on attested AND silent right now (the executor adds it anyway)."""
    return Step(
        id=f"power-state-reset:{vm.name_label}",
        title=f"Reset the power state of {vm.name_label} (marked running on {dead.name_label})",
        why=f"The database says {vm.name_label} runs on {dead.name_label}, which does not answer; "
        "it cannot start elsewhere until its power state is reset.",
        changes=f"Marks {vm.name_label} Halted and resident nowhere. Nothing is sent to {dead.name_label}.",
        risk="critical",
        risk_text=f"If {dead.name_label} is not really off, the VM runs twice once started and its "
        "disks are corrupted. Only after you have attested it is fenced.",
        xe=(f"xe vm-reset-powerstate uuid={vm.uuid} --force",),
        calls=(f"VM.power_state_reset({vm.name_label})",),
        preconditions=(IsMaster(master.name_label), Fenced(dead.name_label), Silent(dead.name_label, dead.address)),
        verify=f"{vm.name_label}'s power_state is Halted.",
        on_failure="HOST_IS_LIVE or DOMAIN_EXISTS: the host is NOT dead: stop and fence it.",
        confirm=Confirm.TYPED_HOST,
        target_host=dead.name_label,
        requires_fenced=(dead.name_label,),
        params={"vm_uuid": vm.uuid, "vm_name": vm.name_label, "host": dead.name_label, "master": master.name_label},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    uuid = ctx.step.params["vm_uuid"]
    client = ctx.client(master_of(ctx))
    ref = ex.call_xapi(ctx, client, "VM.get_by_uuid", uuid, shown=[uuid])
    ctx.scratch["vm_ref"] = ref
    if ex.call_xapi(ctx, client, "VM.get_power_state", ref) == "Halted":
        return "already Halted"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    uuid = ctx.step.params["vm_uuid"]
    ex.call_xapi(ctx, ctx.client(master_of(ctx)), "VM.power_state_reset", ctx.scratch["vm_ref"], shown=[uuid])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    state = ex.call_xapi(ctx, ctx.client(master_of(ctx)), "VM.get_power_state", ctx.scratch["vm_ref"])
    if state != "Halted":
        raise StepFailed(f"power state is {state} after the reset")
    return "VM is Halted"


STEP = StepKind("power-state-reset", declare=declare, already_done=already_done, action=action, verify=verify)
