"""The wizard's side of the audit log: one recovery = one run.

The executor audits every step; what it does not know is where a recovery
begins and ends across restarts of xentui. The wizard writes `run-start`
before the first thing it records (a fence attestation or a step), adopts an
open run when it is started again (so a dropped SSH session resumes the same
run), and writes `run-end` ("healthy") when the summary finds the pool
healthy, after which the next start no longer resumes it. Textual-free.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from xentui.ui.wizard.progress import RecoveryProgress, ResumeInfo, progress_from_records

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.audit import AuditLog, AuditRecord
    from xentui.recovery.observation import Observation
    from xentui.recovery.plan import Plan
    from xentui.recovery.run_record import RunRecord


def preferred_master(plan: Plan) -> str:
    """The host a plan hands the master role to (`--prefer-master`), or "":
    every re-plan (resume, keep another master, promote another member) keeps it."""
    return next((s.params.get("host", "") for s in plan.steps if s.kind == "designate-master"), "")


class RunLog:
    def __init__(
        self,
        audit: Optional[AuditLog],
        executor: Any,
        plan: Plan,
        *,
        read_only: bool,
        observation: Optional[Callable[[], Optional[Observation]]] = None,
    ) -> None:
        self.audit = audit
        self.executor = executor
        self.plan = plan
        self.read_only = read_only
        self.is_open = False  # a run-start record exists for this recovery
        # The latest observation (for the baseline workload and re-planning).
        self.observation = observation or (lambda: None)
        self.has_baseline = False

    def run_record(self, records: Optional[Sequence[AuditRecord]] = None) -> RunRecord:
        """This run's record (baseline workload, VMs reset / left down)."""
        from xentui.recovery import run_record

        if self.audit is None:
            return run_record.RunRecord()
        return run_record.from_records(self.audit.records() if records is None else records, self.run_id)

    def _replan(self, records: Sequence[AuditRecord], run_id: str) -> None:
        """A resumed recovery is planned from the pool's state plus the run's
        record, as `xentui recover --run` does: VMs the run reset and did not
        start yet keep their start step, with the same fence gate."""
        from xentui.recovery import run_record
        from xentui.recovery.plan_builder import build_plan

        observation = self.observation()
        if observation is None:
            return
        record = run_record.from_records(records, run_id)
        self.has_baseline = record.has_baseline
        # The handover the plan was built for (--prefer-master) stays planned.
        self.plan = build_plan(observation, run_record=record, preferred_master=preferred_master(self.plan))

    @property
    def run_id(self) -> str:
        return getattr(self.executor, "run_id", "") or "wizard"

    def resume(self) -> Tuple[RecoveryProgress, ResumeInfo]:
        """Where the recovery stands, from the audit log; adopts an open run."""
        if self.audit is None:
            return RecoveryProgress(self.plan), ResumeInfo()
        try:
            records = self.audit.records()
        except OSError as exc:
            return RecoveryProgress(self.plan), ResumeInfo(error=str(exc))
        from xentui.ui.wizard.progress import open_run_id

        open_run = open_run_id(records)
        if open_run:
            self._replan(records, open_run)
        progress, info = progress_from_records(self.plan, records)
        note = getattr(self.audit, "quarantine_note", None)
        if note is not None and note():
            info = dataclasses.replace(info, damaged=note())
        run_id = info.run_id
        if run_id and not self.read_only:
            # Continue as the same run, so the audit log and the report tell one
            # story, and tell the executor what is already done. Fence
            # attestations are NOT carried over: the operator states them again,
            # because a host may have been powered back on in the meantime.
            if hasattr(self.executor, "run_id"):
                self.executor.run_id = run_id
            if hasattr(self.executor, "mark_completed"):
                self.executor.mark_completed(info.done_ids)
            self.is_open = True
        return progress, info

    def open(self) -> None:
        """Write `run-start` once, and the baseline workload, before the
        recovery's first recorded act."""
        if self.audit is None or self.read_only:
            return
        from xentui.recovery.audit import RUN_START

        if not self.is_open:
            self.audit.record(
                self.run_id,
                RUN_START,
                host=getattr(self.plan, "console_host", ""),
                inputs={
                    "steps": [s.id for s in self.plan.steps],
                    "findings": list(getattr(self.plan, "finding_codes", ())),
                },
                outcome="started",
                detail="guided recovery started in the wizard",
            )
            self.is_open = True
        if not self.has_baseline:
            from xentui.recovery.run_record import record_baseline

            observation = self.observation()
            if observation is not None:
                self.has_baseline = record_baseline(self.audit, self.run_id, observation, self.audit.records())

    def close_if_healthy(self, healthy: Optional[bool]) -> None:
        if not healthy or not self.is_open or self.audit is None or self.read_only:
            return
        from xentui.recovery.audit import RUN_END

        self.audit.record(self.run_id, RUN_END, outcome="healthy", detail="pool healthy at the wizard's summary")

    def records(self) -> List[AuditRecord]:
        """This run's records, for the incident report."""
        if self.audit is None:
            return []
        run_id = self.run_id
        return [r for r in self.audit.records() if r.run_id == run_id]

    def report_path(self, report_dir: Optional[Path], now: float) -> Path:
        base = report_dir
        if base is None and self.audit is not None and getattr(self.audit, "path", None):
            base = Path(self.audit.path).parent
        if base is None:
            from xentui.recovery.audit import default_state_dir

            base = default_state_dir()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        return Path(base) / f"incident-{stamp}.md"
