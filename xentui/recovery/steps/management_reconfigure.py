"""Repair a host's management interface: re-apply its IP configuration, wait
for the link or lease in emergency mode (or say what to do by hand), or move
it to a present NIC after a NIC replacement (the "move" declaration)."""

from __future__ import annotations

from typing import Any, Callable, List, Mapping, Optional, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, Emergency, IsMaster
from xentui.recovery.rules import _bridge_device as bridge_device
from xentui.recovery.rules import present_nics
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepFailed,
    StepRunner,
    master_of,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import CallTimeout
from xentui.xapi.model import PIF, Host

# What each way back to a management address costs (said wherever xentui sends the
# admin to it).
TOOLSTACK_RESTART = (
    "xe-toolstack-restart (on that host: restarts xapi and xcp-networkd, which "
    "re-applies its network config; about a minute without management, running "
    "VMs keep running)"
)


EMERGENCY_NETWORK_RESET = (
    "the emergency network reset as the last resort (xsconsole: Network and "
    "Management Interface > Emergency Network Reset, or xe-reset-networking "
    "--device=<ethN> ...): it reboots the host with -f, so its running VMs are "
    "killed, not shut down, and it rebuilds the host's network config from "
    "scratch (bonds, VLANs and other NIC settings are lost)"
)


def rename_pins(new_nics: str) -> str:
    """'eth0=<MAC> eth1=<MAC>' for interface-rename --update: the new NICs (in the
    order of their new names) get the old names back."""
    pairs = [pair.split("=", 1) for pair in new_nics.split(",") if "=" in pair]
    return " ".join(f"eth{i}={mac}" for i, (_, mac) in enumerate(pairs))


def management_fix_by_hand(host: str, cause: str, interface: str, new_nics: str) -> str:
    """What the admin must do on `host` when xapi itself cannot bring the management
    address back (xapi_host.ml local_management_reconfigure assigns no address)."""
    bridge = interface or "the management bridge"
    if cause == "link":
        return (
            f"{host}'s management link has no carrier: check the cable, the switch port and, "
            f"for DHCP, the DHCP server. The host rejoins by itself when its address returns; "
            f"a toolstack restart does not help while the link is down."
        )
    if cause == "address":
        return (
            f"{bridge} on {host} is up but has no address (a lost DHCP lease or a removed "
            f"address). Run {TOOLSTACK_RESTART}; then run xentui again."
        )
    if cause == "no-uplink":
        pins = rename_pins(new_nics)
        return (
            f"The NIC behind {bridge} on {host} is gone and the new NICs came up under new names "
            f"({new_nics.replace('=', ' ').replace(',', ', ') or 'see ip link'}); networkd has no config for them, so "
            f"nothing xapi does brings the address back. Pin the old names to the new NICs: "
            f"'interface-rename --update {pins or 'eth0=<new MAC> ...'}' then reboot {host} (the "
            f"reboot stops the VMs running there); then run xentui again (PIF.scan re-matches the "
            f"PIFs). Or {EMERGENCY_NETWORK_RESET}."
        )
    if cause == "remote":
        return (
            f"{host} has no management address, so it cannot be reached from here: repair it "
            f"at {host}'s own console (run xentui there)."
        )
    if cause == "inventory":
        return (
            f"xapi on {host} reads its management interface from /etc/xensource-inventory only "
            f"when it starts: after the repair run {TOOLSTACK_RESTART}."
        )
    return (
        f"Find out why {host} has no address on {bridge} (ip addr show {bridge}; cable, DHCP). "
        f"If the link is fine, {TOOLSTACK_RESTART}; if its NICs were replaced, interface-rename "
        f"--update and a reboot. Or {EMERGENCY_NETWORK_RESET}."
    )


