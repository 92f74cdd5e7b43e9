"""The words of every plan step: one factory per step kind.

Each factory returns a `Step` saying why it is needed, what it changes, its
risk, the exact `xe` equivalent, the xapi calls, the live preconditions,
how it is verified and what to do if it fails. `plan_builder` decides which
steps a situation needs and in what order.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

from xentui.recovery.plan import Confirm, Precondition, Step
from xentui.xapi.model import Host

# How many times recover_slaves is tried while members restart (HA-Lizard does 5).
RECOVER_TRIES = 5


def _p(pid: str, text: str) -> Precondition:
    return Precondition(pid, text)


def _fenced(name: str) -> Precondition:
    return _p(f"fenced:{name}", f"The operator has attested that {name} is powered off / fenced")


def _silent(name: str, address: str) -> Precondition:
    return _p(f"silent:{name}", f"{name} ({address}) neither accepts connections nor answers as xapi")


def _answers(name: str) -> Precondition:
    return _p(f"answers:{name}", f"{name}'s xapi answers")


def _is_master(name: str) -> Precondition:
    return _p(f"is-master:{name}", f"{name} answers as the pool master (not in emergency mode)")


# --- step factories ---------------------------------------------------------


def step_confirm_master_down(old: Host) -> Step:
    return Step(
        id=f"confirm-master-down:{old.name_label}",
        title=f"Confirm the old master {old.name_label} is really down",
        why="Promoting a member while the old master still runs makes two masters that both write "
            "to shared storage (split brain). A host that is merely cut off from the network can "
            "still run VMs.",
        changes="Nothing. It probes the old master and records your attestation that it is powered "
                "off (via its BMC or at the machine) and will stay off.",
        risk="none",
        risk_text="No change. The attestation is yours: if the host only looks dead (network "
                  "partition), every later step can corrupt data.",
        xe=(f"ping -c 3 {old.address}",
            f"# power it off through its BMC, e.g.: ipmitool -H <bmc-of-{old.name_label}> chassis power off"),
        calls=("tcp connect to xapi", "session.login_with_password (role probe)"),
        preconditions=(_silent(old.name_label, old.address), _fenced(old.name_label)),
        verify=f"{old.name_label} refuses or ignores connections and you typed its name as fenced.",
        on_failure=f"If {old.name_label} still answers, it is not dead: fix the network or power it "
                   "off first. Never promote while it answers.",
        # The fence attestation (requires_fenced) already has the operator type the
        # host's name; a second typed confirmation for a step that changes nothing
        # would only teach people to type names without reading.
        confirm=Confirm.ENTER,
        target_host=old.name_label,
        requires_fenced=(old.name_label,),
        params={"host": old.name_label, "host_uuid": old.uuid, "address": old.address},
    )


def step_ha_disable(host: Host, local: bool) -> Step:
    return Step(
        id=f"ha-disable:{host.name_label}",
        title=f"Disarm HA on {host.name_label}",
        why="While HA is armed xapi refuses emergency transition and reset (HA_IS_ENABLED), and a "
            "toolstack restart would fence (reboot) the host.",
        changes=f"Stops HA fencing and the HA daemon on {host.name_label} and records HA as disarmed "
                "in its local database (soft=false: it stays off after a reboot).",
        risk="medium",
        risk_text="HA protection is off until you re-enable it. Harmless for running VMs.",
        xe=("xe host-emergency-ha-disable --force soft=false",),
        calls=("host.emergency_ha_disable(false)",),
        preconditions=(_answers(host.name_label),),
        verify="The call returns (or says HA_NOT_ENABLED: already disarmed).",
        on_failure="Run the xe command on that host's console. If the HA daemon is wedged, "
                   "reboot the host with HA disabled.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "address": host.address,
                "local": "true" if local else "false"},
    )


def step_promote(this: Host, old: Host, ha: bool) -> Step:
    pre = [_fenced(old.name_label), _silent(old.name_label, old.address), _answers(this.name_label)]
    if ha:
        pre.append(_p(f"ha-disarmed:{this.name_label}", f"HA is disarmed on {this.name_label}"))
    return Step(
        id=f"promote:{this.name_label}",
        title=f"Promote {this.name_label} to pool master",
        why=f"The master {old.name_label} is gone; without a master nobody can manage the pool. "
            f"{this.name_label} becomes master on its copy of the pool database.",
        changes=f"Writes 'master' into {this.name_label}'s pool.conf and restarts its xapi (10 s "
                "fuse). Running VMs are not touched. The database is the last copy the old master "
                "pushed (up to 5 minutes old).",
        risk="high",
        risk_text="If the old master is in fact alive this creates two masters (split brain). "
                  "That is why it is refused while the old master answers.",
        xe=("xe pool-emergency-transition-to-master",),
        calls=("pool.emergency_transition_to_master()",),
        preconditions=tuple(pre),
        verify="xapi restarts, then answers as master: a password login works, "
               "host.is_in_emergency_mode is false and pool.master is this host.",
        on_failure="HA_IS_ENABLED: disarm HA first. If xapi does not come back within 2 minutes, "
                   "check 'systemctl status xapi' and /var/log/xensource.log on the host. The step "
                   "is safe to repeat.",
        confirm=Confirm.F8,
        target_host=this.name_label,
        requires_fenced=(old.name_label,),
        params={"host": this.name_label, "host_uuid": this.uuid, "address": this.address,
                "old_master": old.name_label, "old_master_address": old.address},
    )


def step_recover_members(master: Host, members: Sequence[Host]) -> Step:
    names = ", ".join(h.name_label for h in members)
    return Step(
        id="recover-members",
        title="Point the other members at the new master",
        why="Members still follow the old master and stay in emergency mode until told otherwise.",
        changes=f"{master.name_label} asks every member ({names}) to follow it; each member's xapi "
                "restarts (10 s) and rejoins.",
        risk="low",
        risk_text="Members that cannot be reached are silently skipped by xapi; xentui compares "
                  "the result with the host list and retries while members restart.",
        xe=("xe pool-recover-slaves",),
        calls=("pool.recover_slaves()",),
        preconditions=(_is_master(master.name_label),),
        verify=f"Up to {RECOVER_TRIES} tries: the returned hosts cover every reachable member and "
               "each member then says it follows the new master.",
        on_failure="For each member left out: 'emergency reset master' on that member (next steps).",
        confirm=Confirm.ENTER,
        target_host=master.name_label,
        params={"master": master.name_label, "master_address": master.address,
                "members": ",".join(h.name_label for h in members)},
    )


def step_reset_master(member: Host, master: Host) -> Step:
    return Step(
        id=f"reset-master:{member.name_label}",
        title=f"Make {member.name_label} follow {master.name_label} (if still orphaned)",
        why=f"{member.name_label} still follows a master that is gone. Skipped when 'recover "
            "members' already fixed it.",
        changes=f"Writes 'slave:{master.address}' into {member.name_label}'s pool.conf and restarts "
                "its xapi (10 s).",
        risk="low",
        risk_text="A wrong address leaves the member orphaned (it can be run again).",
        xe=(f"xe pool-emergency-reset-master master-address={master.address}   # on {member.name_label}",),
        calls=(f"pool.emergency_reset_master('{master.address}') on {member.name_label}",),
        preconditions=(_answers(member.name_label), _is_master(master.name_label)),
        verify=f"{member.name_label} answers HOST_IS_SLAVE [{master.address}] and {master.name_label} "
               "sees it live.",
        on_failure=f"Run the xe command on {member.name_label}'s console; check its management network.",
        confirm=Confirm.ENTER,
        target_host=member.name_label,
        params={"host": member.name_label, "host_uuid": member.uuid, "address": member.address,
                "master": master.name_label, "master_address": master.address},
    )


def step_declare_dead(dead: Host, master: Host, vm_names: Sequence[str]) -> Step:
    vms = ", ".join(vm_names) if vm_names else "none"
    return Step(
        id=f"declare-dead:{dead.name_label}",
        title=f"Declare {dead.name_label} dead (reset its VMs' power state)",
        why=f"The database still says VMs run on {dead.name_label} ({vms}); they cannot start "
            "elsewhere until their power state is reset.",
        changes=f"Marks every VM resident on {dead.name_label} as Halted and disables "
                f"{dead.name_label} in the pool database. Nothing is sent to the dead host.",
        risk="critical",
        risk_text="If the host is not really off, its VMs run twice after the restart step and "
                  "their disks are corrupted. Only after you have attested it is fenced.",
        xe=(f"xe host-declare-dead uuid={dead.uuid} --force",),
        calls=(f"host.declare_dead({dead.name_label})",),
        preconditions=(_fenced(dead.name_label), _silent(dead.name_label, dead.address),
                       _is_master(master.name_label)),
        verify=f"No VM is left Running on {dead.name_label}; the host is disabled.",
        on_failure="HOST_IS_LIVE: xapi reached the host, so it is NOT dead: stop and fence it. "
                   "Otherwise reset each VM: xe vm-reset-powerstate uuid=<vm> --force.",
        confirm=Confirm.TYPED_HOST,
        target_host=dead.name_label,
        requires_fenced=(dead.name_label,),
        params={"host": dead.name_label, "host_uuid": dead.uuid, "address": dead.address,
                "master": master.name_label},
    )


def step_start_vms(vms, dead_names: Sequence[str], survivor: Host, flagged: Sequence[str],
                   dead_addresses: Optional[Dict[str, str]] = None) -> Step:
    names = ", ".join(v.name_label for v in vms)
    pre = [_is_master(survivor.name_label),
           _p("vms-halted", "Each VM is Halted in the database and runs nowhere the pool knows of")]
    # The same fence gate as declare-dead, on every path (a resumed run too):
    # attested AND silent right now, or a VM could run twice.
    for n in dead_names:
        pre += [_fenced(n), _silent(n, (dead_addresses or {}).get(n, "?"))]
    if flagged:
        pre.append(_p("no-double-claim", "No VM is claimed by two masters"))
    return Step(
        id="start-vms",
        title=f"Start the dead host's VMs on {survivor.name_label}",
        why="They were running on the dead host and are down now.",
        changes=f"Starts {names} on {survivor.name_label} (VM.start_on). VMs with disks on local "
                "(non-shared) storage of the dead host are not started.",
        risk="high",
        risk_text="If the dead host was not really off, a VM would run twice. Needs enough free "
                  "memory on the survivor; a 'VDI already attached RW' error means a stale storage "
                  "lock (resetvdis.py).",
        xe=tuple(f"xe vm-start uuid={v.uuid} on={survivor.name_label}" for v in vms),
        calls=tuple(f"VM.start_on({v.name_label}, {survivor.name_label}, false, false)" for v in vms),
        preconditions=tuple(pre),
        verify="Each VM's power_state is Running, resident on the survivor.",
        on_failure="Read the error per VM: HOST_NOT_ENOUGH_FREE_MEMORY (stop something or start "
                   "fewer), VDI in use (storage lock), SR not plugged (plug its PBD).",
        confirm=Confirm.F8,
        target_host=survivor.name_label,
        requires_fenced=tuple(dead_names),
        params={"host": survivor.name_label, "vm_uuids": ",".join(v.uuid for v in vms),
                "vm_names": ",".join(v.name_label for v in vms), "flagged": ",".join(flagged)},
    )


def step_plug_pbds(master: Host) -> Step:
    return Step(
        id="plug-pbds",
        title="Connect storage (PBDs), master first",
        why="After a master change some SRs may be disconnected on some hosts; VMs on them cannot start.",
        changes="Plugs every unplugged PBD on hosts that answer, the master's first.",
        risk="low",
        risk_text="Plugging is safe; it fails harmlessly if the storage is unreachable.",
        xe=("xe pbd-list currently-attached=false", "xe pbd-plug uuid=<pbd>   # master's first"),
        calls=("PBD.plug(pbd) for each unplugged PBD",),
        preconditions=(_is_master(master.name_label),),
        verify="Every PBD of every answering host has currently_attached = true.",
        on_failure="Check the storage network/target from the host (SR_BACKEND_FAILURE tells "
                   "which); PBDs of a dead host stay unplugged.",
        confirm=Confirm.ENTER,
        target_host=master.name_label,
        params={"master": master.name_label},
    )


def step_check_default_sr(master: Host) -> Step:
    return Step(
        id="check-default-sr",
        title="Check the pool's default SR",
        why="The official procedure asks to confirm the default SR after a master change.",
        changes="Nothing if it is valid. If it is unset or missing and exactly one shared SR is "
                "connected on the master, sets that one as default.",
        risk="low",
        risk_text="Changes only which SR new VMs use by default.",
        xe=("xe pool-param-get uuid=<pool> param-name=default-SR",
            "xe pool-param-set uuid=<pool> default-SR=<sr-uuid>   # if invalid"),
        calls=("pool.get_default_SR", "SR.get_record", "pool.set_default_SR (only if invalid)"),
        preconditions=(_is_master(master.name_label),),
        verify="pool.default_SR names an existing SR plugged on the master.",
        on_failure="Choose the default SR yourself: xe pool-param-set default-SR=<uuid>.",
        confirm=Confirm.NONE,
        target_host=master.name_label,
        params={"master": master.name_label},
    )


# What each way back to a management address costs (said wherever xentui sends the
# admin to it).
TOOLSTACK_RESTART = ("xe-toolstack-restart (on that host: restarts xapi and xcp-networkd, which "
                     "re-applies its network config; about a minute without management, running "
                     "VMs keep running)")
EMERGENCY_NETWORK_RESET = ("the emergency network reset as the last resort (xsconsole: Network and "
                           "Management Interface > Emergency Network Reset, or xe-reset-networking "
                           "--device=<ethN> ...): it reboots the host with -f, so its running VMs are "
                           "killed, not shut down, and it rebuilds the host's network config from "
                           "scratch (bonds, VLANs and other NIC settings are lost)")


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
        return (f"{host}'s management link has no carrier: check the cable, the switch port and, "
                f"for DHCP, the DHCP server. The host rejoins by itself when its address returns; "
                f"a toolstack restart does not help while the link is down.")
    if cause == "address":
        return (f"{bridge} on {host} is up but has no address (a lost DHCP lease or a removed "
                f"address). Run {TOOLSTACK_RESTART}; then run xentui again.")
    if cause == "no-uplink":
        pins = rename_pins(new_nics)
        return (f"The NIC behind {bridge} on {host} is gone and the new NICs came up under new names "
                f"({new_nics.replace('=', ' ').replace(',', ', ') or 'see ip link'}); networkd has no config for them, so "
                f"nothing xapi does brings the address back. Pin the old names to the new NICs: "
                f"'interface-rename --update {pins or 'eth0=<new MAC> ...'}' then reboot {host} (the "
                f"reboot stops the VMs running there); then run xentui again (PIF.scan re-matches the "
                f"PIFs). Or {EMERGENCY_NETWORK_RESET}.")
    if cause == "remote":
        return (f"{host} has no management address, so it cannot be reached from here: repair it "
                f"at {host}'s own console (run xentui there).")
    if cause == "inventory":
        return (f"xapi on {host} reads its management interface from /etc/xensource-inventory only "
                f"when it starts: after the repair run {TOOLSTACK_RESTART}.")
    return (f"Find out why {host} has no address on {bridge} (ip addr show {bridge}; cable, DHCP). "
            f"If the link is fine, {TOOLSTACK_RESTART}; if its NICs were replaced, interface-rename "
            f"--update and a reboot. Or {EMERGENCY_NETWORK_RESET}.")


def step_management_reconfigure(host: Host, interface: str, emergency: bool, pif=None, cause: str = "",
                                new_nics: str = "") -> Step:
    manual = ""
    confirm = Confirm.F8
    if emergency:
        manual = management_fix_by_hand(host.name_label, cause, interface, new_nics)
        if cause == "inventory" and interface:
            # The one case xapi's call helps: the inventory names no interface, and the
            # bridge of the host's management PIF (from the database) is there.
            xe = (f"xe host-emergency-management-reconfigure interface={interface}",
                  "xe-toolstack-restart   # xapi re-reads the inventory only when it starts")
            calls = (f"host.local_management_reconfigure('{interface}')",)
            changes = (f"Writes MANAGEMENT_INTERFACE={interface} into the inventory (the bridge of "
                       f"{host.name_label}'s management PIF). xapi assigns no address and does not "
                       "answer this call while in emergency mode; it takes effect at the next "
                       "toolstack restart.")
        else:
            xe = {
                "link": (f"ip link show {interface or '<bridge>'}   # NO-CARRIER: cable / switch port",),
                "address": ("xe-toolstack-restart",),
                "no-uplink": ("interface-rename --list",
                              f"interface-rename --update {rename_pins(new_nics) or 'eth0=<new MAC> ...'}",
                              "reboot   # stops the VMs running on this host"),
            }.get(cause, (f"ip addr show {interface or '<bridge>'}",))
            calls = ()
            changes = ("Nothing by itself: xapi cannot assign a management address "
                       "(host.local_management_reconfigure only rewrites the inventory). It waits "
                       "for the address to return and verifies, or stops and says what to do by hand.")
            confirm = Confirm.ENTER
    else:
        mode = pif.ip_configuration_mode if pif is not None else "<mode>"
        xe = (f"xe pif-reconfigure-ip uuid={pif.uuid if pif else '<pif>'} mode={mode}"
              + (f" IP={pif.ip} netmask={pif.netmask} gateway={pif.gateway}" if pif is not None and pif.ip else ""),
              f"xe host-management-reconfigure pif-uuid={pif.uuid if pif else '<pif>'}")
        calls = ("PIF.reconfigure_ip(pif, mode, IP, netmask, gateway, DNS)", "host.management_reconfigure(pif)")
        changes = "Re-applies the recorded IP configuration to the management PIF and makes it the management interface."
    return Step(
        id=f"management-reconfigure:{host.name_label}",
        title=f"Repair the management interface of {host.name_label}",
        why="The host has no management address: it cannot reach its master or be managed.",
        changes=changes,
        risk="medium" if calls else "none",
        risk_text=("A wrong interface cuts remote access; do it from the host console. "
                   if calls else "No change by xentui. ") + "xe-reset-networking reboots the host with -f "
                  "and kills its running VMs: last resort only.",
        xe=xe,
        calls=calls,
        preconditions=(_answers(host.name_label),)
        + ((_p(f"emergency:{host.name_label}", f"{host.name_label} is in emergency mode "
               "(the call only works there)"),) if emergency and calls else ()),
        verify="The management interface has an IPv4 address again and the host leaves emergency "
               "mode (it reaches its master within seconds).",
        on_failure=manual or ("Check the cable/switch port and the DHCP server; for a static address: "
                              "xe pif-reconfigure-ip on the master, then retry."),
        confirm=confirm,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "interface": interface,
                "mode": "emergency" if emergency else "normal", "pif_uuid": pif.uuid if pif is not None else "",
                "cause": cause, "manual": manual},
    )


def step_pif_scan(host: Host, master: Host) -> Step:
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
        preconditions=(_answers(host.name_label), _is_master(master.name_label)),
        verify="Every NIC with a link has a PIF.",
        on_failure="Run 'interface-rename --list' on the host; a reboot may be needed after renaming.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "master": master.name_label},
    )


def step_move_management(host: Host, old_pif, master: Host) -> Step:
    return Step(
        id=f"management-reconfigure:{host.name_label}",
        title=f"Put {host.name_label}'s management interface on a present NIC",
        why=f"The management PIF ({old_pif.device}, MAC {old_pif.mac}) belongs to a NIC that is gone.",
        changes=f"If the scan matched {old_pif.device} to the new NIC, plugs it; otherwise copies its "
                "IP configuration onto a present NIC's PIF and makes that the management interface.",
        risk="medium",
        risk_text="Remote access to that host can drop briefly; do it from its console if unsure.",
        xe=(f"xe pif-plug uuid={old_pif.uuid}   # if the scan matched it to the new NIC",
            f"xe pif-reconfigure-ip uuid=<new-pif> mode={old_pif.ip_configuration_mode}"
            + (f" IP={old_pif.ip} netmask={old_pif.netmask} gateway={old_pif.gateway}" if old_pif.ip else "")
            + "   # otherwise",
            "xe host-management-reconfigure pif-uuid=<new-pif>"),
        calls=("PIF.plug(pif)", "or: PIF.reconfigure_ip(new, ...) + host.management_reconfigure(new)"),
        preconditions=(_answers(host.name_label), _is_master(master.name_label)),
        verify="A present NIC's PIF carries the management flag and an address.",
        on_failure="Use 'xe host-emergency-management-reconfigure interface=<bridge>' on the host's console.",
        confirm=Confirm.F8,
        target_host=host.name_label,
        params={"host": host.name_label, "host_uuid": host.uuid, "old_pif_uuid": old_pif.uuid,
                "old_mac": old_pif.mac, "mode": "move", "master": master.name_label},
    )


def step_forget_stale_pifs(host: Host, pifs, master: Host) -> Step:
    return Step(
        id=f"forget-stale-pifs:{host.name_label}",
        title=f"Forget {host.name_label}'s PIFs of removed NICs",
        why="Stale PIFs clutter the network view and confuse bonds, VLANs and the management interface.",
        changes="Deletes the PIF records of: " + ", ".join(f"{p.device} ({p.mac})" for p in pifs) + ".",
        risk="low",
        risk_text="Only records of hardware that is gone; xapi refuses for the management PIF.",
        xe=tuple(f"xe pif-forget uuid={p.uuid}" for p in pifs),
        calls=tuple(f"PIF.forget({p.device})" for p in pifs),
        preconditions=(_answers(host.name_label), _is_master(master.name_label)),
        verify="Those PIFs no longer exist.",
        on_failure="PIF_IS_MANAGEMENT_INTERFACE: move the management interface first. "
                   "PIF_VLAN_STILL_EXISTS / bonded: destroy the VLAN or bond first.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={"host": host.name_label, "pif_uuids": ",".join(p.uuid for p in pifs),
                "pif_macs": ",".join(p.mac for p in pifs), "master": master.name_label},
    )


def step_keep_master(suggested: str, claimants: Sequence[str]) -> Step:
    return Step(
        id=f"keep-master:{suggested}",
        title="Choose the master to keep",
        why="Two hosts both act as master. Exactly one may stay.",
        changes="Nothing. Records your choice; the other master(s) are demoted in the next step.",
        risk="none",
        risk_text="Keep the one whose database is most recent and that runs the most VMs; the "
                  "other master's database changes since the split are lost.",
        xe=("xe pool-list params=master   # on each master, compare", "xe vm-list power-state=running"),
        calls=(),
        preconditions=tuple(_is_master(n) for n in claimants),
        verify="The chosen host answers as master.",
        on_failure="If neither answers as master any more, re-run the diagnosis.",
        confirm=Confirm.TYPED_HOST,
        target_host=suggested,
        choice=tuple(claimants),
        params={"suggested": suggested},
    )


def step_demote_master(other: str, keep: Host, flagged: Sequence[str]) -> Step:
    return Step(
        id=f"demote-master:{other}",
        title=f"Demote {other}: make it follow {keep.name_label}",
        why="Two masters write two databases over the same storage.",
        changes=f"Writes 'slave:{keep.address}' into {other}'s pool.conf and restarts its xapi; it "
                f"joins {keep.name_label}'s pool and its own database changes since the split are lost.",
        risk="high",
        risk_text="VMs both masters think they run must be checked before anything starts: "
                  + (", ".join(flagged) if flagged else "none seen."),
        xe=(f"xe pool-emergency-reset-master master-address={keep.address}   # on {other}",),
        calls=(f"pool.emergency_reset_master('{keep.address}') on {other}",),
        preconditions=(_answers(other), _is_master(keep.name_label),
                       _p(f"kept-not:{other}", f"{other} is not the master chosen to keep")),
        verify=f"{other} answers HOST_IS_SLAVE [{keep.address}]; only one master remains.",
        on_failure=f"Run the xe command on {other}'s console.",
        confirm=Confirm.TYPED_HOST,
        target_host=other,
        params={"host": other, "keep": keep.name_label, "keep_address": keep.address,
                "flagged": ",".join(flagged)},
    )


def step_designate(host: Host, others: Sequence[Host] = ()) -> Step:
    return Step(
        id=f"designate-master:{host.name_label}",
        title=f"Hand the master role back to {host.name_label}",
        why="Optional: return the master role to the preferred host in an orderly way.",
        changes=f"Two-phase handover to {host.name_label}; every host's xapi restarts. Running VMs "
                "are not affected.",
        risk="medium",
        risk_text="Needs all hosts up and HA off. Never run twice quickly (xen-api#6056): xentui "
                  "allows one at a time.",
        xe=(f"xe pool-designate-new-master host-uuid={host.uuid}",),
        calls=(f"pool.designate_new_master({host.name_label})",),
        # Phase 1 of xapi's two-phase commit asks EVERY host (propose_new_master), with
        # no timeout: one that does not answer aborts it, a hung one holds it.
        preconditions=(_answers(host.name_label),)
        + tuple(_answers(h.name_label) for h in sorted(others, key=lambda h: h.name_label))
        + (_p("ha-off", "HA is disabled on the pool"),
           _p("single-flight", "No other master change is in progress")),
        verify=f"{host.name_label} answers as master and every host follows it.",
        on_failure="Wait for xapi on all hosts; do not repeat the call while one is in flight.",
        confirm=Confirm.F8,
        target_host=host.name_label,
        phase="later",
        params={"host": host.name_label, "host_uuid": host.uuid, "address": host.address},
    )


def step_enable_ha(master: Host, statefile_vdis: Sequence[str], candidate_srs: Sequence = ()) -> Step:
    """`statefile_vdis`: pool.ha_statefiles (VDI refs: the heartbeat SR is the SR of
    that VDI, resolved when the step runs). `candidate_srs`: the shared SRs that can
    hold a statefile (no ISO library), offered as the choice when the statefile is
    gone and more than one could do."""
    names = tuple(sr.name_label for sr in candidate_srs)
    sr_xe = (f"xe vdi-param-get uuid=<statefile-vdi> param-name=sr-uuid   # the old heartbeat SR",
             "xe pool-ha-enable heartbeat-sr-uuids=<that sr>")
    return Step(
        id="enable-ha",
        title="Re-enable HA",
        why="HA was disarmed for the recovery.",
        changes="Arms HA on every host with the heartbeat SR: the SR of the old statefile VDI; if "
                "that is gone, the only shared non-ISO SR, or the one you choose.",
        risk="medium",
        risk_text="Enable only once every host is back and the heartbeat SR is reachable from all; "
                  "with 2 hosts HA risks fencing both.",
        xe=sr_xe,
        calls=("VDI.get_SR(statefile)", "pool.enable_ha(heartbeat_srs, {})"),
        preconditions=(_is_master(master.name_label), _p("all-hosts-live", "Every host answers")),
        verify="pool.ha_enabled is true.",
        on_failure="Check the heartbeat SR from every host; see /var/log/xha.log.",
        confirm=Confirm.F8,
        target_host=master.name_label,
        phase="later",
        choice=names if len(names) > 1 else (),
        params={"master": master.name_label, "statefile_vdis": ",".join(statefile_vdis),
                "candidate_srs": ",".join(sr.uuid for sr in candidate_srs)},
    )


def step_backup_db(master: Host) -> Step:
    return Step(
        id="backup-db",
        title="Back up the pool database",
        why="After a recovery the database is the only record of the pool's configuration.",
        changes="Writes a copy of the pool database to a file (nothing in the pool changes).",
        risk="none",
        risk_text="None.",
        xe=("xe pool-dump-database file-name=/root/pool-db-$(date +%F).xml",),
        calls=("HTTP GET /pool/xmldbdump (what xe pool-dump-database uses)",),
        preconditions=(_is_master(master.name_label),),
        verify="The backup file exists and parses as a xapi database.",
        on_failure="Copy /var/lib/xcp/state.db from the master by hand.",
        confirm=Confirm.NONE,
        target_host=master.name_label,
        phase="later",
        params={"master": master.name_label},
    )
