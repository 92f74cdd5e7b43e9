"""The derived facts diagnosis and planning both need, computed once.

An `Observation` holds raw material from several sources that can disagree
(a live snapshot, a stale state.db, pool.conf, TCP probes, xapi's answers).
`Situation` decides, in one place, which host is "this host", which host
this host believes is the master, and whether each host answers, so the
rules and the plan builder never reconcile sources differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from xentui.host.facts import PeerProbe
from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.xapi.model import NULL_REF, PBD, PIF, VM, Host, Network, PoolSnapshot

RUNNING_STATES = ("Running", "Paused")

# Host.reach values (superset of PeerView.reach)
SELF = "self"


@dataclass(frozen=True)
class HostState:
    name: str
    uuid: str
    address: str
    reach: str  # pv.ANSWERS / HUNG / REFUSED / TIMEOUT / UNREACHABLE / NOT_ASKED / SELF
    role: str = pv.UNKNOWN  # what the host says (pv.MASTER/SLAVE/EMERGENCY/UNKNOWN)
    master_address: str = ""
    reason_code: str = ""
    evidence: str = ""

    @property
    def down(self) -> bool:
        return self.reach in pv.DOWN_REACHES


class CachedSnapshot:
    """The PoolSnapshot API with its joined views computed once.

    `PoolSnapshot.hosts`/`.pifs` rebuild their dicts on every access; the
    rules ask thousands of times on a large pool, so a diagnosis works on
    this read-only wrapper instead. Anything not cached is delegated."""

    def __init__(self, snapshot: PoolSnapshot) -> None:
        self._s = snapshot
        self.hosts: Dict[str, Host] = snapshot.hosts
        self.pifs = snapshot.pifs
        self.vms: Dict[str, VM] = snapshot.vms
        self.srs = snapshot.srs
        self.pbds = snapshot.pbds
        self.networks = snapshot.networks
        self.pool = snapshot.pool
        self._by_name = {h.name_label: h for h in self.hosts.values()}
        self._by_uuid = {h.uuid: h for h in self.hosts.values()}
        self._pifs_by_host: Dict[str, List[PIF]] = {}
        for p in self.pifs.values():
            self._pifs_by_host.setdefault(p.host, []).append(p)
        self._guests = tuple(sorted((v for v in self.vms.values() if v.is_guest), key=lambda v: v.name_label))
        self._vms_by_host: Dict[str, List[VM]] = {}
        for v in self._guests:
            self._vms_by_host.setdefault(v.resident_on, []).append(v)
        self._pbds_by_host: Dict[str, List[PBD]] = {}
        for pbd in self.pbds.values():
            self._pbds_by_host.setdefault(pbd.host, []).append(pbd)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)

    @property
    def master(self) -> Optional[Host]:
        return None if self.pool is None else self.hosts.get(self.pool.master)

    def host_by_uuid(self, uuid: str) -> Optional[Host]:
        return self._by_uuid.get(uuid)

    def host_by_name(self, name: str) -> Optional[Host]:
        return self._by_name.get(name)

    def management_pif(self, host_ref: str) -> Optional[PIF]:
        return next((p for p in self._pifs_by_host.get(host_ref, ()) if p.management), None)

    def pifs_of(self, host_ref: str) -> Tuple[PIF, ...]:
        return tuple(sorted(self._pifs_by_host.get(host_ref, ()), key=lambda p: p.device))

    def guest_vms(self) -> Tuple[VM, ...]:
        return self._guests

    def vms_on(self, host_ref: str) -> Tuple[VM, ...]:
        return tuple(self._vms_by_host.get(host_ref, ()))

    def pbds_of(self, host_ref: str) -> Tuple[PBD, ...]:
        return tuple(self._pbds_by_host.get(host_ref, ()))

    def network_of(self, pif: PIF) -> Optional[Network]:
        return self.networks.get(pif.network)


class Situation:
    def __init__(self, obs: Observation) -> None:
        self.obs = obs
        self.snap = CachedSnapshot(obs.snapshot or PoolSnapshot.empty())
        self.has_snapshot = obs.snapshot is not None
        self.snap_live = self.has_snapshot and obs.snapshot_source.startswith("xapi")
        self.snap_label = obs.snapshot_source or "no pool database"
        gt = obs.ground_truth
        self.gt = gt
        role = gt.pool_role.value if gt is not None and gt.pool_role.ok else None
        self.pool_conf_role = role.role if role is not None else "unknown"
        self.pool_conf_master = role.master_address if role is not None else ""
        self.this_host: Optional[Host] = self._find_this_host()
        self.this_name = obs.this_host_name or (self.this_host.name_label if self.this_host else "")
        self.probes: Dict[str, PeerProbe] = {}
        if gt is not None:
            for p in gt.peers:
                self.probes[p.host_name] = p
        self.views: Dict[str, pv.PeerView] = {v.host_name: v for v in obs.peer_views}
        self.emergency = bool(obs.emergency is not None and obs.emergency.in_emergency)
        self.reason_code = obs.emergency.reason_code if obs.emergency is not None else ""
        self.reason_params = tuple(obs.emergency.reason_params) if obs.emergency is not None else ()
        self.conn_state = obs.connection.state
        # xapi answers here when we hold a session and it answered the
        # emergency question, even if pool-wide calls then hang (a member
        # whose master is gone still takes the emergency calls).
        self.xapi_answers_here = (
            self.conn_state in ("connected", "emergency")
            or self.emergency
            or (obs.emergency is not None and obs.emergency.in_emergency is not None)
        )
        # A member whose pool-wide calls hang: the session works, the master does not.
        # Only on evidence of a hang (a timeout, or the observer saying so): a
        # member that simply has no live view of its own (slave-local over TCP)
        # must not invent an unreachable master.
        self.pool_calls_hang = (
            self.xapi_answers_here
            and not self.emergency
            and not self.snap_live
            and (self.conn_state == "timed-out" or "hang" in obs.connection.detail)
        )
        self.states: Dict[str, HostState] = {h.name_label: self._host_state(h) for h in self.snap.hosts.values()}
        self.this_is_master = self._this_is_master()
        self.role_change_pending = self.pool_conf_role == "master" and self.emergency
        self.believed_master: Optional[Host] = self._believed_master()

    # -- identity ----------------------------------------------------------

    def _find_this_host(self) -> Optional[Host]:
        uuids = []
        if self.obs.connection.this_host_uuid:
            uuids.append(self.obs.connection.this_host_uuid)
        gt = self.gt
        if gt is not None and gt.inventory.ok and gt.inventory.value is not None:  # ok implies a value
            uuids.append(gt.inventory.value.installation_uuid)
        for u in uuids:
            h = self.snap.host_by_uuid(u)
            if h is not None:
                return h
        if self.obs.this_host_name:
            return self.snap.host_by_name(self.obs.this_host_name)
        return None

    def host_by_address(self, address: str) -> Optional[Host]:
        if not address:
            return None
        return next((h for h in self.snap.hosts.values() if h.address == address), None)

    def is_this(self, host: Host) -> bool:
        return self.this_host is not None and host.ref == self.this_host.ref

    # -- roles -------------------------------------------------------------

    def _this_is_master(self) -> bool:
        if self.pool_conf_role == "master":
            # pool.conf is rewritten before xapi restarts: while the old
            # process still runs in emergency mode the change is only pending.
            return not self.emergency
        if self.pool_conf_role in ("slave", "broken"):
            return False
        # No pool.conf: trust a live snapshot taken over a password session.
        pool = self.snap.pool
        return bool(
            self.snap_live and pool is not None and self.this_host is not None and pool.master == self.this_host.ref
        )

    def _believed_master(self) -> Optional[Host]:
        """The master this host follows (itself when it is master)."""
        if self.this_is_master:
            return self.this_host
        if self.pool_conf_master:
            h = self.host_by_address(self.pool_conf_master)
            if h is not None:
                return h
        if self.obs.connection.master_address:
            h = self.host_by_address(self.obs.connection.master_address)
            if h is not None:
                return h
        pool = self.snap.pool
        if pool is not None and pool.master != NULL_REF:
            return self.snap.hosts.get(pool.master)
        return None

    @property
    def master_address(self) -> str:
        if self.believed_master is not None:
            return self.believed_master.address
        return self.pool_conf_master or self.obs.connection.master_address

    # -- reachability ----------------------------------------------------------

    def _host_state(self, host: Host) -> HostState:
        if self.this_host is not None and host.ref == self.this_host.ref:
            return HostState(
                host.name_label,
                host.uuid,
                host.address,
                SELF,
                role=self._own_role(),
                master_address=self.pool_conf_master,
                reason_code=self.reason_code,
            )
        view = self.views.get(host.name_label)
        probe = self.probes.get(host.name_label)
        if view is not None and view.reach != pv.NOT_ASKED:
            ev = f"xapi on {view.address or host.address}: {view.reach}"
            if view.role != pv.UNKNOWN:
                ev += f", says {view.role}"
                if view.master_address:
                    ev += f" of {view.master_address}"
                if view.reason_code:
                    ev += f" ({view.reason_code})"
            if view.detail:
                ev += f" — {view.detail}"
            return HostState(
                host.name_label,
                host.uuid,
                host.address,
                view.reach,
                role=view.role,
                master_address=view.master_address,
                reason_code=view.reason_code,
                evidence=ev,
            )
        if probe is not None:
            reach = {
                "open": pv.ANSWERS,
                "refused": pv.REFUSED,
                "timeout": pv.TIMEOUT,
                "unreachable": pv.UNREACHABLE,
            }.get(probe.outcome, pv.UNREACHABLE)
            ev = f"tcp probe {probe.address}:{probe.port}: {probe.outcome} in {probe.seconds:.2f} s"
            return HostState(host.name_label, host.uuid, host.address, reach, evidence=ev)
        return HostState(host.name_label, host.uuid, host.address, pv.NOT_ASKED, evidence="not probed")

    def _own_role(self) -> str:
        if self.emergency:
            return pv.EMERGENCY
        if self.pool_conf_role == "master":
            return pv.MASTER
        if self.pool_conf_role == "slave":
            return pv.SLAVE
        return pv.UNKNOWN

    def state(self, host: Host) -> HostState:
        return self.states.get(host.name_label) or self._host_state(host)

    def is_down(self, host: Host) -> bool:
        return self.state(host).down

    def down_hosts(self) -> Tuple[Host, ...]:
        return tuple(sorted((h for h in self.snap.hosts.values() if self.is_down(h)), key=lambda h: h.name_label))

    def other_hosts(self) -> Tuple[Host, ...]:
        return tuple(sorted((h for h in self.snap.hosts.values() if not self.is_this(h)), key=lambda h: h.name_label))

    def master_claimants(self) -> List[str]:
        """Names of hosts that say they are master (this host included)."""
        names = []
        if self.this_is_master and self.xapi_answers_here and self.this_name:
            names.append(self.this_name)
        for name, st in sorted(self.states.items()):
            if st.reach == pv.ANSWERS and st.role == pv.MASTER and name not in names:
                names.append(name)
        return names

    # -- VMs -----------------------------------------------------------------

    def running_vms_on(self, host: Host) -> Tuple[VM, ...]:
        return tuple(v for v in self.snap.vms_on(host.ref) if v.power_state in RUNNING_STATES)

    def declared_dead(self, host: Host) -> bool:
        """Disabled, no VMs marked running on it, and not answering: what
        `host.declare_dead` leaves behind."""
        return (not host.enabled) and not self.running_vms_on(host) and self.is_down(host)
