"""Step handlers for the management network and stale NICs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import MIN_REAL_WAIT, RESTART_BUDGET, StepContext, StepFailed, StepSkipped
from xentui.recovery.rules import _bridge_device as bridge_device
from xentui.recovery.rules import present_nics
from xentui.xapi.errors import CallTimeout, XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


# How long the repair waits for a management link to come back by itself (simulated
# seconds on a scaled clock): a cable re-plugged, a switch port back, a DHCP server up.
LINK_WAIT = 60.0


def management_reconfigure(ex: "PlanExecutor", ctx: StepContext) -> str:
    p = ctx.step.params
    name = p["host"]
    mode = p.get("mode", "emergency")
    if mode == "move":
        return move_management(ex, ctx)

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

    if mode == "emergency":
        return _repair_in_emergency_mode(ex, ctx, repaired)
    client, owned = ex.client_for(ctx.sit, name)
    try:
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
    _, why = ex.poll(ctx, repaired, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT),
                     "waiting for the management address")
    return why


def _repair_in_emergency_mode(ex: "PlanExecutor", ctx: StepContext, repaired) -> str:
    """xapi cannot give an emergency-mode host its address back: its
    local_management_reconfigure only rewrites the inventory (and does not answer
    on a member). So xentui writes the inventory only when it names no interface
    and the bridge of the host's management PIF has its NIC; otherwise it waits for
    what really brings the address back (the link, the lease) or stops and says
    what the admin must do by hand, and what that costs."""
    p = ctx.step.params
    name = p["host"]
    cause = p.get("cause", "") or "unknown"
    manual = p.get("manual", "") or "repair the management network by hand"
    done, why = repaired(ctx.obs)
    if done:
        raise StepSkipped(f"the management address is back: {why}")
    if name != ctx.sit.this_name or cause in ("remote", "address", "no-uplink"):
        # Nothing changes by itself and nothing xapi offers helps.
        raise StepFailed("by hand: " + manual)
    if cause == "inventory":
        bridge = p.get("interface", "")
        nics = present_nics(ctx.sit)
        if not bridge or (nics is not None and bridge_device(bridge) not in nics):
            raise StepFailed(f"no bridge with a present NIC to name in the inventory; by hand: {manual}")
        client, owned = ex.client_for(ctx.sit, name)
        try:
            ex.call_xapi(ctx, client, "host.local_management_reconfigure", bridge, shown=[bridge],
                         lost_ok=True, timeout=ex.scaled(10.0, floor=1.0))
        except CallTimeout:
            # Expected: the inventory is written, then the call's on_dom0_networking_change
            # tail waits for the master's database. Not a failure.
            ctx.notes.append(f"xapi wrote MANAGEMENT_INTERFACE={bridge}; the call does not return "
                             "while the host is in emergency mode")
        finally:
            if owned:
                client.close()
    ctx.say("waiting for the management address to come back")
    try:
        _, why = ex.poll(ctx, repaired, ex.scaled(LINK_WAIT, floor=1.0), "waiting for the management address")
    except StepFailed as exc:
        raise StepFailed(f"still no management address ({exc}); by hand: {manual}") from None
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
    forgotten, gone, failed, shadowed, rematched, carrying = [], [], [], [], [], []
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
            if on_management_bridge(ex, ctx, client, ref):
                # xapi_pif.ml forget_internal brings the PIF's bridge down first: on the bridge
                # that carries the host's address, forgetting it takes the address away
                carrying.append(uuid)
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
    if carrying:
        ctx.notes.append(f"kept: {len(carrying)} old PIF(s) on the bridge that carries the management "
                         "address (PIF.forget would bring that bridge down and cut the host off)")
    if not forgotten:
        raise StepSkipped("nothing the API can forget" if shadowed or carrying else
                          "no stale PIF left (re-matched by the scan or already gone)")
    return f"forgotten: {len(forgotten)} PIF(s)"


def on_management_bridge(ex: "PlanExecutor", ctx: StepContext, client, pif_ref: str) -> bool:
    """Is this (non-management) PIF on the same bridge as its host's management PIF?"""
    rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
    if rec.get("management"):
        return False  # xapi refuses it itself (PIF_IS_MANAGEMENT_INTERFACE)
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    networks = {r.get("network") for ref, r in pifs.items()
                if ref != pif_ref and r.get("host") == rec.get("host") and r.get("management")}
    if not networks:
        return False
    bridges = {ex.call_xapi(ctx, client, "network.get_bridge", n) for n in networks if n and n != "OpaqueRef:NULL"}
    network = rec.get("network")
    if not network or network == "OpaqueRef:NULL":
        return False
    return ex.call_xapi(ctx, client, "network.get_bridge", network) in bridges


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
