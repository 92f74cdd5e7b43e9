"""The fence gate is the same on every path (issue 10), power-state-reset
included. No plan lists power-state-reset today (declare-dead resets every
VM of the host), so its declaration and the executor's gate are tested
directly: through the real executor against the simulator, as a resumed run
(a new executor of the same run, steps done before marked completed) would
reach it."""

from __future__ import annotations

import dataclasses

import pytest

from tests.recovery.test_recovery_run import open_observer, sdk_pool_state
from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.sessions import wait_until
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.fence_gate import gate_ids
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.situation import Situation
from xentui.recovery.step_registry import step_kind

SCALE = 0.01
RUN_ID = "run-fence-gate"


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


def promote_only(observer, audit):
    """master-down recovered up to (not including) declare-dead: xen2 is the
    master, xen1 is off and its VMs are still marked running on it."""
    executor = PlanExecutor(observer, audit, fenced=["xen1"], time_scale=SCALE, run_id=RUN_ID)
    done = []
    for step in build_plan(observer.observe()).steps:
        if step.kind == "declare-dead":
            break
        assert executor.run(step).ok, step.id
        done.append(step.id)
    return done


def reset_step(observer, vm_name):
    sit = Situation(observer.observe())
    vm = next(v for v in sit.snap.vms.values() if v.name_label == vm_name)
    declare = step_kind("power-state-reset")  # recovery/steps/power_state_reset.py
    return declare(vm, sit.snap.host_by_name("xen1"), sit.snap.host_by_name("xen2")), sit


def test_power_state_reset_has_the_start_vms_gate_on_every_path(tmp_path, state_dir):
    with start_sim("master-down", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            audit = AuditLog(state_dir / "audit.jsonl")
            done = promote_only(observer, audit)
            step, sit = reset_step(observer, "web01")
            declared = {p.id for p in step.preconditions}
            assert {"fenced:xen1", "silent:xen1", "is-master:xen2"} <= declared  # as start-vms declares
            assert step.requires_fenced == ("xen1",)
            assert set(gate_ids(step, sit)) == {"fenced:xen1", "silent:xen1"}

            # A resumed run (new process: nothing attested yet) re-checks and refuses.
            resumed = PlanExecutor(observer, audit, time_scale=SCALE, run_id=RUN_ID)
            resumed.mark_completed(done)
            result = resumed.run(step)
            assert result.status == "refused" and "fenced:xen1" in result.detail, result
            assert sdk_pool_state(sim, "xen2")["vms"]["web01"] == ("Running", "xen1")  # untouched

            # A step built without the gate (hand-made, or a declaration that forgot it):
            # the executor adds it from the step's kind and where the VM runs now.
            bare = dataclasses.replace(
                step, preconditions=(), requires_fenced=(), params={"vm_uuid": step.params["vm_uuid"], "master": "xen2"}
            )
            result = resumed.run(bare)
            assert result.status == "refused" and "fenced:xen1" in result.detail, result
            assert sdk_pool_state(sim, "xen2")["vms"]["web01"] == ("Running", "xen1")

            # Attested and silent: it runs.
            resumed.attest_fenced("xen1")
            result = resumed.run(bare)
            assert result.status == "done", result
            assert sdk_pool_state(sim, "xen2")["vms"]["web01"] == ("Halted", "")

            # The host comes back (it was not really off): attested is not enough.
            sim.faults.power_on("xen1", immediate=True)
            wait_until(lambda: _reach(observer, "xen1") == "answers", what="xen1's xapi answering again")
            step, _ = reset_step(observer, "db01")
            result = resumed.run(step)
            assert result.status == "refused" and "silent:xen1" in result.detail, result
            checks = [r for r in audit.records() if r.kind == au.CHECK and r.step_id == step.id]
            assert checks and checks[-1].inputs == {"is-master:xen2": True, "fenced:xen1": True, "silent:xen1": False}
        assert sim.world.double_starts == []


def test_start_vms_without_its_declared_gate_is_still_refused(tmp_path, state_dir):
    """The same executor gate for start-vms: a step whose declaration lost its
    fence preconditions (keeping only which hosts it needs fenced) is refused
    by a resumed run that has no attestation."""
    with start_sim("master-down", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            audit = AuditLog(state_dir / "audit.jsonl")
            executor = PlanExecutor(observer, audit, fenced=["xen1"], time_scale=SCALE, run_id=RUN_ID)
            plan = build_plan(observer.observe())
            for step in plan.steps:
                if step.kind == "start-vms":
                    break
                assert executor.run(step).ok, step.id
            start = step
            assert start.kind == "start-vms" and start.requires_fenced == ("xen1",)
            bare = dataclasses.replace(
                start,
                preconditions=tuple(p for p in start.preconditions if not p.id.startswith(("fenced:", "silent:"))),
            )
            fresh = PlanExecutor(observer, audit, time_scale=SCALE, run_id=RUN_ID)  # nothing attested
            result = fresh.run(bare)
            assert result.status == "refused" and "fenced:xen1" in result.detail, result
            assert sdk_pool_state(sim, "xen2")["vms"]["web01"] == ("Halted", "")


def _reach(observer, name):
    sit = Situation(observer.observe())
    return sit.state(sit.snap.host_by_name(name)).reach
