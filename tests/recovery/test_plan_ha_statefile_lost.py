"""HA is never re-enabled while its statefile is lost (ha-mismatch-no-statefile):
xapi_ha.ml `enable` attaches the statefile VDI first (attach_statefiles) and fails
with VDI_NOT_AVAILABLE. The plan, from every console, leaves HA off and names the
exact `xe pool-ha-enable` to type once the heartbeat SR is back; a resumed run
cannot execute an enable-ha step either (its live re-check refuses, audited);
with the statefile fine (ha-armed-mismatch) HA is still re-enabled."""

from __future__ import annotations

import dataclasses

import pytest

from tests.recovery.test_recovery_run import open_observer
from tests.recovery.test_recovery_scenarios import observe, start_sim
from xentui.recovery import audit as au
from xentui.recovery import run_record
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.findings import Code
from xentui.recovery.ha_statefile import lost_in_audit
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.report import FINDINGS
from xentui.recovery.steps.enable_ha import declare as step_enable_ha
from xentui.xapi.model import Host

SCALE = 0.01
EVERY_HOST = ["ha-emergency-disable:xen1", "ha-emergency-disable:xen2", "ha-emergency-disable:xen3"]
# what the every-host plan was before the statefile rule (the members' consoles never had enable-ha)
EVERY_HOST_PLAN = EVERY_HOST + ["member-restart:xen3", "check-coordinator:xen1", "plug-pbds", "check-default-sr"]


def _san_uuid(obs) -> str:
    # the scenario's only shared SR (xen1, in emergency mode, serves no database to read)
    return next(sr.uuid for sr in obs.snapshot.srs.values() if sr.name_label == "SAN")


def _host(observer, name) -> Host:
    host = observer.observe().snapshot.host_by_name(name)
    assert host is not None
    return host


def _ha_enabled(sim) -> bool:
    db = sim.proc("xen1").db
    with sim.world.lock:
        return bool(db.get_field("pool", db.refs("pool")[0], "ha_enabled"))


