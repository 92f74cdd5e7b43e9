"""The diagnosis rules, one small function per finding code.

Each rule reads a `Situation` and returns zero or more findings. Evidence
always names its source ("state.db, 4 min old", "tcp probe ...", "xapi
says ...") because during an outage sources disagree and the admin must be
able to tell a fresh fact from a stale one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from xentui.recovery import peers as pv
from xentui.recovery import rules_failures, rules_rejoin, stale_db
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.newer_member import NEWER_CODE, newer_members
from xentui.recovery.observation import Observation
from xentui.recovery.situation import RUNNING_STATES, Situation
from xentui.xapi.model import NULL_REF, PIF, VM, Host

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.run_record import BaselineVM, RunRecord
    from xentui.xapi.error_table import Explanation

Rule = Callable[[Situation], List[Finding]]

_CODE_ORDER = {code: i for i, code in enumerate(Code)}


def _explain(code: str, params: Sequence[str], in_emergency: bool) -> "Explanation":
    from xentui.xapi.error_table import explain

    return explain(code, params, in_emergency=in_emergency)


def _names(vms: Iterable[VM]) -> str:
    names = [v.name_label or v.uuid for v in vms]
    if len(names) > 6:
        return ", ".join(names[:6]) + f" and {len(names) - 6} more"
    return ", ".join(names)


# --- this host --------------------------------------------------------------


def rule_xapi_down(s: Situation) -> List[Finding]:
    gt = s.gt
    running = gt.xapi_running.value if gt is not None and gt.xapi_running.ok else None
    refused = s.conn_state == "refused"
    # A live connection outranks the pid file (the same observation never says
    # both "connected to xapi" and "xapi is not running"); a peer that is not
    # xapi gets its own single finding (rule_not_xapi).
    answered = s.xapi_answers_here or s.conn_state in (NOT_XAPI_STATE, "xapi-error")
    pid_says_down = running is False and not answered
    if pid_says_down or (refused and not s.emergency):
        evidence = []
        if gt is not None and gt.xapi_running.ok:
            evidence.append(f"{gt.xapi_running.source}: xapi {'running' if running else 'not running'}")
        evidence.append(f"connection to xapi: {s.conn_state} {s.obs.connection.detail}".strip())
        if s.has_snapshot:
            evidence.append(f"pool database shown from {s.snap_label}")
        return [
            Finding(
                Code.XAPI_DOWN,
                Severity.CRITICAL,
                f"xapi is not running on {s.this_name or 'this host'}",
                "Nothing answers on xapi's socket here, so no xapi action is possible. xapi restarts "
                "itself every 1-3 minutes while in emergency mode; if it stays down, restart it on the "
                "host's console ('systemctl restart xapi'; never 'xe-toolstack-restart' with HA armed). "
                "What is shown comes from the host's own files.",
                host=s.this_name,
                evidence=tuple(evidence),
                data={"connection": s.conn_state},
            )
        ]
    return []


NOT_XAPI_STATE = "not-xapi"  # xentui.xapi.client.connection_state_for(MalformedReply)


def rule_not_xapi(s: Situation) -> List[Finding]:
    """Something answered where xapi should be, but not as xapi does (wrong
    types, HTML, an HTTP error): ONE finding, never an invented emergency
    reason or "xapi not running" next to it."""
    if s.conn_state != NOT_XAPI_STATE:
        return []
    from xentui.xapi.error_table import NOT_XAPI_TITLE

    evidence = [f"reply from {s.obs.connection.label}: {s.obs.connection.detail}".strip()]
    gt = s.gt
    if gt is not None and gt.xapi_running.ok:
        evidence.append(
            f"{gt.xapi_running.source}: " + ("a xapi process runs" if gt.xapi_running.value else "no xapi process")
        )
    return [
        Finding(
            Code.NOT_XAPI,
            Severity.CRITICAL,
            NOT_XAPI_TITLE,
            "The peer accepted the connection and answered, but not with what xapi sends (a value of the "
            "wrong type, a web page, an HTTP error). Either the address, port or socket path leads to "
            "something else, or this xapi is broken. Nothing can be done through it.",
            host=s.this_name,
            evidence=tuple(evidence),
            data={"connection": s.conn_state},
        )
    ]


def rule_emergency(s: Situation) -> List[Finding]:
    if not s.emergency and s.conn_state != "emergency":
        return []
    code = s.reason_code or "HOST_STILL_BOOTING"
    exp = _explain(code, s.reason_params, True)
    evidence = ["host.is_in_emergency_mode: true" if s.emergency else "xapi answered with its emergency error"]
    if s.reason_code:
        evidence.append(f"stored error: {s.reason_code}" + (f" {list(s.reason_params)}" if s.reason_params else ""))
    if s.pool_conf_role != "unknown" and s.gt is not None:
        evidence.append(
            f"{s.gt.pool_role.source}: {s.pool_conf_role}" + (f":{s.pool_conf_master}" if s.pool_conf_master else "")
        )
    return [
        Finding(
            Code.EMERGENCY_MODE,
            Severity.CRITICAL,
            f"{s.this_name or 'This host'} is in emergency mode: {exp.title}",
            f"{exp.meaning} Only the emergency calls answer here; pool-wide views come from the "
            f"replicated database. {exp.next_step}",
            host=s.this_name,
            evidence=tuple(evidence),
            data={"reason_code": code, "reason_params": ",".join(s.reason_params), "reason_text": exp.title},
        )
    ]


# --- the master -----------------------------------------------------------------


_REACH_WORDS = {
    pv.REFUSED: (
        "refuses connections",
        "refused",
        "The host is up without xapi, or the address now belongs to nothing that listens.",
    ),
    pv.TIMEOUT: (
        "does not answer",
        "timed out",
        "Nothing answered in time: powered off, crashed, or cut off by the network.",
    ),
    pv.UNREACHABLE: ("is unreachable", "unreachable", "The network has no route to it."),
    pv.REPLACED: (
        "was reinstalled",
        "replaced",
        "Another installation (a new host uuid, a pool of its own) answers at its address: the host "
        "this record names is gone for good.",
    ),
    pv.HUNG: (
        "accepts connections but xapi never answers",
        "hung",
        "Its xapi is hung (the machine may still run VMs). Power it off through the BMC "
        "before promoting anyone, or two masters will write to the same storage.",
    ),
}


def rule_master_unreachable(s: Situation) -> List[Finding]:
    if s.this_is_master:
        return []
    master = s.believed_master
    if master is None:
        if not s.master_address:
            return []
        # pool.conf names a master the database does not know.
        name, address, st = s.master_address, s.master_address, None
    else:
        name, address, st = master.name_label, master.address, s.state(master)
    reach = st.reach if st is not None else pv.NOT_ASKED
    blocked = s.pool_calls_hang or (s.conn_state == "timed-out" and not s.emergency)
    if reach not in pv.DOWN_REACHES and not (reach == pv.NOT_ASKED and (s.emergency or blocked)):
        return []
    verb, outcome, meaning = _REACH_WORDS.get(reach, ("cannot be reached", "unknown", "It did not answer."))
    evidence = [st.evidence] if st is not None and st.evidence else []
    if s.gt is not None and s.pool_conf_master:
        evidence.append(f"{s.gt.pool_role.source}: slave:{s.pool_conf_master}")
    if blocked:
        evidence.append("this host's xapi calls that need the master hang (not yet in emergency mode)")
    return [
        Finding(
            Code.MASTER_UNREACHABLE,
            Severity.CRITICAL,
            f"Master {name} ({address}) {verb}",
            f"{meaning} While the master is gone nobody can manage the pool; VMs keep running. "
            "If it will not come back soon: make sure it is really off (fence it), then promote a "
            "surviving member.",
            host=name,
            evidence=tuple(evidence),
            data={"outcome": outcome, "address": address, "reach": reach},
        )
    ]


def rule_two_masters(s: Situation) -> List[Finding]:
    claimants = s.master_claimants()
    if len(claimants) < 2:
        return []
    evidence = []
    for n in claimants:
        if n == s.this_name:
            evidence.append(f"{n}: this host, pool.conf says master")
        else:
            evidence.append(s.states[n].evidence)
    both = _vms_claimed_by_several(s, claimants)
    summary = "Two masters: " + " and ".join(claimants)
    expl = (
        "More than one host believes it is the pool master (split brain). Each writes its own "
        "database and may start VMs on shared storage. Pick the one to keep; the other is "
        "demoted and joins it. Do not start any VM until then."
    )
    if both:
        expl += f" VMs marked running by both: {', '.join(both)} — check them before anything starts."
    return [
        Finding(
            Code.TWO_MASTERS,
            Severity.CRITICAL,
            summary,
            expl,
            evidence=tuple(evidence),
            data={"masters": ",".join(claimants), "both_claim": ",".join(both)},
        )
    ]


def _vms_claimed_by_several(s: Situation, claimants: Sequence[str]) -> List[str]:
    mine = {v.uuid: v.name_label for v in s.snap.guest_vms() if v.power_state in RUNNING_STATES}
    out = []
    for n in claimants:
        view = s.views.get(n)
        if view is None:
            continue
        for u in view.running_vm_uuids:
            if u in mine and (mine[u] or u) not in out:
                out.append(mine[u] or u)
    return sorted(out)


def rule_ha_armed(s: Situation) -> List[Finding]:
    if s.reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
        return []  # HA is disarmed on this host, not armed: HA_ARMED_MISMATCH (rules_failures)
    pool = s.snap.pool
    ha_reason = s.reason_code.startswith("HA_") and s.reason_code != "HA_NOT_ENABLED"
    ha_on = (pool is not None and pool.ha_enabled) or ha_reason
    if not ha_on:
        return []
    # Only when a manual recovery is on the table: with a working master, HA
    # handles a dead member itself.
    master = s.believed_master
    master_gone = not s.this_is_master and (master is None or s.is_down(master) or s.pool_calls_hang)
    if not (s.emergency or master_gone or ha_reason):
        return []
    evidence = []
    if pool is not None and pool.ha_enabled:
        evidence.append(f"pool.ha_enabled = true ({s.snap_label})")
    if ha_reason:
        evidence.append(f"emergency reason {s.reason_code}")
    return [
        Finding(
            Code.HA_ARMED,
            Severity.CRITICAL,
            "HA is armed: emergency promotion will refuse (HA_IS_ENABLED)",
            "With HA armed, xapi refuses emergency transition and reset, and restarting the toolstack "
            "gets the host fenced (rebooted). Disarm HA locally first (host.emergency_ha_disable, "
            "soft=false) on each surviving host; re-enable it once every host is back.",
            host=s.this_name,
            evidence=tuple(evidence),
            data={"reason_code": s.reason_code if ha_reason else ""},
        )
    ]


# --- members --------------------------------------------------------------------


def rule_members(s: Situation) -> List[Finding]:
    out = []
    master = s.believed_master
    for h in s.other_hosts():
        if master is not None and h.ref == master.ref and not s.this_is_master:
            continue  # reported as MASTER_UNREACHABLE
        st = s.state(h)
        if not st.down or st.reach == pv.REPLACED:  # reinstalled: rules_rejoin.py reports it
            continue
        if s.declared_dead(h):
            # What is observed: disabled, no VMs resident. host-declare-dead leaves that, but
            # so does resetting each VM's power state by hand; sm's attach keys still naming
            # the host say declare-dead never ran (its hook clears them).
            locks = [v for v in s.snap.locked_vdis() if h.ref in v.lock_holders()]
            how = (
                f"host-declare-dead did not run for it: sm's attach keys naming it are still on {len(locks)} "
                "disk(s) (see VDI_LOCKED). "
                if locks
                else "As host-declare-dead leaves it, or a power-state reset of each VM. "
            )
            out.append(
                Finding(
                    Code.MEMBER_UNREACHABLE,
                    Severity.INFO,
                    f"{h.name_label} is down, disabled, no VMs marked running on it",
                    how + "Reinstall it before it rejoins (or forget it); "
                    "never just boot it back into the pool: it still believes in its old role.",
                    host=h.name_label,
                    evidence=(st.evidence, f"host.enabled = false, no VM resident ({s.snap_label})"),
                    data={"reach": st.reach, "declared_dead": "false" if locks else "true"},
                )
            )
            continue
        verb = _REACH_WORDS.get(st.reach, ("cannot be reached",))[0]
        out.append(
            Finding(
                Code.MEMBER_UNREACHABLE,
                Severity.WARNING,
                f"Member {h.name_label} ({h.address}) {verb}",
                "The member's xapi does not answer. Its VMs may still be running if only the network "
                "or xapi failed. Check its console/BMC.",
                host=h.name_label,
                evidence=(st.evidence,),
                data={"reach": st.reach, "address": h.address},
            )
        )
    return out


def rule_vms_on_dead_host(s: Situation) -> List[Finding]:
    out = []
    for h in s.down_hosts():
        vms = s.running_vms_on(h)
        if not vms:
            continue
        st = s.state(h)
        hung = st.reach == pv.HUNG
        out.append(
            Finding(
                Code.VMS_ON_DEAD_HOST,
                Severity.CRITICAL,
                f"{len(vms)} VM(s) still marked running on {h.name_label}",
                "The database still says these VMs run on a host that does not answer, so they cannot "
                "be started elsewhere. Only after you have made sure the host is powered off (fenced) "
                "may their power state be reset and they be started on a survivor; starting a VM that "
                "still runs corrupts its disks."
                + (" This host accepts connections (xapi hung): its VMs may well still be running." if hung else ""),
                host=h.name_label,
                evidence=(f"{_names(vms)} resident on {h.name_label} ({s.snap_label})", st.evidence),
                data={
                    "vm_uuids": ",".join(v.uuid for v in vms),
                    "vm_names": ",".join(v.name_label for v in vms),
                    "reach": st.reach,
                },
            )
        )
    return out


def rule_orphans(s: Situation) -> List[Finding]:
    out = []
    master = s.believed_master
    good_address = master.address if master is not None else ""
    master_ok = s.this_is_master or (master is not None and not s.is_down(master))
    for h in s.other_hosts():
        if master is not None and h.ref == master.ref:
            continue
        st = s.state(h)
        if st.reach != pv.ANSWERS or st.role == pv.MASTER:
            continue
        if rules_failures.kept_out_by_own_cause(s, h.name_label, st.reason_code):
            continue  # not an orphan: it reaches its master; its own finding names the fix
        if st.role == pv.EMERGENCY:
            why = f"in emergency mode ({st.reason_code or 'no reason given'})"
        elif st.role == pv.SLAVE and master_ok and st.master_address and st.master_address != good_address:
            why = f"follows {st.master_address}, not the master {good_address}"
        elif st.role == pv.SLAVE and not master_ok:
            why = f"follows {st.master_address or 'the old master'}, which does not answer"
        else:
            continue
        out.append(
            Finding(
                Code.ORPHANED_MEMBER,
                Severity.WARNING if not s.this_is_master else Severity.CRITICAL,
                f"Member {h.name_label} is orphaned: {why}",
                "The member runs but is not part of a working pool. Once a master is running, "
                "'recover slaves' on it (or 'emergency reset master' on the member) points it there.",
                host=h.name_label,
                evidence=(st.evidence,),
                data={"address": h.address, "role": st.role, "follows": st.master_address},
            )
        )
    return out


# --- network ------------------------------------------------------------------------


def present_nics(s: Situation) -> Optional[Dict[str, str]]:
    """device -> MAC of this host's physical NICs as the kernel lists them
    (`ip -j link show`), or None when that is unknown."""
    gt = s.gt
    links = getattr(gt, "links", None) if gt is not None else None
    if links is None or not links.ok:
        return None
    nics = {
        link.ifname: link.mac.lower()
        for link in links.value
        if link.ifname.startswith("eth") and link.ifname[3:].isdigit()
    }
    return nics or None


def _bridge_device(interface: str) -> str:
    """xenbrN is bridged to ethN (networkd's naming by position)."""
    if interface.startswith("xenbr") and interface[5:].isdigit():
        return "eth" + interface[5:]
    return interface


def unrepresented_nics(s: Situation, host: Host) -> List[str]:
    """This host's present NICs no PIF describes (new names after a replacement), by position."""
    nics = present_nics(s)
    if nics is None:
        return []
    known = {p.device for p in s.snap.pifs_of(host.ref) if p.physical}
    return sorted((d for d in nics if d not in known), key=lambda d: int(d[3:]))


def rule_no_management_ip(s: Situation) -> List[Finding]:
    out = []
    gt = s.gt
    evidence = []
    if s.reason_code == "HOST_HAS_NO_MANAGEMENT_IP":
        evidence.append("stored emergency error HOST_HAS_NO_MANAGEMENT_IP")
    iface = ""
    if gt is not None and gt.inventory.ok and gt.inventory.value is not None:  # ok implies a value
        iface = gt.inventory.value.management_interface
        if not iface:
            evidence.append(f"{gt.inventory.source}: MANAGEMENT_INTERFACE is empty")
    # Why the address is missing decides what brings it back (see steps/management_reconfigure):
    # "link" (no carrier: cable, switch port), "address" (link up, no address: a lost
    # lease or a flushed address; networkd re-applies it on xe-toolstack-restart),
    # "no-uplink" (the bridge's NIC is gone: interface-rename + reboot), "inventory"
    # (MANAGEMENT_INTERFACE empty).
    cause = "inventory" if (gt is not None and gt.inventory.ok and not iface) else ""
    if gt is not None and gt.management_link.ok and gt.management_link.value is not None:
        link = gt.management_link.value
        if not link.ipv4:
            evidence.append(f"{gt.management_link.source}: {link.ifname} {link.operstate}, no IPv4 address")
            cause = cause or ("address" if link.carrier and link.operstate != "DOWN" else "link")
    nics = present_nics(s)
    this = s.snap.host_by_name(s.this_name) if s.this_name else None
    new_nics = ""
    if (
        evidence
        and iface
        and nics is not None
        and _bridge_device(iface) not in nics
        and this is not None
        and gt is not None
        and gt.links is not None
    ):  # known NICs imply gt.links
        # The management bridge's NIC is gone (replaced under a new name): nothing
        # xapi can do brings the address back; networkd has no config for the new
        # names (interface-rename + reboot, or the emergency network reset).
        new = unrepresented_nics(s, this)
        evidence.append(
            f"{gt.links.source}: no {_bridge_device(iface)} behind {iface}; present NICs: "
            + ", ".join(f"{d} ({m})" for d, m in sorted(nics.items()))
        )
        cause = "no-uplink"
        new_nics = ",".join(f"{d}={nics[d]}" for d in new)
    if evidence:
        out.append(
            Finding(
                Code.NO_MANAGEMENT_IP,
                Severity.CRITICAL,
                f"{s.this_name or 'This host'} has no management IP address",
                "Without an address on the management interface this host cannot reach its master or "
                "be reached. What brings the address back depends on why it is gone (the link, "
                "the lease, a NIC that is gone); see the repair step. xe-reset-networking is the "
                "last resort: it reboots the host with -f and kills its running VMs.",
                host=s.this_name,
                evidence=tuple(evidence),
                data={"interface": iface, "cause": cause or "unknown", "new_nics": new_nics},
            )
        )
    for h in s.other_hosts():
        st = s.state(h)
        if st.reason_code == "HOST_HAS_NO_MANAGEMENT_IP":
            out.append(
                Finding(
                    Code.NO_MANAGEMENT_IP,
                    Severity.CRITICAL,
                    f"{h.name_label} has no management IP address",
                    "That host is in emergency mode because its management interface has no address.",
                    host=h.name_label,
                    evidence=(st.evidence,),
                    data={"interface": "", "cause": "remote"},
                )
            )
    return out


def stale_pifs(s: Situation, host: Host) -> List[PIF]:
    """Physical PIFs whose NIC is gone (a replaced NIC or motherboard).

    An unplugged, carrier-less PIF alone is just a spare NIC without a cable,
    so a host only counts as "NICs replaced" on a contradiction: it answers
    over its management network while its management PIF is detached with no
    carrier, or (for the console host) the management PIF's MAC is not the
    MAC the kernel reports for the management bridge, or two PIFs share a
    device name (leftovers after a scan). Then every detached, carrier-less
    physical PIF of that host is stale."""
    pifs = [p for p in s.snap.pifs_of(host.ref) if p.physical and p.vlan in (-1, 0)]
    dead = [p for p in pifs if not p.currently_attached and p.carrier is False]
    mgmt = [p for p in pifs if p.management]
    gt = s.gt
    if (
        s.is_this(host)
        and gt is not None
        and gt.management_link.ok
        and mgmt
        and gt.management_link.value is not None
        and gt.management_link.value.mac
        and mgmt[0].mac
        and gt.management_link.value.mac.lower() != mgmt[0].mac.lower()
    ):
        # The kernel's NIC behind the management bridge is not the one the
        # database describes: whatever xapi still reports, that PIF is stale.
        return [mgmt[0]] + [p for p in dead if p is not mgmt[0]]
    nics = present_nics(s) if s.is_this(host) else None
    if nics is not None:
        # The kernel lists this host's NICs: a physical PIF whose device is not among
        # them describes a NIC that is gone, attached or not in this copy of the DB.
        gone = [p for p in pifs if p.device not in nics]
        if gone:
            return gone
    if not dead:
        return []
    replaced = False
    if any(p in dead for p in mgmt) and (s.state(host).reach in (pv.ANSWERS, "self")):
        replaced = True
    devices = [p.device for p in pifs]
    if any(devices.count(p.device) > 1 for p in dead):
        replaced = True
    if not mgmt and s.state(host).reach in (pv.ANSWERS, "self"):
        # The host answers over a management NIC the database has no management PIF
        # for (interface-rename gave the new NICs new names; dbsync's
        # update_management_flags cleared the old PIF's flag): the dead ones are gone.
        replaced = True
    return dead if replaced else []


def shadowed_management_pifs(s: Situation, host: Host, gone: Sequence[PIF]) -> List[PIF]:
    """Stale PIFs xapi keeps flagging as management because they sit on the
    management network next to the present NIC's PIF (update_management_flags
    flags every PIF of that network). The API cannot forget them; they are
    harmless while the present PIF carries the management interface."""
    present_mgmt = [p for p in s.snap.pifs_of(host.ref) if p.management and p not in gone]
    return [p for p in gone if p.management] if present_mgmt else []


def _stale_evidence(s: Situation, host: Host, pif: PIF) -> str:
    gt = s.gt
    nics = present_nics(s) if s.is_this(host) else None
    if nics is not None and pif.device not in nics and gt is not None and gt.links is not None:  # implied by nics
        state = "attached" if pif.currently_attached else "not attached"
        return (
            f"{gt.links.source}: no device {pif.device} on {host.name_label}; the PIF {pif.device} "
            f"(MAC {pif.mac}) is {state}"
            + (", management" if pif.management else "")
            + f" in {s.snap_label}; present NICs: "
            + ", ".join(f"{d} ({m})" for d, m in sorted(nics.items()))
        )
    if (
        pif.management
        and s.is_this(host)
        and gt is not None
        and gt.management_link.ok
        and gt.management_link.value is not None
        and gt.management_link.value.mac.lower() != pif.mac.lower()
    ):
        link = gt.management_link.value
        return (
            f"{gt.management_link.source}: {link.ifname} runs on MAC {link.mac}, but the management "
            f"PIF {pif.device} describes MAC {pif.mac} ({s.snap_label})"
        )
    return (
        f"PIF {pif.device} MAC {pif.mac}: not attached, no carrier"
        + (" (management)" if pif.management else "")
        + f" ({s.snap_label})"
    )


def rule_stale_pif(s: Situation) -> List[Finding]:
    out = []
    for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label):
        if s.is_down(h):
            continue
        gone = stale_pifs(s, h)
        if not gone:
            continue
        shadowed = shadowed_management_pifs(s, h, gone)
        if shadowed and len(shadowed) == len(gone):
            out.append(
                Finding(
                    Code.STALE_PIF,
                    Severity.INFO,
                    f"{h.name_label}: an old management PIF is left over from a replaced NIC",
                    "xapi still flags it as management because it sits on the management network next to "
                    "the new NIC's PIF, so it cannot be forgotten through the API. It is harmless; it goes "
                    "away with an emergency network reset (xe-reset-networking: reboots the host, evacuate "
                    "its VMs first) or a reinstall.",
                    host=h.name_label,
                    evidence=tuple(
                        f"PIF {p.device} MAC {p.mac}: not attached, no carrier, management ({s.snap_label})"
                        for p in shadowed
                    ),
                    data={"pif_uuids": ",".join(p.uuid for p in shadowed), "management": "shadowed"},
                )
            )
            continue
        mgmt = [p for p in gone if p.management]
        out.append(
            Finding(
                Code.STALE_PIF,
                Severity.CRITICAL if mgmt else Severity.WARNING,
                f"{h.name_label}: {len(gone)} network interface(s) whose NIC is gone",
                "These PIFs describe NICs that are no longer present (replaced NIC or motherboard). "
                "Scan for the new NICs, move the management interface onto one of them if needed, "
                "then forget the stale PIFs." + (" The management interface is one of them." if mgmt else ""),
                host=h.name_label,
                evidence=tuple(_stale_evidence(s, h, p) for p in gone),
                data={
                    "pif_uuids": ",".join(p.uuid for p in gone),
                    "renamed": "true" if s.is_this(h) and unrepresented_nics(s, h) else "false",
                    "management": "true"
                    if mgmt
                    else ("false" if any(p.management for p in s.snap.pifs_of(h.ref)) else "none"),
                },
            )
        )
    return out


