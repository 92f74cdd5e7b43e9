"""Issue 13 items 5 and 6: the plan's steps for dead host records and a
reinstalled host, their live checks and xapi's refusals, against the simulator.

xapi sources: xapi_host.ml destroy (HOST_IS_LIVE, HA_IS_ENABLED,
HOST_HAS_RESIDENT_VMS), xapi_pool_transition.ml attempt_two_phase_commit_of_new_master
(phase 1 asks every host in the database), xapi_pool.ml pre_join_checks.
"""

from __future__ import annotations

import pytest

from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.sessions import differ_for_join
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.step_context import StepContext
from xentui.recovery.step_registry import step_kind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.targets import parse_target

SCALE = 0.01


def connect(sim, state_dir, console, tmp_path):
    observer = Observer(
        parse_target(f"sim:{state_dir}/{console}"),
        password=sim.endpoints.root_password,
        call_timeout=2.0,
        connect_timeout=2.0,
        probe_timeout=0.5,
    )
    executor = PlanExecutor(observer, AuditLog(tmp_path / "audit.jsonl"), time_scale=SCALE)
    return observer, executor


def run(executor, step):
    return executor.run(step, progress=lambda update: None)


def host_names(sim, console):
    with sim.world.lock:
        db = sim.world.procs[console].db
        return sorted(rec["name_label"] for rec in db.records("host").values())


def test_forget_a_live_host_is_refused_by_the_check_and_by_xapi(tmp_path):
    with start_sim("designate-dead-record", tmp_path / "sim", SCALE) as sim:
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            obs = observer.observe()
            snap = obs.snapshot
            forget = step_kind("forget-host")(snap.host_by_name("xen3"), snap.host_by_name("xen2"))
            executor.attest_fenced("xen3")
            result = run(executor, forget)
            assert result.status == "refused" and "silent:xen3" in result.detail, result.detail
            # Past the check, xapi itself refuses: precheck_destroy_declare_dead.
            ctx = StepContext(forget, obs, lambda update: None, None, "", open_client=executor.client_for)
            kind = step_kind("forget-host")
            try:
                assert kind.already_done(executor, ctx) == ""
                with pytest.raises(XapiFailure) as info:
                    kind.action(executor, ctx)
            finally:
                ctx.close()
            assert info.value.code == "HOST_IS_LIVE"
            assert host_names(sim, "xen2") == ["xen1", "xen2", "xen3"]
        finally:
            observer.close()


def test_designate_with_a_dead_record_left_is_refused(tmp_path):
    with start_sim("designate-dead-record", tmp_path / "sim", SCALE) as sim:
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            snap = observer.observe().snapshot
            hosts = [snap.host_by_name(n) for n in ("xen1", "xen2")]
            designate = step_kind("designate-master")(snap.host_by_name("xen3"), hosts)
            result = run(executor, designate)
            assert result.status == "refused", result.detail
            assert "all-hosts-live: down: xen1" in result.detail and "answers:xen1" in result.detail
            assert sim.world.procs["xen2"].role == "master"
            # The plan forgets it first, and the designate step no longer waits for it.
            plan = build_plan(observer.observe(), preferred_master="xen3")
            ids = [s.id for s in plan.steps]
            assert ids.index("forget-host:xen1") < ids.index("designate-master:xen3")
            checks = [p.id for p in plan.step("designate-master:xen3").preconditions]
            assert "all-hosts-live" in checks and "ha-off" in checks and "answers:xen1" not in checks
            forget = plan.step("forget-host:xen1")
            assert forget.confirm.value == "typed-host-name" and forget.requires_fenced == ("xen1",)
            assert forget.xe == (f"xe host-forget uuid={snap.host_by_name('xen1').uuid} --force",)
        finally:
            observer.close()


def test_resident_vms_are_declared_dead_before_the_forget(tmp_path):
    """host.destroy refuses with HOST_HAS_RESIDENT_VMS: the plan declares the host
    dead first, and the forget's own check says so if run out of order."""
    with start_sim("designate-dead-record", tmp_path / "sim", SCALE) as sim:
        with sim.world.lock:
            db = sim.world.procs["xen2"].db
            xen1 = db.by_name_label("host", "xen1")[0]
            spare = db.by_name_label("VM", "spare01")[0]
            db.update("VM", spare, power_state="Running", resident_on=xen1)
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = build_plan(observer.observe(), preferred_master="xen3")
            ids = [s.id for s in plan.steps]
            assert ids.index("declare-dead:xen1") < ids.index("forget-host:xen1"), ids
            executor.attest_fenced("xen1")
            result = run(executor, plan.step("forget-host:xen1"))
            assert result.status == "refused" and "no-resident-vms:xen1" in result.detail, result.detail
            assert "spare01" in result.detail
            assert run(executor, plan.step("declare-dead:xen1")).status == "done"
            assert run(executor, plan.step("forget-host:xen1")).status == "done"
            assert host_names(sim, "xen2") == ["xen2", "xen3"]
        finally:
            observer.close()


def _rebuilt_plan(observer):
    plan = build_plan(observer.observe())
    assert "TWO_MASTERS" not in plan.finding_codes and "HOST_REBUILT" in plan.finding_codes
    return plan


