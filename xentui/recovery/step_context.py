"""What a step handler gets: the step, the observation it was checked
against, progress reporting and cancellation; and the ways it reports that
its effect was already there (StepSkipped) or not achieved (StepFailed)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, List, Optional

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Step
from xentui.recovery.situation import Situation


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

    def __init__(self, step: Step, obs: Observation, progress: Callable[[Progress], None],
                 cancel: Optional[threading.Event], choice: str) -> None:
        self.step = step
        self.obs = obs
        self.sit = Situation(obs)
        self.progress = progress
        self.cancel = cancel
        self.choice = choice
        self.notes: List[str] = []

    def say(self, message: str, countdown: Optional[float] = None) -> None:
        self.progress(Progress(self.step.id, message, countdown))
