"""Findings and plans for tls-verify-fail and ha-armed-mismatch, from each
host's console: the member's own cause is named, nobody is called an orphan,
'recover slaves' is never the fix, and each step carries its xe command,
confirmation and live checks; the steps refuse what they must."""

from __future__ import annotations

import dataclasses

import pytest

from tests.recovery.test_recovery_scenarios import observe, start_sim
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.recovery.plan import Confirm
from xentui.recovery.plan_builder import build_plan
from xentui.xapi.targets import parse_target

SCALE = 0.01
TLS_STEPS = ["tls-disable:xen2", "tls-refresh-certificate:xen1", "tls-reenable:xen2"]
HA_STEPS = ["pool-ha-disable", "member-restart:xen3", "enable-ha", "check-coordinator:xen1"]


def codes(obs):
    return {f.code for f in obs.findings}


@pytest.mark.parametrize("console", ["xen1", "xen2", "xen3"])
def test_tls_verify_fail_is_named_from_every_console(tmp_path, console):
    with start_sim("tls-verify-fail", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    found = [f for f in obs.findings if f.code is Code.TLS_VERIFY_FAILED]
    assert [f.host for f in found] == ["xen2"], obs.findings
    assert "certificate verification failed" in found[0].summary
    assert "self signed certificate" in found[0].summary
    assert Code.ORPHANED_MEMBER not in codes(obs)
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert ids[:3] == TLS_STEPS, ids
    assert not any(s.kind in ("recover-members", "reset-master") for s in plan.steps), ids
    steps = {s.id: s for s in plan.steps}
    assert steps["tls-disable:xen2"].xe == ("xe host-emergency-disable-tls-verification   # on xen2's console",)
    assert steps["tls-disable:xen2"].confirm is Confirm.F8
    assert steps["tls-refresh-certificate:xen1"].xe[0].startswith("xe host-refresh-server-certificate host=")
    checks = {p.id for p in steps["tls-refresh-certificate:xen1"].preconditions}
    assert {"is-master:xen1", "out-of-emergency:xen2"} <= checks
    assert "pool-verifies-tls" in {p.id for p in steps["tls-reenable:xen2"].preconditions}


@pytest.mark.parametrize("console", ["xen1", "xen3"])
def test_ha_armed_mismatch_is_named_and_never_sent_to_recover_slaves(tmp_path, console):
    with start_sim("ha-armed-mismatch", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    found = [f for f in obs.findings if f.code is Code.HA_ARMED_MISMATCH]
    assert [f.host for f in found] == ["xen3"], obs.findings
    assert "'recover slaves' does not help" in found[0].explanation
    assert Code.ORPHANED_MEMBER not in codes(obs)
    # xen3 is disarmed: "HA is armed" would be false there
    assert Code.HA_ARMED not in codes(obs)
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert ids[:4] == HA_STEPS, ids
    assert not any(s.kind in ("recover-members", "reset-master") for s in plan.steps), ids
    steps = {s.id: s for s in plan.steps}
    assert steps["pool-ha-disable"].xe == ("xe pool-ha-disable   # on the coordinator",)
    assert steps["pool-ha-disable"].confirm is Confirm.F8
    assert steps["enable-ha"].phase == "now"


def _executor(tmp_path, target):
    observer = Observer(parse_target(target), call_timeout=2.0, probe_timeout=0.5)
    return observer, AuditLog(tmp_path / "audit.jsonl")


def test_member_restart_refuses_while_the_pool_still_has_ha(tmp_path):
    """Run out of order (before pool-ha-disable) it checks pool.ha_enabled live on
    the coordinator and stops: the member would restart into the same error."""
    with start_sim("ha-armed-mismatch", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        observer, audit = _executor(tmp_path, f"sim:{tmp_path / 'sim'}/xen3")
        try:
            plan = build_plan(observer.observe())
            step = next(s for s in plan.steps if s.kind == "member-restart")
            result = PlanExecutor(observer, audit, time_scale=SCALE).run(step)
        finally:
            observer.close()
        assert result.status == "failed" and "HA is still enabled" in result.detail, result
        assert sim.proc("xen3").emergency


def test_certificate_refresh_refused_while_the_member_is_in_emergency_mode(tmp_path):
    """Run before the member rejoined, the live check refuses it (xapi would answer
    the member's stored error from the certificate distribution)."""
    with start_sim("tls-verify-fail", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        observer, audit = _executor(tmp_path, f"sim:{tmp_path / 'sim'}/xen1")
        try:
            plan = build_plan(observer.observe())
            step = next(s for s in plan.steps if s.kind == "tls-refresh-certificate")
            old = sim.proc("xen1").tls.internal.fingerprint
            result = PlanExecutor(observer, audit, time_scale=SCALE).run(step)
        finally:
            observer.close()
        assert result.status == "refused" and "out-of-emergency:xen2" in result.detail, result
        assert not [r for r in audit.records() if r.kind == "call"]
        assert sim.proc("xen1").tls.internal.fingerprint == old


def test_reenable_refuses_on_its_own_live_read(tmp_path):
    """Besides its precondition (read from whatever copy of the database the
    console has: the member's own may be stale), the step re-reads
    pool.tls_verification_enabled on the coordinator before calling; shown here
    with the precondition taken out."""
    with start_sim("tls-verify-fail", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        observer, audit = _executor(tmp_path, f"sim:{tmp_path / 'sim'}/xen2")
        try:
            plan = build_plan(observer.observe())
            step = next(s for s in plan.steps if s.kind == "tls-reenable")
            step = dataclasses.replace(step, preconditions=())
            with sim.world.lock:
                db = sim.proc("xen1").db
                for pool in db.refs("pool"):
                    db.set_field("pool", pool, "tls_verification_enabled", False)
            executor = PlanExecutor(observer, audit, time_scale=SCALE)
            result = executor.run(step)
        finally:
            observer.close()
        assert result.status == "failed" and result.detail.startswith("refused:"), result
        assert "TLS_VERIFICATION_NOT_ENABLED_IN_POOL" in result.detail, result
        methods = [r.inputs.get("method") for r in audit.records() if r.kind == "call"]
        assert "host.emergency_reenable_tls_verification" not in methods


def test_verification_left_off_is_a_finding_with_its_repair(tmp_path):
    """host.tls_verification_enabled = false under a pool that verifies (what
    xapi_host.ml emergency_disable_tls_verification leaves): not healthy; the
    plan renews the certificate and turns verification back on."""
    from tests.sim.sessions import make_unix_session, wait_until

    with start_sim("tls-verify-fail", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        s = make_unix_session(sim.endpoints.host("xen2").socket)
        s.slave_local_login_with_password("root", "")
        s.xenapi.host.emergency_disable_tls_verification()
        wait_until(lambda: not sim.proc("xen2").emergency, 10, what="xen2 rejoining")
        obs = observe(f"{tmp_path / 'sim'}/xen1")
    off = [f for f in obs.findings if f.code is Code.TLS_VERIFY_OFF]
    assert [f.host for f in off] == ["xen2"], obs.findings
    assert Code.TLS_VERIFY_FAILED not in codes(obs) and Code.POOL_HEALTHY not in codes(obs)
    ids = [s.id for s in build_plan(obs).steps]
    assert ids[:2] == ["tls-refresh-certificate:xen1", "tls-reenable:xen2"], ids