def declare(
    host: Host, interface: str, emergency: bool, pif: Optional[PIF] = None, cause: str = "", new_nics: str = ""
) -> Step:
    manual = ""
    xe: Tuple[str, ...]
    calls: Tuple[str, ...]
    confirm = Confirm.F8
    if emergency:
        manual = management_fix_by_hand(host.name_label, cause, interface, new_nics)
        if cause == "inventory" and interface:
            # The one case xapi's call helps: the inventory names no interface, and the
            # bridge of the host's management PIF (from the database) is there.
            xe = (
                f"xe host-emergency-management-reconfigure interface={interface}",
                "xe-toolstack-restart   # xapi re-reads the inventory only when it starts",
            )
            calls = (f"host.local_management_reconfigure('{interface}')",)
            changes = (
                f"Writes MANAGEMENT_INTERFACE={interface} into the inventory (the bridge of "
                f"{host.name_label}'s management PIF). xapi assigns no address and does not "
                "answer this call while in emergency mode; it takes effect at the next "
                "toolstack restart."
            )
        else:
            xe = {
                "link": (f"ip link show {interface or '<bridge>'}   # NO-CARRIER: cable / switch port",),
                "address": ("xe-toolstack-restart",),
                "no-uplink": (
                    "interface-rename --list",
                    f"interface-rename --update {rename_pins(new_nics) or 'eth0=<new MAC> ...'}",
                    "reboot   # stops the VMs running on this host",
                ),
            }.get(cause, (f"ip addr show {interface or '<bridge>'}",))
            calls = ()
            changes = (
                "Nothing by itself: xapi cannot assign a management address "
                "(host.local_management_reconfigure only rewrites the inventory). It waits "
                "for the address to return and verifies, or stops and says what to do by hand."
            )
            confirm = Confirm.ENTER
    else:
        mode = pif.ip_configuration_mode if pif is not None else "<mode>"
        xe = (
            f"xe pif-reconfigure-ip uuid={pif.uuid if pif else '<pif>'} mode={mode}"
            + (f" IP={pif.ip} netmask={pif.netmask} gateway={pif.gateway}" if pif is not None and pif.ip else ""),
            f"xe host-management-reconfigure pif-uuid={pif.uuid if pif else '<pif>'}",
        )
        calls = ("PIF.reconfigure_ip(pif, mode, IP, netmask, gateway, DNS)", "host.management_reconfigure(pif)")
        changes = (
            "Re-applies the recorded IP configuration to the management PIF and makes it the management interface."
        )
    return Step(
        id=f"management-reconfigure:{host.name_label}",
        title=f"Repair the management interface of {host.name_label}",
        why="The host has no management address: it cannot reach its master or be managed.",
        changes=changes,
        risk="medium" if calls else "none",
        risk_text=(
            "A wrong interface cuts remote access; do it from the host console. " if calls else "No change by xentui. "
        )
        + "xe-reset-networking reboots the host with -f "
        "and kills its running VMs: last resort only.",
        xe=xe,
        calls=calls,
        preconditions=(Answers(host.name_label),) + ((Emergency(host.name_label),) if emergency and calls else ()),
        verify="The management interface has an IPv4 address again and the host leaves emergency "
        "mode (it reaches its master within seconds).",
        on_failure=manual
        or (
            "Check the cable/switch port and the DHCP server; for a static address: "
            "xe pif-reconfigure-ip on the master, then retry."
        ),
        confirm=confirm,
        target_host=host.name_label,
        params={
            "host": host.name_label,
            "host_uuid": host.uuid,
            "interface": interface,
            "mode": "emergency" if emergency else "normal",
            "pif_uuid": pif.uuid if pif is not None else "",
            "cause": cause,
            "manual": manual,
        },
    )


def declare_move(host: Host, old_pif: PIF, master: Host) -> Step:
    return Step(
        id=f"management-reconfigure:{host.name_label}",
        title=f"Put {host.name_label}'s management interface on a present NIC",
        why=f"The management PIF ({old_pif.device}, MAC {old_pif.mac}) belongs to a NIC that is gone.",
        changes=f"If the scan matched {old_pif.device} to the new NIC, plugs it; otherwise copies its "
        "IP configuration onto a present NIC's PIF and makes that the management interface.",
        risk="medium",
        risk_text="Remote access to that host can drop briefly; do it from its console if unsure.",
        xe=(
            f"xe pif-plug uuid={old_pif.uuid}   # if the scan matched it to the new NIC",
            f"xe pif-reconfigure-ip uuid=<new-pif> mode={old_pif.ip_configuration_mode}"
            + (f" IP={old_pif.ip} netmask={old_pif.netmask} gateway={old_pif.gateway}" if old_pif.ip else "")
            + "   # otherwise",
            "xe host-management-reconfigure pif-uuid=<new-pif>",
        ),
        calls=("PIF.plug(pif)", "or: PIF.reconfigure_ip(new, ...) + host.management_reconfigure(new)"),
        preconditions=(Answers(host.name_label), IsMaster(master.name_label)),
        verify="A present NIC's PIF carries the management flag and an address.",
        on_failure="Use 'xe host-emergency-management-reconfigure interface=<bridge>' on the host's console.",
        confirm=Confirm.F8,
        target_host=host.name_label,
        params={
            "host": host.name_label,
            "host_uuid": host.uuid,
            "old_pif_uuid": old_pif.uuid,
            "old_mac": old_pif.mac,
            "mode": "move",
            "master": master.name_label,
        },
    )


