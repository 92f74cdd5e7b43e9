"""Bring up a host's new network cards (PIF.plug) and keep its management address on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, StepSkipped, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.plan import Step


def declare(host: Host, master: Host, address: str = "", netmask: str = "") -> Step:
    """Plug the PIFs the scan created (and persist the management address on them)."""
    from xentui.recovery.plan import Confirm, Step

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


def run(ex: StepRunner, ctx: StepContext) -> str:
    """Plug the host's present, detached physical PIFs; give a management PIF the
    scan created without IP configuration the host's address (else the next boot
    has no management IP again)."""
    name = ctx.step.params["host"]
    address = ctx.step.params.get("address", "")
    netmask = ctx.step.params.get("netmask", "") or "255.255.255.0"
    client, owned = ex.client_for(ctx.sit, master_of(ctx))
    plugged, configured = [], []
    try:
        host_ref = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
        pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
        metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
        for ref, rec in sorted(pifs.items(), key=lambda kv: kv[1].get("device", "")):
            if rec.get("host") != host_ref or not rec.get("physical"):
                continue
            if rec.get("management") and rec.get("ip_configuration_mode") == "None" and address:
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
            if rec.get("currently_attached"):
                continue
            if not metrics.get(rec.get("metrics"), {}).get("carrier"):
                continue  # a NIC without a link (or one that is gone): nothing to plug
            ex.call_xapi(ctx, client, "PIF.plug", ref, shown=[rec.get("uuid", ""), rec.get("device", "")])
            plugged.append(rec.get("device", ""))
        after = ex.call_xapi(ctx, client, "PIF.get_all_records")
    finally:
        if owned:
            client.close()
    detached = [
        r.get("device")
        for r in after.values()
        if r.get("host") == host_ref
        and r.get("physical")
        and not r.get("currently_attached")
        and metrics.get(r.get("metrics"), {}).get("carrier")
    ]
    if detached:
        raise StepFailed(f"still detached on {name}: {', '.join(detached)}")
    if not plugged and not configured:
        raise StepSkipped(f"every present NIC of {name} is already plugged")
    parts = []
    if configured:
        parts.append(f"management PIF {', '.join(configured)} keeps {address} across reboots")
    if plugged:
        parts.append(f"plugged {', '.join(plugged)}")
    return f"{name}: " + "; ".join(parts)


STEP = StepKind("pif-plug", run, declare)
