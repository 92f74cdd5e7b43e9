"""The audit log: JSON lines, fsynced, no secrets, resumable progress."""

from __future__ import annotations

import json
import os

from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog, AuditRecord, last_open_run, progress_from_audit
from xentui.recovery.plan import Confirm, Plan, Step


def _step(step_id: str) -> Step:
    return Step(step_id, "t", "w", "c", "low", "r", (), (), (), "v", "f", Confirm.NONE)


def test_append_and_read_back(tmp_path):
    log = AuditLog(tmp_path / "sub" / "audit.jsonl")
    log.append(
        AuditRecord(
            ts=10.0,
            run_id="r1",
            kind=au.STEP_START,
            step_id="promote:xen2",
            host="xen2",
            inputs={"params": {"host": "xen2"}},
            xe=("xe pool-emergency-transition-to-master",),
        )
    )
    log.record("r1", au.STEP_END, step_id="promote:xen2", outcome="done", duration=1.5, ts=12.0)
    lines = (tmp_path / "sub" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["run_id"] == "r1" for line in lines)
    recs = log.records()
    assert [r.kind for r in recs] == [au.STEP_START, au.STEP_END]
    assert recs[0].xe == ("xe pool-emergency-transition-to-master",)
    assert [r.kind for r in log.records(since=11.0)] == [au.STEP_END]
    assert oct(os.stat(log.path).st_mode & 0o777) == "0o600"


def test_never_writes_passwords_or_session_refs(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record(
        "r1",
        au.NOTE,
        inputs={
            "password": "xenroot",
            "pwd": "xenroot",
            "nested": {"session_id": "x"},
            "args": ["OpaqueRef:3f2a1b4c-aaaa-bbbb-cccc-123456789abc"],
        },
        detail="login with session OpaqueRef:3f2a1b4c-aaaa-bbbb-cccc-123456789abc",
    )
    text = log.path.read_text()
    assert "xenroot" not in text and "3f2a1b4c" not in text
    rec = log.records()[0]
    assert rec.inputs["password"] == "***" and rec.inputs["nested"]["session_id"] == "***"


def test_torn_last_line_is_ignored(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("r1", au.RUN_START)
    with open(log.path, "a") as fh:
        fh.write('{"ts": 1, "run_id": "r1", "ki')
    assert [r.kind for r in log.records()] == [au.RUN_START]


def test_progress_and_open_runs():
    recs = [
        AuditRecord(1, "r1", au.RUN_START),
        AuditRecord(2, "r1", au.STEP_START, step_id="a"),
        AuditRecord(3, "r1", au.STEP_END, step_id="a", outcome="done"),
        AuditRecord(4, "r1", au.STEP_START, step_id="b"),  # died mid-step
        AuditRecord(5, "r2", au.RUN_START),
        AuditRecord(6, "r2", au.RUN_END, outcome="healthy"),
    ]
    plan = Plan(steps=(_step("a"), _step("b")), finding_codes=(), console_host="x", created_at=0)
    assert progress_from_audit(recs, plan) == {"a": "done", "b": "interrupted"}
    assert last_open_run(recs) == "r1"
    assert last_open_run(recs[4:]) is None


def test_default_path_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "st"))
    assert AuditLog().path == tmp_path / "st" / "audit.jsonl"
    monkeypatch.delenv(au.STATE_DIR_ENV)
    import platformdirs

    assert au.default_audit_path().parent == __import__("pathlib").Path(platformdirs.user_state_dir("xentui"))


def test_an_old_unfinished_run_is_not_resumed():
    recs = [
        AuditRecord(100.0, "old", au.RUN_START),
        AuditRecord(120.0, "old", au.STEP_START, step_id="promote:xen2"),
        AuditRecord(150.0, "old", au.RUN_END, outcome="failed"),
    ]
    assert last_open_run(recs, max_age=3600, now=1000.0) == "old"
    assert last_open_run(recs, max_age=3600, now=100_000.0) is None


def test_a_run_refused_before_any_step_is_not_open(tmp_path):
    # `xentui recover --run --confirm-dead <this host>` is refused up front:
    # nothing was attempted, so no recovery is "in progress" afterwards.
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(AuditRecord(ts=1.0, run_id="r1", kind="run-start", outcome="started"))
    log.append(AuditRecord(ts=2.0, run_id="r1", kind="run-end", outcome="refused"))
    assert last_open_run(log.records()) is None
    # ...whereas a run that acted and then failed stays open, to be resumed.
    log.append(AuditRecord(ts=3.0, run_id="r2", kind="run-start", outcome="started"))
    log.append(AuditRecord(ts=4.0, run_id="r2", kind="step-start", step_id="promote:xen2"))
    log.append(AuditRecord(ts=5.0, run_id="r2", kind="run-end", outcome="failed"))
    assert last_open_run(log.records()) == "r2"
