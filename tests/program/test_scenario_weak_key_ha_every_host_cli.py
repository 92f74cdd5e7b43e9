"""Issue 13 items 1-2, round 2, end to end through `xentui recover --run`
against the simulator, checked through the real XenAPI SDK:

- tls-weak-key: the coordinator's pool certificate has a 1024-bit key; the
  members reject it with OpenSSL's "EE certificate key too weak". The fix is a
  new pool certificate (host.refresh_server_certificate: cert_refresh.ml, a
  2048-bit Selfcert.xapi_pool), not host.emergency_reset_server_certificate,
  which renews xapi-ssl.pem only (xapi_host.ml; members verify
  xapi-pool-tls.pem through SNI "pool": xapi_stunnel_server.ml).
- ha-mismatch-no-statefile: HA disarmed on a member while the pool has it on,
  and the coordinator itself waits in the HA start-up loop (no statefile), so
  pool.disable_ha cannot run: host.emergency_ha_disable on every host's own
  xapi (xapi_ha.ml emergency_ha_disable; soft=true on the disarmed member)."""

from __future__ import annotations

import pytest

from tests.program.scenario_cli import (
    SCALE,
    cli_state_dir,  # noqa: F401 - autouse: xentui's state under tmp_path
    ran_steps,
    run_cli,
    run_cli_killed_at,
)
from tests.program.tls_ha_health import assert_pool_healthy, assert_tls_repaired, running_vms
from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.sessions import make_tcp_session
from xentui.sim import tls_state


@pytest.mark.parametrize("console", ["xen2", "xen1"])
def test_weak_coordinator_key_recovered_by_recover_run(tmp_path, capsys, console):
    sim_dir = tmp_path / "sim"
    with start_sim("tls-weak-key", state_dir=sim_dir, time_scale=SCALE) as sim:
        before = running_vms(sim, "xen1")
        assert sim.proc("xen1").tls.internal.key_bits == 1024
        code, out = run_cli(capsys, f"sim:{sim_dir}/{console}")
        assert code == 0, out
        assert "rejects xen1's pool certificate: its key is too weak (stunnel: EE certificate key too weak)" in out
        expected = ["tls-disable:xen2", "tls-disable:xen3", "tls-refresh-certificate:xen1"]
        expected += ["tls-reenable:xen2", "tls-reenable:xen3"]
        assert ran_steps(out)[:5] == expected, out
        assert "host.emergency_reset_server_certificate" not in out, out
        assert "Pool verified healthy" in out, out
        assert sim.proc("xen1").tls.internal.key_bits == tls_state.GENERATED_KEY_BITS
        assert_pool_healthy(sim, "xen1", before)
        assert_tls_repaired(sim, "xen1")


@pytest.mark.parametrize("console", ["xen1", "xen2"])
def test_ha_mismatch_without_statefile_disarmed_on_every_host(tmp_path, capsys, console):
    sim_dir = tmp_path / "sim"
    with start_sim("ha-mismatch-no-statefile", state_dir=sim_dir, time_scale=SCALE) as sim:
        assert sim.proc("xen1").emergency and sim.proc("xen3").emergency
        code, out = run_cli(capsys, f"sim:{sim_dir}/{console}")
        assert code == 0, out
        expected = [f"ha-emergency-disable:{h}" for h in ("xen1", "xen2", "xen3")]
        expected += ["member-restart:xen3", "check-coordinator:xen1"]
        assert ran_steps(out)[:5] == expected, out
        assert "pool-ha-disable" not in out and "enable-ha" not in out, out
        assert "Pool verified healthy" in out, out
        ran = running_vms(sim, "xen1")
        assert {"web01", "db01", "app01"} <= set(ran), ran  # what ran before the incident
        assert_pool_healthy(sim, "xen1", ran)
        ep = sim.endpoints.host("xen1")
        s = make_tcp_session(ep.address, ep.port)
        s.xenapi.login_with_password("root", sim.endpoints.root_password, "1.0", "xentui-test")
        try:
            assert s.xenapi.pool.get_ha_enabled(s.xenapi.pool.get_all()[0]) is False
        finally:
            s.xenapi.session.logout()
        assert not any(sim.proc(h).ha_armed for h in ("xen1", "xen2", "xen3"))


def test_every_host_run_killed_after_the_disarms_resumes_without_re_enabling_ha(tmp_path, capsys, monkeypatch):
    """Killed once every host is disarmed: the coordinator answers again with pool
    HA off, the stuck member may still report the mismatch. The same command
    resumes, does not try pool.enable_ha (its statefile is still unreachable)
    and ends healthy."""
    from xentui.recovery.steps import member_restart

    sim_dir = tmp_path / "sim"
    with start_sim("ha-mismatch-no-statefile", state_dir=sim_dir, time_scale=SCALE) as sim:
        run_cli_killed_at(capsys, monkeypatch, member_restart, "member_back", f"sim:{sim_dir}/xen2")
        assert not sim.proc("xen1").emergency and not sim.proc("xen1").ha_armed
        code, out = run_cli(capsys, f"sim:{sim_dir}/xen2")
        assert code == 0, out
        assert "(resuming)" in out and "enable-ha" not in ran_steps(out), out
        assert "Pool verified healthy" in out, out
        ran = running_vms(sim, "xen1")
        assert {"web01", "db01", "app01"} <= set(ran), ran
        assert_pool_healthy(sim, "xen1", ran)
