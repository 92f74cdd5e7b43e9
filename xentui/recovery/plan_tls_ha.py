"""Plan steps for two members xapi keeps out of their pool although nothing is
down: one that rejects its coordinator's certificate (TLS_VERIFY_FAILED) and
one whose local HA flag disagrees with the pool's (HA_ARMED_MISMATCH).

Neither is an orphan: the member knows its coordinator and reaches it, and
'recover slaves' / 'emergency reset master' would only restart it into the
same error. The fixes (issue 13, items 1 and 2):

- TLS: on the member host.emergency_disable_tls_verification; on the
  coordinator host.refresh_server_certificate host=<coordinator>; on the member
  host.emergency_reenable_tls_verification (see steps/tls_*.py for why these).
- HA: pool.disable_ha on the coordinator; the member's xapi restarts and
  rejoins; pool.enable_ha again (HA was on: that is the mismatch); then check
  the coordinator is not in emergency mode.
- HA, when the coordinator itself waits in the HA start-up loop (no
  statefile) and cannot run pool.disable_ha: host.emergency_ha_disable on
  every host's own xapi, coordinator first (steps/ha_emergency_disable.py),
  then the stuck members restart; HA stays off until its statefile is back.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import List, Mapping, Optional, Sequence, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.findings import Code, Finding
from xentui.recovery.ha_statefile import HA_STARTUP_LOOP, statefile_lost, stays_off_note
from xentui.recovery.plan import Step
from xentui.recovery.situation import SELF, Situation
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import SR, Host


def _coordinator(s: Situation) -> Optional[Host]:
    """The coordinator, if it answers as master (from here or as a peer)."""
    m = s.believed_master
    if m is None:
        return None
    if s.is_this(m):
        return m if s.this_is_master and not s.emergency else None
    st = s.state(m)
    return m if st.reach == pv.ANSWERS and st.role == pv.MASTER else None


def _members(s: Situation, findings: Sequence[Finding], code: Code, coordinator: Host) -> List[Host]:
    out = []
    for f in findings:
        if f.code is not code or not f.host:
            continue
        h = s.snap.host_by_name(f.host)
        if h is not None and h.ref != coordinator.ref and h not in out:
            out.append(h)
    return sorted(out, key=lambda h: h.name_label)


def _held_by_ha_startup(s: Situation) -> Optional[Host]:
    """The coordinator, if its xapi waits in Xapi_ha.on_server_restart's loop
    (HA armed, statefile unreachable): emergency mode, so pool.disable_ha cannot
    run on it."""
    m = s.believed_master
    if m is None:
        return None
    st = s.state(m)
    if st.reach not in (pv.ANSWERS, SELF) or st.role != pv.EMERGENCY:
        return None
    return m if st.reason_code == HA_STARTUP_LOOP else None


def _every_host_path(
    s: Situation,
    findings: Sequence[Finding],
    kinds: Mapping[str, StepKind],
    coordinator: Host,
    heartbeat_candidates: Sequence[SR],
) -> Tuple[List[Step], List[str]]:
    """host.emergency_ha_disable on every host's own xapi, the coordinator first
    (it then carries on as master and turns pool HA off: resynchronise_ha_state),
    soft=true on the disarmed members; then they restart and rejoin."""
    stuck = _members(s, findings, Code.HA_ARMED_MISMATCH, coordinator)
    steps: List[Step] = []
    notes: List[str] = [
        f"{coordinator.name_label}, the coordinator, waits in the HA start-up loop "
        f"({HA_STARTUP_LOOP}): 'xe pool-ha-disable' cannot run, so HA is disarmed on every host "
        "through its own xapi instead."
    ]
    others = [h for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label) if h.ref != coordinator.ref]
    armed = [h for h in others if h not in stuck]
    for h in [coordinator] + armed + stuck:
        if s.state(h).reach not in (pv.ANSWERS, SELF):
            notes.append(
                f"{h.name_label} does not answer: run 'xe host-emergency-ha-disable --force' on its console "
                "once it is back."
            )
            continue
        steps.append(kinds["ha-emergency-disable"](h, coordinator, h in stuck))
    for h in stuck:
        steps.append(kinds["member-restart"](h, coordinator))
    steps.append(kinds["check-coordinator"](coordinator))
    # no enable-ha step: xapi's enable would fail on the statefile attach
    why = statefile_lost(s) or f"{coordinator.name_label} cannot reach the HA statefile ({HA_STARTUP_LOOP})"
    notes.append(stays_off_note(s, heartbeat_candidates, why))
    return steps, notes


def plan_steps(
    s: Situation,
    findings: Sequence[Finding],
    kinds: Mapping[str, StepKind],
    heartbeat_candidates: Sequence[SR],
    progress: Mapping[str, str] = MappingProxyType({}),
) -> Tuple[List[Step], List[str]]:
    """(steps, notes) for TLS_VERIFY_FAILED, TLS_VERIFY_OFF and HA_ARMED_MISMATCH
    members. `progress`: step id -> outcome in this run so far (a resumed run):
    once pool-ha-disable is done the mismatch may be gone from the pool, but HA,
    which was on, still has to come back; once a member's verification is off
    it reports TLS_VERIFY_OFF instead of the verify error."""
    steps: List[Step] = []
    notes: List[str] = []
    codes = {f.code for f in findings}
    pool = s.snap.pool
    ha_left_off = (
        progress.get("pool-ha-disable") == "done"
        and progress.get("enable-ha") not in ("done", "skipped")
        and pool is not None
        and not pool.ha_enabled
    )
    wanted = (Code.TLS_VERIFY_FAILED, Code.TLS_VERIFY_OFF, Code.HA_ARMED_MISMATCH)
    if not any(c in codes for c in wanted) and not ha_left_off:
        return steps, notes
    coordinator = _coordinator(s)
    held = _held_by_ha_startup(s) if coordinator is None else None
    if held is not None and Code.HA_ARMED_MISMATCH in codes:
        return _every_host_path(s, findings, kinds, held, heartbeat_candidates)
    if coordinator is None:
        m = s.believed_master
        # a tcp probe answers before the peers are logged into (observer: peers_later)
        unasked = m is not None and (
            s.state(m).reach == pv.NOT_ASKED or (s.state(m).role == pv.UNKNOWN and bool(s.obs.peers_pending))
        )
        if m is not None and not s.is_this(m) and unasked:
            notes.append(
                f"The coordinator {m.name_label} has not been asked yet: look again (F5) once the other "
                "hosts have answered; the certificate and HA repairs run on it."
            )
        else:
            notes.append(
                "The coordinator does not answer as master: the certificate and HA repairs run on it, so "
                "bring it back first (or recover from the master-down plan)."
            )
        return steps, notes

    tls = _members(s, findings, Code.TLS_VERIFY_FAILED, coordinator)
    # verification already off (a repair stopped half way): renew unless this run did, then back on
    off = [h for h in _members(s, findings, Code.TLS_VERIFY_OFF, coordinator) if h not in tls]
    if tls or off:
        reasons = {f.host: f.data.get("reason", "") for f in findings if f.code is Code.TLS_VERIFY_FAILED}
        for h in tls:
            steps.append(kinds["tls-disable"](h, coordinator, reasons.get(h.name_label, "")))
        why = ", ".join(sorted({r for r in reasons.values() if r})) or "verification was turned off"
        refresh = kinds["tls-refresh-certificate"](coordinator, tls + off, why)
        if tls or progress.get(refresh.id) not in ("done", "skipped"):
            steps.append(refresh)
        for h in tls + off:
            steps.append(kinds["tls-reenable"](h, coordinator))

    ha = _members(s, findings, Code.HA_ARMED_MISMATCH, coordinator)
    if ha or ha_left_off:
        if ha:
            steps.append(kinds["pool-ha-disable"](coordinator, ", ".join(h.name_label for h in ha)))
        for h in ha:
            steps.append(kinds["member-restart"](h, coordinator))
        statefiles = pool.ha_statefiles if pool is not None else ()
        # HA was on (that is the mismatch): turning it back on belongs to this repair,
        # unless the pool's HA went off without it (the coordinator did it at its start:
        # the every-host path, whose statefile was unreachable) -- then it is yours
        pool_ha_on = pool is not None and pool.ha_enabled
        every_host = any(k.startswith("ha-emergency-disable:") for k in progress)
        lost = statefile_lost(s, [k for k, v in progress.items() if v == "done"])
        if lost and (pool_ha_on or ha_left_off):
            notes.append(stays_off_note(s, heartbeat_candidates, lost))
        elif (pool_ha_on or ha_left_off) and not every_host:
            enable = kinds["enable-ha"](coordinator, statefiles, heartbeat_candidates)
            steps.append(dataclasses.replace(enable, phase="now"))
        else:
            notes.append(
                "HA is already off for the pool (not by this plan): turn it back on once its heartbeat SR "
                "is reachable from every host ('xe pool-ha-enable heartbeat-sr-uuids=<SR>')."
            )
        steps.append(kinds["check-coordinator"](coordinator))
    return steps, notes
