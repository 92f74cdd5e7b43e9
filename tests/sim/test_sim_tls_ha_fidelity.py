"""What the tls-verify-fail and ha-armed-mismatch repairs rely on, as xapi 24.19
(the version the simulator models; tag v24.19.2, ocaml/) does it, through the
real XenAPI SDK. Each test names the source file and function it follows."""

from __future__ import annotations

from tests.sim.sessions import failure, local, login, wait_until
from xentui.sim import tls_state


def host_ref(s, name):
    return s.xenapi.host.get_by_name_label(name)[0]


def test_pool_certificate_sync_does_not_rebuild_an_empty_pool_bundle(start_sim):
    """certificates.ml pool_sync (24.19): sync_all_hosts -> Host.certificate_sync =
    local_sync = c_rehash of /etc/stunnel/certs and the CRL dir; then only CA
    certificates are synced. The pool bundle (update-ca-bundle.sh, from
    /etc/stunnel/certs-pool) is rebuilt only from 26.13 (Cert_distrib.copy_certs_to_all)."""
    sim = start_sim("tls-verify-fail")
    local(sim, "xen2").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not sim.proc("xen2").emergency, 10, what="xen2 rejoining")
    master = login(sim, "xen1")
    master.xenapi.pool.certificate_sync()
    master.xenapi.host.certificate_sync(host_ref(master, "xen2"))
    assert sim.proc("xen2").tls.bundle == set()


def test_refresh_server_certificate_rebuilds_every_bundle(start_sim):
    """cert_refresh.ml host -> Cert_distrib.distribute_new_host_cert: the new
    certificate into every host's certs-pool, remote_regen_bundle on every host;
    remove_stale_cert on the others (message_forwarding.ml refresh_server_certificate)."""
    sim = start_sim("tls-verify-fail")
    local(sim, "xen2").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not sim.proc("xen2").emergency, 10, what="xen2 rejoining")
    master = login(sim, "xen1")
    old = sim.proc("xen1").tls.internal.fingerprint
    master.xenapi.host.refresh_server_certificate(host_ref(master, "xen1"))
    new = sim.proc("xen1").tls.internal
    assert new.fingerprint != old and new.key_bits == tls_state.GENERATED_KEY_BITS and not new.expired
    for name in ("xen1", "xen2", "xen3"):
        bundle = sim.proc(name).tls.bundle
        assert new.fingerprint in bundle and old not in bundle, name
    assert tls_state.verify_failure(sim.proc("xen2").tls, True, sim.proc("xen1").tls) is None


def test_refresh_server_certificate_meets_an_emergency_member(start_sim):
    """cert_distrib.ml distribute_new_host_cert calls Worker.remote_write_certs_fs
    on every host, an ordinary call: a member in emergency mode answers its stored
    error (api_server.ml callback1), before cert_refresh.ml renames the new
    certificate into place: nothing changes."""
    sim = start_sim("tls-verify-fail")
    master = login(sim, "xen1")
    old = sim.proc("xen1").tls.internal.fingerprint
    details = failure(master.xenapi.host.refresh_server_certificate, host_ref(master, "xen1"))
    assert details == sim.proc("xen2").emergency_error.details
    assert details[0] == "INTERNAL_ERROR" and "Stunnel_verify_error" in details[1]
    assert sim.proc("xen1").tls.internal.fingerprint == old


def test_disabling_verification_lets_the_member_rejoin_without_a_restart(start_sim):
    """xapi.ml attempt_host_status_check_with_coordinator: the verify error is a
    Temporary one, retried every 5 s; xapi_host.ml emergency_disable_tls_verification
    (an emergency call, datamodel.ml emergency_calls) turns verification off, so the
    next hello gets through: no restart."""
    sim = start_sim("tls-verify-fail")
    xen2 = sim.proc("xen2")
    starts = xen2.starts
    local(sim, "xen2").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not xen2.emergency, 10, what="xen2 rejoining")
    assert xen2.starts == starts


def test_restart_agent_is_not_an_emergency_call(start_sim):
    """datamodel.ml emergency_calls has no host.restart_agent: a member in emergency
    mode answers it with its stored error (api_server.ml callback1)."""
    sim = start_sim("ha-armed-mismatch")
    xen3 = local(sim, "xen3")
    assert failure(xen3.xenapi.host.restart_agent, "OpaqueRef:any") == ["HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"]


def test_ha_mismatch_member_rejoins_at_its_own_restart_once_the_pool_disables_ha(start_sim):
    """xapi.ml server_run_in_emergency_mode: exit after emergency_reboot_delay_base
    + Random(emergency_reboot_delay_extra) (xapi_globs.ml: 60 + 120 s); at the next
    start resynchronise_ha_state finds (false, false) once xapi_ha.ml disable has
    set pool.ha_enabled false, and the member rejoins with nobody restarting it."""
    sim = start_sim("ha-armed-mismatch")
    xen3 = sim.proc("xen3")
    starts = xen3.starts
    master = login(sim, "xen1")
    master.xenapi.pool.disable_ha()
    assert master.xenapi.pool.get_ha_enabled(master.xenapi.pool.get_all()[0]) is False
    wait_until(lambda: not xen3.emergency and xen3.starts > starts, 10, what="xen3's own restart and rejoin")
    wait_until(
        lambda: master.xenapi.host.get_enabled(host_ref(master, "xen3")), 10, what="xen3 enabled after its start-up"
    )


def test_emergency_reenable_needs_the_coordinators_database(start_sim):
    """xapi_host.ml emergency_reenable_tls_verification (24.19): the local flag,
    then Db.Host.set_tls_verification_enabled with no `try` (the disable has one):
    the call fails when the database cannot be reached, the local change made."""
    sim = start_sim("tls-verify-fail")
    xen2 = sim.proc("xen2")
    sim.faults.power_off("xen1")
    assert failure(local(sim, "xen2").xenapi.host.emergency_reenable_tls_verification)[0] == "INTERNAL_ERROR"
    assert xen2.tls_verification is True
