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

import errno
import fcntl
import json
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from xentui.recovery.private_files import (
    NotRegularFile,
    fix_file_mode,
    fsync_dir,
    make_private_dir,
    os_error_reason,
    refuse_non_regular,
)

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

    def to_json(self) -> Dict[str, Any]:
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


class AuditLogError(OSError):
    """The audit log cannot be used; `str()` is the one line to show.

    An OSError so that callers that already refuse to act without an audit
    log (`except OSError`) refuse for these too."""

    def __init__(self, path: Path, reason: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class AuditUnwritable(AuditLogError):
    """A record could not be written (full disk, read-only mount, I/O error,
    not a regular file). The file still ends on a whole record; whatever
    was about to be done must not be done."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, reason, f"audit log not writable: {path}: {reason}; nothing further was changed")


class AuditUnreadable(AuditLogError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, reason, f"audit log not readable: {path}: {reason}")


@dataclass(frozen=True)
class QuarantinedLine:
    """A line of the audit log that is not a record: skipped, and reported."""

    number: int  # 1-based line number in the file
    reason: str

    def describe(self) -> str:
        return f"line {self.number} ({self.reason})"


def describe_quarantine(path: Path, lines: Iterable[QuarantinedLine]) -> str:
    """One line naming the damaged lines ('' if none)."""
    lines = list(lines)
    if not lines:
        return ""
    shown = ", ".join(q.describe() for q in lines[:5])
    more = f" and {len(lines) - 5} more" if len(lines) > 5 else ""
    return (
        f"audit log {path}: {len(lines)} damaged line(s) skipped: {shown}{more}; "
        "the records around them are used as they are"
    )


_reason = os_error_reason  # the cause without the path: our message names the path once


class AuditLog:
    """Append-only JSON-lines file; safe to share between threads and processes.

    Whole records only: a write that fails part-way (ENOSPC, EROFS, EIO) is
    cut back to the last whole line and raises AuditUnwritable. Lines that do
    not parse (damaged bytes, a tail cut off by a crash) are skipped and
    listed in `quarantined` after each read. The file is 0600 and refused if
    it is not a regular file (a FIFO, a directory)."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self._own_dir = path is None  # the default state dir is ours: its mode is fixed to 0700
        self.path = Path(path) if path is not None else default_audit_path()
        self._lock = threading.Lock()
        self.quarantined: Tuple[QuarantinedLine, ...] = ()

    # -- writing ---------------------------------------------------------------

    def append(self, record: AuditRecord) -> None:
        # ASCII only: records quote peer text (names, xapi errors), and `cat`
        # or `tail -f` of the log must not hand a C1 or bidi control to the terminal.
        line = json.dumps(record.to_json(), sort_keys=True, ensure_ascii=True) + "\n"
        with self._lock:
            try:
                self._append_bytes(line.encode("utf-8"))
            except AuditLogError:
                raise
            except OSError as exc:
                raise AuditUnwritable(self.path, _reason(exc)) from None

    def _append_bytes(self, data: bytes) -> None:
        make_private_dir(self.path.parent, fix_existing=self._own_dir)
        refuse_non_regular(self.path)  # before open: opening a FIFO would block
        created = not self.path.exists()
        # O_APPEND keeps concurrent writers (UI + CLI) from interleaving lines;
        # O_NONBLOCK makes a FIFO swapped in after the check fail instead of hang.
        fd = os.open(str(self.path), os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise NotRegularFile(self.path, st.st_mode)
            fix_file_mode(fd)
            # Another process appending at the same time must not be cut back
            # by our truncate below: hold the file while we write.
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn tail stays its own (quarantined) line
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError:
                _cut_back(fd, size)
                raise
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)  # the new file's name must survive a power cut too

    # -- reading ---------------------------------------------------------------

    def records(self, since: Optional[float] = None) -> List[AuditRecord]:
        """The records (optionally from `since` on); damaged lines are skipped
        and listed in `self.quarantined`. AuditUnreadable if the file exists
        but cannot be read or is not a regular file."""
        data = self._read_bytes()
        out: List[AuditRecord] = []
        bad: List[QuarantinedLine] = []
        if not data:
            self.quarantined = ()
            return out
        chunks = data.split(b"\n")
        last = len(chunks) - 1
        for index, raw in enumerate(chunks):
            if not raw.strip():
                continue
            cut_off = index == last  # no end of line after it: the writer stopped mid-record
            rec, reason = _parse_line(raw)
            if rec is None:
                bad.append(QuarantinedLine(index + 1, reason + ("; cut off, no end of line" if cut_off else "")))
                continue
            if since is None or rec.ts >= since:
                out.append(rec)
        self.quarantined = tuple(bad)
        return out

    def _read_bytes(self) -> bytes:
        try:
            refuse_non_regular(self.path)
            fd = os.open(str(self.path), os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise AuditUnreadable(self.path, _reason(exc)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise AuditUnreadable(self.path, _reason(NotRegularFile(self.path, st.st_mode)))
            fcntl.flock(fd, fcntl.LOCK_SH)  # a record being appended right now is read whole or not at all
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        except AuditLogError:
            raise
        except OSError as exc:
            raise AuditUnreadable(self.path, _reason(exc)) from None
        finally:
            os.close(fd)

    def quarantine_note(self) -> str:
        """One line about the damaged lines of the last read ('' if none)."""
        return describe_quarantine(self.path, self.quarantined)

    def record(self, run_id: str, kind: str, **fields: Any) -> AuditRecord:
        """Convenience: build, append and return a record stamped now."""
        rec = AuditRecord(ts=fields.pop("ts", time.time()), run_id=run_id, kind=kind, **fields)
        self.append(rec)
        return rec


def _parse_line(raw: bytes) -> Tuple[Optional[AuditRecord], str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"damaged bytes at column {exc.start + 1}: not UTF-8"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, f"not a JSON record: {getattr(exc, 'msg', exc)}"
    if not isinstance(data, dict) or "kind" not in data or "run_id" not in data:
        return None, "not an audit record"
    try:
        return AuditRecord.from_json(data), ""
    except (ValueError, TypeError) as exc:
        return None, f"not an audit record: {exc}"


def _write_all(fd: int, data: bytes) -> None:
    """os.write until all of `data` is written (a short write is not an error
    by itself; the next call reports ENOSPC/EIO if there is one)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "write wrote nothing")
        view = view[written:]


def _cut_back(fd: int, size: int) -> None:
    """After a failed append: the file ends where the last whole record ended."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the next read quarantines the torn tail; nothing more can be done here


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


def last_open_run(
    records: Iterable[AuditRecord], *, max_age: Optional[float] = None, now: Optional[float] = None
) -> Optional[str]:
    """The run_id of the newest run that started and did not end healthy.

    A run that ended before it attempted any step (refused up front, e.g.
    `--confirm-dead` naming a host that answers) never began: it is not open,
    or the dashboard would announce a recovery in progress that never was.
    With `max_age` (seconds), a run whose last record is older than that is
    not resumed: a new incident must not skip steps an old one once did.
    A read-only run (its first run-start says so) executed nothing: it is
    never resumed, as a real run or otherwise."""
    started: List[str] = []
    read_only = set()
    ended_ok = set()
    ended = set()
    acted = set()
    last_ts: Dict[str, float] = {}
    for rec in records:
        if rec.kind == RUN_START and rec.run_id not in started:
            started.append(rec.run_id)
            if rec.inputs.get("read_only"):
                read_only.add(rec.run_id)
        elif rec.kind == RUN_END:
            ended.add(rec.run_id)
            if rec.outcome == "healthy":
                ended_ok.add(rec.run_id)
        elif rec.kind in (STEP_START, STEP_END, ATTEST):
            acted.add(rec.run_id)
        last_ts[rec.run_id] = max(last_ts.get(rec.run_id, 0.0), rec.ts)
    now = time.time() if now is None else now
    for run_id in reversed(started):
        if run_id in ended_ok or run_id in read_only or (run_id in ended and run_id not in acted):
            continue
        if max_age is not None and now - last_ts.get(run_id, 0.0) > max_age:
            return None
        return run_id
    return None


def new_run_id(now: Optional[float] = None) -> str:
    ts = time.gmtime(now if now is not None else time.time())
    return time.strftime("%Y%m%dT%H%M%SZ", ts) + "-" + os.urandom(3).hex()
