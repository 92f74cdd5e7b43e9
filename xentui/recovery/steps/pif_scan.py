"""Scan a host for its new network cards (PIF.scan) after a NIC or motherboard replacement."""

from __future__ import annotations

from typing import Dict

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import StepContext, StepRunner, StepSkipped, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(host: Host, master: Host) -> Step:
    return Step(
        id=f"pif-scan:{host.name_label}",
        title=f"Scan {host.name_label} for its new network cards",
        why="After a NIC or motherboard replacement the PIFs still describe the old NICs.",
        changes=f"xapi re-reads {host.name_label}'s NICs: PIFs are matched to the NICs now present "
        "(by position, so a same-named new NIC takes over the old PIF's MAC) and PIFs are "
        "created for devices that have none.",
        risk="low",
        risk_text="Updates and adds PIF records; IP configuration is kept.",
        xe=(f"xe pif-scan host-uuid={host.uuid}",),
        calls=(f"PIF.scan({host.name_label})",),
        preconditions=(Answers(host.name_label), IsMaster(master.name_label)),
        verify="Every NIC with a link has a PIF.",
        on_failure="Run 'interface-rename --list' on the host; a reboot may be needed after renaming.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "master": master.name_label},
    )


def _macs(ex: StepRunner, ctx: StepContext, host_ref: str) -> Dict[str, str]:
    return {
        ref: str(rec.get("MAC", "")).lower()
        for ref, rec in ex.call_xapi(ctx, ctx.client(master_of(ctx)), "PIF.get_all_records").items()
        if rec.get("host") == host_ref
    }


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    host_ref = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    ctx.scratch.update(host_ref=host_ref, before=_macs(ex, ctx, host_ref))
    ex.call_xapi(ctx, client, "PIF.scan", host_ref, shown=[name])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    """Only the scan can tell whether there was anything to find: a scan that
    changed nothing makes the step "skipped"."""
    name = ctx.step.params["host"]
    before = ctx.scratch["before"]
    after = _macs(ex, ctx, ctx.scratch["host_ref"])
    new = [r for r in after if r not in before]
    rematched = [r for r in after if r in before and after[r] != before[r]]
    if not new and not rematched:
        raise StepSkipped(f"the scan changed nothing on {name}")
    return f"{name}: {len(rematched)} PIF(s) now match the present NICs, {len(new)} new PIF(s)"


STEP = StepKind("pif-scan", declare=declare, action=action, verify=verify)
