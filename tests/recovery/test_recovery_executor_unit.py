"""Executor guards on hand-built observations (no simulator): live
precondition refusals, the single-flight guard for master changes, and what
the audit log records for a refusal."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.recovery import audit as au
from xentui.recovery import peers as pv
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.plan_builder import build_plan


class FixedObserver:
    """Stands in for Observer: always the same observation, never a client."""

    def __init__(self, obs):
        self.obs = obs
        self.client = None

    def observe(self, **_):
        return self.obs


def seed():
    b = PoolBuilder().host("xen1").host("xen2").vm("web01", "xen1")
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "refused"})
    return observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("HOST_STILL_BOOTING", []),
        views=[view(b, "xen1", pv.REFUSED)],
    )


def test_promotion_refused_without_attestation_and_audited(tmp_path):
    obs = seed()
    audit = AuditLog(tmp_path / "a.jsonl")
    ex = PlanExecutor(FixedObserver(obs), audit, time_scale=0.01)
    plan = build_plan(obs)
    result = ex.run(plan.step("promote:xen2"))
    assert result.status == "refused" and "fenced:xen1" in result.detail
    kinds = [r.kind for r in audit.records()]
    assert kinds == [au.STEP_START, au.CHECK, au.STEP_END]
    assert audit.records()[1].inputs == {"fenced:xen1": False, "silent:xen1": True, "answers:xen2": True}
    checks = ex.check(plan.step("promote:xen2"))
    assert [(c.precondition_id, c.ok) for c in checks] == [
        ("fenced:xen1", False),
        ("silent:xen1", True),
        ("answers:xen2", True),
    ]
    ex.attest_fenced("xen1")
    assert all(c.ok for c in ex.check(plan.step("promote:xen2")))
    assert any(r.kind == au.ATTEST and r.host == "xen1" for r in audit.records())


def test_old_master_that_accepts_connections_is_not_silent(tmp_path):
    b = PoolBuilder().host("xen1").host("xen2").vm("web01", "xen1")
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "open"})
    obs = observation(b, "xen2", gt=gt, live=False, state="connected", views=[view(b, "xen1", pv.HUNG)])
    ex = PlanExecutor(FixedObserver(obs), AuditLog(tmp_path / "a.jsonl"), fenced=["xen1"])
    checks = {c.precondition_id: c for c in ex.check(build_plan(obs).step("confirm-master-down:xen1"))}
    assert not checks["silent:xen1"].ok and "power it off" in checks["silent:xen1"].detail


def test_single_flight_guard_for_master_changes(tmp_path):
    b = PoolBuilder(master="xen2").host("xen1").host("xen2")
    gt = ground_truth(b, "xen2", role="master")
    obs = observation(
        b, "xen2", gt=gt, live=True, views=[view(b, "xen1", pv.ANSWERS, pv.SLAVE, master=b.address("xen2"))]
    )
    ex = PlanExecutor(FixedObserver(obs), AuditLog(tmp_path / "a.jsonl"))
    step = build_plan(obs, preferred_master="xen1").step("designate-master:xen1")
    assert all(c.ok for c in ex.check(step))
    with ex.master_change:  # another designate/promote/demote is in flight
        result = ex.run(step)
    assert result.status == "refused" and "single-flight" in result.detail


def test_read_only_audits_what_it_would_do(tmp_path):
    obs = seed()
    audit = AuditLog(tmp_path / "a.jsonl")
    ex = PlanExecutor(FixedObserver(obs), audit, read_only=True, fenced=["xen1"])
    result = ex.run(build_plan(obs).step("promote:xen2"))
    assert result.status == "read-only" and "xe pool-emergency-transition-to-master" in result.detail
    assert [r.kind for r in audit.records()] == [au.ATTEST, au.STEP_START, au.STEP_END]
