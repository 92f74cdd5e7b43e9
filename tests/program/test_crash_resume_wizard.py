"""The wizard's resume path after a crash right after host.declare_dead (issue 10).

The first session dies (os._exit, as a killed terminal would) the moment
xapi has accepted host.declare_dead: the dead host's VMs are Halted and the
audit log does not say so yet. The next wizard, opened the way the console
opens it (a plan built from the pool alone), must re-plan from the pool plus
the run's record: "Start the dead host's VMs" is there, behind the same
fence gate, and the summary never says healthy while they are down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.ui.test_wizard_fakes import SIZE, WizardHost, drive_until, flat, wait_for, wait_state, words
from tests.ui.test_wizard_sim import (
    assert_pool_recovered,
    open_recovery,
    summary_reached,
    vms_resident_on,
)
from xentui.recovery.audit import AuditLog
from xentui.recovery.run_record import from_records
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S

REPO = Path(__file__).resolve().parents[2]

DIES_AFTER_DECLARE_DEAD = textwrap.dedent(
    """
    import asyncio, os, sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    from tests.ui.test_wizard_fakes import SIZE, WizardHost, drive_until, wait_state
    from tests.ui.test_wizard_sim import open_recovery
    from xentui.recovery.executor import PlanExecutor
    from xentui.sim.runner import Endpoints
    from xentui.ui.wizard import RecoveryWizard, WizardState as S

    class Attached:  # the simulator runs in the test process; we reach it by its files
        def __init__(self, state_dir):
            self.state_dir = Path(state_dir)
            self.endpoints = Endpoints.load(self.state_dir)

    real_call = PlanExecutor.call_xapi

    def call_then_die(self, ctx, client, method, *args, **kwargs):
        value = real_call(self, ctx, client, method, *args, **kwargs)
        if method == "host.declare_dead":
            print("dying right after host.declare_dead", flush=True)
            os._exit(17)  # the audit record of this call was written; nothing after it
        return value

    PlanExecutor.call_xapi = call_then_die

    async def main():
        observer, audit, executor, plan = open_recovery(Attached({state_dir!r}), Path({audit!r}))
        wizard = RecoveryWizard(observer, plan, executor, audit=audit)
        async with WizardHost(wizard).run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            await drive_until(pilot, wizard, lambda w: False, timeout=60)

    asyncio.run(main())
    """
)


async def test_wizard_resumes_after_declare_dead_with_the_start_step(master_down, tmp_path):
    sim = master_down
    console = sim.endpoints.console
    dead = [h.name for h in sim.endpoints.hosts if h.name != console][0]
    stranded = vms_resident_on(sim, dead)
    audit_path = tmp_path / "audit.jsonl"
    script = DIES_AFTER_DECLARE_DEAD.format(tests=str(REPO), state_dir=str(sim.state_dir), audit=str(audit_path))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=str(tmp_path), env=env
    )
    assert proc.returncode == 17, proc.stdout + proc.stderr
    assert vms_resident_on(sim, dead) == []  # declare_dead took effect: nothing says where they ran
    first = AuditLog(audit_path).records()
    record = from_records(first, first[0].run_id)
    assert {v.uuid for v in record.baseline if v.host == dead} >= set(stranded)  # but the baseline does

    # xentui starts again and the console builds a plan from the pool alone, as app.start_recovery does.
    observer, audit, executor, plan = open_recovery(sim, audit_path)
    try:
        assert "start-vms" not in [s.id for s in plan.steps]  # the pool alone no longer asks for it
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            page = flat(words(wizard))
            assert "Resumed from the audit log" in page, page
            ids = [s.id for s in wizard.plan.steps]
            assert "start-vms" in ids, ids  # re-planned from the pool plus the run's record
            start = wizard.plan.step("start-vms")
            assert dead in start.requires_fenced  # the same fence gate as a fresh run
            assert {p.id for p in start.preconditions} >= {f"fenced:{dead}", f"silent:{dead}"}
            assert wizard.progress.status("start-vms") == "pending"
            await drive_until(pilot, wizard, summary_reached, timeout=90)
            assert wizard.healthy is True, words(wizard)
        assert_pool_recovered(sim, console, dead, stranded)
        recs = audit.records()
        assert len({r.run_id for r in recs}) == 1
        assert [r.outcome for r in recs if r.kind == "run-end"] == ["healthy"]
    finally:
        observer.close()


async def test_wizard_summary_is_not_healthy_while_the_vms_are_down(master_down, tmp_path):
    """Health includes the workload: with the start step left undone, the
    summary says not healthy and names the VMs; no healthy run-end is written."""
    sim = master_down
    console = sim.endpoints.console
    dead = [h.name for h in sim.endpoints.hosts if h.name != console][0]
    audit_path = tmp_path / "audit.jsonl"
    observer, audit, executor, plan = open_recovery(sim, audit_path)
    try:
        # Only the steps before start-vms run (as if the operator quit there).
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            await drive_until(pilot, wizard, lambda w: w.progress.status(f"declare-dead:{dead}") == "done", timeout=90)
            assert vms_resident_on(sim, dead) == []
            # The summary's health check and report, as at the end of a recovery.
            wizard._start_report()
            await wait_for(pilot, lambda: not wizard.report_writing and bool(wizard.health), timeout=30)
            assert wizard.healthy is False, wizard.health
            shown = "\n".join(wizard.health)
            assert "are not running" in shown and "web01" in shown, shown
            report = Path(wizard.report_path).read_text(encoding="utf-8")
            assert "VMS_NOT_RESTARTED" in report
        assert not [r for r in audit.records() if r.kind == "run-end"]
    finally:
        observer.close()
