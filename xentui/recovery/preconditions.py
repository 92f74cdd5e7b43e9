"""The live checks a step's preconditions make, one small frozen class each.

A plan step lists them (`Step.preconditions`); `PlanExecutor.check` runs them
against a fresh observation right before the step, on every path (a resumed
run too), and refuses the step if one fails. Each has:

- `id`: the machine-readable name the audit log, `recover --plan --json` and the
  wizard show ("silent:xen1", "vms-halted"); audit records written before these
  classes existed carry the same ids;
- `description`: the sentence the plan shows;
- `check(ctx) -> CheckResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import AbstractSet, Dict, Optional, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.ha_statefile import statefile_lost
from xentui.recovery.situation import RUNNING_STATES, Situation
from xentui.xapi.model import Host


@dataclass(frozen=True)
class CheckResult:
    precondition_id: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class CheckContext:
    """What a check looks at: the pool as observed now and the run's own state."""

    sit: Situation
    fenced: AbstractSet[str] = frozenset()  # hosts the operator attested as powered off
    completed: AbstractSet[str] = frozenset()  # step ids done in this run (or resumed)
    kept_master: str = ""  # the master the operator chose to keep (split brain)
    master_change_in_flight: bool = False


class Precondition:
    """Base of the checks below (frozen dataclasses)."""

    @property
    def id(self) -> str:
        raise NotImplementedError

    @property
    def description(self) -> str:
        raise NotImplementedError

    def check(self, ctx: CheckContext) -> CheckResult:
        raise NotImplementedError

    def result(self, ok: bool, detail: str) -> CheckResult:
        return CheckResult(self.id, ok, detail)

    def to_json(self) -> Dict[str, str]:
        return {"id": self.id, "description": self.description}


def _host(sit: Situation, name: str) -> Optional[Host]:
    return sit.snap.host_by_name(name) if name else None


@dataclass(frozen=True)
class Fenced(Precondition):
    host: str

    @property
    def id(self) -> str:
        return f"fenced:{self.host}"

    @property
    def description(self) -> str:
        return f"The operator has attested that {self.host} is powered off / fenced"

    def check(self, ctx: CheckContext) -> CheckResult:
        ok = self.host in ctx.fenced
        return self.result(
            ok,
            "attested by the operator"
            if ok
            else f"the operator has not attested that {self.host} is powered off/fenced",
        )


@dataclass(frozen=True)
class Silent(Precondition):
    host: str
    address: str

    @property
    def id(self) -> str:
        return f"silent:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host} ({self.address}) neither accepts connections nor answers as xapi"

    def check(self, ctx: CheckContext) -> CheckResult:
        arg, sit = self.host, ctx.sit
        host = _host(sit, arg)
        st = sit.state(host) if host is not None else None
        if st is None:
            return self.result(False, f"{arg} is not in the pool database")
        if st.reach in (pv.REFUSED, pv.TIMEOUT, pv.UNREACHABLE):
            return self.result(True, st.evidence)
        if st.reach == pv.REPLACED:  # reinstalled: the old installation and its VMs are gone
            return self.result(True, st.evidence)
        if st.reach == pv.HUNG:
            return self.result(
                False,
                f"{arg} still accepts connections (xapi hung, machine running): power it off first — {st.evidence}",
            )
        if st.reach == pv.ANSWERS:
            return self.result(False, f"{arg} ANSWERS — it is alive: {st.evidence}")
        return self.result(False, f"{arg}: not probed, cannot tell")


@dataclass(frozen=True)
class Answers(Precondition):
    host: str

    @property
    def id(self) -> str:
        return f"answers:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host}'s xapi answers"

    def check(self, ctx: CheckContext) -> CheckResult:
        arg, sit = self.host, ctx.sit
        if arg == sit.this_name:
            ok = sit.xapi_answers_here
            return self.result(ok, f"connection {sit.conn_state}")
        host = _host(sit, arg)
        st = sit.state(host) if host is not None else None
        ok = st is not None and st.reach == pv.ANSWERS
        return self.result(ok, st.evidence if st is not None else f"{arg} unknown")


@dataclass(frozen=True)
class IsMaster(Precondition):
    host: str

    @property
    def id(self) -> str:
        return f"is-master:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host} answers as the pool master (not in emergency mode)"

    def check(self, ctx: CheckContext) -> CheckResult:
        name, sit = self.host, ctx.sit
        if name == sit.this_name:
            ok = sit.this_is_master and sit.xapi_answers_here and not sit.emergency and sit.snap_live
            return self.result(
                ok, f"this host: pool.conf {sit.pool_conf_role}, connection {sit.conn_state}, emergency {sit.emergency}"
            )
        host = sit.snap.host_by_name(name)
        st = sit.state(host) if host is not None else None
        ok = st is not None and st.reach == pv.ANSWERS and st.role == pv.MASTER
        return self.result(ok, st.evidence if st is not None else f"{name} unknown")


