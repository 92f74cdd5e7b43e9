"""Resume is correct from any crash point (issue 10).

For master-down, master-down-ha and split-brain (keeping either master),
`xentui recover --run` is recorded once uninterrupted; then, for every audit
record it wrote and every xapi call it made that changes the pool, a fresh
pool is recovered again and the run is stopped right there (the disk fills
there, or the process is abandoned as kill -9 leaves it); then the same
command runs again. The pool must end exactly as the uninterrupted run left
it, or the command must exit non-zero naming what is left. crash_points.py
says how the points are made and why those are all the distinct ones; a
real kill -9 of a real process is in test_crash_resume_kill.py.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.program.crash_points import (
    SCALE,
    Injector,
    Point,
    Pool,
    invoke,
    points_of,
    pool_state,
    reference,
    replay_all,
)
from tests.recovery.test_recovery_run import sdk_pool_state
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.report import render_report
from xentui.recovery.run_record import from_records
from xentui.xapi.targets import parse_target


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


SCENARIOS = ("master-down", "master-down-ha", "split-brain", "split-brain-keep-xen1")
CHUNKS = 3  # each scenario's points in this many tests (each well inside the suite's per-test timeout)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """scenario -> (the pool after an uninterrupted run, its recording), made once."""
    cache: dict = {}

    def get(scenario: str):
        if scenario not in cache:
            cache[scenario] = reference(scenario, tmp_path_factory.mktemp(f"reference-{scenario}"))
        return cache[scenario]

    return get


@pytest.mark.parametrize(
    "scenario,chunk",
    [(s, c) for s in SCENARIOS for c in range(CHUNKS)],
    ids=[f"{s}-{c + 1}of{CHUNKS}" for s in SCENARIOS for c in range(CHUNKS)],
)
def test_resume_from_every_crash_point(scenario, chunk, tmp_path, recorded):
    t0 = time.perf_counter()
    expected, recording = recorded(scenario)
    every = points_of(recording)
    assert len(every) > 10, every  # the run did something to crash in
    points = every[chunk::CHUNKS]
    failures = replay_all(scenario, points, tmp_path, expected)
    changes = sum(1 for p in every if p.kind == "call")
    print(
        f"\n{scenario} part {chunk + 1}/{CHUNKS}: {len(points)} of {len(every)} distinct crash points "
        f"(disk full / killed at each of {len(recording.records)} audit records, killed before each of "
        f"{changes} pool-changing calls of {len(recording.calls)} audited calls); "
        f"{time.perf_counter() - t0:.1f} s"
    )
    assert not failures, f"{len(failures)}/{len(points)} points:\n" + "\n\n".join(failures[:8])


# --- the bug of issue 10, named --------------------------------------------------------------


def record_after_declare_dead(root: Path) -> int:
    """Index of the first audit record written after xapi accepted host.declare_dead."""
    probe = Pool("master-down", root)
    try:
        recording = Injector()
        assert invoke(probe.args, recording)[0] == 0
    finally:
        probe.close()
    return 1 + next(i for i, label in enumerate(recording.records) if label.startswith("call host.declare_dead"))


def test_killed_right_after_declare_dead_resumes_to_start_the_vms(tmp_path):
    """The worst case of issue 10: the process dies right after xapi accepted
    host.declare_dead (the VMs are Halted, nothing says so in the log). The
    resumed run still starts them; it never says healthy while they are down."""
    index = record_after_declare_dead(tmp_path / "probe")
    pool = Pool("master-down", tmp_path / "pool")
    try:
        real = PlanExecutor.call_xapi
        injector = Injector(Point("record", index, "the record after host.declare_dead's call"))
        code, _ = invoke(pool.args, injector)
        assert code is None and injector.fired
        assert PlanExecutor.call_xapi is real
        before = sdk_pool_state(pool.sim, "xen2")
        assert before["vms"]["web01"] == ("Halted", "")  # reset, not started: the half-done state
        code, out = invoke(["recover", pool.args[1], "--plan", *pool.args[3:]])
        assert "VMS_NOT_RESTARTED" in out and "start-vms" in out, out
        assert "--confirm-dead xen1" in out  # the fence gate holds for the resumed start
        code, out = invoke(pool.args)
        assert code == 0, out
        assert "(resuming)" in out and "[>] Start the dead host's VMs on xen2  (start-vms)" in out
        state = sdk_pool_state(pool.sim, "xen2")
        for name in ("web01", "db01", "app01"):
            assert state["vms"][name] == ("Running", "xen2"), name
        assert state["vms"]["local01"] == ("Halted", "")  # on the dead host's local disk: left down, said so
        assert "Left down on purpose: local01" in out
        assert pool.sim.world.double_starts == []
    finally:
        pool.close()
    recs = AuditLog(pool.audit_path).records()
    report = render_report(recs, ())
    assert "outcome: **healthy**" in report
    assert "## Workload on hosts that did not answer at the start" in report and "- web01 (" in report


def test_resumed_start_is_refused_without_the_attestation(tmp_path):
    """The fence gate is the same on a resumed run: without --confirm-dead the
    start step is refused before any VM starts; a host that answers again is
    refused by the live check even with it."""
    index = record_after_declare_dead(tmp_path / "probe")
    pool = Pool("master-down", tmp_path / "pool")
    try:
        assert invoke(pool.args, Injector(Point("record", index, "")))[0] is None
        no_attest = [a for a in pool.args if a not in ("--confirm-dead", "xen1")]
        code, out = invoke(no_attest)
        assert code == 3 and "--confirm-dead xen1" in out, out
        assert sdk_pool_state(pool.sim, "xen2")["vms"]["web01"] == ("Halted", "")
        # The resumed plan, made while xen1 is silent; then xen1 answers again
        # before the step runs: the live check refuses, as on a fresh run.
        records = AuditLog(pool.audit_path).records()
        run_id = au.last_open_run(records)
        observer = Observer(parse_target(f"sim:{pool.root / 'sim'}"), call_timeout=2.0, probe_timeout=0.5)
        try:
            start = build_plan(observer.observe(), run_record=from_records(records, run_id)).step("start-vms")
            pool.sim.faults.power_on("xen1")
            deadline = time.monotonic() + 20
            # until it has rejoined (answering as a member): while it boots its xapi
            # comes and goes, and a refused connection counts as silent
            while not any(
                v.host_name == "xen1" and v.answers and v.role == "slave" for v in observer.observe().peer_views
            ):
                assert time.monotonic() < deadline, "xen1 never rejoined"
            executor = PlanExecutor(
                observer, AuditLog(pool.audit_path), fenced=["xen1"], time_scale=SCALE, run_id=run_id
            )
            result = executor.run(start)
        finally:
            observer.close()
        assert result.status == "refused" and "silent:xen1" in result.detail, result
        code, out = invoke(pool.args)
        assert code == 3 and "ANSWERS" in out, out  # and the CLI refuses the attestation itself
        assert sdk_pool_state(pool.sim, "xen2")["vms"]["web01"] == ("Halted", "")
        assert pool.sim.world.double_starts == []
    finally:
        pool.close()


# --- read-only runs ---------------------------------------------------------------------------


def test_read_only_runs_are_never_resumed_and_not_counted(tmp_path):
    """A read-only run during an interrupted recovery shows that recovery's
    plan (the VMs still to start) under its own run id; the next real run
    resumes the interrupted one, and the report's totals leave the read-only
    run out."""
    index = record_after_declare_dead(tmp_path / "probe")
    pool = Pool("master-down", tmp_path / "pool")
    try:
        assert invoke(pool.args, Injector(Point("record", index, "")))[0] is None
        killed_run = AuditLog(pool.audit_path).records()[0].run_id
        code, out = invoke(pool.args + ["--read-only"])
        assert code == 0 and "(resuming)" not in out, out
        assert "[ro] read-only" in out and "start-vms" in out, out
        recs = AuditLog(pool.audit_path).records()
        read_only_run = recs[-1].run_id
        assert read_only_run != killed_run
        assert not [r for r in recs if r.run_id == killed_run and r.kind == au.RUN_END]
        assert au.last_open_run(recs) == killed_run  # the read-only run is not the one to resume
        assert sdk_pool_state(pool.sim, "xen2")["vms"]["web01"] == ("Halted", "")  # it executed nothing
        code, out = invoke(pool.args)
        assert code == 0 and f"Run {killed_run} (resuming)" in out, out
        assert invoke(pool.args + ["--read-only"])[0] == 0  # after the recovery: a read-only look
        recs = AuditLog(pool.audit_path).records()
        assert au.last_open_run(recs) is None
    finally:
        pool.close()
    report = render_report(recs, ())
    assert report.count("read-only: nothing was executed") == 2
    real = [r for r in recs if r.run_id == killed_run and r.kind == au.STEP_END]
    ok = sum(1 for r in real if r.outcome in ("done", "skipped"))
    assert (
        f"- Totals: 1 recovery run(s), {ok}/{len(real)} step attempt(s) succeeded; 2 read-only run(s) not counted."
        in report
    ), report


# --- a real full disk -------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs for the audit log (CI runs as root; elsewhere the
    injected write failures of test_resume_from_every_crash_point stand in)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_real_full_disk_mid_run_then_resume(tiny_disk, tmp_path, recorded):
    """ENOSPC from a real file system part-way through master-down: the run
    stops with one line and a log of whole records; with space again, the
    same command resumes and ends where an uninterrupted run ends."""
    expected, _ = recorded("master-down")
    pool = Pool("master-down", tmp_path / "pool")
    audit_path = tiny_disk / "audit.jsonl"
    args = [a if a != str(pool.audit_path) else str(audit_path) for a in pool.args]
    try:
        # Leave room for about half of the records an uninterrupted run writes.
        probe = Pool("master-down", tmp_path / "probe")
        try:
            assert invoke(probe.args)[0] == 0
            room = probe.audit_path.stat().st_size // 2
        finally:
            probe.close()
        fs = os.statvfs(tiny_disk)
        filler = tiny_disk / "filler"
        filler.write_bytes(b"\0" * max(0, fs.f_bavail * fs.f_frsize - room))
        code, out = invoke(args)
        assert code == 1 and "audit log not writable" in out and "No space left on device" in out, out
        data = audit_path.read_bytes()
        assert data.endswith(b"\n") and len(data) <= room + fs.f_frsize  # whole records, stopped where space ended
        assert AuditLog(audit_path).records() and not AuditLog(audit_path).quarantined
        filler.unlink()
        code, out = invoke(args)
        assert code == 0, out
        assert "(resuming)" in out
        assert pool_state(pool.sim) == expected
    finally:
        pool.close()
