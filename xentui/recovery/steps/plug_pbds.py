"""Connect storage: plug every unplugged PBD of the hosts that answer, the master's first."""

from __future__ import annotations

from typing import List

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host


def declare(master: Host) -> Step:
    return Step(
        id="plug-pbds",
        title="Connect storage (PBDs), master first",
        why="After a master change some SRs may be disconnected on some hosts; VMs on them cannot start.",
        changes="Plugs every unplugged PBD on hosts that answer, the master's first.",
        risk="low",
        risk_text="Plugging is safe; it fails harmlessly if the storage is unreachable.",
        xe=("xe pbd-list currently-attached=false", "xe pbd-plug uuid=<pbd>   # master's first"),
        calls=("PBD.plug(pbd) for each unplugged PBD",),
        preconditions=(IsMaster(master.name_label),),
        verify="Every PBD of every answering host has currently_attached = true.",
        on_failure="Check the storage network/target from the host (SR_BACKEND_FAILURE tells "
        "which); PBDs of a dead host stay unplugged.",
        confirm=Confirm.ENTER,
        target_host=master.name_label,
        params={"master": master.name_label},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    master = master_of(ctx)
    sit = ctx.sit
    client = ctx.client(master)
    hosts = ex.call_xapi(ctx, client, "host.get_all_records")
    pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
    srs = ex.call_xapi(ctx, client, "SR.get_all_records")
    master_ref = next((r for r, h in hosts.items() if h.get("name_label") == master), None)
    alive = set()
    for ref, rec in hosts.items():
        h = sit.snap.host_by_name(rec.get("name_label", ""))
        if h is None or not sit.is_down(h):
            alive.add(ref)
    todo = [(ref, rec) for ref, rec in pbds.items() if not rec.get("currently_attached") and rec.get("host") in alive]
    todo.sort(key=lambda item: item[1].get("host") != master_ref)  # master first
    ctx.scratch.update(hosts=hosts, srs=srs, alive=alive, todo=todo)
    if not todo:
        return "every PBD of every answering host is plugged"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    client = ctx.client(master_of(ctx))
    hosts, srs = ctx.scratch["hosts"], ctx.scratch["srs"]
    plugged: List[str] = []
    failed: List[str] = []
    for ref, rec in ctx.scratch["todo"]:
        label = (
            f"{srs.get(rec.get('SR'), {}).get('name_label', '?')} on "
            f"{hosts.get(rec.get('host'), {}).get('name_label', '?')}"
        )
        try:
            ex.call_xapi(ctx, client, "PBD.plug", ref, shown=[rec.get("uuid", ""), label])
            plugged.append(label)
        except XapiFailure as exc:
            failed.append(f"{label}: {' '.join(exc.details)}")
    ctx.scratch.update(plugged=plugged, failed=failed)


def verify(ex: StepRunner, ctx: StepContext) -> str:
    alive = ctx.scratch["alive"]
    pbds = ex.call_xapi(ctx, ctx.client(master_of(ctx)), "PBD.get_all_records")
    still = [
        rec.get("uuid", "") for rec in pbds.values() if not rec.get("currently_attached") and rec.get("host") in alive
    ]
    if ctx.scratch["failed"]:
        raise StepFailed("could not plug: " + "; ".join(ctx.scratch["failed"]))
    if still:
        raise StepFailed("still unplugged: " + ", ".join(still))
    ctx.notes.append("plugged: " + ", ".join(ctx.scratch["plugged"]))
    return "all PBDs of answering hosts are attached"


STEP = StepKind("plug-pbds", declare=declare, already_done=already_done, action=action, verify=verify)