def test_rebuilt_host_is_not_taken_for_a_second_master(tmp_path):
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        observer, _ = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = _rebuilt_plan(observer)
            kinds = [s.kind for s in plan.now_steps]
            assert "demote-master" not in kinds and "declare-dead" not in kinds
            forget = plan.step("forget-host:xen1")
            assert forget.requires_fenced == () and forget.confirm.value == "typed-host-name"
            join = plan.step("pool-join:xen1")
            assert "<password>" in join.xe[0] and sim.endpoints.root_password not in str(plan.to_json())
            assert join.params["host_uuid"] == sim.world.procs["xen1"].machine.uuid
        finally:
            observer.close()


@pytest.mark.parametrize(
    "change, code, fix",
    [
        ("tls", "POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH", "pool-enable-tls-verification"),
        ("vlan", "POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH", "management interface onto the pool's VLAN"),
        ("xapi", "POOL_HOSTS_NOT_HOMOGENEOUS", "Install the same version"),
        ("schema", "POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA", "Install the pool's release"),
    ],
)
def test_join_refusals_stop_with_the_fix(tmp_path, change, code, fix):
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        if change != "tls":
            differ_for_join(sim, "xen1", change)
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = _rebuilt_plan(observer)
            assert run(executor, plan.step("forget-host:xen1")).status == "done"
            if change != "tls":
                assert run(executor, plan.step("pool-enable-tls:xen2")).status == "done"
            result = run(executor, plan.step("pool-join:xen1"))
            assert result.status == "failed" and code in result.detail and fix in result.detail, result.detail
            assert "\n" not in result.detail and sim.endpoints.root_password not in result.detail
            assert sim.world.procs["xen1"].role == "master"  # the join changed nothing
            assert host_names(sim, "xen2") == ["xen2", "xen3"]
        finally:
            observer.close()


def test_join_without_a_password_stops_clearly(tmp_path):
    """A local-socket console has no password to hand pool.join: one clear line."""
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = _rebuilt_plan(observer)
            for step_id in ("forget-host:xen1", "pool-enable-tls:xen2"):
                assert run(executor, plan.step(step_id)).status == "done"
            observer.set_password(None)
            result = run(executor, plan.step("pool-join:xen1"))
            assert result.status == "failed" and "needs the pool's root password" in result.detail
            assert "xe pool-join master-address=" in result.detail
        finally:
            observer.close()


def test_on_the_rebuilt_host_itself_the_plan_says_where_to_run(tmp_path):
    """The fresh install knows nothing of the pool it left: the note sends the
    admin to the master, where HOST_REBUILT is planned."""
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        observer, _ = connect(sim, tmp_path / "sim", "xen1", tmp_path)
        try:
            plan = build_plan(observer.observe())
            assert any("reinstalled former pool member" in n and "master" in n for n in plan.notes), plan.notes
            assert not any(s.kind in ("forget-host", "pool-join") for s in plan.steps)
        finally:
            observer.close()
        observer, _ = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            assert not any("reinstalled former" in n for n in build_plan(observer.observe()).notes)
        finally:
            observer.close()


def test_a_san_that_admits_neither_name_stops_with_the_acl_fix(tmp_path):
    """SR_BACKEND_FAILURE_47 even with the old initiator name back: the step
    stops and says to add the host's name to the SAN's access list."""
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = _rebuilt_plan(observer)
            old_iqn = plan.step("restore-iqn:xen1").params["iscsi_iqn"]
            for step_id in ("forget-host:xen1", "pool-enable-tls:xen2", "pool-join:xen1"):
                assert run(executor, plan.step(step_id)).status == "done", step_id
            with sim.world.lock:
                sim.world.san_initiators.discard(old_iqn)
            result = run(executor, plan.step("restore-iqn:xen1"))
            assert result.status == "failed", result.detail
            assert "SR_BACKEND_FAILURE_47" in result.detail and "SAN's access list" in result.detail
        finally:
            observer.close()


def test_tls_is_switched_on_on_the_side_that_does_not_verify(tmp_path):
    """assert_tls_verification_matches compares the two pools' flags: when the
    pool verifies and the reinstall does not, the reinstall's own pool is switched on."""
    with start_sim("rejoin-rebuilt", tmp_path / "sim", SCALE) as sim:
        with sim.world.lock:
            for name, on in (("xen1", False), ("xen2", True)):
                db = sim.world.procs[name].db
                for pool in db.refs("pool"):
                    db.set_field("pool", pool, "tls_verification_enabled", on)
            sim.world.procs["xen1"].tls_verification = False
        observer, executor = connect(sim, tmp_path / "sim", "xen2", tmp_path)
        try:
            plan = _rebuilt_plan(observer)
            kinds = [s.id for s in plan.now_steps if s.kind in ("pool-enable-tls", "pool-join")]
            assert kinds == ["pool-enable-tls:xen1", "pool-join:xen1"], kinds
            for step_id in ("forget-host:xen1", "pool-enable-tls:xen1", "pool-join:xen1"):
                result = run(executor, plan.step(step_id))
                assert result.status == "done", (step_id, result.detail)
        finally:
            observer.close()
