"""Bring up a host's new network cards (PIF.plug) and keep its management address on them."""

from __future__ import annotations

from typing import Any, List, Mapping

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(host: Host, master: Host, address: str = "", netmask: str = "") -> Step:
    """Plug the PIFs the scan created (and persist the management address on them)."""
    return Step(
        id=f"pif-plug:{host.name_label}",
        title=f"Bring up {host.name_label}'s new network cards",
        why="PIF.scan creates the new NICs' PIFs detached (only the management one is attached), "
        "and without IP configuration.",
        changes="Plugs every present, detached physical PIF of the host"
        + (f"; a management PIF without IP configuration gets {address} (static)" if address else "")
        + ".",
        risk="low",
        risk_text="Brings up NICs that are not in use yet; the management address stays the same.",
        xe=(f"xe pif-list host-uuid={host.uuid} physical=true currently-attached=false", "xe pif-plug uuid=<new-pif>")
        + (
            (
                f"xe pif-reconfigure-ip uuid=<new-management-pif> mode=static IP={address} "
                f"netmask={netmask or '255.255.255.0'}   # if its mode is None",
            )
            if address
            else ()
        ),
        calls=("PIF.plug(pif)", "PIF.reconfigure_ip(management pif, Static, ...)"),
        preconditions=(Answers(host.name_label), IsMaster(master.name_label)),
        verify="Every present NIC's PIF is attached; the management PIF has an IP configuration.",
        on_failure="Check the cable and switch port of that NIC; 'xe pif-param-list uuid=<pif>'.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={
            "host": host.name_label,
            "host_uuid": host.uuid,
            "master": master.name_label,
            "address": address,
            "netmask": netmask,
        },
    )


def _needs_address(ctx: StepContext, rec: Mapping[str, Any]) -> bool:
    """A management PIF the scan created without IP configuration (the next boot
    would have no management IP again)."""
    address = ctx.step.params.get("address", "")
    return bool(rec.get("management") and rec.get("ip_configuration_mode") == "None" and address)


def _needs_plug(ctx: StepContext, rec: Mapping[str, Any]) -> bool:
    """Present (its NIC has a link) and detached; a NIC without a link, or one
    that is gone, has nothing to plug."""
    metrics = ctx.scratch["metrics"]
    return not rec.get("currently_attached") and bool(metrics.get(rec.get("metrics"), {}).get("carrier"))


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    host_ref = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
    ctx.scratch.update(host_ref=host_ref, metrics=metrics)
    todo = [
        (ref, rec)
        for ref, rec in sorted(pifs.items(), key=lambda kv: kv[1].get("device", ""))
        if rec.get("host") == host_ref and rec.get("physical") and (_needs_address(ctx, rec) or _needs_plug(ctx, rec))
    ]
    ctx.scratch["todo"] = todo
    if not todo:
        return f"every present NIC of {name} is already plugged"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    """Plug the host's present, detached physical PIFs; give a management PIF the
    scan created without IP configuration the host's address."""
    address = ctx.step.params.get("address", "")
    netmask = ctx.step.params.get("netmask", "") or "255.255.255.0"
    client = ctx.client(master_of(ctx))
    plugged: List[str] = []
    configured: List[str] = []
    for ref, rec in ctx.scratch["todo"]:
        if _needs_address(ctx, rec):
            ex.call_xapi(
                ctx,
                client,
                "PIF.reconfigure_ip",
                ref,
                "Static",
                address,
                netmask,
                rec.get("gateway", ""),
                rec.get("DNS", ""),
                shown=[rec.get("uuid", ""), "Static", address],
                lost_ok=True,
            )
            configured.append(rec.get("device", ""))
        if _needs_plug(ctx, rec):
            ex.call_xapi(ctx, client, "PIF.plug", ref, shown=[rec.get("uuid", ""), rec.get("device", "")])
            plugged.append(rec.get("device", ""))
    ctx.scratch.update(plugged=plugged, configured=configured)


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    address = ctx.step.params.get("address", "")
    host_ref = ctx.scratch["host_ref"]
    after = ex.call_xapi(ctx, ctx.client(master_of(ctx)), "PIF.get_all_records")
    detached = [
        r.get("device")
        for r in after.values()
        if r.get("host") == host_ref and r.get("physical") and _needs_plug(ctx, r)
    ]
    if detached:
        raise StepFailed(f"still detached on {name}: {', '.join(detached)}")
    configured, plugged = ctx.scratch["configured"], ctx.scratch["plugged"]
    parts = []
    if configured:
        parts.append(f"management PIF {', '.join(configured)} keeps {address} across reboots")
    if plugged:
        parts.append(f"plugged {', '.join(plugged)}")
    return f"{name}: " + "; ".join(parts)


STEP = StepKind("pif-plug", declare=declare, already_done=already_done, action=action, verify=verify)
