"""Recovery plans: an ordered runbook built from one observation's findings.

A plan is pure data. It says, for every step, why it is needed, what it
changes, how risky it is, the exact `xe` equivalent an admin could type
instead, the live preconditions the executor re-checks right before running
it, the xapi calls it makes, how success is verified and what to do if it
fails. Building a plan (`plan_builder.build_plan`) never changes anything;
`PlanExecutor` runs steps.

The builder is a function of the *current* state, so re-building after a
partial run naturally yields only what is left to do (plus the audit log's
record of what already happened, for the report).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

from xentui.recovery.preconditions import Precondition  # noqa: F401  (part of this module's API)


class Confirm(str, enum.Enum):
    """How the UI asks the operator before running a step."""

    NONE = "none"
    ENTER = "enter"
    F8 = "f8"
    TYPED_HOST = "typed-host-name"


RISKS = ("none", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    why: str
    changes: str
    risk: str
    risk_text: str
    xe: Tuple[str, ...]
    calls: Tuple[str, ...]
    preconditions: Tuple[Precondition, ...]
    verify: str
    on_failure: str
    confirm: Confirm
    target_host: str = ""
    phase: str = "now"  # "now" | "later" (return to normal operation)
    requires_fenced: Tuple[str, ...] = ()
    choice: Tuple[str, ...] = ()
    # Machine-readable arguments for the executor (host uuids, addresses,
    # VM uuids...). Additive to the contract; never holds secrets.
    params: Dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def kind(self) -> str:
        """The part of the id before ':' ("promote", "reset-master", ...)."""
        return self.id.split(":", 1)[0]

    def to_json(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "why": self.why,
            "changes": self.changes,
            "risk": self.risk,
            "risk_text": self.risk_text,
            "xe": list(self.xe),
            "calls": list(self.calls),
            "preconditions": [p.to_json() for p in self.preconditions],
            "verify": self.verify,
            "on_failure": self.on_failure,
            "confirm": self.confirm.value,
            "target_host": self.target_host,
            "phase": self.phase,
            "requires_fenced": list(self.requires_fenced),
            "choice": list(self.choice),
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class Plan:
    steps: Tuple[Step, ...]
    finding_codes: Tuple[str, ...]
    console_host: str
    created_at: float
    notes: Tuple[str, ...] = ()  # plain-words caveats shown above the steps
    # A clear stop: why xentui plans nothing that changes the pool (xapi offers no fix
    # from here, e.g. a member newer than its coordinator) and what the admin does instead.
    stop: Tuple[str, ...] = ()

    @property
    def now_steps(self) -> Tuple[Step, ...]:
        return tuple(s for s in self.steps if s.phase == "now")

    @property
    def later_steps(self) -> Tuple[Step, ...]:
        return tuple(s for s in self.steps if s.phase == "later")

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def requires_fenced(self) -> Tuple[str, ...]:
        names = []
        for s in self.steps:
            for n in s.requires_fenced:
                if n not in names:
                    names.append(n)
        return tuple(names)

    def to_json(self) -> Dict[str, Any]:
        return {
            "console_host": self.console_host,
            "created_at": self.created_at,
            "finding_codes": list(self.finding_codes),
            "notes": list(self.notes),
            "stop": list(self.stop),
            "requires_fenced": list(self.requires_fenced),
            "steps": [s.to_json() for s in self.steps],
        }
