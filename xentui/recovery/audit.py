"""The audit log: one JSON line per attempt, flushed and fsynced.

Every recovery attempt (including refusals and read-only "would run"
records) is appended here before and after it happens, so that a crash, an
SSH drop or a power cut mid-step leaves a trail an admin can read and a later
run can resume from. Records never contain passwords or session refs:
`AuditRecord` scrubs its `inputs` on construction.

Default location: platformdirs `user_state_dir("xentui")/audit.jsonl`;
`XENTUI_STATE_DIR` overrides the directory (tests, read-only homes).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

STATE_DIR_ENV = "XENTUI_STATE_DIR"
AUDIT_FILE_NAME = "audit.jsonl"

# Record kinds.
RUN_START = "run-start"
RUN_END = "run-end"
ATTEST = "attest-fenced"
STEP_START = "step-start"
STEP_END = "step-end"
CHECK = "check"
NOTE = "note"

# Keys whose values must never reach disk.
_SECRET_KEY = re.compile(r"pass(word)?|pwd|secret|session|token|psecret|key", re.IGNORECASE)
_SESSION_REF = re.compile(r"OpaqueRef:[0-9a-fA-F-]{8,}")


def default_state_dir() -> Path:
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_state_dir("xentui"))


def default_audit_path() -> Path:
    return default_state_dir() / AUDIT_FILE_NAME


def scrub(value: Any, key: str = "") -> Any:
    """Drop secrets: values under secret-looking keys become "***"; anything
    that looks like an OpaqueRef is cut to "OpaqueRef:…" because a session ref
    is a bearer credential and object refs are meaningless after a restart."""
    if key and _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _SESSION_REF.sub("OpaqueRef:…", value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class AuditRecord:
    ts: float
    run_id: str
    kind: str
    step_id: str = ""
    host: str = ""
    inputs: Dict[str, Any] = field(default_factory=dict, compare=False)
    outcome: str = ""
    detail: str = ""
    duration: float = 0.0
    xe: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", scrub(dict(self.inputs)))
        object.__setattr__(self, "detail", scrub(self.detail))
        object.__setattr__(self, "xe", tuple(self.xe))

    def to_json(self) -> dict:
        return {
            "ts": self.ts,
            "run_id": self.run_id,
            "kind": self.kind,
            "step_id": self.step_id,
            "host": self.host,
            "inputs": self.inputs,
            "outcome": self.outcome,
            "detail": self.detail,
            "duration": round(self.duration, 4),
            "xe": list(self.xe),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "AuditRecord":
        return cls(
            ts=float(data.get("ts", 0.0)),
            run_id=str(data.get("run_id", "")),
            kind=str(data.get("kind", "")),
            step_id=str(data.get("step_id", "")),
            host=str(data.get("host", "")),
            inputs=dict(data.get("inputs") or {}),
            outcome=str(data.get("outcome", "")),
            detail=str(data.get("detail", "")),
            duration=float(data.get("duration", 0.0) or 0.0),
            xe=tuple(data.get("xe") or ()),
        )


class AuditLog:
    """Append-only JSON-lines file; safe to share between threads."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path is not None else default_audit_path()
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        line = json.dumps(record.to_json(), sort_keys=True, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            # O_APPEND keeps concurrent writers (UI + CLI) from interleaving lines.
            fd = os.open(str(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)  # the new file's name must survive a power cut too

    def records(self, since: Optional[float] = None) -> List[AuditRecord]:
        if not self.path.exists():
            return []
        out: List[AuditRecord] = []
        with self.path.open("r", encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = AuditRecord.from_json(json.loads(line))
                except (ValueError, TypeError):
                    # A torn last line after a power cut must not hide the rest.
                    continue
                if since is None or rec.ts >= since:
                    out.append(rec)
        return out

    def record(self, run_id: str, kind: str, **fields: Any) -> AuditRecord:
        """Convenience: build, append and return a record stamped now."""
        rec = AuditRecord(ts=fields.pop("ts", time.time()), run_id=run_id, kind=kind, **fields)
        self.append(rec)
        return rec


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories
    finally:
        os.close(fd)


def progress_from_audit(records: Iterable[AuditRecord], plan: Any = None) -> Dict[str, str]:
    """step_id -> the last outcome recorded for it ("done", "failed", ...).

    A step with a `step-start` and no `step-end` (the process died mid-step)
    reports "interrupted". With a plan, only that plan's step ids are kept.
    """
    status: Dict[str, str] = {}
    for rec in records:
        if not rec.step_id:
            continue
        if rec.kind == STEP_START:
            status[rec.step_id] = "interrupted"
        elif rec.kind == STEP_END:
            status[rec.step_id] = rec.outcome or "unknown"
    if plan is not None:
        wanted = {s.id for s in plan.steps}
        status = {k: v for k, v in status.items() if k in wanted}
    return status


def last_open_run(records: Iterable[AuditRecord], *, max_age: Optional[float] = None,
                  now: Optional[float] = None) -> Optional[str]:
    """The run_id of the newest run that started and did not end healthy.

    A run that ended before it attempted any step (refused up front, e.g.
    `--confirm-dead` naming a host that answers) never began: it is not open,
    or the dashboard would announce a recovery in progress that never was.
    With `max_age` (seconds), a run whose last record is older than that is
    not resumed: a new incident must not skip steps an old one once did."""
    started: List[str] = []
    ended_ok = set()
    ended = set()
    acted = set()
    last_ts: Dict[str, float] = {}
    for rec in records:
        if rec.kind == RUN_START and rec.run_id not in started:
            started.append(rec.run_id)
        elif rec.kind == RUN_END:
            ended.add(rec.run_id)
            if rec.outcome == "healthy":
                ended_ok.add(rec.run_id)
        elif rec.kind in (STEP_START, STEP_END, ATTEST):
            acted.add(rec.run_id)
        last_ts[rec.run_id] = max(last_ts.get(rec.run_id, 0.0), rec.ts)
    now = time.time() if now is None else now
    for run_id in reversed(started):
        if run_id in ended_ok or (run_id in ended and run_id not in acted):
            continue
        if max_age is not None and now - last_ts.get(run_id, 0.0) > max_age:
            return None
        return run_id
    return None


def new_run_id(now: Optional[float] = None) -> str:
    ts = time.gmtime(now if now is not None else time.time())
    return time.strftime("%Y%m%dT%H%M%SZ", ts) + "-" + os.urandom(3).hex()