# --- storage, versions, hosts -------------------------------------------------------


def rule_pbd_unplugged(s: Situation) -> List[Finding]:
    if not s.snap_live:
        return []  # state.db cannot tell what is plugged right now
    out = []
    srs = s.snap.srs
    for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label):
        if s.is_down(h):
            continue
        bad = [p for p in s.snap.pbds_of(h.ref) if not p.currently_attached]
        if not bad:
            continue
        names = [srs[p.sr].name_label if p.sr in srs else p.sr for p in bad]
        out.append(
            Finding(
                Code.PBD_UNPLUGGED,
                Severity.WARNING,
                f"{h.name_label}: storage not connected: {', '.join(names)}",
                "VMs on these SRs cannot start on this host until the PBDs are plugged (plug shared "
                "SRs on the master first, then on the members).",
                host=h.name_label,
                evidence=tuple(f"PBD {p.uuid}: currently_attached = false" for p in bad),
                data={"pbd_uuids": ",".join(p.uuid for p in bad)},
            )
        )
    return out


def _version_key(h: Host) -> Tuple[int, int, Tuple[int, ...]]:
    text = h.xapi_version or h.product_version
    parts = []
    for chunk in text.replace("-", ".").split("."):
        parts.append(int(chunk) if chunk.isdigit() else 0)
    return (h.api_version_major, h.api_version_minor, tuple(parts))


