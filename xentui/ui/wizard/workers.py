"""The wizard's blocking work, in `@work(thread=True)` workers.

A mixin of `RecoveryWizard`. Workers never touch widgets: they post the
messages of `messages.py` (thread-safe), tagged with the attempt's token,
and the handlers here update the screen on the UI thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Tuple

from textual import work

from xentui.ui.wizard.failure import describe_exception
from xentui.ui.wizard.host import WizardHost
from xentui.ui.wizard.machine import WizardEvent, WizardState
from xentui.ui.wizard.messages import ChecksDone, ReportWritten, StepFinished, StepProgressed

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.findings import Finding
    from xentui.recovery.plan import Step
    from xentui.recovery.step_context import Progress

S, E = WizardState, WizardEvent


class WizardWorkers(WizardHost):
    # --- live checks ------------------------------------------------------------
    def _start_checks(self, step: Step) -> None:
        self.checks = ()
        self.check_error = ""
        self._check_worker(self._next_token(), step)

    @work(thread=True, group="wizard-checks")
    def _check_worker(self, token: int, step: Step) -> None:
        try:
            checks = tuple(self.executor.check(step))
            error = ""
        except Exception as exc:  # noqa: BLE001 - a failed check run blocks the step, with words
            checks, error = (), f"The checks could not run: {describe_exception(exc)}"
        self.post_message(ChecksDone(token, step.id, checks, error))

    def on_checks_done(self, message: ChecksDone) -> None:
        if message.token != self._token or self.state is not S.PRECHECK:
            return
        self.checks = message.checks
        self.check_error = message.error
        self.progress.record_checks(message.step_id, message.checks)
        if message.error:
            self.progress.set(message.step_id, "blocked", message.error)
        ok = not message.error and all(c.ok for c in message.checks)
        self.typed = ""
        self._fire(E.CHECKS_PASSED if ok else E.CHECKS_FAILED)

    # --- running a step -----------------------------------------------------------
    def _run_step(self) -> None:
        step = self.step
        self.typed = ""
        self.events = []
        self.countdown = None
        self.cancel = threading.Event()
        self.run_started = self.clock()
        self.run_started_mono = time.monotonic()
        self.last_step = step
        try:
            self.runlog.open()
        except OSError as exc:  # the audit log is the resume point: refuse to run without it
            from xentui.recovery.audit import AuditLogError

            self.error = (
                str(exc) if isinstance(exc, AuditLogError) else f"Cannot write the audit log ({exc}); nothing was run."
            )
            self.render_state()
            return
        self._fire(E.CONFIRMED)
        self._run_worker(self._next_token(), step, self.choices.get(step.id, ""), self.cancel)

    @work(thread=True, group="wizard-run")
    def _run_worker(self, token: int, step: Step, choice: str, cancel: threading.Event) -> None:
        def progress(update: Progress) -> None:
            self.post_message(StepProgressed(token, update))

        started = time.time()
        try:
            result = self.executor.run(step, progress=progress, cancel=cancel, choice=choice)
        except Exception as exc:  # noqa: BLE001 - the executor should not raise; say so if it does
            from xentui.recovery.executor import StepResult

            result = StepResult(
                step_id=step.id,
                status="failed",
                detail=describe_exception(exc),
                started_at=started,
                finished_at=time.time(),
            )
        self.post_message(StepFinished(token, result))

    def on_step_progressed(self, message: StepProgressed) -> None:
        if message.token != self._token or self.state is not S.RUNNING:
            return
        update = message.progress
        if self.events and self.events[-1].message == update.message:
            self.events[-1] = update  # a countdown tick: same line, new number
        else:
            self.events.append(update)
            del self.events[:-50]  # the page shows the last few; a long wait must not grow this
        self.countdown = update.countdown
        self.countdown_at = time.monotonic()
        self.render_state()

    def on_step_finished(self, message: StepFinished) -> None:
        if self.state is not S.RUNNING:
            return
        result = message.result
        self.last_result = result
        self.progress.record_result(result)
        self.countdown = None
        self.cancel = None
        if result.status == "done":
            self.choices.pop(result.step_id, None)
        self._fire(E.FINISHED)

    # --- the end: summary and incident report ----------------------------------------
    def _start_report(self) -> None:
        self.report_writing = True
        self.report_error = ""
        self.render_state()
        self._report_worker(self.runlog.report_path(self.report_dir, self.clock()))

    @work(thread=True, group="wizard-report", exclusive=True)
    def _report_worker(self, path: Path) -> None:
        health: List[str] = []
        findings: Tuple[Finding, ...] = ()
        healthy = None
        try:
            from xentui.recovery.diagnosis import with_run_record

            # Healthy includes the workload the run began with (the audit log knows it).
            observation = with_run_record(self.observer.observe(), self.runlog.run_record())
            findings = tuple(observation.findings)
            healthy = all(f.severity.label in ("ok", "info") for f in findings)
            health.append("healthy" if healthy else f"worst: {observation.worst.label}")
            health.extend(f.summary for f in findings[:5])
            self.runlog.close_if_healthy(healthy)
        except Exception as exc:  # noqa: BLE001 - the report is still written without findings
            health.append(f"could not observe the pool: {describe_exception(exc)}")
        try:
            from xentui.recovery.report import write_report

            written = write_report(self.runlog.records(), findings, path, stop=self.plan.stop)
            self.post_message(ReportWritten(str(written), health, healthy=healthy))
        except Exception as exc:  # noqa: BLE001 - shown on the summary
            self.post_message(ReportWritten("", health, error=describe_exception(exc), healthy=healthy))

    def on_report_written(self, message: ReportWritten) -> None:
        self.report_writing = False
        self.report_path = message.path
        self.report_error = message.error
        self.health = message.health
        self.healthy = message.healthy
        self.render_state()