@dataclass(frozen=True)
class HaDisarmed(Precondition):
    host: str

    @property
    def id(self) -> str:
        return f"ha-disarmed:{self.host}"

    @property
    def description(self) -> str:
        return f"HA is disarmed on {self.host}"

    def check(self, ctx: CheckContext) -> CheckResult:
        arg = self.host
        ok = f"ha-disable:{arg}" in ctx.completed or not ctx.sit.reason_code.startswith("HA_")
        return self.result(
            ok, "HA disarmed in this run" if ok else f"HA still armed on {arg} (run ha-disable:{arg} first)"
        )


@dataclass(frozen=True)
class Emergency(Precondition):
    host: str

    @property
    def id(self) -> str:
        return f"emergency:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host} is in emergency mode (the call only works there)"

    def check(self, ctx: CheckContext) -> CheckResult:
        arg, sit = self.host, ctx.sit
        if arg == sit.this_name:
            ok = sit.emergency
        else:
            host = _host(sit, arg)
            st = sit.state(host) if host is not None else None
            ok = st is not None and st.role == pv.EMERGENCY
        return self.result(ok, "in emergency mode" if ok else "not in emergency mode")


@dataclass(frozen=True)
class KeptNot(Precondition):
    """`host` is not the master the operator keeps (`suggested` until they chose)."""

    host: str
    suggested: str = ""

    @property
    def id(self) -> str:
        return f"kept-not:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host} is not the master chosen to keep"

    def check(self, ctx: CheckContext) -> CheckResult:
        kept = ctx.kept_master or self.suggested
        ok = self.host != kept
        return self.result(ok, f"kept master is {kept}" if ok else f"{self.host} is the master chosen to keep")


@dataclass(frozen=True)
class VmsHalted(Precondition):
    vm_uuids: Tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return "vms-halted"

    @property
    def description(self) -> str:
        return "Each VM is Halted in the database and runs nowhere the pool knows of"

    def check(self, ctx: CheckContext) -> CheckResult:
        sit = ctx.sit
        by_uuid = {v.uuid: v for v in sit.snap.vms.values()}
        stuck = []
        for u in self.vm_uuids:
            v = by_uuid.get(u)
            if v is None:
                continue
            host = sit.snap.hosts.get(v.resident_on)
            if v.power_state in RUNNING_STATES and host is not None and sit.is_down(host):
                stuck.append(f"{v.name_label} still Running on {host.name_label}")
        return self.result(not stuck, "; ".join(stuck) if stuck else "halted or already running")


@dataclass(frozen=True)
class NoDoubleClaim(Precondition):
    @property
    def id(self) -> str:
        return "no-double-claim"

    @property
    def description(self) -> str:
        return "No VM is claimed by two masters"

    def check(self, ctx: CheckContext) -> CheckResult:
        claimants = ctx.sit.master_claimants()
        ok = len(claimants) < 2
        return self.result(ok, "one master" if ok else "two masters: " + ", ".join(claimants))


@dataclass(frozen=True)
class AllHostsLive(Precondition):
    @property
    def id(self) -> str:
        return "all-hosts-live"

    @property
    def description(self) -> str:
        return "Every host answers"

    def check(self, ctx: CheckContext) -> CheckResult:
        down = [h.name_label for h in ctx.sit.down_hosts()]
        return self.result(not down, "all answer" if not down else "down: " + ", ".join(down))


@dataclass(frozen=True)
class HaOff(Precondition):
    @property
    def id(self) -> str:
        return "ha-off"

    @property
    def description(self) -> str:
        return "HA is disabled on the pool"

    def check(self, ctx: CheckContext) -> CheckResult:
        pool = ctx.sit.snap.pool
        ok = pool is not None and not pool.ha_enabled
        return self.result(ok, "HA off" if ok else "HA is enabled: disable it first (xe pool-ha-disable)")


@dataclass(frozen=True)
class OutOfEmergency(Precondition):
    """The host's xapi answers and is not in emergency mode: a pool-wide call the
    coordinator forwards to it (certificate distribution, ...) would otherwise meet
    its stored error."""

    host: str

    @property
    def id(self) -> str:
        return f"out-of-emergency:{self.host}"

    @property
    def description(self) -> str:
        return f"{self.host}'s xapi answers outside emergency mode"

    def check(self, ctx: CheckContext) -> CheckResult:
        name, sit = self.host, ctx.sit
        if name == sit.this_name:
            ok = sit.xapi_answers_here and not sit.emergency
            return self.result(ok, f"this host: connection {sit.conn_state}, emergency {sit.emergency}")
        host = _host(sit, name)
        st = sit.state(host) if host is not None else None
        ok = st is not None and st.reach == pv.ANSWERS and st.role != pv.EMERGENCY
        return self.result(ok, st.evidence if st is not None else f"{name} unknown")


