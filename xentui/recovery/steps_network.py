"""Step handlers for the management network and stale NICs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import MIN_REAL_WAIT, RESTART_BUDGET, StepContext, StepFailed, StepSkipped
from xentui.xapi.errors import XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


def management_reconfigure(ex: "PlanExecutor", ctx: StepContext) -> str:
    p = ctx.step.params
    name = p["host"]
    mode = p.get("mode", "emergency")
    if mode == "move":
        return move_management(ex, ctx)
    client, owned = ex.client_for(ctx.sit, name)
    try:
        if mode == "emergency":
            # The operator may name another interface: after a motherboard swap the new
            # NICs come up under new names (interface-rename) and xenbr0 has no NIC.
            iface = ctx.choice or p.get("interface") or "xenbr0"
            ex.call_xapi(ctx, client, "host.local_management_reconfigure", iface, shown=[iface], lost_ok=True)
        else:
            pif_ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", p["pif_uuid"], shown=[p["pif_uuid"]])
            rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
            ex.call_xapi(ctx, client, "PIF.reconfigure_ip", pif_ref, rec.get("ip_configuration_mode", "DHCP"),
                         rec.get("IP", ""), rec.get("netmask", ""), rec.get("gateway", ""), rec.get("DNS", ""),
                         shown=[p["pif_uuid"], rec.get("ip_configuration_mode", ""), rec.get("IP", "")],
                         lost_ok=True)
            ex.call_xapi(ctx, client, "host.management_reconfigure", pif_ref, shown=[p["pif_uuid"]], lost_ok=True)
    finally:
        if owned:
            client.close()

    def repaired(obs: Observation) -> Tuple[bool, str]:
        s = Situation(obs)
        if name == s.this_name:
            gt = obs.ground_truth
            link_ok = gt is not None and gt.management_link.ok and bool(gt.management_link.value.ipv4)
            if not link_ok:
                return False, "no IPv4 address yet"
            if s.emergency and s.reason_code == "HOST_HAS_NO_MANAGEMENT_IP":
                return False, "address back, xapi still reports HOST_HAS_NO_MANAGEMENT_IP"
            addrs = ", ".join(a.address for a in gt.management_link.value.ipv4)
            return True, f"{gt.management_link.value.ifname} has {addrs}"
        h = s.snap.host_by_name(name)
        st = s.state(h) if h is not None else None
        ok = st is not None and st.reach == pv.ANSWERS and st.reason_code != "HOST_HAS_NO_MANAGEMENT_IP"
        return ok, (st.evidence if st is not None else "unknown")

    _, why = ex.poll(ctx, repaired, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT),
                     "waiting for the management address")
    return why


def move_management(ex: "PlanExecutor", ctx: StepContext) -> str:
    p = ctx.step.params
    name = p["host"]
    client, owned = ex.client_for(ctx.sit, ex.master_of(ctx))
    try:
        old_ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", p["old_pif_uuid"], shown=[p["old_pif_uuid"]])
        old = ex.call_xapi(ctx, client, "PIF.get_record", old_ref)
        host_ref = old["host"]
        pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
        metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
        if not old.get("management"):
            raise StepSkipped(f"{old.get('device')} is no longer the management PIF")
        old_mac = p.get("old_mac", "").lower()
        if old_mac and str(old.get("MAC", "")).lower() != old_mac:
            # The scan matched this PIF to the NIC now in its place: plug it.
            if not old.get("currently_attached"):
                ex.call_xapi(ctx, client, "PIF.plug", old_ref, shown=[p["old_pif_uuid"], old.get("device", "")],
                             lost_ok=True)
            rec = ex.call_xapi(ctx, client, "PIF.get_record", old_ref)
            if not (rec.get("currently_attached") and rec.get("management")):
                raise StepFailed(f"{rec.get('device')} (MAC {rec.get('MAC')}) is not attached as management")
            return (f"management PIF {rec.get('device')} now uses the new NIC (MAC {rec.get('MAC')}) "
                    "and is attached")
        candidates = []
        for ref, rec in pifs.items():
            if rec.get("host") != host_ref or ref == old_ref or not rec.get("physical"):
                continue
            carrier = metrics.get(rec.get("metrics"), {}).get("carrier")
            if carrier:
                candidates.append((rec.get("device") != old.get("device"), rec.get("device"), ref, rec))
        if not candidates:
            raise StepFailed(f"no present NIC on {name} to move the management interface to (run pif-scan)")
        candidates.sort()
        _, device, new_ref, new = candidates[0]
        ex.call_xapi(ctx, client, "PIF.reconfigure_ip", new_ref, old.get("ip_configuration_mode", "DHCP"),
                     old.get("IP", ""), old.get("netmask", ""), old.get("gateway", ""), old.get("DNS", ""),
                     shown=[new.get("uuid", ""), device], lost_ok=True)
        ex.call_xapi(ctx, client, "host.management_reconfigure", new_ref, shown=[new.get("uuid", ""), device],
                     lost_ok=True)
        now_mgmt = ex.call_xapi(ctx, client, "PIF.get_management", new_ref)
    finally:
        if owned:
            client.close()
    if not now_mgmt:
        raise StepFailed(f"{device} did not become the management PIF")
    return f"management interface of {name} is now {device}"


def pif_scan(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    client, owned = ex.client_for(ctx.sit, ex.master_of(ctx))

    def macs(host_ref: str) -> Dict[str, str]:
        return {ref: str(rec.get("MAC", "")).lower()
                for ref, rec in ex.call_xapi(ctx, client, "PIF.get_all_records").items()
                if rec.get("host") == host_ref}

    try:
        host_ref = ex.host_ref(ctx, client, ctx.step.params["host_uuid"])
        before = macs(host_ref)
        ex.call_xapi(ctx, client, "PIF.scan", host_ref, shown=[name])
        after = macs(host_ref)
    finally:
        if owned:
            client.close()
    new = [r for r in after if r not in before]
    rematched = [r for r in after if r in before and after[r] != before[r]]
    if not new and not rematched:
        raise StepSkipped(f"the scan changed nothing on {name}")
    return f"{name}: {len(rematched)} PIF(s) now match the present NICs, {len(new)} new PIF(s)"


def forget_stale_pifs(ex: "PlanExecutor", ctx: StepContext) -> str:
    uuids = [u for u in ctx.step.params.get("pif_uuids", "").split(",") if u]
    old_macs = dict(zip(uuids, ctx.step.params.get("pif_macs", "").lower().split(",")))
    client, owned = ex.client_for(ctx.sit, ex.master_of(ctx))
    forgotten, gone, failed, shadowed, rematched = [], [], [], [], []
    try:
        for uuid in uuids:
            try:
                ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", uuid, shown=[uuid])
            except XapiFailure as exc:
                if exc.code in ("UUID_INVALID", "HANDLE_INVALID"):
                    gone.append(uuid)
                    continue
                raise
            mac = str(ex.call_xapi(ctx, client, "PIF.get_MAC", ref)).lower()
            if old_macs.get(uuid) and mac != old_macs[uuid]:
                rematched.append(uuid)  # the scan gave it the present NIC: not stale any more
                continue
            try:
                ex.call_xapi(ctx, client, "PIF.forget", ref, shown=[uuid])
                forgotten.append(uuid)
            except XapiFailure as exc:
                if exc.code == "PIF_IS_MANAGEMENT_INTERFACE" and management_elsewhere(ex, ctx, client, ref):
                    shadowed.append(uuid)  # see rules.shadowed_management_pifs
                else:
                    failed.append(f"{uuid}: {' '.join(exc.details)}")
    finally:
        if owned:
            client.close()
    if failed:
        raise StepFailed("could not forget: " + "; ".join(failed))
    if shadowed:
        ctx.notes.append(f"left in place: {len(shadowed)} old PIF(s) xapi still flags as management "
                         "next to the new NIC's PIF (harmless; removed by xe-reset-networking or a "
                         "reinstall)")
    if rematched:
        ctx.notes.append(f"kept: {len(rematched)} PIF(s) the scan matched to the present NICs")
    if not forgotten:
        raise StepSkipped("nothing the API can forget" if shadowed else
                          "no stale PIF left (re-matched by the scan or already gone)")
    return f"forgotten: {len(forgotten)} PIF(s)"


def management_elsewhere(ex: "PlanExecutor", ctx: StepContext, client, pif_ref: str) -> bool:
    """Does another PIF of the same host, whose NIC has a link, carry the management flag?"""
    rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
    return any(r.get("host") == rec.get("host") and ref != pif_ref and r.get("management")
               and metrics.get(r.get("metrics"), {}).get("carrier") for ref, r in pifs.items())


def plug_new_pifs(ex: "PlanExecutor", ctx: StepContext) -> str:
    """Plug the host's present, detached physical PIFs; give a management PIF the
    scan created without IP configuration the host's address (else the next boot
    has no management IP again)."""
    name = ctx.step.params["host"]
    address = ctx.step.params.get("address", "")
    netmask = ctx.step.params.get("netmask", "") or "255.255.255.0"
    client, owned = ex.client_for(ctx.sit, ex.master_of(ctx))
    plugged, configured = [], []
    try:
        host_ref = ex.host_ref(ctx, client, ctx.step.params["host_uuid"])
        pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
        metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
        for ref, rec in sorted(pifs.items(), key=lambda kv: kv[1].get("device", "")):
            if rec.get("host") != host_ref or not rec.get("physical"):
                continue
            if rec.get("management") and rec.get("ip_configuration_mode") == "None" and address:
                ex.call_xapi(ctx, client, "PIF.reconfigure_ip", ref, "Static", address, netmask,
                             rec.get("gateway", ""), rec.get("DNS", ""),
                             shown=[rec.get("uuid", ""), "Static", address], lost_ok=True)
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
    detached = [r.get("device") for r in after.values()
                if r.get("host") == host_ref and r.get("physical") and not r.get("currently_attached")
                and metrics.get(r.get("metrics"), {}).get("carrier")]
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


def step_plug_new_pifs(host, master, address: str = "", netmask: str = ""):
    """Plug the PIFs the scan created (and persist the management address on them)."""
    from xentui.recovery.plan import Confirm, Step
    from xentui.recovery.plan_steps import _answers, _is_master

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
        xe=(f"xe pif-list host-uuid={host.uuid} physical=true currently-attached=false",
            "xe pif-plug uuid=<new-pif>")
           + ((f"xe pif-reconfigure-ip uuid=<new-management-pif> mode=static IP={address} "
               f"netmask={netmask or '255.255.255.0'}   # if its mode is None",) if address else ()),
        calls=("PIF.plug(pif)", "PIF.reconfigure_ip(management pif, Static, ...)"),
        preconditions=(_answers(host.name_label), _is_master(master.name_label)),
        verify="Every present NIC's PIF is attached; the management PIF has an IP configuration.",
        on_failure="Check the cable and switch port of that NIC; 'xe pif-param-list uuid=<pif>'.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "master": master.name_label,
                "address": address, "netmask": netmask},
    )
