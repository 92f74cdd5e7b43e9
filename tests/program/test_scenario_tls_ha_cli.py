"""tls-verify-fail and ha-armed-mismatch end to end through `xentui recover
--run` (the CLI in-process against the simulator), to a pool verified healthy
through the real XenAPI SDK; and the refusal of re-enabling TLS verification
on a pool that never had it."""

from __future__ import annotations

import pytest

from tests.program.scenario_cli import (
    SCALE,
    cli_state_dir,  # noqa: F401 - autouse: xentui's state under tmp_path
    ran_steps,
    run_cli,
    run_cli_killed_at,
)
from tests.program.tls_ha_health import assert_ha_repaired, assert_pool_healthy, assert_tls_repaired, running_vms
from tests.recovery.test_recovery_scenarios import start_sim


@pytest.mark.parametrize("console", ["xen2", "xen1", "xen3"])
def test_tls_verify_fail_recovered_by_recover_run(tmp_path, capsys, console):
    """From the member's console (the scenario's), the coordinator's and another member's."""
    sim_dir = tmp_path / "sim"
    with start_sim("tls-verify-fail", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        assert sim.proc("xen2").emergency
        code, out = run_cli(capsys, f"sim:{sim_dir}/{console}")
        assert code == 0, out
        steps = ran_steps(out)
        assert steps[:3] == ["tls-disable:xen2", "tls-refresh-certificate:xen1", "tls-reenable:xen2"], out
        assert "recover-members" not in out and "reset-master" not in out, out
        assert "Pool verified healthy" in out, out
        assert_pool_healthy(sim, "xen1", before)
        assert_tls_repaired(sim, "xen1")


def test_ha_armed_mismatch_recovered_by_recover_run(tmp_path, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("ha-armed-mismatch", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        code, out = run_cli(capsys, f"sim:{sim_dir}")
        assert code == 0, out
        steps = ran_steps(out)
        assert steps[:4] == ["pool-ha-disable", "member-restart:xen3", "enable-ha", "check-coordinator:xen1"], out
        assert "recover-members" not in out and "reset-master" not in out, out
        assert "Pool verified healthy" in out, out
        assert_pool_healthy(sim, "xen1", before)
        assert_ha_repaired(sim, "xen1")


def test_reenable_tls_on_a_pool_that_never_had_it_is_refused(tmp_path, capsys):
    """xapi 24.19 (modelled) accepts host.emergency_reenable_tls_verification on a
    pool with pool.tls_verification_enabled = false (the refusal
    TLS_VERIFICATION_NOT_ENABLED_IN_POOL came in 25.10) and the host then loses
    its coordinator: the step refuses before calling, and nothing changes."""
    from xentui.recovery.audit import AuditLog
    from xentui.recovery.executor import PlanExecutor
    from xentui.recovery.observer import Observer
    from xentui.recovery.plan_builder import build_plan
    from xentui.xapi.targets import parse_target

    sim_dir = tmp_path / "sim"
    with start_sim("tls-verify-fail", state_dir=sim_dir, time_scale=SCALE) as sim:
        observer = Observer(parse_target(f"sim:{sim_dir}/xen1"), call_timeout=2.0, probe_timeout=0.5)
        try:
            plan = build_plan(observer.observe())
            reenable = next(s for s in plan.steps if s.kind == "tls-reenable")
            with sim.world.lock:
                sim.apply_step(["tls_never_enabled"])
            audit = AuditLog(tmp_path / "audit.jsonl")
            result = PlanExecutor(observer, audit, time_scale=SCALE).run(reenable)
        finally:
            observer.close()
        assert result.status == "refused", result
        assert "pool-verifies-tls" in result.detail and "TLS_VERIFICATION_NOT_ENABLED_IN_POOL" in result.detail
        assert not [r for r in audit.records() if r.kind == "call"]
        assert sim.proc("xen2").tls_verification is False


def test_ha_armed_mismatch_recovered_from_the_stuck_members_console(tmp_path, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("ha-armed-mismatch", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        code, out = run_cli(capsys, f"sim:{sim_dir}/xen3")
        assert code == 0, out
        assert "[>] Turn HA off for the pool  (pool-ha-disable)" in out, out
        assert_pool_healthy(sim, "xen1", before)
        assert_ha_repaired(sim, "xen1")


def test_expired_coordinator_certificate_every_member_repaired(tmp_path, capsys):
    """The coordinator's certificate expired: every member restarts into the verify
    error ('certificate has expired'). The refresh is refused while any of them is
    in emergency mode (the distribution's calls meet its error), so each one's
    verification is turned off first, then the one refresh, then each back on."""
    from tests.sim.sessions import wait_until

    sim_dir = tmp_path / "sim"
    with start_sim("healthy", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        with sim.world.lock:
            # a pool that enabled verification (pool-enable-tls-verification), as tls-verify-fail's
            db = sim.proc("xen1").db
            for table in ("pool", "host"):
                for ref in db.refs(table):
                    db.set_field(table, ref, "tls_verification_enabled", True)
            sim.apply_step(["expire_certificate", "xen1"])
        members = [ep.name for ep in sim.endpoints.hosts if ep.name != "xen1"]
        wait_until(lambda: all(sim.proc(m).emergency for m in members), 10, what="members meeting the expired cert")
        code, out = run_cli(capsys, f"sim:{sim_dir}/xen1")
        assert code == 0, out
        assert "certificate has expired" in out, out
        steps = ran_steps(out)
        expected = [f"tls-disable:{m}" for m in members] + ["tls-refresh-certificate:xen1"]
        expected += [f"tls-reenable:{m}" for m in members]
        assert steps[: len(expected)] == expected, out
        assert not sim.proc("xen1").tls.internal.expired
        assert_pool_healthy(sim, "xen1", before)
        assert_tls_repaired(sim, "xen1")


def test_ha_armed_mismatch_run_killed_before_ha_is_back_resumes_and_re_enables(tmp_path, capsys, monkeypatch):
    """Killed after pool-ha-disable (the member has rejoined, the mismatch is gone
    from the pool): the same command resumes and still turns HA back on."""
    from xentui.recovery.steps import enable_ha

    sim_dir = tmp_path / "sim"
    with start_sim("ha-armed-mismatch", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        run_cli_killed_at(capsys, monkeypatch, enable_ha, "heartbeat_srs", f"sim:{sim_dir}")
        assert not sim.proc("xen3").emergency and sim.proc("xen1").db is not None
        code, out = run_cli(capsys, f"sim:{sim_dir}")
        assert code == 0, out
        assert "(resuming)" in out and "[>] Re-enable HA  (enable-ha)" in out, out
        assert_pool_healthy(sim, "xen1", before)
        assert_ha_repaired(sim, "xen1")


def test_tls_run_killed_with_verification_off_resumes_and_turns_it_back_on(tmp_path, capsys, monkeypatch):
    """Killed in the middle of the certificate repair: xen2 has rejoined with
    verification off, so it no longer reports the verify error. The same
    command resumes from the pool's state (TLS_VERIFY_OFF: host off, pool on),
    renews the certificate again (this run did not finish it) and turns
    verification back on; the pool is not called healthy before that."""
    from xentui.recovery.steps import tls_refresh_certificate

    sim_dir = tmp_path / "sim"
    with start_sim("tls-verify-fail", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        run_cli_killed_at(capsys, monkeypatch, tls_refresh_certificate, "member_back", f"sim:{sim_dir}/xen2")
        assert not sim.proc("xen2").emergency and sim.proc("xen2").tls_verification is False
        code, out = run_cli(capsys, f"sim:{sim_dir}/xen2")
        assert code == 0, out
        assert "(resuming)" in out and "TLS_VERIFY_OFF" in out, out
        assert "[>] Turn certificate verification back on on xen2  (tls-reenable:xen2)" in out, out
        assert_pool_healthy(sim, "xen1", before)
        assert_tls_repaired(sim, "xen1")
