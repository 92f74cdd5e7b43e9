"""Planning for issue 13 items 5 and 6: dead host records and reinstalled hosts.

- Handing the master role to another host (pool.designate_new_master) needs
  every host in the database to answer: phase 1 of its two-phase commit asks
  each one and any that does not answer aborts it (xapi_pool_transition.ml).
  So each dead record is forgotten first (declared dead first if VMs are
  still resident on it: host.destroy refuses with HOST_HAS_RESIDENT_VMS).
- A host left Broken by a failed phase 2 (commit_new_master) is made master
  by an emergency transition, then pool.recover_slaves points the others at it.
- A reinstalled host (peers.REPLACED) comes back by forgetting its old
  record, switching TLS verification on where the two sides differ, pool.join
  on the new install, then its old iSCSI initiator name back.

`plan_builder` calls these from one commented block each; the steps'
words live in their modules (forget_host, pool_enable_tls, pool_join, restore_iqn).
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Set

from xentui.recovery.plan import Step
from xentui.recovery.rules_rejoin import replaced_hosts, tls_mismatch
from xentui.recovery.situation import Situation
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host

ISCSI_SR_TYPES = ("lvmoiscsi", "iscsi")  # SRs whose target admits hosts by initiator name


def forget_dead_records(
    s: Situation, kinds: Mapping[str, StepKind], steps: List[Step], master: Host, keep: Host
) -> Set[str]:
    """Append, before a designate step, what clears each dead record out of the
    way; returns the names forgotten. `keep`: the host the role goes to."""
    planned = {st.id for st in steps}
    forgotten: Set[str] = set()
    for h in s.down_hosts():
        if h.ref in (master.ref, keep.ref) or s.state(h).reach == "replaced":
            continue  # a reinstalled host is handled by plan_rejoin (forget then join)
        vms = s.snap.vms_on(h.ref)
        if vms and f"declare-dead:{h.name_label}" not in planned:
            steps.append(kinds["declare-dead"](h, master, [v.name_label for v in vms]))
        steps.append(kinds["forget-host"](h, master, phase="later"))
        forgotten.add(h.name_label)
    return forgotten


def rejoin_rebuilt(s: Situation, kinds: Mapping[str, StepKind], steps: List[Step], master: Host) -> None:
    """Append the steps that bring each reinstalled host back into the pool."""
    pool_verifies = bool(getattr(s.snap.pool, "tls_verification_enabled", False))
    for h, view in replaced_hosts(s):
        if h.ref == master.ref:
            continue
        vms = s.snap.vms_on(h.ref)
        if vms and f"declare-dead:{h.name_label}" not in {st.id for st in steps}:
            steps.append(kinds["declare-dead"](h, master, [v.name_label for v in vms]))
        steps[:] = [st for st in steps if not (st.id == f"declare-dead:{h.name_label}" and not vms)]
        steps.append(kinds["forget-host"](h, master, replaced=True))
        if tls_mismatch(s, view):
            if pool_verifies:  # the new install does not verify: switch its own one-host pool on
                steps.append(kinds["pool-enable-tls"](h.name_label, h.address, None, h.name_label))
            else:
                steps.append(kinds["pool-enable-tls"](master.name_label, master.address, master, h.name_label))
        steps.append(kinds["pool-join"](h.name_label, h.address, view.host_uuid, h.uuid, master))
        iqn = h.other_config.get("iscsi_iqn", "")
        if iqn and any(sr.type in ISCSI_SR_TYPES for sr in s.snap.srs.values()):
            steps.append(kinds["restore-iqn"](h.name_label, view.host_uuid, iqn, master))


def recover_broken(s: Situation, kinds: Mapping[str, StepKind], steps: List[Step]) -> Optional[Host]:
    """This host's pool.conf says "broken": append the emergency transition and
    recover-members; returns this host (the master for the rest of the plan)."""
    this = s.this_host
    if s.pool_conf_role != "broken" or this is None:
        return None
    steps.append(kinds["recover-broken"](this))
    members = sorted(
        (h for h in s.snap.hosts.values() if h.ref != this.ref and not s.is_down(h)), key=lambda h: h.name_label
    )
    if members:
        steps.append(kinds["recover-members"](this, members))
    return this


# Marks the note below: the wizard then offers M (type the master's address, reconnect).
REJOIN_NOTE_MARK = "If it is a reinstalled former pool member"
MASTER_ADDRESS = "<master-address>"  # this host cannot know it: the admin types it


def standalone_notes(s: Situation) -> List[str]:
    """On a pool of one host with no VMs (what a reinstall is): how it rejoins.
    This host cannot know the pool it left: a fresh install's pool.conf says
    "master" and its database holds only itself. The master knows it
    (HOST_REBUILT), so xentui is pointed at the master, from here or anywhere;
    pool.join then runs on this host (the step connects to its address)."""
    if len(s.snap.hosts) != 1 or s.this_host is None or s.snap.guest_vms() or not s.snap_live:
        return []
    name, address = s.this_name, s.this_host.address
    return [
        f"{name} is a pool of its own with no VMs (host uuid {s.this_host.uuid}). {REJOIN_NOTE_MARK}, it "
        "rejoins from the pool's side, and this host no longer knows the pool it left: point xentui at the "
        "pool's master. In the wizard, M asks for the master's address and reconnects to it. From a shell: "
        f"xentui root@{MASTER_ADDRESS} (SSH, key login) or xentui https://{MASTER_ADDRESS} (the pool's root "
        "password), then r; or xentui recover root@"
        f"{MASTER_ADDRESS} --run. There xentui forgets {name}'s old record (keeping its iSCSI name), joins "
        f"{name} ({address}) back with pool.join (the pool's root password; {name}'s own must be the same) "
        "and gives it its old iSCSI name."
    ]


def asks_for_master(notes: Sequence[str]) -> bool:
    """The plan is a reinstalled host's: the UI offers to reconnect to the master."""
    return any(REJOIN_NOTE_MARK in note for note in notes)
