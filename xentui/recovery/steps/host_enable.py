"""Enable a host that was left disabled (host.enable), once what kept it disabled is fixed.

xapi_host.ml enable: only when disabled; assert_safe_to_reenable refuses with
HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY while guidance is pending (the
clear-mandatory-guidance step comes first), then enabled=true. Planned only
for a host whose reason to stay disabled xentui found (pending guidance, a PBD
that did not plug): a host an admin disabled for maintenance is left alone.
"""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host


def declare(host: Host, master: Host) -> Step:
    name = host.name_label
    return Step(
        id=f"host-enable:{name}",
        title=f"Enable {name}",
        why=f"{name} answers but is disabled: no VM can start or migrate there.",
        changes=f"Sets {name} enabled (host.enable): it takes VMs again.",
        risk="low",
        risk_text="xapi itself refuses while guidance is pending; a host with unplugged storage "
        "would take VMs it cannot run (the PBDs are plugged first).",
        xe=(f"xe host-enable uuid={host.uuid}",),
        calls=(f"host.enable({name})",),
        preconditions=(IsMaster(master.name_label), Answers(name)),
        verify=f"{name} is enabled and every PBD of it is attached.",
        on_failure="HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY: clear or follow the guidance first; "
        "HOST_STILL_BOOTING: wait for its xapi to finish starting, then run it again.",
        confirm=Confirm.ENTER,
        target_host=name,
        params={"host": name, "host_uuid": host.uuid, "master": master.name_label},
    )


def _host_ref(ex: StepRunner, ctx: StepContext) -> str:
    if "host_ref" not in ctx.scratch:
        client = ctx.client(master_of(ctx))
        ctx.scratch["host_ref"] = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    ref: str = ctx.scratch["host_ref"]
    return ref


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    if ex.call_xapi(ctx, client, "host.get_enabled", _host_ref(ex, ctx), shown=[name]):
        return f"{name} is already enabled"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    ex.call_xapi(ctx, ctx.client(master_of(ctx)), "host.enable", _host_ref(ex, ctx), shown=[name])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    ref = _host_ref(ex, ctx)
    if not ex.call_xapi(ctx, client, "host.get_enabled", ref, shown=[name]):
        raise StepFailed(f"{name} is still disabled after host.enable")
    unplugged = []
    for pbd in ex.call_xapi(ctx, client, "host.get_PBDs", ref, shown=[name]) or []:
        try:
            if not ex.call_xapi(ctx, client, "PBD.get_currently_attached", pbd):
                unplugged.append(str(ex.call_xapi(ctx, client, "PBD.get_uuid", pbd)))
        except XapiFailure:
            continue  # destroyed meanwhile
    if unplugged:
        raise StepFailed(f"{name} is enabled but PBDs are not attached: {', '.join(unplugged)}")
    return f"{name} is enabled and all its PBDs are attached"


STEP = StepKind("host-enable", declare=declare, already_done=already_done, action=action, verify=verify)
