"""Hand-built plans, a scripted executor and a host app for the wizard tests.

Deterministic and fast: the fake executor answers checks and runs from
scripts, and can hold a run open (to test the RUNNING state) until the test
releases it or the wizard asks it to cancel.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from textual.app import App
from textual.screen import Screen
from textual.widgets import Static

from xentui.recovery.executor import CheckResult, Progress, StepResult
from xentui.recovery.plan import Confirm, Plan, Step
from xentui.ui.wizard import RecoveryWizard, WizardState

SIZE = (80, 25)


@dataclass(frozen=True)
class ScriptedPrecondition:
    """A precondition FakeExecutor answers from its script (never checked live)."""

    id: str
    description: str


def make_step(
    step_id: str,
    title: str,
    *,
    confirm: Confirm = Confirm.ENTER,
    risk: str = "low",
    target_host: str = "",
    requires_fenced: Sequence[str] = (),
    choice: Sequence[str] = (),
    phase: str = "now",
    xe: Sequence[str] = (),
) -> Step:
    return Step(
        id=step_id,
        title=title,
        why=f"why {title}",
        changes=f"changes {title}",
        risk=risk,
        risk_text=f"risk of {title}",
        xe=tuple(xe) or (f"xe {step_id.split(':')[0]}",),
        calls=("pool.noop",),
        preconditions=(ScriptedPrecondition(f"pre:{step_id}", f"precondition of {title}"),),
        verify=f"verify {title}",
        on_failure=f"on failure of {title}: try the other thing",
        confirm=confirm,
        target_host=target_host,
        phase=phase,
        requires_fenced=tuple(requires_fenced),
        choice=tuple(choice),
    )


def master_down_plan() -> Plan:
    """The shape of the master-down runbook: one of each confirmation level."""
    return Plan(
        steps=(
            make_step(
                "confirm-master-down",
                "Confirm the master is down",
                confirm=Confirm.ENTER,
                risk="none",
                xe=("xe host-is-in-emergency-mode",),
            ),
            make_step(
                "promote:xs02",
                "Promote xs02 to master",
                confirm=Confirm.TYPED_HOST,
                risk="critical",
                target_host="xs02",
                requires_fenced=("xs01",),
                xe=("xe pool-emergency-transition-to-master",),
            ),
            make_step(
                "recover-members",
                "Point the members at xs02",
                confirm=Confirm.F8,
                risk="medium",
                xe=("xe pool-recover-slaves",),
            ),
            make_step(
                "backup-db",
                "Back up the pool database",
                confirm=Confirm.ENTER,
                phase="later",
                xe=("xe pool-dump-database file-name=pool.db",),
            ),
        ),
        finding_codes=("MASTER_UNREACHABLE",),
        console_host="xs02",
        created_at=1000.0,
    )


class FakeExecutor:
    """Scripted PlanExecutor: `failing_checks` / `results` / `hold` per step id."""

    def __init__(self) -> None:
        self.checked: List[str] = []
        self.ran: List[tuple] = []
        self.attested: List[str] = []
        self.failing_checks: Dict[str, str] = {}
        self.check_error: Dict[str, Exception] = {}
        self.results: Dict[str, StepResult] = {}
        self.raises: Dict[str, Exception] = {}
        self.hold: Dict[str, threading.Event] = {}
        self.check_hold: Dict[str, threading.Event] = {}
        self.running = threading.Event()
        self.cancel_seen = threading.Event()
        self.fenced: tuple = ()

    def attest_fenced(self, host_name: str) -> None:
        self.attested.append(host_name)

    def check(self, step) -> tuple:
        self.checked.append(step.id)
        if step.id in self.check_hold:
            self.check_hold[step.id].wait(5.0)
        if step.id in self.check_error:
            raise self.check_error[step.id]
        out = []
        for pre in step.preconditions:
            bad = self.failing_checks.get(step.id)
            out.append(CheckResult(pre.id, bad is None, bad or "ok: as expected"))
        return tuple(out)

    def run(
        self, step, *, progress=lambda p: None, cancel: Optional[threading.Event] = None, choice: str = ""
    ) -> StepResult:
        self.ran.append((step.id, choice))
        started = time.time()
        progress(Progress(step.id, f"calling for {step.id}"))
        if step.id in self.hold:
            self.running.set()
            progress(Progress(step.id, "xapi restarting", countdown=10.0))
            while not self.hold[step.id].wait(0.01):
                if cancel is not None and cancel.is_set():
                    self.cancel_seen.set()
                    return StepResult(
                        step.id,
                        "failed",
                        "cancelled by the operator before the restart wait; the call was already sent",
                        started,
                        time.time(),
                    )
        if step.id in self.raises:
            raise self.raises[step.id]
        result = self.results.get(step.id)
        if result is not None:
            return result
        return StepResult(step.id, "done", f"{step.id} done", started, time.time(), verification=f"verified {step.id}")


class FakeObserver:
    """observe() says the pool is healthy (the summary's final look)."""

    def __init__(self) -> None:
        self.observed = 0

    def observe(self):
        from types import SimpleNamespace

        from xentui.recovery.findings import Severity

        self.observed += 1
        return SimpleNamespace(findings=(), worst=Severity.OK)


class Dashboard(Screen):
    def compose(self):
        yield Static("dashboard")


class WizardHost(App):
    """Pushes the wizard over a stand-in dashboard, like the real app does.
    Like the real app it binds "1" (there: go to the dashboard)."""

    BINDINGS = [("1", "pressed_one", "Dashboard")]

    def __init__(self, wizard: RecoveryWizard) -> None:
        super().__init__()
        self.wizard = wizard
        self.closed_with = None
        self.ones = 0

    def action_pressed_one(self) -> None:
        self.ones += 1

    def on_mount(self) -> None:
        self.push_screen(Dashboard())
        self.push_screen(self.wizard, callback=self._wizard_closed)

    def _wizard_closed(self, value) -> None:
        self.closed_with = value


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.01)


