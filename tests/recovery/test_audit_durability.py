"""The audit log holds whole records only, whatever the disk does.

- a write that fails (ENOSPC on a real full tmpfs, EROFS on a read-only
  mount, an injected EIO half-way) leaves the file ending on a whole line and
  raises AuditUnwritable, whose text is the one line the CLI and wizard show;
- `recover --run` with its audit log on a full disk stops before changing
  anything with that one line, and the next run (space freed) goes on;
- damaged lines (bad bytes, a cut-off tail) are skipped and named with their
  line numbers by the reader, `report` and `recover --plan`;
- a FIFO or a directory in place of the log is refused, never blocked on.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog, AuditUnreadable, AuditUnwritable

pytestmark = pytest.mark.timeout(120)


def xentui(*args, env, timeout=90):
    return subprocess.run(
        [sys.executable, "-m", "xentui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _mount(path: Path, options: str) -> None:
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (CI runs as root): {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs of our own, unmounted afterwards: a real full disk."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    _mount(mount_point, "size=64k,mode=0700")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    """Fill `disk` to the last byte."""
    filler = disk / "filler"
    fd = os.open(str(filler), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def whole_lines(path: Path) -> list:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), data[-80:]
    return [json.loads(line) for line in data.splitlines()]


def big_record(log: AuditLog, n: int) -> None:
    log.record("run-1", au.NOTE, step_id=f"s{n}", detail="x" * 3000)


def test_full_disk_leaves_whole_lines_and_the_next_write_goes_on(small_disk):
    log = AuditLog(small_disk / "state" / "audit.jsonl")
    big_record(log, 0)
    filler = fill(small_disk)
    before = log.path.read_bytes()
    failures = 0
    for n in range(1, 6):  # the first may still fit in the file's last page; then ENOSPC, part-way or at once
        try:
            big_record(log, n)
        except AuditUnwritable as exc:
            failures += 1
            assert str(exc).startswith(f"audit log not writable: {log.path}: No space left on device")
            assert str(exc).endswith("; nothing further was changed")
            assert "\n" not in str(exc)
        whole_lines(log.path)
        assert log.path.read_bytes().startswith(before)
    assert failures >= 4
    filler.unlink()  # space again: the next run appends normally
    big_record(log, 9)
    assert [r["step_id"] for r in whole_lines(log.path)][-1] == "s9"
    assert log.quarantined == () and len(log.records()) >= 2


def test_partial_write_then_enospc_is_cut_back(small_disk):
    log = AuditLog(small_disk / "audit.jsonl")
    log.record("run-1", au.RUN_START)
    fill(small_disk)
    # The log's last page has room for part of a record: a short write, then ENOSPC.
    size = log.path.stat().st_size
    assert size % 4096 != 0
    with pytest.raises(AuditUnwritable, match="No space left on device"):
        log.record("run-1", au.NOTE, detail="y" * 8000)
    assert log.path.stat().st_size == size
    assert len(whole_lines(log.path)) == 1


def test_read_only_mount_refused_with_one_line_and_still_readable(tmp_path):
    disk = tmp_path / "ro"
    disk.mkdir()
    _mount(disk, "size=64k")
    try:
        log = AuditLog(disk / "audit.jsonl")
        log.record("run-1", au.RUN_START)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(AuditUnwritable) as caught:
            log.record("run-1", au.NOTE)
        assert str(caught.value) == (
            f"audit log not writable: {log.path}: Read-only file system; nothing further was changed"
        )
        assert [r.kind for r in log.records()] == [au.RUN_START]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_injected_eio_half_way_is_cut_back(tmp_path, monkeypatch):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("run-1", au.RUN_START)
    good = log.path.read_bytes()

    def half_then_eio(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(au, "_write_all", half_then_eio)
    with pytest.raises(AuditUnwritable, match="Input/output error; nothing further was changed"):
        log.record("run-1", au.STEP_START, step_id="promote")
    assert log.path.read_bytes() == good
    monkeypatch.undo()
    log.record("run-1", au.STEP_START, step_id="promote")
    assert [r["kind"] for r in whole_lines(log.path)] == [au.RUN_START, au.STEP_START]


def test_damaged_lines_are_quarantined_with_their_numbers(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("run-1", au.RUN_START)
    with open(log.path, "ab") as fh:
        fh.write(b'{"kind": "note", "run_id": "run-1", "detail": "caf\xe9 \xff"}\n')  # line 2: bad bytes
        fh.write(b"[1, 2]\n")  # line 3: JSON, not a record
        fh.write(b'{"ts": 5, "run_id": "run-1", "kind": "step-st')  # line 4: cut off by a crash
    records = log.records()
    assert [r.kind for r in records] == [au.RUN_START]
    assert [q.number for q in log.quarantined] == [2, 3, 4]
    assert "not UTF-8" in log.quarantined[0].reason
    assert "cut off" in log.quarantined[2].reason
    note = log.quarantine_note()
    assert "3 damaged line(s) skipped: line 2 (" in note and "line 4 (" in note
    # The next record starts on its own line: the torn tail does not swallow it.
    log.record("run-1", au.RUN_END, outcome="healthy")
    assert [r.kind for r in log.records()] == [au.RUN_START, au.RUN_END]
    assert [q.number for q in log.quarantined] == [2, 3, 4]


@pytest.mark.timeout(20)
def test_fifo_and_directory_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(AuditUnwritable, match="it is a FIFO, not a regular file; nothing further was changed"):
        AuditLog(fifo).record("r", au.NOTE)
    with pytest.raises(AuditUnreadable, match="it is a FIFO, not a regular file"):
        AuditLog(fifo).records()
    with pytest.raises(AuditUnwritable, match="it is a directory, not a regular file"):
        AuditLog(tmp_path).record("r", au.NOTE)
    with pytest.raises(AuditUnreadable, match="it is a directory"):
        AuditLog(tmp_path).records()


def test_report_names_damaged_lines_and_refuses_a_fifo(tmp_path):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("run-1", au.RUN_START)
    with open(log.path, "ab") as fh:
        fh.write(b"\xff\xfe garbage\n")
    log.record("run-1", au.RUN_END, outcome="healthy")
    result = xentui("report", "--audit-log", str(log.path), env=env)
    assert result.returncode == 0, result.stderr
    assert "1 damaged line(s) skipped: line 2 (damaged bytes at column 1: not UTF-8)" in result.stderr
    assert "## Damaged audit log lines (skipped)" in result.stdout and "line 2 (" in result.stdout
    assert "outcome: **healthy**" in result.stdout
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused = xentui("report", "--audit-log", str(fifo), env=env, timeout=30)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == f"xentui report: audit log not readable: {fifo}: it is a FIFO, not a regular file"


def test_recover_on_a_full_disk_stops_with_one_line_and_the_next_run_goes_on(tmp_path, small_disk):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    audit_path = small_disk / "audit.jsonl"
    with start_sim("master-down", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}"
        # A damaged line is named by --plan and does not stop it.
        audit_path.write_bytes(b'{"ts": 1, "run_id": "old", "kind": "run-st')
        plan = xentui("recover", target, "--plan", "--audit-log", str(audit_path), "--call-timeout", "2", env=env)
        assert plan.returncode == 0, plan.stderr
        assert "damaged line(s) skipped: line 1 (" in plan.stderr and "cut off" in plan.stderr
        filler = fill(small_disk)
        args = (
            "recover",
            target,
            "--run",
            "--confirm-dead",
            "xen1",
            "--audit-log",
            str(audit_path),
            "--call-timeout",
            "2",
            "--time-scale",
            "0.01",
            "--verify-timeout",
            "15",
        )
        stopped = xentui(*args, env=env)
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        assert "Traceback" not in stopped.stderr
        assert stopped.stderr.strip().splitlines()[-1] == (
            f"xentui recover: audit log not writable: {audit_path}: No space left on device; "
            "nothing further was changed"
        )
        # What fit in the file's last page was written whole; no half record follows it.
        lines = audit_path.read_bytes().split(b"\n")
        assert lines[0] == b'{"ts": 1, "run_id": "old", "kind": "run-st' and lines[-1] == b""
        written = [json.loads(line)["kind"] for line in lines[1:-1]]
        print("written before the disk was full:", written)
        assert au.STEP_END not in written and "call" not in written
        # Nothing was changed: xen2 is still a slave in emergency mode.
        assert {s["name"]: s["role"] for s in sim.status()}["xen2"] == "slave"
        filler.unlink()
        again = xentui(*args, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Pool verified healthy" in again.stdout
        assert sim.world.double_starts == []
    kinds = [r.kind for r in AuditLog(audit_path).records()]
    assert kinds[0] == au.RUN_START and kinds[-1] == au.RUN_END


def test_audit_unwritable_is_an_oserror_so_existing_refusals_hold():
    # The wizard refuses to run a step when the audit log cannot be opened
    # (`except OSError`); the dedicated type must keep that true.
    assert issubclass(AuditUnwritable, OSError) and issubclass(AuditUnreadable, OSError)
    exc = AuditUnwritable(Path("/x/audit.jsonl"), "Read-only file system")
    assert str(exc) == "audit log not writable: /x/audit.jsonl: Read-only file system; nothing further was changed"


def test_wizard_resumes_past_damaged_lines_and_names_them(tmp_path):
    from xentui.recovery.plan import Plan
    from xentui.ui.wizard.runlog import RunLog
    from xentui.ui.wizard.views import overview_page

    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("run-1", au.RUN_START)
    with open(log.path, "ab") as fh:
        fh.write(b"\x00\x00\x00garbage\n")
    log.record("run-1", au.STEP_START, step_id="promote", detail="Promote xen2")
    plan = Plan(steps=(), finding_codes=(), console_host="xen2", created_at=0.0)

    class Executor:
        run_id = ""

        def mark_completed(self, ids):
            pass

    progress, info = RunLog(log, Executor(), plan, read_only=False).resume()
    assert info.run_id == "run-1" and [e.step_id for e in info.earlier] == ["promote"]
    assert "1 damaged line(s) skipped: line 2 (" in info.damaged
    page = overview_page(plan, progress, 0, info, read_only=False)
    shown = " ".join(text for text, _style in page.lines)
    assert "Warning: audit log" in shown and "line 2 (" in shown


def test_the_wizard_shows_the_audit_line_as_it_is():
    from xentui.ui.wizard.failure import describe_exception

    exc = AuditUnwritable(Path("/s/audit.jsonl"), "No space left on device")
    assert describe_exception(exc) == (
        "audit log not writable: /s/audit.jsonl: No space left on device; nothing further was changed"
    )
