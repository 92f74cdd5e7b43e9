"""Health includes the workload everywhere (issue 10): after a recovery run
is killed right after `host.declare_dead`, the pool alone looks healthy, but
`xentui status` (text, --json, exit code, installed command) and the
dashboard (findings list and banner) judge it with the open run's record,
as `recover` does (xentui.recovery.open_run), and say NOT healthy, naming
the VMs. And `recover --run` does not wait out --verify-timeout for VMs its
start step tried and could not start."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.program.crash_points import Injector, Point, Pool, invoke
from tests.program.test_crash_resume import record_after_declare_dead
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.findings import Code
from xentui.recovery.open_run import OpenRunJudge, open_run_id

HALTED_BY_THE_CRASH = ("web01", "db01")  # ran on xen1 (shared storage), reset by declare_dead, not started


@pytest.fixture
def crashed(tmp_path):
    """master-down recovered up to host.declare_dead, then killed (kill -9)."""
    index = record_after_declare_dead(tmp_path / "probe")
    pool = Pool("master-down", tmp_path / "pool")
    injector = Injector(Point("record", index, "the record after host.declare_dead's call"))
    code, out = invoke(pool.args, injector)
    assert code is None and injector.fired, out
    try:
        yield pool
    finally:
        pool.close()


def status_argv(pool: Pool, audit_path: Path, *extra: str):
    return ["status", f"sim:{pool.root / 'sim'}/xen2", "--audit-log", str(audit_path), "--call-timeout", "2", *extra]


def _run_id(pool: Pool) -> str:
    return open_run_id(AuditLog(pool.audit_path).records())


def test_status_says_not_healthy_and_names_the_vms(crashed, tmp_path):
    pool = crashed
    # Without the run's record the pool alone looks healthy: the bug this guards against.
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out = invoke(status_argv(pool, empty))
    assert code == 0 and "POOL_HEALTHY" in out, out

    code, out = invoke(status_argv(pool, pool.audit_path))
    assert code == 2, out  # critical
    assert "VMS_NOT_RESTARTED" in out and "POOL_HEALTHY" not in out, out
    line = next(x for x in out.splitlines() if "VMS_NOT_RESTARTED" in x)
    for name in HALTED_BY_THE_CRASH:
        assert name in line, line

    code, out = invoke(status_argv(pool, pool.audit_path, "--json"))
    assert code == 2, out
    doc = json.loads(out)
    assert doc["worst"] == "critical" and doc["recovery_run"] == _run_id(pool)
    finding = next(f for f in doc["findings"] if f["code"] == "VMS_NOT_RESTARTED")
    assert finding["host"] == "xen1" and all(n in finding["summary"] for n in HALTED_BY_THE_CRASH)
    assert "POOL_HEALTHY" not in {f["code"] for f in doc["findings"]}


def test_the_installed_status_command_exits_critical(crashed):
    pool = crashed
    exe = shutil.which("xentui", path=str(Path(sys.executable).parent)) or shutil.which("xentui")
    assert exe, "the xentui command is not installed next to this Python"
    proc = subprocess.run(
        [exe, *status_argv(crashed, pool.audit_path, "--json")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "VMS_NOT_RESTARTED" in {f["code"] for f in json.loads(proc.stdout)["findings"]}


def test_status_refuses_a_named_audit_log_that_does_not_exist(crashed, tmp_path):
    code, out = invoke(status_argv(crashed, tmp_path / "nope.jsonl"))
    assert code == 2 and "--audit-log" in out and "no such file" in out and "Traceback" not in out


def test_status_warns_about_an_unreadable_audit_log_and_never_says_healthy(crashed, tmp_path):
    """The pool looks healthy to xapi, but an interrupted run's VMs can't be
    ruled out without the log: status answers, warns, and exits degraded."""
    import os

    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)  # reading it would block: refused with one line, never hangs
    code, out = invoke(status_argv(crashed, fifo))
    assert code == 1 and "warning: audit log not readable" in out and "Traceback" not in out
    assert "not reported healthy" in out


async def test_dashboard_says_not_healthy_and_names_the_vms(crashed):
    from tests.ui.test_ui_sim import observer_for
    from xentui.ui.app import XenTuiApp

    class Sim:  # what observer_for needs
        state_dir = crashed.root / "sim"

        class endpoints:
            console = "xen2"

    app = XenTuiApp(
        lambda: observer_for(Sim, "xen2"), target_label="sim xen2", read_only=True, audit_path=crashed.audit_path
    )
    async with app.run_test(size=(80, 25)) as pilot:
        assert await wait_for(pilot, lambda: app.observation is not None, timeout=20), screen_text(app)
        await pilot.pause()
        codes = {f.code for f in app.observation.findings}
        assert Code.VMS_NOT_RESTARTED in codes and Code.POOL_HEALTHY not in codes
        text = screen_text(app)
        assert "Pool healthy" not in text, text
        banner = " ".join(line.strip() for line in text.splitlines()[1:3])
        assert "Pool needs attention: 3 VM(s) that ran on xen1 are not running" in banner, text
        assert all(n in banner for n in HALTED_BY_THE_CRASH) and "Recovery in progress" in banner, text
        assert "CRIT 3 VM(s) that ran on xen1 are not" in text, text  # the findings pane, most severe first


def test_the_judge_rereads_the_log_only_when_it_changes(crashed, tmp_path):
    judge = OpenRunJudge(crashed.audit_path)
    first = judge.record()
    assert first.run_id and first.baseline and judge.record() is first  # cached
    AuditLog(crashed.audit_path).record(first.run_id, au.RUN_END, outcome="healthy", detail="test")
    assert judge.record().run_id == ""  # that run is closed now: nothing to judge with


# --- recover --run does not wait for what cannot change (item 3) ------------------------------


class CountingObserver:
    def __init__(self, observer) -> None:
        self.inner = observer
        self.observations = 0

    def observe(self):
        self.observations += 1
        return self.inner.observe()


def test_recover_does_not_wait_for_vms_its_start_step_could_not_start(tmp_path, monkeypatch):
    from tests.program.crash_points import SCENARIO_ARGS
    from tests.recovery.test_recovery_run import open_observer
    from xentui.commands import recover

    monkeypatch.setitem(SCENARIO_ARGS, "small-survivor", ("master-down-small-survivor", ("--confirm-dead", "xen1")))
    pool = Pool("small-survivor", tmp_path / "pool")
    try:
        code, out = invoke(pool.args)
        assert code == 1 and "big01: not enough free memory" in out, out  # start-vms ran, big01 did not fit
        audit = AuditLog(pool.audit_path)
        run_id = _run_id(pool)
        with open_observer(pool.root / "sim") as observer:
            counting = CountingObserver(observer)
            buf = io.StringIO()
            # An hour to verify: waiting it out would blow the test's timeout.
            code = recover._verify_healthy(counting, audit, run_id, argparse.Namespace(verify_timeout=3600.0), buf)
            text = buf.getvalue()
            assert code == recover.EXIT_NOT_HEALTHY, text
            assert counting.observations == 1, text
            assert "waiting will not change it" in text and "Not running: big01" in text, text
            assert "HOST_NOT_ENOUGH_FREE_MEMORY" in text, text  # the step's own reason
            end = [r for r in audit.records() if r.run_id == run_id and r.kind == au.RUN_END][-1]
            assert end.outcome == "not-healthy" and "not waited for" in end.detail
            # Another run's start step says nothing about this one: then it waits as before.
            assert recover.settled_unhealthy(observer.observe(), audit.records(), "another-run") == ""
    finally:
        pool.close()