# How long the repair waits for a management link to come back by itself (simulated
# seconds on a scaled clock): a cable re-plugged, a switch port back, a DHCP server up.
LINK_WAIT = 60.0


def _mode(ctx: StepContext) -> str:
    return str(ctx.step.params.get("mode", "emergency"))  # "emergency" | "normal" | "move"


def _repaired(name: str) -> Callable[[Observation], Tuple[bool, str]]:
    """Whether `name` has its management address back, from one observation."""

    def repaired(obs: Observation) -> Tuple[bool, str]:
        s = Situation(obs)
        if name == s.this_name:
            gt = obs.ground_truth
            # Fact.ok means the value is there.
            link = gt.management_link.value if gt is not None and gt.management_link.ok else None
            if link is None or not link.ipv4:
                return False, "no IPv4 address yet"
            if s.emergency and s.reason_code == "HOST_HAS_NO_MANAGEMENT_IP":
                return False, "address back, xapi still reports HOST_HAS_NO_MANAGEMENT_IP"
            addrs = ", ".join(a.address for a in link.ipv4)
            return True, f"{link.ifname} has {addrs}"
        h = s.snap.host_by_name(name)
        st = s.state(h) if h is not None else None
        ok = st is not None and st.reach == pv.ANSWERS and st.reason_code != "HOST_HAS_NO_MANAGEMENT_IP"
        return ok, (st.evidence if st is not None else "unknown")

    return repaired


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    mode = _mode(ctx)
    if mode == "move":
        return _move_already_done(ex, ctx)
    if mode == "emergency":
        done, why = _repaired(ctx.step.params["host"])(ctx.obs)
        if done:
            return f"the management address is back: {why}"
    return ""  # "normal": re-applying the configuration is always asked for


def action(ex: StepRunner, ctx: StepContext) -> None:
    mode = _mode(ctx)
    if mode == "move":
        _move_action(ex, ctx)
    elif mode == "emergency":
        _emergency_action(ex, ctx)
    else:
        _reapply_action(ex, ctx)


def verify(ex: StepRunner, ctx: StepContext) -> str:
    mode = _mode(ctx)
    if mode == "move":
        return _move_verify(ex, ctx)
    repaired = _repaired(ctx.step.params["host"])
    if mode == "emergency":
        manual = ctx.step.params.get("manual", "") or "repair the management network by hand"
        ctx.say("waiting for the management address to come back")
        try:
            _, why = ex.poll(ctx, repaired, ex.scaled(LINK_WAIT, floor=1.0), "waiting for the management address")
        except StepFailed as exc:
            raise StepFailed(f"still no management address ({exc}); by hand: {manual}") from None
        return why
    _, why = ex.poll(
        ctx, repaired, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), "waiting for the management address"
    )
    return why


def _reconfigure_ip(
    ex: StepRunner, ctx: StepContext, client: Any, pif_ref: str, config: Mapping[str, Any], shown: List[str]
) -> None:
    """PIF.reconfigure_ip with the IP configuration of a PIF record (`config`);
    the connection may drop while the management address moves."""
    ex.call_xapi(
        ctx,
        client,
        "PIF.reconfigure_ip",
        pif_ref,
        config.get("ip_configuration_mode", "DHCP"),
        config.get("IP", ""),
        config.get("netmask", ""),
        config.get("gateway", ""),
        config.get("DNS", ""),
        shown=shown,
        lost_ok=True,
    )


def _reapply_action(ex: StepRunner, ctx: StepContext) -> None:
    """A host whose xapi answers: re-apply its management PIF's IP configuration."""
    p = ctx.step.params
    name = p["host"]
    client = ctx.client(name)
    pif_ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", p["pif_uuid"], shown=[p["pif_uuid"]])
    rec = ex.call_xapi(ctx, client, "PIF.get_record", pif_ref)
    _reconfigure_ip(
        ex, ctx, client, pif_ref, rec, shown=[p["pif_uuid"], rec.get("ip_configuration_mode", ""), rec.get("IP", "")]
    )
    ex.call_xapi(ctx, client, "host.management_reconfigure", pif_ref, shown=[p["pif_uuid"]], lost_ok=True)
    ctx.drop_client(name)  # its management interface just changed under it


