"""The open recovery run's record, applied to what is observed now.

Whether the pool is healthy includes the workload (issue 10): after
`host.declare_dead` the pool itself no longer says which VMs ran on the dead
host, only the recovery run's audit record does. `status`, the dashboard
and `recover` therefore judge every observation with the record of the same
run: the newest one that started, did not end healthy, and was active within
`RESUME_WINDOW` (the run `recover --run` would resume). One rule in one
place, so the three never disagree about whether the pool is healthy.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Tuple

from xentui.recovery import audit as au
from xentui.recovery import run_record as rr
from xentui.recovery.diagnosis import with_run_record
from xentui.recovery.observation import Observation

# An unfinished run is resumed (and its record judged with) only if it was
# active this recently; an older one belongs to another incident.
RESUME_WINDOW = 12 * 3600.0


def open_run_id(records: Sequence[au.AuditRecord], now: Optional[float] = None) -> str:
    """The run `recover --run` would resume ('' if none)."""
    return au.last_open_run(records, max_age=RESUME_WINDOW, now=now) or ""


def open_run_record(records: Sequence[au.AuditRecord], now: Optional[float] = None) -> rr.RunRecord:
    """That run's record (an empty record when no run is open)."""
    return rr.from_records(records, open_run_id(records, now))


def judge(observation: Observation, records: Sequence[au.AuditRecord]) -> Observation:
    """The observation with findings that include the open run's workload."""
    return with_run_record(observation, open_run_record(records))


@dataclass
class OpenRunJudge:
    """Judges observations with the open run of one audit log file.

    Safe to call on every observation of a follow loop: the file is re-read
    only when its size or mtime changed. A log that cannot be read judges
    with no record and says why in `problem` (one line), never raises."""

    path: Path
    problem: str = ""
    # The log exists but could not be read: whether an interrupted run left
    # VMs down is unknown, so callers must not call the pool healthy.
    unreadable: bool = False
    _key: Optional[Tuple[int, int, int]] = field(default=None, repr=False)
    _record: rr.RunRecord = field(default_factory=rr.RunRecord, repr=False)
    _loaded_at: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # follow and observe threads

    @classmethod
    def for_default_log(cls) -> "OpenRunJudge":
        return cls(au.default_audit_path())

    def record(self) -> rr.RunRecord:
        with self._lock:
            return self._load()

    def _load(self) -> rr.RunRecord:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._key, self._record, self.problem, self.unreadable = None, rr.RunRecord(), "", False
            return self._record
        except OSError as exc:
            self._key, self._record, self.unreadable = None, rr.RunRecord(), True
            self.problem = f"audit log not readable: {self.path}: {exc.strerror or exc}"
            return self._record
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        # Re-read also now and then: the open run may age out of the resume window.
        if key == self._key and time.time() - self._loaded_at < 60.0:
            return self._record
        log = au.AuditLog(self.path)
        try:
            records = log.records()
        except au.AuditLogError as exc:
            self._key, self._record, self.problem, self.unreadable = None, rr.RunRecord(), str(exc), True
            return self._record
        self._key, self._loaded_at, self.unreadable = key, time.time(), False
        self._record = open_run_record(records)
        self.problem = log.quarantine_note()
        return self._record

    def apply(self, observation: Observation) -> Observation:
        return with_run_record(observation, self.record())
