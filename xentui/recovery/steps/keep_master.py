"""Split brain: the operator chooses the master to keep (nothing in the pool changes)."""

from __future__ import annotations

from typing import Sequence

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind


def declare(suggested: str, claimants: Sequence[str]) -> Step:
    return Step(
        id=f"keep-master:{suggested}",
        title="Choose the master to keep",
        why="Two hosts both act as master. Exactly one may stay.",
        changes="Nothing. Records your choice; the other master(s) are demoted in the next step.",
        risk="none",
        risk_text="Keep the one whose database is most recent and that runs the most VMs; the "
        "other master's database changes since the split are lost.",
        xe=("xe pool-list params=master   # on each master, compare", "xe vm-list power-state=running"),
        calls=(),
        preconditions=tuple(IsMaster(n) for n in claimants),
        verify="The chosen host answers as master.",
        on_failure="If neither answers as master any more, re-run the diagnosis.",
        confirm=Confirm.TYPED_HOST,
        target_host=suggested,
        choice=tuple(claimants),
        params={"suggested": suggested},
    )


def _choice(ctx: StepContext) -> str:
    return ctx.choice or ctx.step.params.get("suggested", "")


def action(ex: StepRunner, ctx: StepContext) -> None:
    choice = _choice(ctx)
    if ctx.step.choice and choice not in ctx.step.choice:
        raise StepFailed(f"{choice!r} is not one of the masters: {', '.join(ctx.step.choice)}")
    ex.kept_master = choice
    ex.audit.record(
        ex.run_id,
        au.NOTE,
        step_id=ctx.step.id,
        host=choice,
        outcome="kept",
        detail=f"operator keeps {choice} as master",
    )


def verify(ex: StepRunner, ctx: StepContext) -> str:
    return f"keeping {_choice(ctx)} as the master"


STEP = StepKind("keep-master", declare=declare, action=action, verify=verify)
