"""Get a member that was stuck in emergency mode to start again and rejoin,
once the cause is gone (after pool-ha-disable).

How, in what xapi allows:
- host.restart_agent is not one of the emergency calls (datamodel.ml
  emergency_calls), so a member in emergency mode refuses it, whether called
  on the member or forwarded by the coordinator (it answers its stored error);
- host.shutdown_agent is one, but stops xapi for good
  (Xapi_fuse.light_fuse_and_dont_restart);
- xapi.ml server_run_in_emergency_mode restarts xapi by itself after
  emergency_reboot_delay_base + Random(emergency_reboot_delay_extra) =
  60-180 s (xapi_globs.ml); the new start finds (false, false) in
  resynchronise_ha_state and rejoins.
So this step waits for that restart, and says how to make it immediate:
'xe-toolstack-restart' on the member's console (a shell there, which xentui
does not run on another host). It verifies by observing the member rejoin.
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.recovery.steps._member_back import member_back
from xentui.xapi.model import Host

# xapi_globs.ml emergency_reboot_delay_base 60 + extra 120, then a start-up.
SELF_RESTART_BUDGET = 240.0


def declare(member: Host, coordinator: Host) -> Step:
    name = member.name_label
    return Step(
        id=f"member-restart:{name}",
        title=f"Let {name}'s xapi restart and rejoin",
        why=f"{name} checks the HA state only when its xapi starts. In emergency mode xapi refuses "
        "host.restart_agent, but restarts itself within 60-180 s.",
        changes=f"Nothing is sent: xentui waits for {name}'s own restart (or yours: "
        f"'xe-toolstack-restart' on {name}'s console makes it immediate).",
        risk="none",
        risk_text="Waiting only.",
        xe=(f"xe-toolstack-restart   # on {name}'s console, to skip the wait",),
        calls=(f"pool.get_ha_enabled on {coordinator.name_label} (must be false)",),
        preconditions=(IsMaster(coordinator.name_label),),
        verify=f"{name} leaves emergency mode and is live and enabled again.",
        on_failure=f"Restart the toolstack on {name}'s console ('xe-toolstack-restart') and run this "
        "step again; if it is still in emergency mode, 'xe host-is-in-emergency-mode' there says why.",
        confirm=Confirm.ENTER,
        target_host=name,
        params={"host": name, "host_uuid": member.uuid, "master": coordinator.name_label},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    back, why = member_back(ctx.obs, ctx.step.params["host"])
    return why if back else ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    """Nothing is sent to the member. First, live on the coordinator, HA must be
    off (from the member's console the pool database is the member's own copy,
    which still says HA is on)."""
    name = ctx.step.params["host"]
    coord = ctx.client(ctx.step.params["master"])
    pool = ex.call_xapi(ctx, coord, "pool.get_all")[0]
    if ex.call_xapi(ctx, coord, "pool.get_ha_enabled", pool):
        raise StepFailed(
            f"HA is still enabled for the pool: {name} would restart into the same error. "
            "Turn HA off first (xe pool-ha-disable)."
        )
    ctx.say(f"waiting for {name}'s xapi to restart (or run xe-toolstack-restart on its console)")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]

    def rejoined(obs: Observation) -> Tuple[bool, str]:
        return member_back(obs, name)

    _, why = ex.poll(
        ctx, rejoined, ex.scaled(SELF_RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name} to rejoin"
    )
    return why


STEP = StepKind("member-restart", declare=declare, already_done=already_done, action=action, verify=verify)
