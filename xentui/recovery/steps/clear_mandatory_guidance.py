"""Clear a host's pending mandatory update guidance (host.emergency_clear_mandatory_guidance).

xapi refuses host.enable while host.pending_guidances is not empty
(xapi_host.ml enable -> assert_safe_to_reenable ->
Repository_helpers.assert_no_host_pending_mandatory_guidance:
HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY), and consider_enabling_host leaves
such a host disabled at start-up. The guidance is cleared by following it
(xapi clears reboot_host at the host's next boot) or by
host.emergency_clear_mandatory_guidance (xapi_host.ml: sets the LOCAL host's
pending_guidances to []). That call takes no host argument and is local-only
(datamodel_host.ml: _R_LOCAL_ROOT_ONLY, in the emergency call list; the CLI's
host-emergency-clear-mandatory-guidance is Neverforward): it runs on the host
itself, through a session of that host.
"""

from __future__ import annotations

from typing import List, Sequence

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host

# What each guidance asks for, in the words of the updates' metadata (Updateinfo.Guidance).
GUIDANCE_WORDS = {
    "reboot_host": "reboot the host",
    "reboot_host_on_livepatch_failure": "reboot the host (a live patch failed)",
    "reboot_host_on_kernel_livepatch_failure": "reboot the host (a kernel live patch failed)",
    "reboot_host_on_xen_livepatch_failure": "reboot the host (a Xen live patch failed)",
    "restart_toolstack": "restart the toolstack (xe-toolstack-restart)",
    "restart_device_model": "restart the VMs' device models",
    "restart_vm": "restart the VMs",
}


def guidance_words(guidances: Sequence[str]) -> str:
    return "; ".join(f"{g} ({GUIDANCE_WORDS.get(g, 'see the update notes')})" for g in guidances)


def declare(host: Host, master: Host) -> Step:
    pending = tuple(host.pending_guidances)
    name = host.name_label
    return Step(
        id=f"clear-mandatory-guidance:{name}",
        title=f"Clear {name}'s pending mandatory update guidance",
        why=f"An update left mandatory guidance pending on {name}: {guidance_words(pending)}. "
        "Until it is gone xapi refuses host-enable (HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY), so "
        f"{name} stays disabled and takes no VMs.",
        changes=f"Empties {name}'s host.pending_guidances. The update itself is not applied further: "
        "following the guidance (e.g. rebooting the host) is the other way, and clears it by itself.",
        risk="medium",
        risk_text="If the guidance was NOT followed, the host runs without the update in effect "
        "(e.g. the old hypervisor until its next reboot). Clear it when it was followed, or when you "
        "accept that until the next maintenance window.",
        xe=(f"xe host-emergency-clear-mandatory-guidance   # on {name}'s own console (it is local-only)",),
        calls=(f"host.emergency_clear_mandatory_guidance() on {name}",),
        preconditions=(Answers(name),),
        verify=f"{name}'s host.pending_guidances is empty (read from the master).",
        on_failure=f"Run the xe command on {name} itself; or follow the guidance (reboot {name}).",
        confirm=Confirm.F8,
        target_host=name,
        params={
            "host": name,
            "host_uuid": host.uuid,
            "master": master.name_label,
            "guidances": ",".join(pending),
        },
    )


def _pending(ex: StepRunner, ctx: StepContext) -> List[str]:
    """The host's pending guidance, read from the master."""
    client = ctx.client(master_of(ctx))
    if "host_ref" not in ctx.scratch:
        ctx.scratch["host_ref"] = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    name = ctx.step.params["host"]
    return [
        str(g)
        for g in ex.call_xapi(ctx, client, "host.get_pending_guidances", ctx.scratch["host_ref"], shown=[name]) or []
    ]


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    pending = _pending(ex, ctx)
    ctx.scratch["before"] = pending
    return "" if pending else f"{ctx.step.params['host']} has no pending mandatory guidance"


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    # The call clears the guidance of the host that serves it: it goes to `name` itself.
    ex.call_xapi(ctx, ctx.client(name), "host.emergency_clear_mandatory_guidance", shown=[name])
    ctx.notes.append("cleared: " + ", ".join(ctx.scratch["before"]))


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    after = _pending(ex, ctx)
    if after:
        raise StepFailed(f"{name} still has pending guidance: {', '.join(after)}")
    return f"{name}'s pending mandatory guidance is empty (was: {', '.join(ctx.scratch['before'])})"


STEP = StepKind("clear-mandatory-guidance", declare=declare, already_done=already_done, action=action, verify=verify)