def _version_evidence(s: Situation) -> Tuple[str, ...]:
    """Both versions, this member's and its master's, as far as they are known."""
    return tuple(
        f"{h.name_label}: xapi {h.xapi_version or '?'}"
        for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label)
        if h.xapi_version
    )


def rule_version_skew(s: Situation) -> List[Finding]:
    hosts = [h for h in s.snap.hosts.values() if h.xapi_version or h.api_version_major]
    out = []
    for m in newer_members(s):
        # xapi.ml attempt_host_status_check_with_coordinator: a Permanent error (see newer_member.py)
        out.append(
            Finding(
                Code.VERSION_SKEW,
                Severity.CRITICAL,
                f"{m.member} runs a newer xapi ({m.member_version}) than its coordinator {m.coordinator} "
                f"({m.coordinator_version}): {NEWER_CODE}",
                "A member may never run a newer xapi than its coordinator: "
                f"{m.retry_text()}. xentui cannot update anything: update the coordinator first (then this "
                "member rejoins by itself). Promoting this newer member instead makes it the master of hosts "
                "older than itself and is not a fix; choose it only knowing that (recover --promote-newer).",
                host=m.member,
                evidence=(
                    m.evidence or f"{m.member}'s stored emergency error {NEWER_CODE} ['{m.member_version}']",
                    f"{m.coordinator}: software_version xapi_build {m.coordinator_version} ({s.snap_label})",
                    *_version_evidence(s),
                ),
                data={
                    "member": m.member,
                    "member_version": m.member_version,
                    "coordinator": m.coordinator,
                    "coordinator_version": m.coordinator_version,
                },
            )
        )
    if len({_version_key(h) for h in hosts}) <= 1:
        return out
    newest = max(hosts, key=_version_key)
    evidence = tuple(
        f"{h.name_label}: xapi {h.xapi_version or '?'} API {h.api_version_major}.{h.api_version_minor}"
        for h in sorted(hosts, key=lambda h: h.name_label)
    )
    out.append(
        Finding(
            Code.VERSION_SKEW,
            Severity.WARNING,
            f"Hosts run different xapi versions (newest: {newest.name_label})",
            "Members must never be newer than the master. If you must promote a member, promote "
            f"the newest ({newest.name_label}); finish the update on all hosts soon.",
            evidence=evidence,
            data={"newest": newest.name_label},
        )
    )
    return out


