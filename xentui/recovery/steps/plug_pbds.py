"""Connect storage: plug every unplugged PBD of the hosts that answer, the master's first."""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, StepSkipped, master_of
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


def run(ex: StepRunner, ctx: StepContext) -> str:
    master = master_of(ctx)
    sit = ctx.sit
    client, owned = ex.client_for(sit, master)
    plugged, failed = [], []
    try:
        hosts = ex.call_xapi(ctx, client, "host.get_all_records")
        pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
        srs = ex.call_xapi(ctx, client, "SR.get_all_records")
        master_ref = next((r for r, h in hosts.items() if h.get("name_label") == master), None)
        alive = set()
        for ref, rec in hosts.items():
            h = sit.snap.host_by_name(rec.get("name_label", ""))
            if h is None or not sit.is_down(h):
                alive.add(ref)
        todo = [
            (ref, rec) for ref, rec in pbds.items() if not rec.get("currently_attached") and rec.get("host") in alive
        ]
        todo.sort(key=lambda item: item[1].get("host") != master_ref)  # master first
        for ref, rec in todo:
            label = (
                f"{srs.get(rec.get('SR'), {}).get('name_label', '?')} on "
                f"{hosts.get(rec.get('host'), {}).get('name_label', '?')}"
            )
            try:
                ex.call_xapi(ctx, client, "PBD.plug", ref, shown=[rec.get("uuid", ""), label])
                plugged.append(label)
            except XapiFailure as exc:
                failed.append(f"{label}: {' '.join(exc.details)}")
        pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
        still = [
            rec.get("uuid", "")
            for rec in pbds.values()
            if not rec.get("currently_attached") and rec.get("host") in alive
        ]
    finally:
        if owned:
            client.close()
    if failed:
        raise StepFailed("could not plug: " + "; ".join(failed))
    if still:
        raise StepFailed("still unplugged: " + ", ".join(still))
    if not plugged:
        raise StepSkipped("every PBD of every answering host is plugged")
    ctx.notes.append("plugged: " + ", ".join(plugged))
    return "all PBDs of answering hosts are attached"


STEP = StepKind("plug-pbds", run, declare)
