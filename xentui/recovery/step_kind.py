"""What one kind of plan step is, in parts: how to add a step.

A step kind is ONE module in `xentui/recovery/steps/` (a name not starting
with "_"; modules starting with "_" are shared helpers). It ends with

    STEP = StepKind(
        "my-kind",               # the part of a step id before ':'
        declare=declare,         # (...) -> Step: what the plan shows
        already_done=already_done,  # optional: is the effect there already?
        action=action,           # the xapi calls that change the pool
        verify=verify,           # read the state back: the verification text
    )

and nothing else names it: `step_registry` finds the module by listing the
package, the executor runs it by the kind in the step's id. (A plan only
contains the step once `plan_builder` declares it where the situation calls
for it: that is the second file a new step touches, if the plan builds it.)

The parts, in the order the executor (`PlanExecutor.run`) uses them:

declare(...) -> Step
    The declaration: id (`"my-kind:<host>"`), title, why, changes, risk and
    risk text, confirmation level, the exact `xe` equivalent, the xapi
    calls, the typed preconditions (`xentui.recovery.preconditions`: e.g.
    `IsMaster(name)`, `Fenced(name)`), how it is verified, what to do if it
    fails, and `params`: everything the other parts need (names, uuids),
    since a resumed run has only the Step to go on.

    Then the executor re-checks the preconditions against a fresh
    observation (on every run, resumed ones too); any that fails refuses
    the step and none of the parts below run.

already_done(runner, ctx) -> str
    The idempotence check: "" when the effect is not there yet; otherwise
    the reason it is ("xen2 is already master"). A reason makes the step
    "skipped" with it as detail and verification: no action, no verify.
    It must look at the live pool (`ctx.obs`, or xapi calls), never at
    what a previous run recorded, because "run again to resume" relies on
    it. Omitted: the step is never considered done beforehand.

action(runner, ctx) -> None
    The calls that change the pool, each through `runner.call_xapi(ctx,
    client, method, *args, shown=[...])` so it is audited. Get clients with
    `ctx.client(host_name)` (one per host for the whole step; the executor
    closes them). Whatever `verify` needs to know from the action (refs,
    what was reset, "the call timed out but xapi goes on") goes into the
    dict `ctx.scratch`. Notes for the operator go into `ctx.notes` (they
    become the step's detail). Raise `StepFailed(text)` for a refusal the
    operator must act on.

verify(runner, ctx) -> str
    Reads the state back (xapi calls, or `runner.poll(ctx, until, budget,
    message)` on fresh observations, e.g. through xapi's restart) and
    returns the verification text, or raises `StepFailed(why)`.

Steps that work item by item (start these VMs, forget these PIFs) check
each item as they reach it in the action, since every item needs its own
look-up anyway; their verify raises `StepSkipped(reason)` when no item
needed anything. The same where only xapi can tell (ha-disable: its
HA_NOT_ENABLED refusal; pif-scan: whether the scan found anything). Either
way the executor records "skipped" with the reason.

`runner` is the executor as `StepRunner` (step_context.py): call_xapi,
poll, sleep, scaled, console_client, observer, audit, run_id. Timings are
xapi seconds scaled with `runner.scaled(...)`, never raw sleeps.

variants: other declarations that run through the same parts
({"move": declare_move}), for kinds with more than one shape of step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from xentui.recovery.plan import Step
from xentui.recovery.step_context import StepContext, StepRunner


def never_done(runner: StepRunner, ctx: StepContext) -> str:
    """The default idempotence check: the effect is never there beforehand."""
    return ""


@dataclass(frozen=True, init=False)
class StepKind:
    kind: str  # the part of a step id before ':' ("promote", "reset-master", ...)
    declare: Optional[Callable[..., Step]]  # None: only run from a hand-built step
    already_done: Callable[[StepRunner, StepContext], str]
    action: Callable[[StepRunner, StepContext], None]
    verify: Callable[[StepRunner, StepContext], str]
    # Other declarations of the same kind ({"move": ...}): steps that run through the same parts.
    variants: Mapping[str, Callable[..., Step]]

    def __init__(
        self,
        kind: str,
        *,
        declare: Optional[Callable[..., Step]] = None,
        already_done: Callable[[StepRunner, StepContext], str] = never_done,
        action: Callable[[StepRunner, StepContext], None],
        verify: Callable[[StepRunner, StepContext], str],
        variants: Optional[Mapping[str, Callable[..., Step]]] = None,
    ) -> None:
        # keyword-only parts, so that a module reads as its recipe (and Python 3.9
        # dataclasses have no kw_only): the fields are set past the frozen __setattr__
        for name, value in (
            ("kind", kind),
            ("declare", declare),
            ("already_done", already_done),
            ("action", action),
            ("verify", verify),
            ("variants", dict(variants or {})),
        ):
            object.__setattr__(self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Step:
        """Declare a step of this kind (see `declare`)."""
        if self.declare is None:
            raise TypeError(f"step kind {self.kind!r} has no declaration")
        return self.declare(*args, **kwargs)