def rule_default_sr(s: Situation) -> List[Finding]:
    if not s.snap_live or not s.this_is_master:
        return []
    pool = s.snap.pool
    if pool is None:
        return []
    sr = s.snap.srs.get(pool.default_sr)
    if sr is None:
        why = "is not set" if pool.default_sr == NULL_REF else "points to an SR that does not exist"
        return [
            Finding(
                Code.DEFAULT_SR_INVALID,
                Severity.WARNING,
                f"The pool's default SR {why}",
                "New VMs and some operations use the default SR. Set it to a shared SR that is "
                "connected on the master ('xe pool-param-set default-SR=<uuid>').",
                evidence=(f"pool.default_SR = {pool.default_sr.split(':')[0]}… ({s.snap_label})",),
            )
        ]
    master = s.this_host
    if master is not None:
        attached = [p for p in s.snap.pbds_of(master.ref) if p.sr == sr.ref and p.currently_attached]
        if not attached:
            return [
                Finding(
                    Code.DEFAULT_SR_INVALID,
                    Severity.WARNING,
                    f"The default SR {sr.name_label} is not connected on the master",
                    "Plug its PBD on the master, or choose another default SR.",
                    evidence=(f"no attached PBD of SR {sr.uuid} on {master.name_label}",),
                    data={"sr_uuid": sr.uuid},
                )
            ]
    return []


