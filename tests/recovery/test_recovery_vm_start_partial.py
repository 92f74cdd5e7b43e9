"""The start-vms step when the survivor cannot fit every VM of the dead master:
the VMs that fit start, the others are named with xapi's reason in plain words
(memory accounting of memory_check.ml, through the real simulator and SDK)."""

from __future__ import annotations

import pytest

from tests.recovery.test_recovery_run import open_observer, sdk_pool_state
from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery import audit as au
from xentui.recovery import run_record
from xentui.recovery.audit import AuditLog
from xentui.recovery.diagnosis import with_run_record
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.findings import Code
from xentui.recovery.plan_builder import build_plan

SCALE = 0.01
RUN_ID = "run-partial-start"


def run_all(observer, audit):
    """Every step that runs now, whatever the earlier ones gave."""
    executor = PlanExecutor(observer, audit, fenced=["xen1"], time_scale=SCALE, run_id=RUN_ID)
    plan = build_plan(observer.observe())
    return [executor.run(step) for step in plan.steps if not (step.phase == "later" and step.risk != "none")]


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


def test_survivor_out_of_memory_starts_what_fits_and_explains_the_rest(tmp_path, state_dir):
    with start_sim("master-down-small-survivor", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            audit = AuditLog(state_dir / "audit.jsonl")
            # the incident's workload, as `xentui recover` records it before the first step
            assert run_record.record_baseline(audit, RUN_ID, observer.observe(), audit.records())
            results = run_all(observer, audit)
            by_id = {r.step_id: r for r in results}
            assert by_id["promote:xen2"].ok and by_id["declare-dead:xen1"].ok
            start = by_id["start-vms"]
            assert not start.ok
            # the reason in plain words, with the sizes xapi reported and its code for reference
            assert "big01: not enough free memory on xen2 (needs 24.2 GiB, " in start.detail  # 24 GiB + overhead
            assert "[xapi: HOST_NOT_ENOUGH_FREE_MEMORY]" in start.detail
            assert "1 of 3 VMs did not start on xen2" in start.detail
            assert "started: " in start.detail and "web01" in start.detail and "db01" in start.detail
            obs = with_run_record(observer.observe(), run_record.from_records(audit.records(), RUN_ID))
        # never claim health that is not there: big01 ran before the incident and is down
        codes = {f.code for f in obs.findings}
        assert Code.POOL_HEALTHY not in codes and Code.VMS_NOT_RESTARTED in codes
        state = sdk_pool_state(sim, "xen2")
        assert state["vms"]["web01"] == ("Running", "xen2") and state["vms"]["db01"] == ("Running", "xen2")
        assert state["vms"]["big01"] == ("Halted", "")
        assert sim.world.double_starts == []
