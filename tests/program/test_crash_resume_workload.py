"""Health includes the workload (issue 10): the finding and the plan made
from the pool's state plus the run's record, on hand-built observations."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, codes, ground_truth, observation, view
from xentui.recovery import audit as au
from xentui.recovery import peers as pv
from xentui.recovery.audit import AuditRecord
from xentui.recovery.diagnosis import with_run_record
from xentui.recovery.findings import Code
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.run_record import BASELINE, LEFT_DOWN, baseline_inputs, from_records

RUN = "20260101T000000Z-abcdef"


def incident_start():
    """master-down as seen from xen2 at the first observation: xen1 (the old
    master) does not answer, web01/db01/local01 still marked running on it."""
    b = PoolBuilder(master="xen1").host("xen1", live=False).host("xen2")
    b.vm("web01", "xen1").vm("db01", "xen1").vm("local01", "xen1").vm("app01", "xen2").vm("spare01", None)
    gt = ground_truth(b, "xen2", role="slave", master_address=b.address("xen1"), probes={"xen1": "refused"})
    return observation(b, "xen2", gt=gt, live=False, state="emergency", emergency=("HOST_IS_SLAVE", ["x"]))


def after_declare_dead(left_running=()):
    """xen2 promoted, xen1 declared dead: its VMs Halted, resident nowhere."""
    b = PoolBuilder(master="xen2").host("xen1", live=False, enabled=False).host("xen2")
    for name in ("web01", "db01", "local01"):
        b.vm(name, "xen2" if name in left_running else None)
    b.vm("app01", "xen2").vm("spare01", None)
    gt = ground_truth(b, "xen2", role="master", probes={"xen1": "refused"})
    return observation(b, "xen2", gt=gt, live=True, views=[view(b, "xen1", pv.REFUSED)])


def records(*extra):
    base = [
        AuditRecord(1.0, RUN, au.RUN_START, inputs={"read_only": False}),
        AuditRecord(2.0, RUN, BASELINE, inputs=baseline_inputs(incident_start())),
    ]
    return base + [AuditRecord(3.0 + i, RUN, kind, **fields) for i, (kind, fields) in enumerate(extra)]


def test_the_baseline_names_the_vms_running_on_the_silent_host():
    record = from_records(records(), RUN)
    assert record.has_baseline and record.baseline_down == ("xen1",)
    assert sorted(v.name for v in record.workload_on(["xen1"])) == ["db01", "local01", "web01"]
    assert [v.name for v in record.workload_on(["xen2"])] == ["app01"]  # spare01 was not running


def test_the_pool_alone_says_healthy_the_run_record_says_not():
    obs = after_declare_dead()
    from xentui.recovery.rules import run_rules

    assert "POOL_HEALTHY" in codes(run_rules(obs))  # what the pool alone says: the bug of issue 10
    judged = with_run_record(obs, from_records(records(), RUN))
    assert "POOL_HEALTHY" not in codes(judged.findings)
    f = next(f for f in judged.findings if f.code is Code.VMS_NOT_RESTARTED)
    assert f.host == "xen1" and "db01, local01, web01" in f.summary
    assert any("first observation" in e for e in f.evidence)


def test_the_plan_keeps_the_half_done_start_step_behind_the_fence_gate():
    plan = build_plan(after_declare_dead(), run_record=from_records(records(), RUN))
    ids = [s.id for s in plan.steps]
    assert "start-vms" in ids and not [i for i in ids if i.startswith("declare-dead")]
    start = plan.step("start-vms")
    assert set(start.params["vm_names"].split(",")) == {"web01", "db01", "local01"}
    assert start.requires_fenced == ("xen1",)
    assert {p.id for p in start.preconditions} >= {"fenced:xen1", "silent:xen1", "is-master:xen2"}
    assert plan.requires_fenced == ("xen1",)


def test_vms_left_down_on_purpose_are_named_and_do_not_block_health():
    vms = [{"uuid": "vm-local01", "name": "local01", "reason": "disks on local storage"}]
    left = (au.NOTE, dict(step_id="start-vms", outcome=LEFT_DOWN, inputs={"vms": vms}))
    record = from_records(records(left), RUN)
    judged = with_run_record(after_declare_dead(left_running=("web01", "db01")), record)
    assert "VMS_NOT_RESTARTED" not in codes(judged.findings)
    assert "POOL_HEALTHY" in codes(judged.findings)
    info = next(f for f in judged.findings if f.code is Code.VMS_LEFT_DOWN)
    assert "local01" in info.summary and "disks on local storage" in info.evidence[0]
    plan = build_plan(after_declare_dead(left_running=("web01", "db01")), run_record=record)
    assert "start-vms" not in [s.id for s in plan.steps]


def test_a_vm_running_again_or_destroyed_is_not_a_finding():
    b = PoolBuilder(master="xen2").host("xen1", live=False, enabled=False).host("xen2")
    b.vm("web01", "xen2").vm("db01", "xen2").vm("app01", "xen2")  # local01 destroyed since
    gt = ground_truth(b, "xen2", role="master", probes={"xen1": "refused"})
    obs = observation(b, "xen2", gt=gt, live=True, views=[view(b, "xen1", pv.REFUSED)])
    judged = with_run_record(obs, from_records(records(), RUN))
    assert "VMS_NOT_RESTARTED" not in codes(judged.findings)


def test_another_runs_record_is_not_used():
    assert not from_records(records(), "some-other-run").baseline
    obs = after_declare_dead()
    assert with_run_record(obs, from_records(records(), "some-other-run")) is obs
