"""Issue 13: the failures admins actually hit, as xapi 24.19 (the version the
simulator reports) behaves, through the real XenAPI SDK where a client sees it.

Every test names the xen-api source (tag v24.19.2, ocaml/) it follows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sim.sessions import differ_for_join, failure, local, login, wait_until
from xentui.host.statedb import parse_state_db
from xentui.sim import sm_locks, tls_state
from xentui.sim.clock import Timings
from xentui.sim.xapi_version import XAPI_BUILD, compare_version

SCENARIOS = (
    "tls-verify-fail",
    "ha-armed-mismatch",
    "member-newer",
    "vdi-locked",
    "designate-dead-record",
    "rejoin-rebuilt",
    "stale-db",
    "host-left-disabled",
)


def hosts_of(s):
    return {s.xenapi.host.get_name_label(h): h for h in s.xenapi.host.get_all()}


def emergency_error(sim, name):
    """What any non-emergency call on `name` answers (api_server.ml callback1)."""
    return failure(local(sim, name).xenapi.VM.get_all)


def apply(sim, *step):
    with sim.world.lock:
        sim.apply_step(list(step))


def test_every_issue13_scenario_is_shipped_and_listed():
    from xentui.sim.scenarios import available

    known = available()
    missing = [name for name in SCENARIOS if name not in known]
    assert missing == [], missing


# --- 1. TLS verification between pool members -----------------------------------------


def test_tls_verify_failure_is_the_members_emergency_error(start_sim):
    """xapi.ml attempt_host_status_check_with_coordinator: the hello goes through
    Helpers.call_emergency_mode_functions (stunnel, verify against the pool bundle);
    stunnel.ml check_verify_error raises Stunnel_verify_error <reason>; the catch-all
    stores internal_error [ExnHelper.string_of_exn exn] (a Temporary error, retried
    every 5 s). The reason is OpenSSL's text from stunnel's log."""
    sim = start_sim("tls-verify-fail")
    expected = ["INTERNAL_ERROR", 'INTERNAL_ERROR: [ Stunnel.Stunnel_verify_error("self signed certificate") ]']
    assert emergency_error(sim, "xen2") == expected
    assert local(sim, "xen2").xenapi.host.is_in_emergency_mode() is True
    # the other member verifies fine
    assert local(sim, "xen3").xenapi.host.is_in_emergency_mode() is False


def test_tls_fix_disable_on_member_refresh_on_coordinator_reenable_on_member(start_sim):
    """xapi_host.ml emergency_disable_tls_verification (verify off locally, DB best
    effort); certificates.ml pool_sync in 24.19 (local_sync = c_rehash of the CA
    directories, then CA certificates only) leaves the empty pool bundle empty;
    cert_refresh.ml host -> Cert_distrib.distribute_new_host_cert regenerates
    every host's bundle from certs-pool (remote_regen_bundle);
    emergency_reenable_tls_verification (24.19: no precondition) -> the member
    verifies again and its master connection holds."""
    sim = start_sim("tls-verify-fail")
    xen2 = sim.proc("xen2")
    local(sim, "xen2").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not xen2.emergency, 10, what="xen2 rejoining without verification")
    master = login(sim, "xen1")
    assert master.xenapi.host.get_tls_verification_enabled(hosts_of(master)["xen2"]) is False
    master.xenapi.pool.certificate_sync()
    assert xen2.tls.bundle == set()  # not rebuilt by certificate_sync in 24.19
    master.xenapi.host.refresh_server_certificate(hosts_of(master)["xen1"])
    assert sim.proc("xen1").tls.internal.fingerprint in xen2.tls.bundle
    local(sim, "xen2").xenapi.host.emergency_reenable_tls_verification()
    assert xen2.tls_verification is True
    starts = xen2.starts
    me = hosts_of(master)["xen2"]
    since = sim.world.clock.now()
    wait_until(lambda: sim.proc("xen1").last_heartbeat.get(me, 0) > since, 10, what="a verified heartbeat")
    assert xen2.starts == starts and not xen2.emergency


def test_refresh_server_certificate_of_the_coordinator_fixes_an_expired_one(start_sim):
    """cert_refresh.ml host (via message_forwarding.ml refresh_server_certificate,
    pool operation cert_refresh): a new self-signed internal certificate, public
    part distributed to every host (Cert_distrib.distribute_new_host_cert)."""
    sim = start_sim("healthy")
    apply(sim, "expire_certificate", "xen1")
    wait_until(lambda: sim.proc("xen2").emergency, 10, what="xen2 meeting the expired certificate")
    assert emergency_error(sim, "xen2")[1].endswith('Stunnel_verify_error("%s") ]' % tls_state.EXPIRED)
    local(sim, "xen2").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not sim.proc("xen2").emergency, 10, what="xen2 rejoining")
    master = login(sim, "xen1")
    # xen3 met the expired certificate too: the distribution's call to it answers its
    # emergency error, before anything is replaced
    assert sim.proc("xen3").emergency
    details = failure(master.xenapi.host.refresh_server_certificate, hosts_of(master)["xen1"])
    assert details == sim.proc("xen3").emergency_error.details
    assert sim.proc("xen1").tls.internal.expired
    local(sim, "xen3").xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not sim.proc("xen3").emergency, 10, what="xen3 rejoining")
    master.xenapi.host.refresh_server_certificate(hosts_of(master)["xen1"])
    assert not sim.proc("xen1").tls.internal.expired
    assert sim.proc("xen1").tls.internal.fingerprint in sim.proc("xen2").tls.bundle
    local(sim, "xen2").xenapi.host.emergency_reenable_tls_verification()
    assert tls_state.verify_failure(sim.proc("xen2").tls, True, sim.proc("xen1").tls) is None


def test_refresh_server_certificate_refuses_while_a_pool_host_is_not_live(start_sim):
    """cert_refresh.ml unreachable_hosts: any pool host not live -> CANNOT_CONTACT_HOST [host]."""
    sim = start_sim("designate-dead-record", timings=Timings(host_dead=120.0))  # > 30 s heartbeats
    s = login(sim, "xen2")
    hosts = hosts_of(s)
    wait_until(
        lambda: not s.xenapi.host_metrics.get_live(s.xenapi.host.get_metrics(hosts["xen1"])),
        10,
        what="xen1 presumed dead",
    )
    assert failure(s.xenapi.host.refresh_server_certificate, hosts["xen2"]) == ["CANNOT_CONTACT_HOST", hosts["xen1"]]


def test_coordinator_that_cannot_verify_a_member_cannot_talk_back(start_sim):
    """xapi_pool.ml hello: the talk-back (Pool.is_slave on the member) is a verified
    connection too; its failure is `cannot_talk_back -> the member stores
    HOST_MASTER_CANNOT_TALK_BACK [its IP] (xapi.ml attempt_host_status_check_with_coordinator)."""
    sim = start_sim("healthy")
    apply(sim, "expire_certificate", "xen2")
    apply(sim, "restart_xapi", "xen2")
    wait_until(lambda: sim.proc("xen2").emergency, 10, what="xen2 in emergency mode")
    assert emergency_error(sim, "xen2") == ["HOST_MASTER_CANNOT_TALK_BACK", sim.endpoints.host("xen2").address]


def test_reenable_tls_on_a_pool_that_never_had_it_is_not_refused_in_24_19(start_sim):
    """xapi_host.ml emergency_reenable_tls_verification at v24.19.2 has no
    precondition: TLS_VERIFICATION_NOT_ENABLED_IN_POOL (XSI-1821) arrived in 25.10.
    So 24.19 accepts it and the member, verifying against a bundle that was never
    generated, loses its master at the next connection and falls back into
    emergency mode with the verify error. Harsher than 25.10, as 24.19 is."""
    sim = start_sim("healthy")
    apply(sim, "tls_never_enabled")
    xen2 = sim.proc("xen2")
    local(sim, "xen2").xenapi.host.emergency_reenable_tls_verification()  # no refusal in 24.19
    wait_until(
        lambda: xen2.emergency and xen2.emergency_error.code == "INTERNAL_ERROR", 10, what="xen2 losing its master"
    )
    assert "Stunnel_verify_error" in emergency_error(sim, "xen2")[1]


def test_emergency_reset_server_certificate_replaces_a_1024_bit_key(start_sim):
    """xapi_host.ml emergency_reset_server_certificate: _new_host_cert ->
    gencert selfcert.ml (2048-bit RSA), no database access, an emergency call."""
    sim = start_sim("tls-verify-fail")
    apply(sim, "weak_server_key", "xen2")
    assert sim.proc("xen2").tls.server.key_bits == 1024
    local(sim, "xen2").xenapi.host.emergency_reset_server_certificate()  # answers in emergency mode
    assert sim.proc("xen2").tls.server.key_bits == tls_state.GENERATED_KEY_BITS


# --- 2. HA armed flag mismatch ----------------------------------------------------------


def test_ha_armed_mismatch_member_is_stuck_and_emergency_ha_disable_needs_soft(start_sim):
    """xapi.ml resynchronise_ha_state: (local false, pool true) on a slave ->
    HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED and server_run_in_emergency_mode.
    xapi_ha.ml emergency_ha_disable: not armed -> HA_NOT_ENABLED unless soft."""
    sim = start_sim("ha-armed-mismatch")
    assert emergency_error(sim, "xen3") == ["HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"]
    xen3 = local(sim, "xen3")
    assert failure(xen3.xenapi.host.emergency_ha_disable, False) == ["HA_NOT_ENABLED"]
    xen3.xenapi.host.emergency_ha_disable(True)
    # both sides agree once the pool disarms: pool.disable_ha on the coordinator, then
    # the member's next start-up finds (false, false)
    master = login(sim, "xen1")
    master.xenapi.pool.disable_ha()
    apply(sim, "restart_xapi", "xen3")
    wait_until(lambda: not sim.proc("xen3").emergency, 10, what="xen3 rejoining")


# --- 3. member newer than coordinator -----------------------------------------------


def test_member_newer_than_coordinator_is_a_permanent_error_retried(start_sim):
    """xapi.ml attempt_host_status_check_with_coordinator, `ok branch: the local
    Xapi_version.version compared with the coordinator's software_version
    xapi_build; higher -> HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR [version],
    Permanent (retried after Db_globs.permanent_master_failure_retry_interval = 60 s).
    The hello itself succeeded, so Xapi_pool.hello has set the member enabled=false."""
    sim = start_sim("member-newer")
    assert emergency_error(sim, "xen2") == ["HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR", "24.39.0"]
    assert sim.world.timings.hello_retry_permanent == 60.0
    master = login(sim, "xen1")
    hosts = hosts_of(master)
    assert master.xenapi.host.get_enabled(hosts["xen2"]) is False
    assert compare_version("24.39.0", XAPI_BUILD) > 0
    # Xapi_version.compare_version compares major and minor only (ocaml/util/xapi_version.ml)
    assert compare_version("24.19.9", "24.19.2") == 0 and compare_version("24.20.0", "24.19.9") > 0
    # one alert per xapi process (xapi_ver_high_alerted), priority 2, about the member
    alerts = [
        m
        for m in master.xenapi.message.get_all_records().values()
        if m["name"] == "XAPI_STARTUP_BLOCKED_AS_VERSION_HIGHER_THAN_COORDINATOR"
    ]
    assert len(alerts) == 1 and alerts[0]["obj_uuid"] == sim.proc("xen2").machine.uuid
    assert alerts[0]["cls"] == "Host"
    assert "24.39.0" in alerts[0]["body"] and int(alerts[0]["priority"]) == 2
    # the fix is the coordinator's update: its xapi_build catches up, the retry then passes
    with sim.world.lock:
        db = sim.proc("xen1").db
        version = dict(db.get_field("host", hosts["xen1"], "software_version"))
        version["xapi_build"] = "24.39.0"
        db.set_field("host", hosts["xen1"], "software_version", version)
    wait_until(lambda: not sim.proc("xen2").emergency, 10, what="xen2 rejoining at its next retry")


# --- 4. VDI locks left by a crashed host ------------------------------------------


def test_vdi_locked_by_a_dead_host_fails_with_sr_backend_failure_46(start_sim):
    """sm blktap2 VDI._add_tag (host_<ref>/activating in VDI.sm_config; another
    host's key -> VDIUnavailable = SR_BACKEND_FAILURE_46); sm's
    host-post-declare-dead hook (resetvdis.py all) run by xapi_host.ml declare_dead
    via Xapi_hooks.host_post_declare_dead clears the host's keys, not `activating`;
    VDI.remove_from_sm_config (datamodel: sm_config is RW) clears the rest."""
    sim = start_sim("vdi-locked")
    s = login(sim, "xen1")
    hosts = hosts_of(s)
    app01 = s.xenapi.VM.get_by_name_label("app01")[0]
    app02 = s.xenapi.VM.get_by_name_label("app02")[0]
    details = failure(s.xenapi.VM.start, app01, False, False)
    assert details[0] == "SR_BACKEND_FAILURE_46" and "The VDI is not available" in details[2]
    vdi = s.xenapi.VBD.get_VDI(s.xenapi.VM.get_VBDs(app02)[0])
    keys = s.xenapi.VDI.get_sm_config(vdi)
    assert sorted(keys) == sorted(["host_" + hosts["xen3"], sm_locks.ACTIVATING])
    s.xenapi.host.declare_dead(hosts["xen3"])
    s.xenapi.VM.start(app01, False, False)
    assert failure(s.xenapi.VM.start, app02, False, False)[0] == "SR_BACKEND_FAILURE_46"
    s.xenapi.VDI.remove_from_sm_config(vdi, sm_locks.ACTIVATING)
    s.xenapi.VM.start(app02, False, False)
    assert s.xenapi.VM.get_power_state(app02) == "Running"


# --- 5. forget and designate --------------------------------------------------------


def test_forget_refusals_in_xapis_order(start_sim):
    """xapi_host.ml destroy: precheck_destroy_declare_dead (is_host_alive, or the
    master itself -> HOST_IS_LIVE [host]) first, then HA_IS_ENABLED, then
    HOST_HAS_RESIDENT_VMS [host] (message_forwarding does not forward it)."""
    sim = start_sim("ha-armed-mismatch")
    s = login(sim, "xen1")
    hosts = hosts_of(s)
    assert failure(s.xenapi.host.destroy, hosts["xen1"]) == ["HOST_IS_LIVE", hosts["xen1"]]
    assert failure(s.xenapi.host.destroy, hosts["xen2"]) == ["HOST_IS_LIVE", hosts["xen2"]]
    sim.faults.power_off("xen2")
    assert failure(s.xenapi.host.destroy, hosts["xen2"]) == ["HA_IS_ENABLED"]
    s.xenapi.pool.disable_ha()
    assert failure(s.xenapi.host.destroy, hosts["xen2"]) == ["HOST_HAS_RESIDENT_VMS", hosts["xen2"]]


def test_designate_with_a_dead_record_left_fails_until_it_is_forgotten(start_sim):
    """xapi_pool_transition.ml attempt_two_phase_commit_of_new_master: phase 1
    proposes to every host address in the database; one that does not answer
    aborts it. host.destroy (forget) of the dead record, then designate works."""
    sim = start_sim("designate-dead-record")
    s = login(sim, "xen2")
    hosts = hosts_of(s)
    details = failure(s.xenapi.pool.designate_new_master, hosts["xen3"])
    assert details[0] == "INTERNAL_ERROR" and sim.endpoints.host("xen1").address in details[1]
    assert sim.proc("xen2").conf_role == "master" and sim.proc("xen3").conf_role == "slave"
    s.xenapi.host.destroy(hosts["xen1"])
    s.xenapi.pool.designate_new_master(hosts["xen3"])
    assert sim.proc("xen3").conf_role == "master"


# --- 6. rejoining a rebuilt former master -------------------------------------------


def test_rejoin_rebuilt_host_tls_mismatch_forget_enable_join_iqn_plug(start_sim):
    """xapi_pool.ml pre_join_checks assert_tls_verification_matches ->
    POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH; Pool.enable_tls_verification
    contacts every host (Cert_distrib.exchange_certificates_in_pool), so the dead
    old record must be forgotten first (host.destroy: is_host_alive fails, the
    reinstall does not know the pool secret); join_common ->
    create_or_get_host_on_master (by uuid: a new record) ->
    become_another_masters_slave (restart). The iSCSI PBD plug needs the SAN to
    admit the host's IQN (xapi_host.ml set_iscsi_iqn puts the old one back)."""
    sim = start_sim("rejoin-rebuilt")
    xen1_ep, xen2_ep = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    rebuilt = login(sim, "xen1")
    assert failure(rebuilt.xenapi.pool.join, xen2_ep.address, "root", "xenroot") == [
        "POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH"
    ]
    master = login(sim, "xen2")
    old = [h for h in master.xenapi.host.get_all() if master.xenapi.host.get_name_label(h) == "xen1"]
    assert len(old) == 1 and master.xenapi.host.get_uuid(old[0]) != sim.proc("xen1").machine.uuid
    old_iqn = master.xenapi.host.get_iscsi_iqn(old[0])
    assert failure(master.xenapi.pool.enable_tls_verification)[0] == "INTERNAL_ERROR"  # the dead record
    master.xenapi.host.destroy(old[0])
    master.xenapi.pool.enable_tls_verification()
    assert failure(rebuilt.xenapi.pool.join, xen2_ep.address, "root", "wrong")[0] == "SESSION_AUTHENTICATION_FAILED"
    rebuilt.xenapi.pool.join(xen2_ep.address, "root", "xenroot")
    xen1 = sim.proc("xen1")
    wait_until(lambda: xen1.up and xen1.role == "slave" and not xen1.emergency, 10, what="xen1 rejoining")
    hosts = hosts_of(master)
    assert master.xenapi.host.get_uuid(hosts["xen1"]) == xen1.machine.uuid
    san = master.xenapi.SR.get_by_name_label("SAN")[0]
    pbd = [p for p in master.xenapi.SR.get_PBDs(san) if master.xenapi.PBD.get_host(p) == hosts["xen1"]][0]
    assert master.xenapi.PBD.get_currently_attached(pbd) is False
    assert failure(master.xenapi.PBD.plug, pbd)[0] == "SR_BACKEND_FAILURE_47"
    assert failure(master.xenapi.host.set_iscsi_iqn, hosts["xen1"], "") == ["INVALID_VALUE", "value", ""]
    master.xenapi.host.set_iscsi_iqn(hosts["xen1"], old_iqn)
    master.xenapi.PBD.plug(pbd)
    wait_until(lambda: master.xenapi.host.get_enabled(hosts["xen1"]), 10, what="xen1 enabled")
    del xen1_ep


@pytest.mark.parametrize(
    "change, error",
    [
        ("vlan", ["POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH", "42", "-1"]),
        ("xapi", ["POOL_HOSTS_NOT_HOMOGENEOUS", "Software version differs"]),
        ("schema", ["POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA", "5.786", "5.775"]),
    ],
)
def test_pre_join_checks_refusals_in_order(start_sim, change, error):
    """xapi_pool.ml pre_join_checks: assert_hosts_homogeneous (xapi version, brand,
    git id, linux pack; then CPU vendor) before assert_management_vlan_are_same
    ([mine; theirs] as Int64 strings) before assert_db_schema_matches ([slave; master])
    before assert_tls_verification_matches."""
    sim = start_sim("rejoin-rebuilt")
    differ_for_join(sim, "xen1", change)
    rebuilt = login(sim, "xen1")
    assert failure(rebuilt.xenapi.pool.join, sim.endpoints.host("xen2").address, "root", "xenroot") == error


# --- 7. stale member database copies -----------------------------------------------


def _state_db(sim, name):
    return parse_state_db((Path(sim.endpoints.host(name).root) / "var" / "lib" / "xcp" / "state.db").read_bytes())


def test_stale_db_members_hold_copies_of_different_generations(start_sim):
    """pool_db_backup.ml pool_db_backup_thread: one member at a time, each after
    Thread.delay pool_db_sync_interval (300 s): the members' copies differ. The
    one the last sync reached holds the newer generation (and new01)."""
    sim = start_sim("stale-db")
    sim.flush_files()
    xen2, xen3 = _state_db(sim, "xen2"), _state_db(sim, "xen3")
    assert xen3.generation > xen2.generation
    names = lambda db: {row.get("name_label") for row in db.tables.get("vm", {}).values()}  # noqa: E731
    assert "new01" in names(xen3) and "new01" not in names(xen2)
    assert sim.proc("xen3").backup_time > sim.proc("xen2").backup_time


# --- 8. host left disabled --------------------------------------------------------


def test_host_left_disabled_by_pending_mandatory_guidance(start_sim):
    """xapi_host.ml enable -> assert_safe_to_reenable ->
    repository_helpers.ml assert_no_host_pending_mandatory_guidance:
    HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY [host];
    emergency_clear_mandatory_guidance (24.10+, an emergency call on the host) clears it."""
    sim = start_sim("host-left-disabled")
    s = login(sim, "xen1")
    hosts = hosts_of(s)
    assert s.xenapi.host.get_pending_guidances(hosts["xen2"]) == ["reboot_host"]
    assert failure(s.xenapi.host.enable, hosts["xen2"]) == ["HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", hosts["xen2"]]
    local(sim, "xen2").xenapi.host.emergency_clear_mandatory_guidance()
    assert s.xenapi.host.get_pending_guidances(hosts["xen2"]) == []
    san = s.xenapi.SR.get_by_name_label("SAN")[0]
    pbd = [p for p in s.xenapi.SR.get_PBDs(san) if s.xenapi.PBD.get_host(p) == hosts["xen2"]][0]
    assert s.xenapi.PBD.get_currently_attached(pbd) is False
    s.xenapi.PBD.plug(pbd)
    s.xenapi.host.enable(hosts["xen2"])
    assert s.xenapi.host.get_enabled(hosts["xen2"]) is True


def test_periodic_db_sync_reaches_one_member_per_interval_in_turn(start_sim):
    """pool_db_backup.ml pool_db_backup_thread: List.iter dohost hosts, each dohost
    first Thread.delay pool_db_sync_interval (300 s) then Host.request_backup: one
    member per interval, in turn (Pool.sync_database still pushes to all)."""
    sim = start_sim("healthy", time_scale=1.0)  # no periodic tick fires during the test
    master = sim.proc("xen1")
    with sim.world.lock:
        master.db.set_field("VM", master.db.by_name_label("VM", "spare01")[0], "name_label", "renamed")

        def has_it(name):
            return bool(sim.proc(name).local_db.by_name_label("VM", "renamed"))

        master.push_backups(next_in_turn=True)
        first = [name for name in ("xen2", "xen3") if has_it(name)]
        assert len(first) == 1
        master.push_backups(next_in_turn=True)
        assert has_it("xen2") and has_it("xen3")
