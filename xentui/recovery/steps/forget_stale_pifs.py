"""Forget the PIF records of NICs that are gone (PIF.forget), never the one carrying the address."""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, StepSkipped, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import PIF, Host


def declare(host: Host, pifs: Sequence[PIF], master: Host) -> Step:
    return Step(
        id=f"forget-stale-pifs:{host.name_label}",
        title=f"Forget {host.name_label}'s PIFs of removed NICs",
        why="Stale PIFs clutter the network view and confuse bonds, VLANs and the management interface.",
        changes="Deletes the PIF records of: " + ", ".join(f"{p.device} ({p.mac})" for p in pifs) + ".",
        risk="low",
        risk_text="Only records of hardware that is gone; xapi refuses for the management PIF.",
        xe=tuple(f"xe pif-forget uuid={p.uuid}" for p in pifs),
        calls=tuple(f"PIF.forget({p.device})" for p in pifs),
        preconditions=(Answers(host.name_label), IsMaster(master.name_label)),
        verify="Those PIFs no longer exist.",
        on_failure="PIF_IS_MANAGEMENT_INTERFACE: move the management interface first. "
        "PIF_VLAN_STILL_EXISTS / bonded: destroy the VLAN or bond first.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={
            "host": host.name_label,
            "pif_uuids": ",".join(p.uuid for p in pifs),
            "pif_macs": ",".join(p.mac for p in pifs),
            "master": master.name_label,
        },
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """Each PIF in turn: looked up afresh (its own idempotence check: gone,
    re-matched by the scan to a present NIC, or carrying the management address
    is left alone), then forgotten. What happened to each goes to ctx.scratch."""
    uuids = [u for u in ctx.step.params.get("pif_uuids", "").split(",") if u]
    old_macs = dict(zip(uuids, ctx.step.params.get("pif_macs", "").lower().split(",")))
    client = ctx.client(master_of(ctx))
    outcome: Dict[str, List[str]] = {
        k: [] for k in ("forgotten", "gone", "failed", "shadowed", "rematched", "carrying")
    }
    ctx.scratch.update(outcome)
    for uuid in uuids:
        try:
            ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", uuid, shown=[uuid])
        except XapiFailure as exc:
            if exc.code in ("UUID_INVALID", "HANDLE_INVALID"):
                outcome["gone"].append(uuid)
                continue
            raise
        mac = str(ex.call_xapi(ctx, client, "PIF.get_MAC", ref)).lower()
        if old_macs.get(uuid) and mac != old_macs[uuid]:
            outcome["rematched"].append(uuid)  # the scan gave it the present NIC: not stale any more
            continue
        if on_management_bridge(ex, ctx, client, ref):
            # xapi_pif.ml forget_internal brings the PIF's bridge down first: on the bridge
            # that carries the host's address, forgetting it takes the address away
            outcome["carrying"].append(uuid)
            continue
        try:
            ex.call_xapi(ctx, client, "PIF.forget", ref, shown=[uuid])
            outcome["forgotten"].append(uuid)
        except XapiFailure as exc:
            if exc.code == "PIF_IS_MANAGEMENT_INTERFACE" and management_elsewhere(ex, ctx, client, ref):
                outcome["shadowed"].append(uuid)  # see rules.shadowed_management_pifs
            else:
                outcome["failed"].append(f"{uuid}: {' '.join(exc.details)}")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    """Judges what the action saw: nothing forgotten makes the step "skipped"."""
    failed, shadowed, carrying = ctx.scratch["failed"], ctx.scratch["shadowed"], ctx.scratch["carrying"]
    if failed:
        raise StepFailed("could not forget: " + "; ".join(failed))
    if shadowed:
        ctx.notes.append(
            f"left in place: {len(shadowed)} old PIF(s) xapi still flags as management "
            "next to the new NIC's PIF (harmless; removed by xe-reset-networking or a "
            "reinstall)"
        )
    if ctx.scratch["rematched"]:
        ctx.notes.append(f"kept: {len(ctx.scratch['rematched'])} PIF(s) the scan matched to the present NICs")
    if carrying:
        ctx.notes.append(
            f"kept: {len(carrying)} old PIF(s) on the bridge that carries the management "
            "address (PIF.forget would bring that bridge down and cut the host off)"
        )
    if not ctx.scratch["forgotten"]:
        raise StepSkipped(
            "nothing the API can forget"
            if shadowed or carrying
            else "no stale PIF left (re-matched by the scan or already gone)"
        )
    return f"forgotten: {len(ctx.scratch['forgotten'])} PIF(s)"


def on_management_bridge(ex: StepRunner, ctx: StepContext, client: Any, pif_ref: str) -> bool:
    """Is this (non-management) PIF on the same bridge as its host's management PIF?"""
    rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
    if rec.get("management"):
        return False  # xapi refuses it itself (PIF_IS_MANAGEMENT_INTERFACE)
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    networks = {
        r.get("network")
        for ref, r in pifs.items()
        if ref != pif_ref and r.get("host") == rec.get("host") and r.get("management")
    }
    if not networks:
        return False
    bridges = {ex.call_xapi(ctx, client, "network.get_bridge", n) for n in networks if n and n != "OpaqueRef:NULL"}
    network = rec.get("network")
    if not network or network == "OpaqueRef:NULL":
        return False
    return ex.call_xapi(ctx, client, "network.get_bridge", network) in bridges


def management_elsewhere(ex: StepRunner, ctx: StepContext, client: Any, pif_ref: str) -> bool:
    """Does another PIF of the same host, whose NIC has a link, carry the management flag?"""
    rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
    return any(
        r.get("host") == rec.get("host")
        and ref != pif_ref
        and r.get("management")
        and metrics.get(r.get("metrics"), {}).get("carrier")
        for ref, r in pifs.items()
    )


STEP = StepKind("forget-stale-pifs", declare=declare, action=action, verify=verify)
