"""Disarm HA on one host (host.emergency_ha_disable soft=false)."""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers
from xentui.recovery.role_checks import is_master_now
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepRunner, StepSkipped
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host


def declare(host: Host, local: bool) -> Step:
    return Step(
        id=f"ha-disable:{host.name_label}",
        title=f"Disarm HA on {host.name_label}",
        why="While HA is armed xapi refuses emergency transition and reset (HA_IS_ENABLED), and a "
        "toolstack restart would fence (reboot) the host.",
        changes=f"Stops HA fencing and the HA daemon on {host.name_label} and records HA as disarmed "
        "in its local database (soft=false: it stays off after a reboot).",
        risk="medium",
        risk_text="HA protection is off until you re-enable it. Harmless for running VMs.",
        xe=("xe host-emergency-ha-disable --force soft=false",),
        calls=("host.emergency_ha_disable(false)",),
        preconditions=(Answers(host.name_label),),
        verify="The call returns (or says HA_NOT_ENABLED: already disarmed).",
        on_failure="Run the xe command on that host's console. If the HA daemon is wedged, "
        "reboot the host with HA disabled.",
        confirm=Confirm.ENTER,
        target_host=host.name_label,
        params={
            "host": host.name_label,
            "host_uuid": host.uuid,
            "address": host.address,
            "local": "true" if local else "false",
        },
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """No read tells beforehand whether a cut-off host has HA armed: xapi's own
    refusal (HA_NOT_ENABLED) is the idempotence check, and makes the step "skipped"."""
    name = ctx.step.params.get("host", ctx.step.target_host)
    try:
        ex.call_xapi(ctx, ctx.client(name), "host.emergency_ha_disable", False, shown=["soft=false"])
    except XapiFailure as exc:
        if exc.code == "HA_NOT_ENABLED":
            raise StepSkipped(f"HA already disarmed on {name}") from None
        raise


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params.get("host", ctx.step.target_host)
    sit = ctx.sit
    if name == sit.this_name and sit.pool_conf_role == "master" and sit.emergency:
        # Xapi_ha.on_server_restart runs for a master too: with HA armed and no statefile
        # it loops every 10 s in emergency mode. Disarmed, the loop ends at its next turn
        # and the start-up carries on as master: no restart comes, none is needed.
        ctx.say("xapi leaves its HA start-up loop within 10 s and carries on as master")
        _, why = ex.poll(
            ctx, _is_master_check, ex.scaled(60.0, floor=MIN_REAL_WAIT), "waiting for xapi to carry on as master"
        )
        return f"HA disarmed on {name}; {why}"
    return f"HA disarmed on {name} (host.emergency_ha_disable soft=false returned)"


def _is_master_check(obs: Observation) -> Tuple[bool, str]:
    if is_master_now(obs):
        return True, "answers as master"
    s = Situation(obs)
    return False, f"xapi {s.conn_state}" + (f", emergency {s.reason_code}" if s.emergency else "")


STEP = StepKind("ha-disable", declare=declare, action=action, verify=verify)
