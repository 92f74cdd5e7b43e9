"""What one kind of plan step is: how it is declared and how it runs.

Each module of `xentui.recovery.steps` holds one kind whole, and names it in
a module-level `STEP = StepKind(...)`; `step_registry` collects them. The
declaration (`declare(...) -> Step`) says why, what changes, the risk, the
confirmation, the exact `xe` equivalent, the typed preconditions, how it is
verified and what to do if it fails. The action (`run(runner, ctx) -> str`)
first looks whether its effect is already there (then raises StepSkipped),
makes its xapi calls, verifies the effect and returns the verification text
(or raises StepFailed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from xentui.recovery.plan import Step
from xentui.recovery.step_context import StepContext, StepRunner


@dataclass(frozen=True)
class StepKind:
    kind: str  # the part of a step id before ':' ("promote", "reset-master", ...)
    run: Callable[[StepRunner, StepContext], str]
    declare: Optional[Callable[..., Step]] = None  # None: only run from a hand-built step
    # Other declarations of the same kind ({"move": ...}): steps that run through `run` too.
    variants: Mapping[str, Callable[..., Step]] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Step:
        """Declare a step of this kind (see `declare`)."""
        if self.declare is None:
            raise TypeError(f"step kind {self.kind!r} has no declaration")
        return self.declare(*args, **kwargs)
