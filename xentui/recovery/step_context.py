"""What a step's parts (already_done, action, verify: see step_kind.py) get:
the step, the observation it was checked against, progress reporting,
cancellation, a scratch dict from one part to the next and one xapi client
per host for the whole step; and the ways a part reports that the effect
was already there (StepSkipped) or not achieved (StepFailed).

Also what the steps use of the executor (`StepRunner`, a protocol the
executor satisfies) and the small helpers they share, so that the step
modules never import the executor (which runs them)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

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
    """Per-run context handed to a step's parts (already_done, action, verify).

    `scratch` carries what one part learnt to the next (a ref, what was
    reset); `client(host)` gives one xapi client per host for the whole step,
    which the executor closes when the step ends (`close`)."""

    def __init__(
        self,
        step: Step,
        obs: Observation,
        progress: Callable[[Progress], None],
        cancel: Optional[threading.Event],
        choice: str,
        open_client: Optional[Callable[[Situation, str], Tuple[Any, bool]]] = None,
    ) -> None:
        self.step = step
        self.obs = obs
        self.sit = Situation(obs)
        self.progress = progress
        self.cancel = cancel
        self.choice = choice
        self.notes: List[str] = []
        self.scratch: Dict[str, Any] = {}
        self._open_client = open_client
        self._owned: Dict[str, Any] = {}  # host name -> a client this step opened
        self._at_end: List[Callable[[], None]] = []

    def say(self, message: str, countdown: Optional[float] = None) -> None:
        self.progress(Progress(self.step.id, message, countdown))

    def client(self, host_name: str) -> Any:
        """An xapi client on `host_name`: the console's own session for this
        host (asked afresh each time: it is replaced after xapi restarts),
        else one opened for this step and reused until the step ends."""
        if host_name in self._owned:
            return self._owned[host_name]
        if self._open_client is None:
            raise RuntimeError("this step context has no way to open xapi clients")
        client, owned = self._open_client(self.sit, host_name)
        if owned:
            self._owned[host_name] = client
        return client

    def drop_client(self, host_name: str) -> None:
        """Close this step's client on `host_name` now (e.g. before that host's
        xapi restarts); the next `client(host_name)` opens a new one."""
        client = self._owned.pop(host_name, None)
        if client is not None:
            client.close()

    def at_end(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the step ends, whatever its outcome (e.g.
        release a lock the action took and verify still needs)."""
        self._at_end.append(callback)

    def close(self) -> None:
        """End of the step (the executor calls it): the `at_end` callbacks,
        latest first, then every client this step opened is closed."""
        try:
            while self._at_end:
                self._at_end.pop()()
        finally:
            for name in list(self._owned):
                self.drop_client(name)


class StepRunner(Protocol):
    """What a step's parts use of the executor (`PlanExecutor` is one)."""

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


def hold_master_change(ex: StepRunner, ctx: StepContext, busy: str = "another master change is in progress") -> None:
    """Take the executor's single-flight lock for role changes (xen-api#6056)
    until the step ends, or fail with `busy` if another step holds it."""
    if not ex.master_change.acquire(blocking=False):
        raise StepFailed(busy)
    ctx.at_end(ex.master_change.release)


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