@dataclass(frozen=True)
class PoolVerifiesTls(Precondition):
    """pool.tls_verification_enabled: re-enabling verification on one host of a
    pool that never turned it on leaves that host verifying against a bundle
    nobody generated (xapi 24.19 does not refuse; 25.10 answers
    TLS_VERIFICATION_NOT_ENABLED_IN_POOL)."""

    @property
    def id(self) -> str:
        return "pool-verifies-tls"

    @property
    def description(self) -> str:
        return "The pool has TLS verification enabled (pool.tls_verification_enabled)"

    def check(self, ctx: CheckContext) -> CheckResult:
        pool = ctx.sit.snap.pool
        ok = pool is not None and pool.tls_verification_enabled
        return self.result(
            ok,
            "pool.tls_verification_enabled = true"
            if ok
            else "the pool never enabled TLS verification (TLS_VERIFICATION_NOT_ENABLED_IN_POOL): "
            "enable it pool-wide with 'xe pool-enable-tls-verification', not on one host",
        )


@dataclass(frozen=True)
class SingleFlight(Precondition):
    @property
    def id(self) -> str:
        return "single-flight"

    @property
    def description(self) -> str:
        return "No other master change is in progress"

    def check(self, ctx: CheckContext) -> CheckResult:
        ok = not ctx.master_change_in_flight
        return self.result(ok, "none in flight" if ok else "another master change is in progress")


@dataclass(frozen=True)
class NoResidentVms(Precondition):
    """No guest VM is resident on `host` in the pool database (host.destroy
    refuses with HOST_HAS_RESIDENT_VMS otherwise: xapi_host.ml destroy)."""

    host: str

    @property
    def id(self) -> str:
        return f"no-resident-vms:{self.host}"

    @property
    def description(self) -> str:
        return f"No VM is resident on {self.host} in the pool database"

    def check(self, ctx: CheckContext) -> CheckResult:
        sit = ctx.sit
        host = _host(sit, self.host)
        if host is None:
            return self.result(True, f"{self.host} is not in the pool database")
        names = sorted(v.name_label for v in sit.snap.vms_on(host.ref))
        return self.result(
            not names,
            "none" if not names else f"resident: {', '.join(names)} (declare {self.host} dead first)",
        )


@dataclass(frozen=True)
class RecordGone(Precondition):
    """The pool no longer holds the host record `uuid` (forgotten)."""

    host: str
    uuid: str

    @property
    def id(self) -> str:
        return f"record-gone:{self.host}"

    @property
    def description(self) -> str:
        return f"The pool no longer holds {self.host}'s old record ({self.uuid})"

    def check(self, ctx: CheckContext) -> CheckResult:
        ok = ctx.sit.snap.host_by_uuid(self.uuid) is None
        return self.result(ok, "forgotten" if ok else f"still in the pool: forget {self.host}'s old record first")


@dataclass(frozen=True)
class OnConsole(Precondition):
    """xentui runs on `host` itself: promotion (pool.emergency_transition_to_master)
    acts on the host that receives it, so the host with the newest database copy
    is promoted from its own console (recovery/stale_db.py)."""

    host: str

    @property
    def id(self) -> str:
        return f"on-console:{self.host}"

    @property
    def description(self) -> str:
        return f"xentui runs on {self.host}'s console (promotion acts on the host it runs on)"

    def check(self, ctx: CheckContext) -> CheckResult:
        here = ctx.sit.this_name
        if here == self.host:
            return self.result(True, f"this console is {self.host}")
        return self.result(
            False,
            f"this console is {here or 'another host'}: run xentui on {self.host}'s console "
            "(it holds the newest database copy) and promote it there"
            + (f", or promote {here} knowing its copy is older (choose it; recover: --promote {here})" if here else ""),
        )


@dataclass(frozen=True)
class NoOtherMaster(Precondition):
    """No host but `host` answers as master (taking the role now would make two)."""

    host: str

    @property
    def id(self) -> str:
        return f"no-other-master:{self.host}"

    @property
    def description(self) -> str:
        return f"No host but {self.host} answers as master"

    def check(self, ctx: CheckContext) -> CheckResult:
        others = [n for n in ctx.sit.master_claimants() if n != self.host]
        return self.result(
            not others,
            "none" if not others else f"{', '.join(others)} answers as master: the handover did not move the role",
        )


@dataclass(frozen=True)
class StatefileReachable(Precondition):
    """Nothing says the HA statefile is unreachable (ha_statefile.py): no host waits
    in the HA start-up loop, and this run did not disarm HA on every host for it.
    pool.enable_ha would otherwise fail on the statefile attach (VDI_NOT_AVAILABLE)."""

    @property
    def id(self) -> str:
        return "statefile-reachable"

    @property
    def description(self) -> str:
        return "The HA statefile (heartbeat SR) is not known to be unreachable"

    def check(self, ctx: CheckContext) -> CheckResult:
        why = statefile_lost(ctx.sit, ctx.completed)
        return self.result(not why, "nothing says it is lost" if not why else why + ": HA stays off until it is back")
