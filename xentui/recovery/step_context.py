"""What a step handler gets: the step, the observation it was checked
against, progress reporting and cancellation; and the ways it reports that
its effect was already there (StepSkipped) or not achieved (StepFailed).

Also what the steps use of the executor (`StepRunner`, a protocol the
executor satisfies) and the small helpers they share, so that the step
modules never import the executor (which runs them)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Protocol, Sequence, Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Step
from xentui.recovery.situation import Situation
from xentui.xapi.errors import CallTimeout

# xapi timings in seconds at time_scale 1 (xapi-semantics.md §8); the
# executor scales them by its time_scale.
FUSE_TIME = 10.0  # Constants.fuse_time: a role change restarts xapi after this
RESTART_BUDGET = 180.0  # fuse + restart + start-up as master, generously
RECOVER_RETRY_DELAY = 5.0  # between pool.recover_slaves tries (HA-Lizard)
MIN_REAL_WAIT = 8.0  # never wait less than this in real seconds for a restart


@dataclass(frozen=True)
class Progress:
    step_id: str
    message: str
    countdown: Optional[float] = None


class StepFailed(Exception):
    """The step did not achieve its effect."""


class StepSkipped(Exception):
    """The step's effect is already in place."""


class Cancelled(Exception):
    pass


class StepContext:
    """Per-run context handed to a step handler."""

    def __init__(
        self,
        step: Step,
        obs: Observation,
        progress: Callable[[Progress], None],
        cancel: Optional[threading.Event],
        choice: str,
    ) -> None:
        self.step = step
        self.obs = obs
        self.sit = Situation(obs)
        self.progress = progress
        self.cancel = cancel
        self.choice = choice
        self.notes: List[str] = []

    def say(self, message: str, countdown: Optional[float] = None) -> None:
        self.progress(Progress(self.step.id, message, countdown))


class StepRunner(Protocol):
    """What a step's action uses of the executor (`PlanExecutor` is one)."""

    observer: Any
    audit: Any
    run_id: str
    kept_master: str
    master_change: threading.Lock

    def scaled(self, seconds: float, floor: float = 0.0) -> float: ...

    def sleep(self, ctx: "StepContext", seconds: float, message: str = "") -> None: ...

    def poll(
        self, ctx: "StepContext", until: Callable[[Observation], Tuple[bool, str]], budget: float, message: str
    ) -> Tuple[Observation, str]: ...

    def console_client(self) -> Any: ...

    def client_for(self, sit: Situation, host_name: str) -> Tuple[Any, bool]: ...

    def call_xapi(
        self,
        ctx: "StepContext",
        client: Any,
        method: str,
        *args: Any,
        shown: Sequence[str] = (),
        lost_ok: bool = False,
        timeout: Optional[float] = None,
    ) -> Any: ...


def host_ref_by_uuid(ex: StepRunner, ctx: StepContext, client: Any, uuid: str) -> str:
    ref: str = ex.call_xapi(ctx, client, "host.get_by_uuid", uuid, shown=[uuid])
    return ref


def master_of(ctx: StepContext) -> str:
    p = ctx.step.params
    return p.get("master") or p.get("keep") or ctx.sit.this_name


def timed_out_but_going_on(ctx: StepContext, method: str, exc: CallTimeout, why: str) -> None:
    """A call that timed out on OUR side: xapi has no deadline for it (its inter-host
    calls wait for the peer), so it is not a failure; the step re-checks the pool."""
    ctx.notes.append(
        f"{method}: no answer within {exc.seconds:g} s on our side; xapi carries on "
        f"with it ({why}); checking the result instead"
    )
