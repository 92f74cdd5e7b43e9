"""Whether HA can be turned back on now, and what the admin types once it can.

xapi_ha.ml `enable` attaches the statefile VDI on the heartbeat SR on the
coordinator before anything else (attach_statefiles); with the statefile
unreachable that raises VDI_NOT_AVAILABLE [the statefile VDI: its ref before
xapi 26.7, its uuid since] and HA stays off. No xapi call short of
pool.enable_ha itself tells that the statefile is back, so "lost" rests on
what was seen: a host waiting in
Xapi_ha.on_server_restart's loop (HA_HOST_CANNOT_ACCESS_STATEFILE), or a run
having disarmed HA on every host for that very reason (this run's progress, or
the audit log since HA was last found armed).
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

from xentui.recovery import audit as au
from xentui.recovery import peers as pv
from xentui.recovery.findings import Code
from xentui.recovery.report import FINDINGS
from xentui.recovery.situation import SELF, Situation
from xentui.xapi.model import SR

# Xapi_ha.on_server_restart's stored error while the statefile cannot be reached
HA_STARTUP_LOOP = "HA_HOST_CANNOT_ACCESS_STATEFILE"
# the every-host disarm (steps/ha_emergency_disable.py) runs only for that loop
EVERY_HOST_DISARM = "ha-emergency-disable:"
# how the plan's note begins (the CLI repeats it after a run)
STAYS_OFF = "HA stays off until its heartbeat statefile SR is back"


def statefile_lost(s: Situation, done: Iterable[str] = ()) -> str:
    """Why the HA statefile counts as unreachable now ('' if nothing says so).
    `done`: the step ids this run has completed."""
    for h in sorted(s.snap.hosts.values(), key=lambda h: h.name_label):
        st = s.state(h)
        if st.reach in (pv.ANSWERS, SELF) and st.role == pv.EMERGENCY and st.reason_code == HA_STARTUP_LOOP:
            return f"{h.name_label} cannot reach the HA statefile ({HA_STARTUP_LOOP})"
    if any(step_id.startswith(EVERY_HOST_DISARM) for step_id in done):
        return "this run disarmed HA on every host because its statefile could not be reached"
    return ""


def lost_in_audit(records: Sequence[au.AuditRecord]) -> str:
    """Why an earlier run's record says the statefile is lost ('' if it does not): the
    last every-host disarm done, with no enable-ha done since and no later run that
    found HA armed again (a new incident starts afresh; the disarming run itself, when
    resumed, may still find the stuck member's mismatch)."""
    disarm: Optional[au.AuditRecord] = None
    for r in records:
        done = r.kind == au.STEP_END and r.outcome in ("done", "skipped")
        if done and r.step_id.startswith(EVERY_HOST_DISARM) and (disarm is None or r.ts >= disarm.ts):
            disarm = r
    if disarm is None:
        return ""
    for r in records:
        if r.ts <= disarm.ts:
            continue
        if r.kind == au.STEP_END and r.step_id == "enable-ha" and r.outcome in ("done", "skipped"):
            return ""
        codes = {f.get("code") for f in r.inputs.get("findings") or [] if isinstance(f, dict)}
        armed = codes & {Code.HA_ARMED.value, Code.HA_ARMED_MISMATCH.value}
        if r.kind == FINDINGS and armed and r.run_id != disarm.run_id:
            return ""
    return "an earlier run disarmed HA on every host because its statefile could not be reached"


def enable_command(s: Situation, candidates: Sequence[SR]) -> Tuple[str, ...]:
    """The exact `xe` line(s) that turn HA back on: with one SR that can hold a
    statefile, its uuid; otherwise look up the old statefile's SR first."""
    if len(candidates) == 1:
        return (f"xe pool-ha-enable heartbeat-sr-uuids={candidates[0].uuid}",)
    pool = s.snap.pool
    vdis = s.snap.vdis
    old = [vdis[r].uuid for r in (pool.ha_statefiles if pool is not None else ()) if r in vdis]
    vdi = old[0] if old else "<statefile-vdi>"
    return (
        f"xe vdi-param-get uuid={vdi} param-name=sr-uuid",
        "xe pool-ha-enable heartbeat-sr-uuids=<that SR uuid>",
    )


def stays_off_note(s: Situation, candidates: Sequence[SR], why: str) -> str:
    """The plan's sentence when HA is not re-enabled because of the statefile."""
    return (
        f"{STAYS_OFF}: {why}, and enabling HA now would "
        "fail (VDI_NOT_AVAILABLE). Once every host reaches that SR again, run on the coordinator: "
        + "; then ".join(f"'{line}'" for line in enable_command(s, candidates))
        + "."
    )