def rule_host_disabled(s: Situation) -> List[Finding]:
    if not s.snap_live:
        return []
    out = []
    for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label):
        if h.enabled or s.is_down(h):
            continue
        # Why it stays disabled, as xapi decides it: pending mandatory guidance makes
        # host.enable refuse (xapi_host.ml assert_safe_to_reenable) and start-up leave it
        # disabled; with HA on, so does a PBD that did not plug
        # (Xapi_host_helpers.consider_enabling_host_nolock: all_pbds_ok).
        srs = s.snap.srs
        unplugged = [p for p in s.snap.pbds_of(h.ref) if not p.currently_attached]
        names = [srs[p.sr].name_label if p.sr in srs else p.sr for p in unplugged]
        ha_on = s.snap.pool is not None and s.snap.pool.ha_enabled
        causes, reasons, evidence = [], [], [f"host.enabled = false ({s.snap_label})"]
        if h.pending_guidances:
            causes.append("guidance")
            reasons.append(
                "mandatory update guidance is pending (" + ", ".join(h.pending_guidances) + "): xapi refuses "
                "host-enable with HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY until the guidance is followed "
                "(a reboot for reboot_host) or cleared ('xe host-emergency-clear-mandatory-guidance' on the host)"
            )
            evidence.append(f"host.pending_guidances = {list(h.pending_guidances)}")
        if unplugged and ha_on:
            causes.append("storage")
            reasons.append(
                "its storage did not plug (" + ", ".join(names) + ") and HA is enabled: xapi enables a host "
                "only once every PBD of it is attached ('xe pbd-plug uuid=<pbd>', then 'xe host-enable')"
            )
        evidence.extend(f"PBD {p.uuid}: currently_attached = false" for p in unplugged)
        summary = f"{h.name_label} is disabled"
        if h.pending_guidances:
            summary += ": mandatory guidance pending (" + ", ".join(h.pending_guidances) + ")"
        elif unplugged and ha_on:
            summary += ": a PBD did not plug (HA is on)"
        explanation = "No VM can start on a disabled host. " + (
            "It stays disabled because " + "; and ".join(reasons) + "."
            if reasons
            else "A member is disabled briefly while it rejoins, or an admin disabled it (maintenance); "
            "if it stays disabled for no such reason, enable it ('xe host-enable')."
        )
        if unplugged and not ha_on:
            explanation += f" Its storage did not plug either ({', '.join(names)}): plug it before VMs go there."
        out.append(
            Finding(
                Code.HOST_DISABLED,
                Severity.WARNING,
                summary,
                explanation,
                host=h.name_label,
                evidence=tuple(evidence),
                data={
                    "cause": ",".join(causes),
                    "pending_guidances": ",".join(h.pending_guidances),
                    "pbd_uuids": ",".join(p.uuid for p in unplugged),
                },
            )
        )
    return out


