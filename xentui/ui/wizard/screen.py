"""RecoveryWizard: the guided, gated, resumable recovery screen (issue #6).

    RecoveryWizard(observer, plan, executor, read_only=False)

Every key goes through `on_key` (keys.py), which dispatches on the state
machine's current state (machine.py); the only way to run a step is
CONFIRM -> RUNNING, and a read-only wizard's machine refuses every event
towards it. Blocking work (live checks, the step itself, the final
observation and the report) runs in `@work(thread=True)` workers
(workers.py) that post messages back. This module holds the state and draws it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from xentui.ui.wizard import auto_replan, views
from xentui.ui.wizard.failure import describe_exception
from xentui.ui.wizard.keys import WizardKeys
from xentui.ui.wizard.machine import WizardEvent, WizardMachine, WizardState
from xentui.ui.wizard.page import Page, fit
from xentui.ui.wizard.progress import RecoveryProgress, ResumeInfo
from xentui.ui.wizard.runlog import RunLog, preferred_master
from xentui.ui.wizard.workers import WizardWorkers

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.audit import AuditLog
    from xentui.recovery.plan import Plan, Step
    from xentui.recovery.preconditions import CheckResult
    from xentui.recovery.step_context import Progress

S, E = WizardState, WizardEvent

CHECKLIST_HEIGHT = 8  # rows; the body gets what is left of 24


class RecoveryWizard(WizardKeys, WizardWorkers, Screen[Dict[str, str]]):
    DEFAULT_CSS = """
    RecoveryWizard {
        layout: vertical;
    }
    RecoveryWizard #wizard-title {
        height: 1;
        padding: 0 1;
        text-style: reverse;
    }
    RecoveryWizard #wizard-checklist {
        height: auto;
        padding: 0 0;
    }
    RecoveryWizard #wizard-body {
        height: 1fr;
        border-top: solid $secondary;
        padding: 0 1;
        scrollbar-size: 0 0;
    }
    RecoveryWizard #wizard-prompt {
        height: auto;
        padding: 0 1;
        border-top: solid $secondary;
        display: none;
    }
    RecoveryWizard #wizard-countdown {
        height: 1;
        padding: 0 1;
        text-style: bold;
        display: none;
    }
    RecoveryWizard #wizard-keys {
        height: 1;
        padding: 0 1;
        text-style: reverse;
    }
    """

    def __init__(
        self,
        observer: Any,
        plan: Plan,
        executor: Any,
        *,
        read_only: bool = False,
        audit: Optional[AuditLog] = None,
        report_dir: Optional[Path] = None,
        clock: Callable[[], float] = time.time,
        name: Optional[str] = None,
    ) -> None:
        super().__init__(name=name)
        self.observer = observer
        self.plan = plan
        self.executor = executor
        self.read_only = bool(read_only)
        self.audit = audit if audit is not None else getattr(executor, "audit", None)
        self.report_dir = Path(report_dir) if report_dir is not None else None
        self.clock = clock
        self.machine = WizardMachine(read_only=self.read_only)
        self.progress = RecoveryProgress(plan)
        self.resume_info = ResumeInfo()
        self.replan_note = ""
        # what the last re-plan check saw (auto_replan.py); None: the first observation
        # that arrives is compared by the plan it gives
        self.planned_findings: Optional[auto_replan.Signature] = None
        self.selected = 0  # checklist cursor (OVERVIEW) / step shown (STEP_DETAIL)
        self.choice_cursor = 0
        self.choices: Dict[str, str] = {}  # step_id -> the option the operator chose
        self.attested: List[str] = list(getattr(executor, "fenced", ()) or ())
        self.attest_host = ""
        self.typed = ""
        self.error = ""
        self.checks: Tuple[CheckResult, ...] = ()
        self.check_error = ""
        self.events: List[Progress] = []
        self.countdown: Optional[float] = None
        self.countdown_at = 0.0
        self.run_started = 0.0
        self.run_started_mono = 0.0
        self.cancel: Optional[threading.Event] = None
        self.last_result = None
        self.last_step = None
        self.report_path = ""
        self.report_error = ""
        self.report_writing = False
        self.health: Tuple[str, ...] = ()
        self.healthy: Optional[bool] = None
        self._token = 0
        self._composed = False
        self.runlog = RunLog(
            self.audit, executor, plan, read_only=self.read_only, observation=lambda: getattr(observer, "last", None)
        )
        self.page = Page()
        self.prompt = Page()

    # --- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="wizard-title")
        yield Static("", id="wizard-checklist")
        with VerticalScroll(id="wizard-body", can_focus=False):
            yield Static("", id="wizard-detail")
        yield Static("", id="wizard-prompt")
        yield Static("", id="wizard-countdown")
        yield Static("", id="wizard-keys")

    def on_mount(self) -> None:
        self._composed = True
        self.progress, self.resume_info = self.runlog.resume()
        self.plan = self.runlog.plan  # re-built from the pool plus the run's record when resuming
        current = self.progress.current()
        if current is not None:
            self.selected = self.progress.index_of(current.id)
        self.set_interval(1.0, self._tick_countdown)
        self.render_state()

    # --- state helpers ---------------------------------------------------------
    @property
    def state(self) -> WizardState:
        return self.machine.state

    @property
    def steps(self) -> Tuple[Step, ...]:
        return tuple(self.plan.steps)

    @property
    def step(self) -> Any:  # Optional[Step]: None only while the plan has no step
        """The step the detail / confirm / run views are about."""
        return self.steps[self.selected] if self.steps else None

    def _fire(self, event: WizardEvent) -> WizardState:
        new = self.machine.fire(event)
        self.error = ""
        if new is S.CLOSED:
            self.cancel_workers()
            self.dismiss(dict((s.id, self.progress.status(s.id)) for s in self.steps))
        else:
            self.render_state()
        return new

    def _next_token(self) -> int:
        self._token += 1
        return self._token

    def cancel_workers(self) -> None:
        self._token += 1  # whatever is in flight is now stale
        if self.cancel is not None:
            self.cancel.set()

    def _is_current(self, step: Optional[Step]) -> bool:
        current = self.progress.current()
        return current is not None and step is not None and current.id == step.id

    def _can_run_selected(self) -> bool:
        step = self.step
        return (
            not self.read_only and self._is_current(step) and self.progress.status(step.id) not in ("done", "skipped")
        )

    def _pending_attest(self, step: Step) -> List[str]:
        return [h for h in getattr(step, "requires_fenced", ()) if h not in self.attested]

    def _apply_choice(self, step: Step, chosen: str) -> None:
        """Record the operator's decision. Keeping another master than the one
        suggested changes the steps after it (who is demoted, who members
        follow), and so does promoting another member, so the plan is re-built
        for that choice first."""
        # Choices that re-build the plan: keeping another master (split brain),
        # promoting another member (stale-db).
        kind = getattr(step, "kind", "")
        replanned = {
            "keep-master": f"The plan was re-built for keeping {chosen} as the master.",
            "promote": f"The plan was re-built for promoting {chosen}.",
        }.get(kind)
        if replanned is not None and chosen != step.target_host:
            observation = getattr(self.observer, "last", None)
            try:
                from xentui.recovery.plan_builder import build_plan

                plan = (
                    build_plan(
                        observation,
                        keep_master=chosen if kind == "keep-master" else "",
                        promote=chosen if kind == "promote" else "",
                        preferred_master=preferred_master(self.plan),  # --prefer-master stays planned
                        run_record=self.runlog.run_record(),
                    )
                    if observation is not None
                    else None
                )
            except Exception as exc:  # noqa: BLE001 - keep the old plan, say why
                plan = None
                self.replan_note = f"The plan could not be re-built for {chosen}: {describe_exception(exc)}"
            kept = [s for s in plan.steps if s.kind == kind and s.target_host == chosen] if plan else []
            if kept and plan is not None:  # (kept is empty without a plan)
                self.plan = plan
                self.progress = self.progress.replanned(plan)
                self.runlog.plan = plan
                self.selected = self.progress.index_of(kept[0].id)
                self.replan_note = replanned
                step = kept[0]
        self.choices[step.id] = chosen

    def observation_changed(self, observation: Any) -> None:
        """A new observation (the app's): re-build the plan if the findings
        changed while nothing has happened yet (auto_replan.py)."""
        try:
            from xentui.recovery.plan_builder import build_plan

            plan = auto_replan.replan(self, observation, build_plan)
        except Exception as exc:  # noqa: BLE001 - keep the plan shown, say why
            self.replan_note = f"The plan could not be re-built: {describe_exception(exc)}"
            self.render_state()
            return
        if plan is None:
            return
        self.plan = plan
        self.progress = RecoveryProgress(plan)
        self.runlog.plan = plan
        self.selected = 0
        self.replan_note = "The plan was re-built: what the hosts report has changed."
        self.render_state()

    def _promote_newer(self) -> None:
        """The admin's explicit choice (P on the stop for a member newer than its
        coordinator, newer_member.py): re-build the plan with that member's
        promotion. Nothing runs here; each step still needs its attestation,
        live checks and confirmation."""
        observation = getattr(self.observer, "last", None)
        plan = None
        try:
            from xentui.recovery.plan_builder import build_plan

            if observation is not None:
                plan = build_plan(observation, promote_newer=True, run_record=self.runlog.run_record())
        except Exception as exc:  # noqa: BLE001 - keep the stop, say why
            self.replan_note = f"The plan could not be re-built: {describe_exception(exc)}"
        if plan is not None and plan.steps and not plan.stop:
            self.plan = plan
            self.progress = self.progress.replanned(plan)
            self.runlog.plan = plan
            self.selected = 0
            self.replan_note = "You chose to promote the newer member. Read what it costs (below) before any step."
        elif plan is not None and plan.stop:
            self.replan_note = plan.stop[-1]
        self.render_state()

    def _connect_to_master(self) -> None:
        """M on a reinstalled host's plan: it cannot know the pool it left, so
        the admin types the master's address and the UI reconnects there
        (the app's connect screen: host keys, password, errors); R on the
        master then plans the forget, the join of this host and its old IQN."""
        ask = getattr(self.app, "ask_master_address", None)
        if ask is None:  # hosted alone (no connect screen): say how instead
            self.replan_note = "Run xentui with the pool's master as its target: xentui root@<master-address>."
            self.render_state()
            return
        self._fire(E.BACK)  # OVERVIEW -> CLOSED: the wizard goes, nothing ran
        self.app.call_later(ask, self.plan.console_host)

    def _confirm_kind(self, step: Step) -> str:
        confirm = getattr(step, "confirm", "enter")
        return getattr(confirm, "value", confirm)

    # --- rendering --------------------------------------------------------------
    def render_state(self) -> None:
        if not self._composed:
            return
        step = self.step
        mode = "  READ-ONLY" if self.read_only else ""
        title = f"xentui recovery{mode}  [{self.state.value.upper()}]"
        self.query_one("#wizard-title", Static).update(Text(title))
        rows = self.progress.rows()
        lines = views.checklist_lines(rows, self.selected, CHECKLIST_HEIGHT)
        self.query_one("#wizard-checklist", Static).update(Text("\n".join(lines)))
        self.page = self._page_for_state(step)
        self.query_one("#wizard-detail", Static).update(self.page.to_text())
        self.prompt = self._prompt_for_state(step)
        prompt = self.query_one("#wizard-prompt", Static)
        prompt.update(self.prompt.to_text())
        prompt.display = bool(self.prompt.lines)
        has_later = any(
            s.phase == "later" and self.progress.status(s.id) not in ("done", "skipped") for s in self.steps
        )
        keys = views.key_help(
            self.state,
            read_only=self.read_only,
            confirm=self._confirm_kind(step) if step else "",
            can_run=self._can_run_selected(),
            has_later=has_later,
            can_retry=self._can_retry(),
        )
        self.query_one("#wizard-keys", Static).update(Text(keys))
        self._render_countdown()

    def _page_for_state(self, step: Optional[Step]) -> Page:
        st = self.state
        total = len(self.steps)
        if st is S.OVERVIEW or step is None:
            return views.overview_page(
                self.plan, self.progress, self.selected, self.resume_info, self.read_only, note=self.replan_note
            )
        choice = self.choices.get(step.id, "")
        if st is S.STEP_DETAIL:
            return views.detail_page(
                step,
                self.selected,
                total,
                self.progress,
                is_current=self._is_current(step),
                read_only=self.read_only,
                choice=choice,
                attested=self.attested,
            )
        if st is S.CHOOSE:
            return views.choose_page(step, self.choice_cursor)
        if st is S.ATTEST:
            return views.attest_page(step, self.attest_host)
        if st is S.PRECHECK:
            return views.precheck_page(step)
        if st is S.BLOCKED:
            return views.blocked_page(step, self.checks, self.check_error)
        if st is S.CONFIRM:
            note = self.replan_note if getattr(step, "kind", "") in ("keep-master", "promote") else ""
            return views.confirm_page(step, self.checks, choice=choice, note=note)
        if st is S.RUNNING:
            return views.running_page(
                step, self.events, self.run_started, self.cancel is not None and self.cancel.is_set()
            )
        if st is S.RESULT and self.last_result is not None:
            nxt = self.progress.current()
            return views.result_page(step, self.last_result, nxt, index=self.selected, total=total)
        if st is S.SUMMARY:
            return views.summary_page(
                self.plan,
                self.progress,
                report_path=self.report_path,
                report_error=self.report_error,
                health=self.health,
                writing=self.report_writing,
            )
        return Page()

    def _prompt_for_state(self, step: Optional[Step]) -> Page:
        """The few lines that must never scroll away: what to type or press now."""
        st = self.state
        if step is None:
            return Page()
        if st is S.STEP_DETAIL:
            return views.detail_prompt(
                step, self.progress, is_current=self._is_current(step), read_only=self.read_only, error=self.error
            )
        if st is S.ATTEST:
            return views.attest_prompt(self.attest_host, self.typed, self.error)
        if st is S.CONFIRM:
            return views.confirm_prompt(step, choice=self.choices.get(step.id, ""), typed=self.typed, error=self.error)
        if st is S.RESULT and self.last_result is not None:
            return views.result_prompt(self.last_result, self.progress.current(), summary_next=self._summary_is_next())
        if st is S.SUMMARY:
            return views.summary_prompt(
                report_path=self.report_path,
                report_error=self.report_error,
                writing=self.report_writing,
                healthy=self.healthy,
            )
        return Page()

    def _can_retry(self) -> bool:
        return self.last_result is not None and self.last_result.status not in ("done", "skipped")

    def _summary_is_next(self) -> bool:
        """After a result, Enter shows the summary when no step of the phase is left."""
        nxt = self.progress.current()
        finished_phase = (
            self.last_step is not None and self.last_step.phase == "now" and self.progress.phase_complete("now")
        )
        return nxt is None or finished_phase

    def _render_countdown(self) -> None:
        widget = self.query_one("#wizard-countdown", Static)
        if self.state is S.RUNNING:
            line = f"Elapsed {max(0, int(time.monotonic() - self.run_started_mono))} s"
            if self.countdown is not None and self.events:
                left = max(0, int(round(self.countdown - (time.monotonic() - self.countdown_at))))
                line += f" | {fit(self.events[-1].message, 50)}: {left} s"
            widget.update(Text(line))
            widget.display = True
        else:
            widget.display = False

    def _tick_countdown(self) -> None:
        # Only the one-line countdown repaints, once a second, and only while counting.
        if self.state is S.RUNNING:
            self._render_countdown()
