"""Split brain: make the other master follow the one kept (pool.emergency_reset_master on it)."""

from __future__ import annotations

from typing import Sequence, Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster, KeptNot
from xentui.recovery.role_checks import members_following
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepRunner,
    hold_master_change,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(other: str, keep: Host, flagged: Sequence[str]) -> Step:
    return Step(
        id=f"demote-master:{other}",
        title=f"Demote {other}: make it follow {keep.name_label}",
        why="Two masters write two databases over the same storage.",
        changes=f"Writes 'slave:{keep.address}' into {other}'s pool.conf and restarts its xapi; it "
        f"joins {keep.name_label}'s pool and its own database changes since the split are lost.",
        risk="high",
        risk_text="VMs both masters think they run must be checked before anything starts: "
        + (", ".join(flagged) if flagged else "none seen."),
        xe=(f"xe pool-emergency-reset-master master-address={keep.address}   # on {other}",),
        calls=(f"pool.emergency_reset_master('{keep.address}') on {other}",),
        preconditions=(Answers(other), IsMaster(keep.name_label), KeptNot(other, keep.name_label)),
        verify=f"{other} answers HOST_IS_SLAVE [{keep.address}]; only one master remains.",
        on_failure=f"Run the xe command on {other}'s console.",
        confirm=Confirm.TYPED_HOST,
        target_host=other,
        params={"host": other, "keep": keep.name_label, "keep_address": keep.address, "flagged": ",".join(flagged)},
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    keep_address = ctx.step.params["keep_address"]
    hold_master_change(ex, ctx)  # until verify has seen the result
    client = ctx.client(name)
    ex.call_xapi(ctx, client, "pool.emergency_reset_master", keep_address, shown=[keep_address], lost_ok=True)
    ctx.drop_client(name)  # its xapi restarts as a member


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    keep_address = ctx.step.params["keep_address"]
    ex.sleep(ctx, ex.scaled(FUSE_TIME), f"{name} restarts as a member in")

    def demoted(obs: Observation) -> Tuple[bool, str]:
        s = Situation(obs)
        if name == s.this_name:
            ok = s.pool_conf_role == "slave" and s.pool_conf_master == keep_address
            return ok, f"pool.conf {s.pool_conf_role}:{s.pool_conf_master}"
        claim = s.master_claimants()
        ok = members_following(obs, keep_address).get(name, False) and len(claim) < 2
        return ok, "masters: " + ", ".join(claim)

    _, why = ex.poll(
        ctx, demoted, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name} to follow {keep_address}"
    )
    return f"{name} follows {keep_address}; {why}"


STEP = StepKind("demote-master", declare=declare, action=action, verify=verify)