def rule_workload(s: Situation, record: Optional["RunRecord"]) -> List[Finding]:
    """VMs that ran on a host that was down at the run's first observation
    (or is down now) and run nowhere now. `record` is the run's
    `run_record.RunRecord` (the baseline lives in the audit log: after
    host.declare_dead the pool itself no longer says where they ran)."""
    if record is None or not record.baseline or not s.has_snapshot:
        return []
    by_uuid = {v.uuid: v for v in s.snap.guest_vms()}
    lost_hosts = set(record.baseline_down) | {h.name_label for h in s.down_hosts()}
    missing: Dict[str, List[Tuple["BaselineVM", VM]]] = {}
    left: Dict[str, List[Tuple["BaselineVM", VM]]] = {}
    for b in record.baseline:
        v = by_uuid.get(b.uuid)
        if b.host not in lost_hosts or v is None or v.power_state in RUNNING_STATES:
            continue  # on a live host, destroyed since, or running (VMS_ON_DEAD_HOST covers the stale ones)
        bucket = left if b.uuid in record.left_down else missing
        bucket.setdefault(b.host, []).append((b, v))
    source = record.baseline_source or "the pool database"
    out = []
    for host, items in sorted(missing.items()):
        names = ", ".join(b.name for b, _ in items)
        out.append(
            Finding(
                Code.VMS_NOT_RESTARTED,
                Severity.CRITICAL,
                f"{len(items)} VM(s) that ran on {host} are not running: {names}",
                f"When this recovery began these VMs were running on {host}, which does not answer. Their "
                "power state has been reset but they were not started again: the pool is not healthy until "
                "they run (the start-vms step starts them on a survivor) or you decide to leave them down.",
                host=host,
                evidence=(
                    f"running on {host} at the first observation ({source}; audit run {record.run_id})",
                    "now " + ", ".join(f"{b.name} {v.power_state}" for b, v in items) + f" ({s.snap_label})",
                ),
                data={
                    "vm_uuids": ",".join(b.uuid for b, _ in items),
                    "vm_names": ",".join(b.name for b, _ in items),
                    "from_host": host,
                },
            )
        )
    for host, items in sorted(left.items()):
        names = ", ".join(b.name for b, _ in items)
        out.append(
            Finding(
                Code.VMS_LEFT_DOWN,
                Severity.INFO,
                f"Left down on purpose: {names} (ran on {host})",
                "The recovery did not start these VMs, for the reason given; they come back with their host.",
                host=host,
                evidence=tuple(f"{b.name}: {record.left_down.get(b.uuid) or 'not started'}" for b, _ in items),
                data={"vm_uuids": ",".join(b.uuid for b, _ in items), "vm_names": ",".join(b.name for b, _ in items)},
            )
        )
    return out