@pytest.mark.parametrize("console", ["xen1", "xen2", "xen3"])
def test_no_enable_ha_while_the_statefile_is_lost_and_the_plan_says_what_to_type(tmp_path, console):
    with start_sim("ha-mismatch-no-statefile", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    san = _san_uuid(obs)
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert "enable-ha" not in ids and not any(s.kind == "enable-ha" for s in plan.steps), ids
    assert [i for i in ids if i != "backup-db"] == EVERY_HOST_PLAN, ids  # otherwise unchanged
    why = [n for n in plan.notes if n.startswith("HA stays off until its heartbeat statefile SR is back")]
    assert len(why) == 1, plan.notes  # said once, from whichever planner saw it first
    assert "xen1 cannot reach the HA statefile (HA_HOST_CANNOT_ACCESS_STATEFILE)" in why[0]
    assert f"'xe pool-ha-enable heartbeat-sr-uuids={san}'" in why[0]


def test_resumed_run_refuses_enable_ha_while_the_statefile_is_lost(tmp_path, state_dir):
    """The every-host disarm runs from the coordinator's console; a resumed executor
    (its completed steps read back from the audit, as `recover --run` does) is handed
    an enable-ha step: the live re-check refuses it, the refusal is audited and
    pool.enable_ha is never called."""
    with start_sim("ha-mismatch-no-statefile", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        audit = AuditLog(state_dir / "audit.jsonl")
        with open_observer(tmp_path / "sim", "xen1") as observer:
            first = PlanExecutor(observer, audit, time_scale=SCALE)
            plan = build_plan(observer.observe())
            for step in plan.steps[:5]:
                result = first.run(step)
                assert result.status in ("done", "skipped"), (step.id, result.detail)
            assert not sim.proc("xen1").emergency and not _ha_enabled(sim)

            resumed = PlanExecutor(observer, audit, time_scale=SCALE, run_id=first.run_id)
            resumed.mark_completed(run_record.from_records(audit.records(), first.run_id).done_ids)
            assert set(EVERY_HOST) <= resumed.completed
            step = step_enable_ha(_host(observer, "xen1"), (), [])
            assert "statefile-reachable" in {p.id for p in step.preconditions}
            result = resumed.run(step)
        assert result.status == "refused", result
        assert "statefile-reachable" in result.detail and "HA stays off" in result.detail, result.detail
        mine = [r for r in audit.records() if r.run_id == first.run_id and r.step_id == "enable-ha"]
        check = [r for r in mine if r.kind == au.CHECK]
        assert check and check[0].outcome == "refused" and check[0].inputs["statefile-reachable"] is False
        assert [r.outcome for r in mine if r.kind == au.STEP_END] == ["refused"]
        assert not [r for r in mine if r.kind == "call"], mine
        assert not _ha_enabled(sim)
        # the plan of the resumed run does not bring it back either
        with open_observer(tmp_path / "sim", "xen1") as observer:
            record = run_record.from_records(audit.records(), first.run_id)
            again = build_plan(observer.observe(), reenable_ha=True, run_record=record)
        assert "enable-ha" not in [s.id for s in again.steps], [s.id for s in again.steps]
        assert any(n.startswith("HA stays off until its heartbeat statefile SR is back") for n in again.notes)


def test_a_host_in_the_ha_startup_loop_refuses_enable_ha_live(tmp_path, state_dir):
    """No run history at all: the coordinator itself reports
    HA_HOST_CANNOT_ACCESS_STATEFILE, which the live check reads (the step's other
    checks are taken out so this one is shown alone)."""
    with start_sim("ha-mismatch-no-statefile", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        audit = AuditLog(state_dir / "audit.jsonl")
        with open_observer(tmp_path / "sim", "xen2") as observer:
            step = step_enable_ha(_host(observer, "xen1"), (), [])
            step = dataclasses.replace(
                step, preconditions=tuple(p for p in step.preconditions if p.id == "statefile-reachable")
            )
            result = PlanExecutor(observer, audit, time_scale=SCALE).run(step)
        assert result.status == "refused", result
        assert "xen1 cannot reach the HA statefile (HA_HOST_CANNOT_ACCESS_STATEFILE)" in result.detail
        assert not [r for r in audit.records() if r.kind == "call"]
        assert sim.proc("xen1").emergency  # untouched


def test_enable_ha_run_anyway_fails_with_one_clear_line(tmp_path, state_dir):
    """Every check taken out after the disarm: the simulator answers pool.enable_ha as
    xapi does (VDI_NOT_AVAILABLE, HA stays off) and the step says so in one line."""
    with start_sim("ha-mismatch-no-statefile", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        audit = AuditLog(state_dir / "audit.jsonl")
        with open_observer(tmp_path / "sim", "xen1") as observer:
            executor = PlanExecutor(observer, audit, time_scale=SCALE)
            for step in build_plan(observer.observe()).steps[:5]:
                assert executor.run(step).status in ("done", "skipped"), step.id
            step = dataclasses.replace(step_enable_ha(_host(observer, "xen1"), (), []), preconditions=())
            result = executor.run(step)
        assert result.status == "failed", result
        assert result.detail.startswith("the HA statefile on SAN cannot be reached (VDI_NOT_AVAILABLE)"), result
        assert not _ha_enabled(sim)


@pytest.mark.parametrize("console", ["xen1", "xen3"])
def test_with_the_statefile_fine_ha_is_still_re_enabled(tmp_path, console):
    with start_sim("ha-armed-mismatch", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    plan = build_plan(obs)
    steps = {s.id: s for s in plan.steps}
    assert "enable-ha" in steps and steps["enable-ha"].phase == "now", list(steps)
    assert "statefile-reachable" in {p.id for p in steps["enable-ha"].preconditions}
    assert not any(n.startswith("HA stays off") for n in plan.notes), plan.notes


def _findings(ts, run_id, *codes):
    return au.AuditRecord(ts, run_id, FINDINGS, inputs={"findings": [{"code": c} for c in codes]})


def _end(ts, run_id, step_id, outcome="done"):
    return au.AuditRecord(ts, run_id, au.STEP_END, step_id=step_id, outcome=outcome)


def test_the_audit_log_keeps_the_statefile_lost_until_ha_comes_back_or_a_new_incident():
    """ha_statefile.lost_in_audit: the every-host disarm says the statefile was lost;
    the same run resumed may still find the stuck member's mismatch; enable-ha done
    since, or a later run that finds HA armed again (a new incident), ends it."""
    mismatch = Code.HA_ARMED_MISMATCH.value
    incident = [_findings(1.0, "r1", mismatch), _end(2.0, "r1", "ha-emergency-disable:xen1")]
    assert lost_in_audit(incident).startswith("an earlier run disarmed HA on every host")
    assert lost_in_audit(incident + [_findings(3.0, "r1", mismatch)])  # resumed, xen3 not back yet
    assert lost_in_audit(incident + [_findings(3.0, "r2", Code.POOL_HEALTHY.value)])
    assert not lost_in_audit(incident + [_end(3.0, "r2", "enable-ha")])
    assert lost_in_audit(incident + [_end(3.0, "r2", "enable-ha", outcome="failed")])
    assert not lost_in_audit(incident + [_findings(3.0, "r2", Code.HA_ARMED.value)])
    assert not lost_in_audit(incident[:1])
    assert not lost_in_audit([_end(2.0, "r1", "ha-emergency-disable:xen1", outcome="refused")])
