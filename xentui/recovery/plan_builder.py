"""The rules that turn a diagnosed observation into an ordered runbook.

Order matters and follows the official procedure (recovery-playbook.md §1,
§5): fence check -> disarm HA -> promote -> recover members -> dead host's
VMs (only after fencing) -> storage -> network clean-up -> later steps.
The words of each step live in its own module of recovery/steps, found
through step_registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Sequence, Set

from xentui.recovery import peers as pv
from xentui.recovery import plan_rejoin, stale_db
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.ha_statefile import EVERY_HOST_DISARM, statefile_lost, stays_off_note
from xentui.recovery.newer_member import newer_members, stop_lines
from xentui.recovery.observation import Observation
from xentui.recovery.plan import Plan, Step
from xentui.recovery.plan_host_disabled import plan_host_enable
from xentui.recovery.plan_tls_ha import plan_steps as tls_ha_steps
from xentui.recovery.plan_vdi_locks import plan_lock_clearing
from xentui.recovery.rules import stale_pifs
from xentui.recovery.situation import Situation
from xentui.recovery.step_registry import step_kinds
from xentui.xapi.model import SR, VM, Host

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.run_record import RunRecord

# --- the builder -----------------------------------------------------------


def _by_code(findings: Sequence[Finding], code: Code) -> List[Finding]:
    return [f for f in findings if f.code is code]


def build(
    observation: Observation,
    *,
    keep_master: str = "",
    preferred_master: str = "",
    pending_vm_starts: Sequence[str] = (),
    reenable_ha: bool = False,
    now: Optional[float] = None,
    run_record: Optional[RunRecord] = None,
    promote_newer: bool = False,
    promote: str = "",
    ha_statefile_lost: str = "",
) -> Plan:
    """See `build_plan`. `pending_vm_starts`: uuids of VMs whose power state
    an earlier (interrupted) run reset; still-Halted ones get a start step.
    `reenable_ha`: HA was armed before the recovery (the audit log says so) and
    is off now: add the "later" step that re-enables it, unless the HA statefile
    is lost (ha_statefile.py; `ha_statefile_lost`: why the audit log says so, from
    ha_statefile.lost_in_audit): then a note says when and how. `run_record`: the
    run's `run_record.RunRecord` (resume): its baseline workload makes VMs
    that ran on the dead host and run nowhere now a finding with a start step,
    so a step whose effect is half done (VMs reset, not started) stays."""
    if run_record is not None:
        from xentui.recovery.diagnosis import with_run_record

        observation = with_run_record(observation, run_record)
        pending_vm_starts = tuple(
            u
            for u in tuple(pending_vm_starts)
            + tuple(u for u in run_record.reset_vm_uuids if u not in pending_vm_starts)
            if u not in run_record.left_down
        )
    findings = observation.findings
    if not findings:
        from xentui.recovery.rules import run_rules

        findings = run_rules(observation)
    kinds = step_kinds()  # every step is declared by its own module (recovery/steps)
    s = Situation(observation)
    steps: List[Step] = []
    notes: List[str] = []
    this = s.this_host
    codes = {f.code for f in findings}
    if this is None:
        notes.append(
            "This host was not found in the pool database; xentui cannot plan actions "
            "for it. Check /etc/xensource-inventory and state.db."
        )
        return _plan(steps, findings, observation, notes, now)

    # Issue 13 item 3 (newer_member.py): a member newer than its coordinator is fixed
    # only by updating the coordinator, which xentui cannot do: a clear stop that
    # changes nothing, unless the admin asked to promote that member (this host).
    newer = newer_members(s)
    promote_this = promote_newer and any(n.member == this.name_label for n in newer) and not s.this_is_master
    if newer and not promote_this:
        stop = stop_lines(newer)
        if promote_newer:
            stop += (f"--promote-newer: run xentui on the newer member's console ({newer[0].member}).",)
        return _plan((), findings, observation, notes, now, stop=stop)
    if promote_this:
        notes.append(
            f"You chose to promote {this.name_label}, the newer member, instead of updating the coordinator. "
            "Its consequences: the coordinator must be powered off first (its VMs stop, and are started "
            f"here once it is declared dead); {this.name_label} then leads the pool from its own database "
            "copy, as old as the coordinator's last sync to it; the old coordinator must be updated before "
            "it comes back, and then joins as a member."
        )

    if Code.XAPI_DOWN in codes:
        notes.append(
            "xapi is not running on this host: start it first ('systemctl restart xapi'); "
            "no xapi action can run until it answers."
        )

    # Split brain first: nothing else is safe while two masters write.
    claimants = s.master_claimants()
    master_for_rest: Optional[Host] = None
    flagged: List[str] = []
    if Code.TWO_MASTERS in codes and len(claimants) >= 2:
        tm = _by_code(findings, Code.TWO_MASTERS)[0]
        flagged = [x for x in tm.data.get("both_claim", "").split(",") if x]
        keep = (
            keep_master
            if keep_master in claimants
            else (this.name_label if this.name_label in claimants else claimants[0])
        )
        keep_host = s.snap.host_by_name(keep) or this
        steps.append(kinds["keep-master"](keep, claimants))
        for other in claimants:
            if other != keep:
                steps.append(kinds["demote-master"](other, keep_host, flagged))
        if flagged:
            notes.append(
                "VMs both masters mark as running: "
                + ", ".join(flagged)
                + ". Check where each really runs before starting anything."
            )
        master_for_rest = keep_host

    # This host's own network comes before anything that needs the master.
    if Code.NO_MANAGEMENT_IP in codes:
        for f in _by_code(findings, Code.NO_MANAGEMENT_IP):
            h = s.snap.host_by_name(f.host) if f.host else this
            if h is None:
                continue
            is_this = s.is_this(h)
            emergency = s.emergency if is_this else s.state(h).role == pv.EMERGENCY
            iface = f.data.get("interface", "")
            pif = s.snap.management_pif(h.ref)
            if not iface and pif is not None:
                net = s.snap.network_of(pif)
                iface = net.bridge if net is not None else ""
            steps.append(
                kinds["management-reconfigure"](
                    h,
                    iface,
                    emergency or not s.snap_live,
                    pif,
                    cause=f.data.get("cause", ""),
                    new_nics=f.data.get("new_nics", ""),
                )
            )

    # Master gone: confirm, disarm HA, promote.
    mu = _by_code(findings, Code.MASTER_UNREACHABLE)
    old_master = s.believed_master if ((mu or promote_this) and not s.this_is_master) else None
    ha = Code.HA_ARMED in codes
    if old_master is not None and master_for_rest is None and not s.is_this(old_master):
        steps.append(kinds["confirm-master-down"](old_master))
        if ha:
            steps.append(kinds["ha-disable"](this, local=True))
            for h in s.other_hosts():
                if h.ref != old_master.ref and s.state(h).reach == pv.ANSWERS:
                    steps.append(kinds["ha-disable"](h, local=False))
        # stale-db: promote the survivor whose database copy is newest, or the one the operator
        # chose (recovery/stale_db.py); another member's step waits for xentui at its console.
        promoted, copies_note = stale_db.aim_promotion(s, this, promote or (this.name_label if promote_this else ""))
        if copies_note:
            notes.append(copies_note)
        steps.append(stale_db.explain_promotion(kinds["promote"](promoted, old_master, ha), s))
        master_for_rest = promoted
        skew = _by_code(findings, Code.VERSION_SKEW)
        newest = skew[0].data.get("newest", "") if skew else ""
        if newest and newest != this.name_label and newest != old_master.name_label:
            notes.append(
                f"{newest} runs a newer xapi than {this.name_label}: promote {newest} "
                "instead (run xentui on its console), or members newer than the new master "
                "stay in emergency mode."
            )
    elif (
        s.role_change_pending
        and s.reason_code.startswith("HA_")
        and master_for_rest is None
        and Code.HA_ARMED_MISMATCH not in codes  # plan_tls_ha disarms every host instead
    ):
        # Xapi_ha.on_server_restart holds a master too (HA armed, no statefile): pool.conf
        # says master, xapi loops in emergency mode; only disarming HA lets its start-up
        # carry on (no restart is coming). The rest is planned once it answers as master.
        steps.append(kinds["ha-disable"](this, local=True))
        notes.append(
            f"{this.name_label}'s pool.conf says master but its xapi waits in the HA start-up "
            "loop (no statefile). Disarm HA on it; it then carries on as master within 10 s: "
            "run xentui again for the rest."
        )
    elif s.this_is_master:
        master_for_rest = master_for_rest or this
    elif master_for_rest is None and s.believed_master is not None and not s.is_down(s.believed_master):
        master_for_rest = s.believed_master

    # Issue 13 item 5 (plan_rejoin.py): this host was left Broken by a failed handover
    # (phase 2): emergency transition to master, then the members are pointed at it.
    broken = plan_rejoin.recover_broken(s, kinds, steps)
    if broken is not None:
        master_for_rest = broken
    notes.extend(plan_rejoin.standalone_notes(s))  # a fresh install: its rejoin is planned on the master

    # Members kept out although nothing is down: a rejected certificate or an HA
    # flag that disagrees with the pool's (issue 13 items 1-2; plan_tls_ha.py).
    progress = run_record.progress if run_record is not None else {}
    more, more_notes = tls_ha_steps(s, findings, kinds, _heartbeat_candidates(s), progress)
    steps.extend(more)
    notes.extend(more_notes)

    recovering = (
        bool(steps)
        or bool(pending_vm_starts)
        or any(
            c in codes
            for c in (
                Code.ORPHANED_MEMBER,
                Code.VMS_ON_DEAD_HOST,
                Code.VMS_NOT_RESTARTED,
                Code.MEMBER_UNREACHABLE,
                Code.PBD_UNPLUGGED,
                Code.DEFAULT_SR_INVALID,
                Code.STALE_PIF,
                Code.HOST_DISABLED,
                Code.HOST_REBUILT,
                Code.VDI_LOCKED,
            )
        )
    )

    if master_for_rest is not None and recovering:
        m = master_for_rest
        dead = [h for h in s.down_hosts() if h.ref != m.ref]
        dead_names = [h.name_label for h in dead]
        demoted = {st.params.get("host") for st in steps if st.kind == "demote-master"}
        # Everyone but the master, the dead and the just-demoted (this host
        # included when the master is another host).
        members = sorted(
            (
                h
                for h in s.snap.hosts.values()
                if h.ref != m.ref and h.name_label not in dead_names and h.name_label not in demoted
            ),
            key=lambda h: h.name_label,
        )
        promoting = any(st.kind == "promote" for st in steps)
        orphans = {f.host for f in _by_code(findings, Code.ORPHANED_MEMBER)}
        need_recover = promoting or bool(orphans) or bool(demoted)
        if need_recover and (members or demoted):
            steps.append(kinds["recover-members"](m, members))
            for h in sorted(members, key=lambda h: h.name_label):
                if promoting or h.name_label in orphans:
                    steps.append(kinds["reset-master"](h, m))
        vms_to_start: List[VM] = []
        for h in dead:
            if s.declared_dead(h):
                continue
            vms = s.running_vms_on(h)
            steps.append(kinds["declare-dead"](h, m, [v.name_label for v in vms]))
            vms_to_start.extend(vms)
        # STALE_PIF / network clean-up once a master answers.
        for f in _by_code(findings, Code.STALE_PIF):
            h = s.snap.host_by_name(f.host)
            if h is None or f.severity <= Severity.INFO:
                continue  # only a shadowed management PIF is left: nothing the API can do
            gone = stale_pifs(s, h)
            steps.append(kinds["pif-scan"](h, m))
            mgmt = [p for p in gone if p.management]
            repaired_first = any(st.id == f"management-reconfigure:{h.name_label}" for st in steps)
            if mgmt and not repaired_first:
                steps.append(kinds["management-reconfigure"].variants["move"](h, mgmt[0], m))
            steps.append(kinds["forget-stale-pifs"](h, gone, m))
            if f.data.get("renamed") == "true":
                notes.append(
                    f"{h.name_label}'s new NICs came up under new names, so PIF.scan puts them on new "
                    "networks (xenbr2, ...), not on the pool-wide networks of the old eth0/eth1: VMs "
                    "whose VIFs use those networks cannot start there until the names are pinned back "
                    "('interface-rename --update eth0=<new MAC> ...' then a reboot and pif-scan)."
                )
            if f.data.get("management") == "none" or f.data.get("renamed") == "true":
                # the management PIF is the scan's new one: bring up the new NICs and keep its address
                steps.append(kinds["pif-plug"](h, m, h.address, "255.0.0.0" if h.address.startswith("127.") else ""))
        steps.append(kinds["plug-pbds"](m))
        steps.append(kinds["check-default-sr"](m))
        known = {v.uuid for v in vms_to_start}
        by_uuid = {x.uuid: x for x in s.snap.vms.values()}
        # The fence gate: every host whose VMs are started here must be
        # attested and silent, whether this run reset them or an earlier one did.
        fence = [h.name_label for h in dead if s.running_vms_on(h)]
        for f in _by_code(findings, Code.VMS_NOT_RESTARTED):
            for uuid in (u for u in f.data.get("vm_uuids", "").split(",") if u):
                v = by_uuid.get(uuid)
                if v is not None and v.uuid not in known and v.power_state == "Halted":
                    vms_to_start.append(v)
                    known.add(v.uuid)
            h = s.snap.host_by_name(f.data.get("from_host", f.host))
            if h is not None and s.is_down(h) and h.name_label not in fence:
                fence.append(h.name_label)
        pending = [
            by_uuid[u]
            for u in pending_vm_starts
            if u in by_uuid and u not in known and by_uuid[u].power_state == "Halted"
        ]
        if pending:
            vms_to_start.extend(pending)
            known.update(v.uuid for v in pending)
            # where they ran is not recorded (no baseline): every declared-dead host is gated
            fence.extend(h.name_label for h in dead if s.declared_dead(h) and h.name_label not in fence)
        # Issue 13 (vdi-locked, host-left-disabled): a fenced dead host's disk locks are
        # cleared and its VMs join the start below, behind its fence (plan_vdi_locks.py);
        # a host left disabled for a known cause is fixed and enabled (plan_host_disabled.py).
        locks = plan_lock_clearing(s, findings, m, kinds)
        steps.extend(locks.steps)
        notes.extend(locks.notes)
        vms_to_start.extend(v for v in locks.vms if v.uuid not in known)
        known.update(v.uuid for v in locks.vms)
        fence.extend(n for n in locks.fence if n not in fence)
        steps.extend(plan_host_enable(s, findings, m, kinds))
        if vms_to_start:
            addresses = {h.name_label: h.address for h in s.snap.hosts.values()}
            steps.append(kinds["start-vms"](vms_to_start, fence, m, flagged, addresses))
        # Issue 13 item 6 (plan_rejoin.py): a reinstalled host is brought back:
        # forget its old record, TLS verification alike, pool.join, its old IQN.
        plan_rejoin.rejoin_rebuilt(s, kinds, steps, m)
        # HA armed now: a new incident, whatever an earlier run's record says
        if ha and not _ha_stays_off(s, steps, progress, notes):
            pool = s.snap.pool
            steps.append(
                kinds["enable-ha"](m, pool.ha_statefiles if pool is not None else (), _heartbeat_candidates(s))
            )
        steps.append(kinds["backup-db"](m))
    # Handing the master role back is asked for explicitly and may come long
    # after the recovery, when the pool is healthy again (the seed article's end).
    pref = s.snap.host_by_name(preferred_master) if preferred_master else None
    current = master_for_rest or (
        s.believed_master if s.believed_master is not None and not s.is_down(s.believed_master) else None
    )
    if pref is not None and current is not None and pref.ref != current.ref and not s.is_down(pref):
        # Issue 13 item 5 (plan_rejoin.py): phase 1 asks every host in the database, so
        # each dead record is forgotten first (declared dead first if VMs are resident).
        forgotten = plan_rejoin.forget_dead_records(s, kinds, steps, current, pref)
        others = [h for h in s.snap.hosts.values() if h.ref != pref.ref and h.name_label not in forgotten]
        steps.append(kinds["designate-master"](pref, others))
    pool = s.snap.pool
    if (
        reenable_ha
        and current is not None
        and pool is not None
        and not pool.ha_enabled
        and not _ha_stays_off(s, steps, progress, notes, ha_statefile_lost)
    ):
        steps.append(kinds["enable-ha"](current, pool.ha_statefiles, _heartbeat_candidates(s)))

    if Code.HOST_DISABLED in codes and not any(st.kind == "host-enable" for st in steps):
        notes.append(
            "A disabled host that answers is re-enabled by xapi once it has rejoined; "
            "if it stays disabled: xe host-enable uuid=<host>."
        )
    if Code.MEMBER_UNREACHABLE in codes and master_for_rest is None:
        notes.append("Members that do not answer: check their consoles/BMC.")
    hung = [f for f in mu if f.data.get("reach") == pv.HUNG]
    if hung:
        notes.append(
            f"The old master {hung[0].host} still accepts connections (xapi hung). Power it "
            "off through its BMC first; xentui refuses to promote while it accepts connections."
        )
    return _plan(steps, findings, observation, notes, now)


def build_plan(
    observation: Observation,
    *,
    keep_master: str = "",
    preferred_master: str = "",
    reenable_ha: bool = False,
    run_record: Optional[RunRecord] = None,
    promote_newer: bool = False,
    promote: str = "",
) -> Plan:
    """The ordered runbook for what `observation.findings` says is wrong
    (diagnosed here if the observation carries no findings).

    `keep_master`: for two masters, the one the operator keeps (default: this
    host if it is one of them). `preferred_master`: adds a "later" step that
    hands the master role to that host once the pool is healthy.
    `reenable_ha`: HA was armed before the recovery and is off now.
    `run_record`: the recovery run's `run_record.RunRecord` when resuming:
    the plan is built from the pool's state plus what the run recorded.
    `promote_newer`: the admin chose to promote this host, a member newer than
    its coordinator, instead of updating the coordinator (otherwise: a stop).
    `promote`: with the master gone, the surviving member the operator chose
    to promote (default: the one with the newest database copy, stale_db.py).
    """
    return build(
        observation,
        keep_master=keep_master,
        preferred_master=preferred_master,
        reenable_ha=reenable_ha,
        run_record=run_record,
        promote_newer=promote_newer,
        promote=promote,
    )


def _ha_stays_off(
    s: Situation, steps: Sequence[Step], progress: Mapping[str, str], notes: List[str], earlier: str = ""
) -> bool:
    """HA is disarmed on every host because its statefile is unreachable (planned or
    done in this run: plan_tls_ha; or in an earlier run: `earlier`, from the audit
    log): pool.enable_ha would fail (ha_statefile.py), so no enable-ha step; the notes
    say why and what to type once it is back. The master-down path keeps its "later"
    step (the survivors' HA start-up loop ends with their disarm; the step's live
    check still refuses while a host waits in it)."""
    done = [k for k, v in progress.items() if v == "done"]
    every_host = any(i.startswith(EVERY_HOST_DISARM) for i in [st.id for st in steps] + done)
    if not every_host and not earlier:
        return False
    why = statefile_lost(s, done) or earlier
    if not why:
        return False
    note = stays_off_note(s, _heartbeat_candidates(s), why)
    if note not in notes:
        notes.append(note)
    return True


def _heartbeat_candidates(s: Situation) -> List[SR]:
    """SRs that can hold an HA statefile: shared, and not an ISO library."""
    return sorted(
        (sr for sr in s.snap.srs.values() if sr.shared and sr.content_type != "iso" and sr.type != "iso"),
        key=lambda sr: sr.name_label,
    )


def _plan(
    steps: Iterable[Step],
    findings: Sequence[Finding],
    observation: Observation,
    notes: Iterable[str],
    now: Optional[float],
    stop: Sequence[str] = (),
) -> Plan:
    seen: Set[str] = set()
    unique: List[Step] = []
    for st in steps:
        if st.id in seen:
            continue
        seen.add(st.id)
        unique.append(st)
    return Plan(
        steps=tuple(unique),
        finding_codes=tuple(dict.fromkeys(f.code.value for f in findings)),
        console_host=observation.this_host_name,
        created_at=observation.at if now is None else now,
        notes=tuple(notes),
        stop=tuple(stop),
    )
