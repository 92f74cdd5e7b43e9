"""Where the recovery stands: per-step status, reason and the checklist rows.

Built from the audit log when the wizard opens (so a dropped SSH session or
a killed terminal resumes where it stopped), then updated from the results
the executor returns. Textual-free; the screen only renders `rows()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.audit import AuditRecord
    from xentui.recovery.executor import StepResult
    from xentui.recovery.plan import Plan, Step
    from xentui.recovery.preconditions import CheckResult

# CP437-safe marks (textual-console.md §2.3): plain ASCII brackets.
MARKS: Dict[str, str] = {
    "done": "[x]",
    "current": "[>]",
    "pending": "[ ]",
    "blocked": "[!]",
    "failed": "[!]",
    "interrupted": "[?]",
    "skipped": "[-]",
}

FINISHED = frozenset({"done", "skipped"})


@dataclass(frozen=True)
class ChecklistRow:
    index: int  # 0-based position in the plan
    step_id: str
    mark: str
    title: str
    status: str  # "done" | "current" | "pending" | "blocked" | "failed" | "interrupted" | "skipped"
    reason: str  # why it is blocked / skipped / failed ("" if nothing to say)
    phase: str


def status_from_outcome(outcome: str) -> str:
    """Map an executor / audit outcome onto a checklist status."""
    if outcome in ("done", "skipped", "failed", "interrupted"):
        return outcome
    if outcome == "refused":
        return "blocked"
    # "read-only" (would have run) and anything unknown: still to do.
    return "pending"


class RecoveryProgress:
    def __init__(
        self, plan: Plan, statuses: Optional[Dict[str, str]] = None, reasons: Optional[Dict[str, str]] = None
    ) -> None:
        self.plan = plan
        self._status: Dict[str, str] = {}
        self._reason: Dict[str, str] = dict(reasons or {})
        for step_id, outcome in (statuses or {}).items():
            self._status[step_id] = status_from_outcome(outcome)

    def replanned(self, plan: Plan) -> "RecoveryProgress":
        """The same progress over a re-built plan (statuses kept by step id)."""
        new = RecoveryProgress(plan)
        ids = {s.id for s in plan.steps}
        new._status = {k: v for k, v in self._status.items() if k in ids}
        new._reason = {k: v for k, v in self._reason.items() if k in ids}
        return new

    # --- queries ------------------------------------------------------------
    @property
    def steps(self) -> Tuple[Step, ...]:
        return tuple(self.plan.steps)

    def status(self, step_id: str) -> str:
        return self._status.get(step_id, "pending")

    def reason(self, step_id: str) -> str:
        return self._reason.get(step_id, "")

    def index_of(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise KeyError(step_id)

    def current(self) -> Optional[Step]:
        """The first step not yet done or skipped ("now" steps come first)."""
        for phase in ("now", "later"):
            for step in self.steps:
                if getattr(step, "phase", "now") == phase and self.status(step.id) not in FINISHED:
                    return step
        return None

    def phase_complete(self, phase: str) -> bool:
        return all(self.status(s.id) in FINISHED for s in self.steps if getattr(s, "phase", "now") == phase)

    def rows(self) -> List[ChecklistRow]:
        current = self.current()
        rows = []
        for i, step in enumerate(self.steps):
            st = self.status(step.id)
            shown = st
            if current is not None and step.id == current.id and st == "pending":
                shown = "current"
            rows.append(
                ChecklistRow(
                    index=i,
                    step_id=step.id,
                    mark=MARKS.get(shown, "[ ]"),
                    title=step.title,
                    status=shown,
                    reason=self.reason(step.id),
                    phase=getattr(step, "phase", "now"),
                )
            )
        return rows

    # --- updates ------------------------------------------------------------
    def set(self, step_id: str, status: str, reason: str = "") -> None:
        self._status[step_id] = status
        if reason or status in ("done", "pending"):
            self._reason[step_id] = reason

    def record_result(self, result: StepResult) -> None:
        status = status_from_outcome(result.status)
        reason = ""
        if status in ("blocked", "failed", "skipped"):
            reason = result.detail
        elif result.status == "read-only":
            reason = "read-only: not run"
        self.set(result.step_id, status, reason)

    def record_checks(self, step_id: str, checks: Sequence[CheckResult]) -> None:
        failed = [c for c in checks if not c.ok]
        if failed:
            self.set(step_id, "blocked", failed[0].detail or failed[0].precondition_id)
        elif self.status(step_id) == "blocked":
            self.set(step_id, "pending", "")


# --- resuming from the audit log ------------------------------------------------
@dataclass(frozen=True)
class EarlierStep:
    """A step of this recovery that the re-built plan no longer lists."""

    step_id: str
    title: str
    outcome: str  # "done" | "interrupted"
    ts: float


@dataclass(frozen=True)
class ResumeInfo:
    """What the audit log says about the recovery this wizard continues."""

    run_id: Optional[str] = None  # the open run, adopted by the executor
    done_ids: Tuple[str, ...] = ()  # steps done in that run (whether or not the plan lists them)
    earlier: Tuple[EarlierStep, ...] = ()  # done / interrupted steps the re-built plan no longer has
    since: Optional[float] = None  # when that run started
    resumed: bool = False
    error: str = ""  # the audit log could not be read
    damaged: str = ""  # damaged audit log lines that were skipped (one line, with their numbers)


def open_run_id(records: Sequence[AuditRecord]) -> Optional[str]:
    """The run_id of the recovery that is still open, if any.

    Only the newest run that started (a `run-start` record, which the wizard
    writes before its first step) and did not end healthy counts: an old,
    finished incident with the same step ids must not make today's steps
    look done, so records without run markers are never resumed.
    """
    from xentui.recovery.audit import last_open_run

    return last_open_run(list(records))


def progress_from_records(plan: Plan, records: Sequence[AuditRecord]) -> Tuple[RecoveryProgress, ResumeInfo]:
    """(progress, resume info) for `plan` from the audit log's records."""
    from xentui.recovery.audit import STEP_END, STEP_START, progress_from_audit

    run_id = open_run_id(records)
    open_records = [r for r in records if r.run_id == run_id] if run_id is not None else []
    statuses = progress_from_audit(open_records, plan)
    reasons: Dict[str, str] = {}
    last_end: Dict[str, AuditRecord] = {}
    titles: Dict[str, str] = {}
    rec: Optional[AuditRecord]
    for rec in open_records:
        if rec.kind == STEP_END and rec.step_id:
            last_end[rec.step_id] = rec
        elif rec.kind == STEP_START and rec.step_id:
            titles[rec.step_id] = rec.detail or rec.step_id  # the executor logs the title here
    for step_id, status in statuses.items():
        rec = last_end.get(step_id)
        if status == "interrupted":
            reasons[step_id] = "xentui stopped mid-step; checked again before it runs again"
        elif rec is not None and status != "done":
            reasons[step_id] = getattr(rec, "detail", "")
    resumed = bool(statuses)
    # A step the re-built plan still lists because its effect is missing (VMs
    # reset but not started) runs again, whatever an earlier attempt recorded.
    from xentui.recovery.run_record import RERUN_WHEN_PLANNED

    for step in plan.steps:
        if getattr(step, "kind", "") in RERUN_WHEN_PLANNED and statuses.get(step.id) in ("done", "skipped"):
            del statuses[step.id]
            reasons[step.id] = "recorded as done earlier, but the pool still needs it: it runs again"
    plan_ids = {s.id for s in plan.steps}
    # Steps already done in this recovery that a re-built plan no longer lists
    # (a re-built plan only holds what is left to do).
    earlier = []
    every = progress_from_audit(open_records)
    for step_id, outcome in every.items():
        if step_id in plan_ids or outcome not in ("done", "interrupted"):
            continue
        rec = last_end.get(step_id)
        when = rec.ts if rec is not None else max(r.ts for r in open_records if r.step_id == step_id)
        earlier.append(EarlierStep(step_id, titles.get(step_id, step_id), outcome, when))
    done_ids = tuple(step_id for step_id, rec in last_end.items() if getattr(rec, "outcome", "") == "done")
    info = ResumeInfo(
        run_id=run_id,
        done_ids=done_ids,
        earlier=tuple(earlier),
        since=min((r.ts for r in open_records), default=None),
        resumed=resumed or bool(earlier),
    )
    return RecoveryProgress(plan, statuses, reasons), info


def summarize(statuses: Iterable[str]) -> str:
    counts: Dict[str, int] = {}
    for st in statuses:
        counts[st] = counts.get(st, 0) + 1
    order = ("done", "skipped", "interrupted", "blocked", "failed", "current", "pending")
    return ", ".join(f"{counts[k]} {k}" for k in order if counts.get(k))
