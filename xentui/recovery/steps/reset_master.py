"""Make one orphaned member follow the new master (pool.emergency_reset_master on it)."""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.role_checks import members_following
from xentui.recovery.step_context import FUSE_TIME, MIN_REAL_WAIT, RESTART_BUDGET, StepContext, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(member: Host, master: Host) -> Step:
    return Step(
        id=f"reset-master:{member.name_label}",
        title=f"Make {member.name_label} follow {master.name_label} (if still orphaned)",
        why=f"{member.name_label} still follows a master that is gone. Skipped when 'recover "
        "members' already fixed it.",
        changes=f"Writes 'slave:{master.address}' into {member.name_label}'s pool.conf and restarts its xapi (10 s).",
        risk="low",
        risk_text="A wrong address leaves the member orphaned (it can be run again).",
        xe=(f"xe pool-emergency-reset-master master-address={master.address}   # on {member.name_label}",),
        calls=(f"pool.emergency_reset_master('{master.address}') on {member.name_label}",),
        preconditions=(Answers(member.name_label), IsMaster(master.name_label)),
        verify=f"{member.name_label} answers HOST_IS_SLAVE [{master.address}] and {master.name_label} sees it live.",
        on_failure=f"Run the xe command on {member.name_label}'s console; check its management network.",
        confirm=Confirm.ENTER,
        target_host=member.name_label,
        params={
            "host": member.name_label,
            "host_uuid": member.uuid,
            "address": member.address,
            "master": master.name_label,
            "master_address": master.address,
        },
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    address = ctx.step.params["master_address"]
    if members_following(ctx.obs, address).get(name):
        return f"{name} already follows {address}"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    address = ctx.step.params["master_address"]
    client = ctx.client(name)
    ex.call_xapi(ctx, client, "pool.emergency_reset_master", address, shown=[address], lost_ok=True)
    ctx.drop_client(name)  # its xapi restarts


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    address = ctx.step.params["master_address"]
    ex.sleep(ctx, ex.scaled(FUSE_TIME), f"{name} restarts its xapi in")

    def follows(obs: Observation) -> Tuple[bool, str]:
        if members_following(obs, address).get(name):
            return True, "follows"
        return False, f"{name} not yet following"

    ex.poll(ctx, follows, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name}")
    return f"{name} answers HOST_IS_SLAVE [{address}]"


STEP = StepKind("reset-master", declare=declare, already_done=already_done, action=action, verify=verify)
