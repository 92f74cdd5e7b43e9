"""Planning for VDI_LOCKED (issue 13 item 4): one clear-vdi-locks step per
dead holder host, behind its fence, then the existing start-vms step; locks
with no host to fence get a note, never a step. Hand-built observations.

What the step does is sm's resetvdis.py (libs/sm/resetvdis.py reset_vdi: one
VDI.remove_from_sm_config per `host_<ref>` key) plus the raw removal of a
leaked `activating` key; tests/sim/test_sim_vdi_lock_clearing.py replays it
through the SDK."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.fence_gate import gate_ids
from xentui.recovery.findings import Code
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.situation import Situation

XEN3 = "OpaqueRef:host-xen3"


def _disk(b: PoolBuilder, vm: str, sm_config: dict) -> str:
    vdi_ref, uuid = f"OpaqueRef:vdi-{vm}", f"vdi-uuid-{vm}"
    b.tables.setdefault("vdi", {})[vdi_ref] = {"uuid": uuid, "name_label": f"{vm} disk 0", "sm_config": sm_config}
    b.tables.setdefault("vbd", {})[f"OpaqueRef:vbd-{vm}"] = {"VM": f"OpaqueRef:vm-{vm}", "VDI": vdi_ref}
    return uuid


def _observe(b: PoolBuilder):
    gt = ground_truth(b, "xen1", role="master", probes={"xen3": "timeout"})
    views = [
        view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1")),
        view(b, "xen3", pv.TIMEOUT, pv.UNKNOWN, master=b.address("xen1")),
    ]
    obs = observation(b, "xen1", gt=gt, live=True, views=views)
    return obs, diagnose(obs)


def _pool() -> PoolBuilder:
    # xen3 crashed; its VMs' power state was reset by hand (host-declare-dead never ran)
    b = PoolBuilder().host("xen1").host("xen2").host("xen3", live=False, enabled=False)
    b.vm("web01", "xen1").vm("app01", None).vm("app02", None).vm("spare01", None)
    return b


def test_locks_of_a_dead_host_are_cleared_behind_its_fence_then_the_vms_start():
    b = _pool()
    u1 = _disk(b, "app01", {"host_" + XEN3: "RW", "vhd-parent": "p"})
    u2 = _disk(b, "app02", {"host_" + XEN3: "RW", "activating": "True"})
    obs, _ = _observe(b)
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert "clear-vdi-locks:xen3" in ids and "start-vms" in ids
    assert ids.index("clear-vdi-locks:xen3") < ids.index("start-vms")
    clear = plan.step("clear-vdi-locks:xen3")
    assert clear.requires_fenced == ("xen3",) and plan.requires_fenced == ("xen3",)
    pre = {p.id for p in clear.preconditions}
    assert {"fenced:xen3", "silent:xen3", "is-master:xen1", "vms-halted"} <= pre
    assert clear.confirm.value == "f8" and clear.risk == "high"
    # the exact commands: sm's tool, and the raw key removals it stands for
    assert f"/opt/xensource/sm/resetvdis.py single {u1} --force   # sm's own tool, on the master" in clear.xe
    assert f"xe vdi-param-remove uuid={u1} param-name=sm-config param-key=host_{XEN3}" in clear.xe
    assert f"xe vdi-param-remove uuid={u2} param-name=sm-config param-key=activating" in clear.xe
    assert f"xe vdi-param-remove uuid={u1} param-name=sm-config param-key=activating" not in clear.xe
    assert clear.params["vdi_uuids"] == f"{u1},{u2}" and clear.params["host"] == "xen3"
    # the audit and the plan name the host, never its ref
    assert all(XEN3 not in c for c in clear.calls)
    start = plan.step("start-vms")
    assert sorted(start.params["vm_names"].split(",")) == ["app01", "app02"]  # not spare01
    assert "fenced:xen3" in {p.id for p in start.preconditions}
    # the fence gate holds even for a hand-built step that forgot it
    assert set(gate_ids(clear, Situation(obs))) == {"fenced:xen3", "silent:xen3"}


def test_a_lone_activating_key_or_a_forgotten_holder_gets_a_note_not_a_step():
    b = _pool()
    lone = _disk(b, "app01", {"activating": "True"})
    _disk(b, "app02", {"host_OpaqueRef:forgotten": "RW"})
    obs, findings = _observe(b)
    assert len([f for f in findings if f.code is Code.VDI_LOCKED]) == 2
    plan = build_plan(obs)
    assert not [s for s in plan.steps if s.kind in ("clear-vdi-locks", "start-vms")]
    text = " ".join(plan.notes)
    assert "app01" in text and "app02" in text and "does not start the VM" in text
    assert f"xe vdi-param-remove uuid={lone} param-name=sm-config param-key=activating" in text
    assert "param-key=host_OpaqueRef:forgotten" in text


def test_member_unreachable_says_what_is_observed_not_declared_dead():
    b = _pool()
    _disk(b, "app01", {"host_" + XEN3: "RW"})
    _, findings = _observe(b)
    (member,) = [f for f in findings if f.code is Code.MEMBER_UNREACHABLE]
    assert "declared dead" not in member.summary
    assert member.summary == "xen3 is down, disabled, no VMs marked running on it"
    assert "host-declare-dead did not run for it" in member.explanation
    assert member.data["declared_dead"] == "false"
    # without locks left, nothing says declare-dead was skipped (it may have run)
    b2 = _pool()
    _, findings2 = _observe(b2)
    (member2,) = [f for f in findings2 if f.code is Code.MEMBER_UNREACHABLE]
    assert "did not run" not in member2.explanation and "declared dead" not in member2.summary


def test_a_hand_built_step_without_the_fence_is_refused_live_and_changes_nothing(start_sim, tmp_path):
    """The executor adds the fence gate from the step's kind (fence_gate.py), whatever
    the declaration lists; with the attestation, the keys go and stay gone; a run
    interrupted before start-vms still starts the VMs on resume (its audit record)."""
    import dataclasses

    from xentui.recovery import run_record
    from xentui.recovery.audit import AuditLog
    from xentui.recovery.executor import PlanExecutor
    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import parse_target

    sim = start_sim("vdi-locked")
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=2.0, probe_timeout=0.5)
    try:
        plan = build_plan(observer.observe())
        step = plan.step("clear-vdi-locks:xen3")
        bare = dataclasses.replace(
            step, preconditions=tuple(p for p in step.preconditions if p.id == "is-master:xen1"), requires_fenced=()
        )
        executor = PlanExecutor(observer, AuditLog(tmp_path / "audit.jsonl"), time_scale=0.01)
        result = executor.run(bare)
        assert result.status == "refused" and "fenced:xen3" in result.detail
        with sim.world.lock:
            db = sim.proc("xen1").db
            locked = [r for r in db.records("VDI").values() if r["sm_config"]]
        assert len(locked) == 2
        executor.attest_fenced("xen3")
        done = executor.run(bare)
        assert done.status == "done", done.detail
        with sim.world.lock:
            assert not [r for r in sim.proc("xen1").db.records("VDI").values() if r["sm_config"]]
        assert executor.run(bare).status == "skipped"  # its effect is there: nothing to do again
        # interrupted here: no finding names the VMs any more, the run's record still does
        fresh = observer.observe()
        assert Code.VDI_LOCKED not in {f.code for f in fresh.findings}
        resumed = build_plan(fresh, run_record=run_record.from_records(executor.audit.records(), executor.run_id))
        start = resumed.step("start-vms")
        assert sorted(start.params["vm_names"].split(",")) == ["app01", "app02"]
        assert "fenced:xen3" in {p.id for p in start.preconditions}
    finally:
        observer.close()
