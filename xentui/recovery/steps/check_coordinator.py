"""Check that the coordinator itself is not in emergency mode after HA was
turned off or disarmed (a known xapi bug left it there for a range of
versions after an HA emergency disable). A check: it changes nothing."""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(coordinator: Host) -> Step:
    cname = coordinator.name_label
    return Step(
        id=f"check-coordinator:{cname}",
        title=f"Check that {cname} is not in emergency mode",
        why="After HA is turned off or disarmed, some xapi versions left the coordinator itself in emergency mode.",
        changes="Nothing (a check).",
        risk="none",
        risk_text="None.",
        xe=(f"xe host-is-in-emergency-mode   # on {cname}",),
        calls=(f"host.is_in_emergency_mode() on {cname}",),
        preconditions=(),
        verify=f"{cname} says it is not in emergency mode.",
        on_failure=f"Restart the toolstack on {cname} ('xe-toolstack-restart' on its console), then run xentui again.",
        confirm=Confirm.ENTER,
        target_host=cname,
        params={"master": cname},
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """A check changes nothing: the reading is the verification."""


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["master"]
    if ex.call_xapi(ctx, ctx.client(name), "host.is_in_emergency_mode"):
        raise StepFailed(f"{name} is in emergency mode: restart its toolstack ('xe-toolstack-restart' on it)")
    return f"{name} is not in emergency mode"


STEP = StepKind("check-coordinator", declare=declare, action=action, verify=verify)
