"""The wizard's states and the only transitions allowed between them.

xsconsole's multi-step dialogues keep a `state` string and dispatch on it
(xsconsole-study.md §1.3); we keep the same idea but make the transitions an
explicit table, so "F8 can only run a step from CONFIRM" and "Esc never runs
anything" are properties of one dictionary that a test can read, not of
scattered flags. Textual-free on purpose: the table is tested on its own.
"""

from __future__ import annotations

import enum
from typing import Dict, List, Optional, Tuple


class WizardState(str, enum.Enum):
    OVERVIEW = "overview"  # the plan as a checklist; nothing changed yet
    STEP_DETAIL = "step-detail"  # why / changes / risk / xe / checks of one step
    CHOOSE = "choose"  # operator decision (Step.choice), e.g. which master to keep
    ATTEST = "attest"  # operator states a host is powered off / fenced
    PRECHECK = "precheck"  # live precondition checks running in a worker
    BLOCKED = "blocked"  # a live check failed: the step cannot run now
    CONFIRM = "confirm"  # summary of the change + Enter / F8 / typed host name
    RUNNING = "running"  # the executor runs the step in a worker thread
    RESULT = "result"  # verification result, or what went wrong and what to try
    SUMMARY = "summary"  # the end: what was done, the incident report
    CLOSED = "closed"  # the screen is dismissed


class WizardEvent(str, enum.Enum):
    OPEN_STEP = "open-step"  # Enter on the overview / next step from a result
    BACK = "back"  # Esc
    NEED_CHOICE = "need-choice"
    NEED_ATTEST = "need-attest"
    CHECK = "check"  # start (or repeat) the live precondition checks
    CHECKS_PASSED = "checks-passed"
    CHECKS_FAILED = "checks-failed"
    CONFIRMED = "confirmed"  # Enter / F8 / matching host name: run the step
    CANCEL = "cancel"  # Esc while running: ask the executor to stop at a safe point
    FINISHED = "finished"  # the executor returned a StepResult
    ALL_DONE = "all-done"  # no step of the current phase is left


S, E = WizardState, WizardEvent

TRANSITIONS: Dict[Tuple[WizardState, WizardEvent], WizardState] = {
    (S.OVERVIEW, E.OPEN_STEP): S.STEP_DETAIL,
    (S.OVERVIEW, E.ALL_DONE): S.SUMMARY,
    (S.OVERVIEW, E.BACK): S.CLOSED,
    (S.STEP_DETAIL, E.OPEN_STEP): S.STEP_DETAIL,  # browse to another step
    (S.STEP_DETAIL, E.NEED_CHOICE): S.CHOOSE,
    (S.STEP_DETAIL, E.NEED_ATTEST): S.ATTEST,
    (S.STEP_DETAIL, E.CHECK): S.PRECHECK,
    (S.STEP_DETAIL, E.BACK): S.OVERVIEW,
    (S.CHOOSE, E.NEED_ATTEST): S.ATTEST,
    (S.CHOOSE, E.CHECK): S.PRECHECK,
    (S.CHOOSE, E.BACK): S.STEP_DETAIL,
    (S.ATTEST, E.NEED_ATTEST): S.ATTEST,  # the next host to attest
    (S.ATTEST, E.CHECK): S.PRECHECK,
    (S.ATTEST, E.BACK): S.STEP_DETAIL,
    (S.PRECHECK, E.CHECKS_PASSED): S.CONFIRM,
    (S.PRECHECK, E.CHECKS_FAILED): S.BLOCKED,
    (S.PRECHECK, E.BACK): S.STEP_DETAIL,
    (S.BLOCKED, E.CHECK): S.PRECHECK,
    (S.BLOCKED, E.NEED_ATTEST): S.ATTEST,  # a fence check failed: attest, then re-check
    (S.BLOCKED, E.BACK): S.STEP_DETAIL,
    (S.CONFIRM, E.CONFIRMED): S.RUNNING,
    (S.CONFIRM, E.BACK): S.STEP_DETAIL,
    (S.RUNNING, E.CANCEL): S.RUNNING,
    (S.RUNNING, E.FINISHED): S.RESULT,
    (S.RESULT, E.OPEN_STEP): S.STEP_DETAIL,
    (S.RESULT, E.CHECK): S.PRECHECK,  # retry: always through the live checks again
    (S.RESULT, E.ALL_DONE): S.SUMMARY,
    (S.RESULT, E.BACK): S.OVERVIEW,
    (S.SUMMARY, E.OPEN_STEP): S.STEP_DETAIL,  # go on with the "later" steps
    (S.SUMMARY, E.BACK): S.CLOSED,
}

# Events that lead towards executing something: a read-only wizard refuses
# them, so it has no path to CONFIRM or RUNNING at all.
EXECUTION_EVENTS = frozenset({E.NEED_CHOICE, E.NEED_ATTEST, E.CHECK, E.CHECKS_PASSED, E.CONFIRMED})

# States in which Esc must not change anything in the pool. (In RUNNING, Esc
# is CANCEL: the call already sent cannot be unsent, so it asks the executor
# to stop at its next safe point and changes nothing further.)
ESCAPABLE = frozenset(s for (s, e) in TRANSITIONS if e is E.BACK)


class IllegalTransition(RuntimeError):
    def __init__(self, state: WizardState, event: WizardEvent, read_only: bool) -> None:
        mode = " (read-only)" if read_only else ""
        super().__init__(f"no transition from {state.value} on {event.value}{mode}")
        self.state = state
        self.event = event


class WizardMachine:
    """Holds the current state; `fire` is the only way to change it."""

    def __init__(self, *, read_only: bool = False, state: WizardState = WizardState.OVERVIEW) -> None:
        self.read_only = read_only
        self.state = state
        self.history: List[Tuple[WizardState, WizardEvent, WizardState]] = []

    def target(self, event: WizardEvent) -> Optional[WizardState]:
        """The state `event` would lead to, or None if it is not allowed now."""
        if self.read_only and event in EXECUTION_EVENTS:
            return None
        return TRANSITIONS.get((self.state, event))

    def can(self, event: WizardEvent) -> bool:
        return self.target(event) is not None

    def fire(self, event: WizardEvent) -> WizardState:
        new = self.target(event)
        if new is None:
            raise IllegalTransition(self.state, event, self.read_only)
        self.history.append((self.state, event, new))
        self.state = new
        return new