def _emergency_action(ex: StepRunner, ctx: StepContext) -> None:
    """xapi cannot give an emergency-mode host its address back: its
    local_management_reconfigure only rewrites the inventory (and does not answer
    on a member). So xentui writes the inventory only when it names no interface
    and the bridge of the host's management PIF has its NIC; otherwise verify waits
    for what really brings the address back (the link, the lease), or this stops
    and says what the admin must do by hand, and what that costs."""
    p = ctx.step.params
    name = p["host"]
    cause = p.get("cause", "") or "unknown"
    manual = p.get("manual", "") or "repair the management network by hand"
    if name != ctx.sit.this_name or cause in ("remote", "address", "no-uplink"):
        # Nothing changes by itself and nothing xapi offers helps.
        raise StepFailed("by hand: " + manual)
    if cause != "inventory":
        return  # nothing to call: verify waits for the link or the lease
    bridge = p.get("interface", "")
    nics = present_nics(ctx.sit)
    if not bridge or (nics is not None and bridge_device(bridge) not in nics):
        raise StepFailed(f"no bridge with a present NIC to name in the inventory; by hand: {manual}")
    try:
        ex.call_xapi(
            ctx,
            ctx.client(name),
            "host.local_management_reconfigure",
            bridge,
            shown=[bridge],
            lost_ok=True,
            timeout=ex.scaled(10.0, floor=1.0),
        )
    except CallTimeout:
        # Expected: the inventory is written, then the call's on_dom0_networking_change
        # tail waits for the master's database. Not a failure.
        ctx.notes.append(
            f"xapi wrote MANAGEMENT_INTERFACE={bridge}; the call does not return while the host is in emergency mode"
        )


def _move_already_done(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    client = ctx.client(master_of(ctx))
    old_ref = ex.call_xapi(ctx, client, "PIF.get_by_uuid", p["old_pif_uuid"], shown=[p["old_pif_uuid"]])
    old = ex.call_xapi(ctx, client, "PIF.get_record", old_ref)
    pifs = ex.call_xapi(ctx, client, "PIF.get_all_records")
    metrics = ex.call_xapi(ctx, client, "PIF_metrics.get_all_records")
    ctx.scratch.update(old_ref=old_ref, old=old, pifs=pifs, metrics=metrics)
    if not old.get("management"):
        return f"{old.get('device')} is no longer the management PIF"
    return ""


def _move_action(ex: StepRunner, ctx: StepContext) -> None:
    p = ctx.step.params
    name = p["host"]
    client = ctx.client(master_of(ctx))
    old_ref, old = ctx.scratch["old_ref"], ctx.scratch["old"]
    pifs, metrics = ctx.scratch["pifs"], ctx.scratch["metrics"]
    old_mac = p.get("old_mac", "").lower()
    if old_mac and str(old.get("MAC", "")).lower() != old_mac:
        # The scan matched this PIF to the NIC now in its place: plug it.
        ctx.scratch["same_pif"] = True
        if not old.get("currently_attached"):
            ex.call_xapi(
                ctx, client, "PIF.plug", old_ref, shown=[p["old_pif_uuid"], old.get("device", "")], lost_ok=True
            )
        return
    host_ref = old["host"]
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
    ctx.scratch.update(new_ref=new_ref, device=device)
    _reconfigure_ip(ex, ctx, client, new_ref, old, shown=[new.get("uuid", ""), device])
    ex.call_xapi(ctx, client, "host.management_reconfigure", new_ref, shown=[new.get("uuid", ""), device], lost_ok=True)


def _move_verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    if ctx.scratch.get("same_pif"):
        rec = ex.call_xapi(ctx, client, "PIF.get_record", ctx.scratch["old_ref"])
        if not (rec.get("currently_attached") and rec.get("management")):
            raise StepFailed(f"{rec.get('device')} (MAC {rec.get('MAC')}) is not attached as management")
        return f"management PIF {rec.get('device')} now uses the new NIC (MAC {rec.get('MAC')}) and is attached"
    device = ctx.scratch["device"]
    if not ex.call_xapi(ctx, client, "PIF.get_management", ctx.scratch["new_ref"]):
        raise StepFailed(f"{device} did not become the management PIF")
    return f"management interface of {name} is now {device}"


STEP = StepKind(
    "management-reconfigure",
    declare=declare,
    already_done=already_done,
    action=action,
    verify=verify,
    variants={"move": declare_move},
)
