"""What 'healthy' means after the tls-verify-fail and ha-armed-mismatch repairs,
checked through the real XenAPI SDK (and the simulator's ground truth for the
local flags xapi keeps outside its database)."""

from __future__ import annotations

from typing import Dict

from tests.sim.sessions import make_tcp_session, make_unix_session
from xentui.sim import tls_state


def running_vms(sim, master: str) -> Dict[str, str]:
    """name -> uuid of the guest VMs running now, as the SDK sees them on `master`."""
    s = _login(sim, master)
    try:
        return {
            r["name_label"]: r["uuid"]
            for r in s.xenapi.VM.get_all_records().values()
            if not r["is_a_template"] and not r["is_control_domain"] and r["power_state"] == "Running"
        }
    finally:
        s.xenapi.session.logout()


def _login(sim, host: str):
    ep = sim.endpoints.host(host)
    s = make_tcp_session(ep.address, ep.port)
    s.xenapi.login_with_password("root", sim.endpoints.root_password, "1.0", "xentui-test")
    return s


def assert_pool_healthy(sim, master: str, ran_before: Dict[str, str]) -> None:
    """Every host live and enabled, one master, nobody in emergency mode, the
    VMs that ran before running."""
    s = _login(sim, master)
    try:
        x = s.xenapi
        pool = x.pool.get_all()[0]
        assert x.host.get_name_label(x.pool.get_master(pool)) == master
        for rec in x.host.get_all_records().values():
            assert rec["enabled"] is True, rec["name_label"]
            assert x.host_metrics.get_live(rec["metrics"]) is True, rec["name_label"]
        running = {r["uuid"] for r in x.VM.get_all_records().values() if r["power_state"] == "Running"}
        assert set(ran_before.values()) <= running, ran_before
    finally:
        x.session.logout()
    for ep in sim.endpoints.hosts:
        local = make_unix_session(ep.socket)
        local.xenapi.login_with_password("root", sim.endpoints.root_password, "1.0", "xentui-test")
        try:
            assert local.xenapi.host.is_in_emergency_mode() is False, ep.name
        finally:
            local.xenapi.session.logout()
    assert sim.world.double_starts == []


def assert_tls_repaired(sim, master: str) -> None:
    """Every host verifies again (its database flag and its local one) and what it
    verifies passes."""
    s = _login(sim, master)
    try:
        x = s.xenapi
        assert x.pool.get_tls_verification_enabled(x.pool.get_all()[0]) is True
        for rec in x.host.get_all_records().values():
            assert rec["tls_verification_enabled"] is True, rec["name_label"]
    finally:
        x.session.logout()
    coordinator = sim.proc(master)
    for ep in sim.endpoints.hosts:
        proc = sim.proc(ep.name)
        assert proc.tls_verification is True, ep.name
        if ep.name != master:
            assert tls_state.verify_failure(proc.tls, True, coordinator.tls) is None, ep.name


def assert_ha_repaired(sim, master: str) -> None:
    """HA on again for the pool, and armed on every host."""
    s = _login(sim, master)
    try:
        assert s.xenapi.pool.get_ha_enabled(s.xenapi.pool.get_all()[0]) is True
    finally:
        s.xenapi.session.logout()
    for ep in sim.endpoints.hosts:
        assert sim.proc(ep.name).ha_armed is True, ep.name
