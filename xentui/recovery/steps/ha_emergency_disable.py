"""Disarm HA on one host through its own xapi (host.emergency_ha_disable), as
one of the every-host calls that end an HA flag mismatch when the coordinator
cannot run pool.disable_ha (issue 13 item 2, the path without a coordinator).

xen-api ocaml/:
- datamodel.ml emergency_calls holds Host.emergency_ha_disable, and the CLI's
  `host-emergency-ha-disable` is a local-session command: it answers on a host
  in emergency mode and acts on that host only (its localdb), so each host gets
  its own call;
- xapi_ha.ml emergency_ha_disable: on a host already disarmed it raises
  HA_NOT_ENABLED unless soft=true; soft=false disarms for good (ha.armed false
  in localdb, daemons stopped);
- a coordinator held by Xapi_ha.on_server_restart (HA armed, statefile
  unreachable: HA_HOST_CANNOT_ACCESS_STATEFILE) carries on with its start-up
  once disarmed, and xapi.ml resynchronise_ha_state (master branch: pool HA on,
  local HA off) turns pool.ha_enabled off; members still armed ask it at their
  next HA start-up and disarm.
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepRunner, StepSkipped
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host

# the HA start-up loop retries every 10 s (xapi_ha.ml), then the master start-up
MASTER_BUDGET = 60.0


def declare(host: Host, coordinator: Host, disarmed: bool) -> Step:
    """`disarmed`: the host is the stuck member (its localdb already says
    disarmed): soft=true, which xapi accepts there and which changes nothing."""
    name, cname = host.name_label, coordinator.name_label
    is_coordinator = host.ref == coordinator.ref
    soft = "true" if disarmed else "false"
    if is_coordinator:
        why = (
            f"{cname} holds HA armed and cannot reach the heartbeat statefile, so its xapi waits in the "
            "HA start-up loop (emergency mode) and cannot run 'pool-ha-disable'. Disarmed, it carries on "
            "as coordinator and turns pool HA off itself (a master with HA disarmed locally)."
        )
        changes = f"HA disarmed in {cname}'s local database (soft=false); pool.ha_enabled becomes false."
        verify = f"{cname} answers as the pool master and pool.ha_enabled is false."
    elif disarmed:
        why = f"{name} is already disarmed (that is the mismatch); soft=true confirms it without HA_NOT_ENABLED."
        changes = "Nothing: soft=true on a disarmed host is a no-op."
        verify = "The call returns."
    else:
        why = f"Every host must agree with the pool: {name} still has HA armed locally."
        changes = f"HA disarmed in {name}'s local database (soft=false); its HA daemon stops."
        verify = "The call returns (or says HA_NOT_ENABLED: already disarmed)."
    return Step(
        id=f"ha-emergency-disable:{name}",
        title=f"Disarm HA on {name} (on its own xapi)",
        why=why,
        changes=changes,
        risk="none" if disarmed else "medium",
        risk_text="Waiting only." if disarmed else "No HA protection (restart, fencing) until HA is re-enabled.",
        xe=(f"xe host-emergency-ha-disable --force soft={soft}   # on {name}'s console",),
        calls=(f"host.emergency_ha_disable({soft}) on {name}",),
        preconditions=(Answers(name),),
        verify=verify,
        on_failure=f"Run the xe command on {name}'s console; if the HA daemon is wedged, reboot {name} "
        "with HA disabled.",
        confirm=Confirm.ENTER if disarmed else Confirm.F8,
        target_host=name,
        params={
            "host": name,
            "host_uuid": host.uuid,
            "master": cname,
            "soft": soft,
            "coordinator": "true" if is_coordinator else "false",
        },
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """No read tells beforehand whether a cut-off host has HA armed: xapi's
    HA_NOT_ENABLED is the idempotence check (soft=false only)."""
    p = ctx.step.params
    soft = p["soft"] == "true"
    try:
        ex.call_xapi(ctx, ctx.client(p["host"]), "host.emergency_ha_disable", soft, shown=[f"soft={p['soft']}"])
    except XapiFailure as exc:
        if exc.code == "HA_NOT_ENABLED":
            raise StepSkipped(f"HA already disarmed on {p['host']}") from None
        raise


def coordinator_back(obs: Observation, name: str) -> Tuple[bool, str]:
    """`name` answers as master outside emergency mode, with pool HA off."""
    sit = Situation(obs)
    host = sit.snap.host_by_name(name)
    if host is None:
        return False, f"{name} is not in the pool database"
    st = sit.state(host)
    if sit.is_this(host):
        if sit.emergency or not sit.this_is_master or not sit.xapi_answers_here:
            return False, f"{name}: {sit.conn_state}" + (f", emergency {sit.reason_code}" if sit.emergency else "")
    elif st.reach != pv.ANSWERS or st.role != pv.MASTER:
        return False, f"{name}: {st.evidence}"
    pool = sit.snap.pool
    if sit.snap_live and pool is not None and pool.ha_enabled:
        return False, "pool.ha_enabled is still true"
    return True, f"{name} answers as master, pool HA off"


def verify(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    if p["coordinator"] != "true":
        return f"HA disarmed on {p['host']} (host.emergency_ha_disable soft={p['soft']} returned)"
    name = p["host"]

    def back(obs: Observation) -> Tuple[bool, str]:
        return coordinator_back(obs, name)

    _, why = ex.poll(
        ctx, back, ex.scaled(MASTER_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name} to carry on as master"
    )
    return f"HA disarmed on {name}; {why}"


STEP = StepKind("ha-emergency-disable", declare=declare, action=action, verify=verify)
