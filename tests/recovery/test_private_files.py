"""Files xentui writes are private whatever the umask: the state dir and the
backup dir 0700; the audit log, reports and pool database backups 0600
(existing ones are narrowed too); the simulator's endpoints.json (it holds
the pool's root password) 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.backup import backup_pool_database
from xentui.recovery.private_files import NotRegularFile
from xentui.recovery.report import write_report


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    path = tmp_path / "state"
    monkeypatch.setenv(au.STATE_DIR_ENV, str(path))
    return path


def test_new_state_dir_and_audit_log_are_private(open_umask, state_dir):
    AuditLog().record("r", au.RUN_START)
    assert mode(state_dir) == 0o700
    assert mode(state_dir / au.AUDIT_FILE_NAME) == 0o600


def test_existing_state_dir_and_audit_log_are_narrowed(open_umask, state_dir):
    state_dir.mkdir(mode=0o755)
    os.chmod(state_dir, 0o755)
    log_path = state_dir / au.AUDIT_FILE_NAME
    log_path.write_text("")
    os.chmod(log_path, 0o644)
    AuditLog().record("r", au.RUN_START)
    assert mode(state_dir) == 0o700 and mode(log_path) == 0o600


def test_a_shared_directory_named_as_state_dir_keeps_its_mode(open_umask, state_dir):
    state_dir.mkdir()
    os.chmod(state_dir, 0o755)
    (state_dir / "somebody-elses-file").write_text("")
    AuditLog().record("r", au.RUN_START)
    assert mode(state_dir) == 0o755  # XENTUI_STATE_DIR=/var/lib by mistake must not lock others out
    assert mode(state_dir / au.AUDIT_FILE_NAME) == 0o600


def test_a_named_audit_log_is_private_but_its_existing_directory_is_left_alone(open_umask, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    log = AuditLog(shared / "new" / "audit.jsonl")
    log.record("r", au.RUN_START)
    assert mode(shared) == 0o755  # the user's directory: not ours to change
    assert mode(shared / "new") == 0o700  # created by us
    assert mode(log.path) == 0o600


def test_reports_are_private_and_replace_a_readable_one(open_umask, tmp_path):
    path = tmp_path / "reports" / "incident.md"
    write_report([], (), path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    os.chmod(path, 0o644)
    write_report([], (), path)
    assert mode(path) == 0o600
    assert not [p for p in path.parent.iterdir() if p.name != "incident.md"]  # no temp file left behind


def test_a_report_onto_a_fifo_or_directory_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="it is a FIFO"):
        write_report([], (), fifo)
    with pytest.raises(OSError):
        write_report([], (), tmp_path)


def test_report_command_writes_0600(open_umask, tmp_path, state_dir):
    AuditLog().record("r", au.RUN_START)
    out = tmp_path / "r.md"
    result = subprocess.run(
        [sys.executable, "-m", "xentui", "report", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert mode(out) == 0o600


def test_database_backup_and_its_directory_are_private(open_umask, tmp_path):
    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import parse_target

    backups = tmp_path / "backups"
    backups.mkdir()
    os.chmod(backups, 0o755)
    with start_sim("healthy", tmp_path / "sim") as sim:
        observer = Observer(parse_target(f"sim:{sim.state_dir}"), call_timeout=2.0, connect_timeout=2.0)
        try:
            result = backup_pool_database(observer, backups, run_id="r1", on_master=False)
        finally:
            observer.close()
    assert result.objects > 0
    assert mode(backups) == 0o700 and mode(result.path) == 0o600
    assert [p.name for p in backups.iterdir()] == [result.path.name]


def test_simulator_endpoints_json_is_0600(open_umask, tmp_path):
    with start_sim("healthy", tmp_path / "sim") as sim:
        path = Path(sim.state_dir) / "endpoints.json"
        assert mode(path) == 0o600
        assert "root_password" in path.read_text()


def test_report_command_onto_a_fifo_is_one_line(tmp_path, state_dir):
    AuditLog().record("r", au.RUN_START)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "xentui", "report", "-o", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"xentui report: cannot write {fifo}: it is a FIFO, not a regular file"
