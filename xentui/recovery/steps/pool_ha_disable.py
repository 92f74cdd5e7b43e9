"""Turn HA off for the whole pool on its coordinator (pool.disable_ha), so a
member whose local HA flag was disarmed can rejoin.

xapi.ml resynchronise_ha_state: a member whose localdb ha.armed is false while
pool.ha_enabled is true stores HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED and runs
in emergency mode, at every restart, for good. The two sides must agree:
- with a coordinator that answers: pool.disable_ha (xapi_ha.ml disable ->
  disable_internal: pool.ha_enabled <- false; the other hosts disarm through
  the statefile, best effort; HA_NOT_ENABLED if it is off already);
- without one: host.emergency_ha_disable on every host, coordinator included
  (xapi_ha.ml emergency_ha_disable: localdb only, HA_NOT_ENABLED on a host
  already disarmed unless soft=true); the coordinator then turns pool HA off
  at its next start (resynchronise_ha_state, the master branch). That path
  is the master-down-ha plan's (ha-disable steps); this step is the first.
"""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host


def declare(coordinator: Host, stuck: str) -> Step:
    cname = coordinator.name_label
    return Step(
        id="pool-ha-disable",
        title="Turn HA off for the pool",
        why=f"{stuck} has HA disarmed locally while the pool has it enabled; xapi keeps it out of the "
        "pool until both agree (HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED). 'recover slaves' does not help.",
        changes="pool.ha_enabled becomes false; the other hosts stop their HA daemons and fencing. "
        "HA is turned back on by a later step of this plan.",
        risk="medium",
        risk_text="No HA protection (no automatic restart of VMs, no fencing) until HA is re-enabled. "
        "Running VMs are not touched.",
        xe=("xe pool-ha-disable   # on the coordinator",),
        calls=(f"pool.disable_ha() on {cname}",),
        preconditions=(IsMaster(cname),),
        verify="pool.ha_enabled is false.",
        on_failure="Run 'xe pool-ha-disable' on the coordinator. If it cannot be done, run "
        "'xe host-emergency-ha-disable --force' on every host, coordinator included "
        "(soft=true on a host that answers HA_NOT_ENABLED), then restart the coordinator's toolstack.",
        confirm=Confirm.F8,
        target_host=cname,
        params={"master": cname, "stuck": stuck},
    )


def _ha_enabled(ex: StepRunner, ctx: StepContext) -> bool:
    client = ctx.client(ctx.step.params["master"])
    pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
    return bool(ex.call_xapi(ctx, client, "pool.get_ha_enabled", pool))


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    return "" if _ha_enabled(ex, ctx) else "HA is already off for the pool"


def action(ex: StepRunner, ctx: StepContext) -> None:
    try:
        ex.call_xapi(ctx, ctx.client(ctx.step.params["master"]), "pool.disable_ha")
    except XapiFailure as exc:
        if exc.code != "HA_NOT_ENABLED":  # turned off meanwhile: the effect is there
            raise


def verify(ex: StepRunner, ctx: StepContext) -> str:
    if _ha_enabled(ex, ctx):
        raise StepFailed("pool.ha_enabled is still true")
    return "pool.ha_enabled = false"


STEP = StepKind("pool-ha-disable", declare=declare, already_done=already_done, action=action, verify=verify)