def rule_healthy(s: Situation, found: List[Finding]) -> List[Finding]:
    if any(f.severity >= Severity.WARNING for f in found):
        return []
    if not s.snap_live or s.emergency or getattr(s.obs, "peers_pending", False) or s.snap.vms_pending:
        return []  # (peers_pending: whether another host claims to be master is not asked yet; vms_pending: the VMs)
    master = s.snap.master
    n = len(s.snap.hosts)
    return [
        Finding(
            Code.POOL_HEALTHY,
            Severity.OK,
            f"Pool healthy: {n} host(s), master {master.name_label if master else '?'}",
            "xapi answers, every host that should be up answers and follows the master.",
            evidence=(f"{s.snap_label}",),
        )
    ]


RULES: Tuple[Rule, ...] = (
    (
        rule_not_xapi,
        rule_xapi_down,
        rule_emergency,
        rule_master_unreachable,
        rule_two_masters,
        rule_ha_armed,
        rule_members,
        rule_vms_on_dead_host,
        rule_orphans,
        rule_no_management_ip,
        rule_stale_pif,
        rule_pbd_unplugged,
        rule_version_skew,
        rule_default_sr,
        rule_host_disabled,
    )
    + rules_failures.RULES
    + rules_rejoin.RULES
    + stale_db.RULES
)


def sort_findings(findings: Sequence[Finding]) -> Tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (-int(f.severity), _CODE_ORDER[f.code], f.host)))


def run_rules(
    observation: Observation, situation: Optional[Situation] = None, run_record: Optional["RunRecord"] = None
) -> Tuple[Finding, ...]:
    """`run_record`: the recovery run's `RunRecord`, for the workload finding."""
    s = situation or Situation(observation)
    found: List[Finding] = []
    for rule in RULES:
        found.extend(rule(s))
    found.extend(rule_workload(s, run_record))
    found.extend(rule_healthy(s, found))
    return sort_findings(found)