async def wait_state(pilot, wizard: RecoveryWizard, state: WizardState, timeout: float = 5.0) -> None:
    try:
        await wait_for(pilot, lambda: wizard.state is state and wizard.is_mounted and wizard.page.lines, timeout)
    except AssertionError:
        raise AssertionError(f"wizard in {wizard.state}, expected {state}:\n{words(wizard)}") from None


def screen_text(app) -> str:
    """Every character on screen, as rendered (for the CP437 and 80-column checks)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def flat(text: str) -> str:
    """Whitespace-normalised text, so assertions do not depend on where lines wrap."""
    return " ".join(text.split())


# --- a keyboard-only operator ---------------------------------------------------------
class OperatorStuck(AssertionError):
    pass


def operator_keys(wizard: RecoveryWizard) -> Optional[List[str]]:
    """The keys an operator who agrees with the plan presses next; None = wait.

    Raises OperatorStuck when the wizard shows a failure or a blocked step,
    with the page text, so a test failure says what the operator saw.
    """
    S = WizardState
    state = wizard.state
    if state in (S.OVERVIEW, S.STEP_DETAIL, S.CHOOSE):
        return ["enter"]
    if state is S.ATTEST:
        return list(wizard.attest_host) + ["enter"]
    if state is S.CONFIRM:
        step = wizard.step
        kind = getattr(step.confirm, "value", step.confirm)
        if kind == "typed-host-name":
            from xentui.ui.wizard.views import step_target

            return list(step_target(step, wizard.choices.get(step.id, ""))) + ["enter"]
        return ["f8"] if kind == "f8" else ["enter"]
    if state is S.RESULT:
        if wizard.last_result is not None and wizard.last_result.status not in ("done", "skipped"):
            raise OperatorStuck(f"step {wizard.step.id} {wizard.last_result.status}:\n{wizard.page.plain()}")
        return ["enter"]
    if state is S.BLOCKED:
        raise OperatorStuck(f"step {wizard.step.id} blocked:\n{wizard.page.plain()}")
    return None  # PRECHECK / RUNNING / SUMMARY: wait (or done)


async def drive_until(pilot, wizard: RecoveryWizard, stop, timeout: float = 60.0, pause: float = 0.02) -> int:
    """Press the operator's keys until `stop(wizard)`; returns the number of keystrokes."""
    pressed = 0
    deadline = time.monotonic() + timeout
    while not stop(wizard):
        if time.monotonic() > deadline:
            raise OperatorStuck(f"timed out in {wizard.state}:\n{wizard.page.plain()}")
        keys = operator_keys(wizard) if wizard.is_mounted and wizard.page.lines else None
        if keys:
            before = (wizard.state, len(wizard.machine.history))
            await pilot.press(*keys)
            pressed += len(keys)
            # Let the screen act on the keys before deciding again.
            t0 = time.monotonic()
            while (wizard.state, len(wizard.machine.history)) == before and time.monotonic() - t0 < 2.0:
                await pilot.pause(pause)
        else:
            await pilot.pause(pause)
    return pressed


def words(wizard: RecoveryWizard) -> str:
    """Everything the wizard shows in its body and its fixed prompt lines."""
    return wizard.page.plain() + "\n" + wizard.prompt.plain()
