"""The weak-key case of issue 13 item 1 and the every-host HA disarm of item 2,
as xapi does them, through the real XenAPI SDK. Each test names its source."""

from __future__ import annotations

import pytest
import XenAPI

from tests.sim.sessions import local, login, wait_until
from xentui.sim import tls_state


def test_a_1024_bit_pool_certificate_is_rejected_with_openssls_reason(start_sim):
    """OpenSSL X509_V_ERR_EE_KEY_TOO_SMALL ("EE certificate key too weak"), raised
    by libs/stunnel as Stunnel_verify_error, stored by xapi.ml
    attempt_host_status_check_with_coordinator inside INTERNAL_ERROR."""
    sim = start_sim("tls-weak-key")
    for member in ("xen2", "xen3"):
        proc = sim.proc(member)
        wait_until(lambda proc=proc: proc.emergency, 10, what=f"{member} meeting the weak key")
        details = sim.proc(member).emergency_error.details
        assert details[0] == "INTERNAL_ERROR"
        assert 'Stunnel_verify_error("EE certificate key too weak")' in details[1]


def test_emergency_reset_server_certificate_leaves_the_pool_certificate(start_sim):
    """xapi_host.ml emergency_reset_server_certificate writes server_cert_path
    (xapi-ssl.pem); members verify xapi-pool-tls.pem (xapi_stunnel_server.ml, the
    SNI "pool" section): the weak pool key stays, and so does the rejection."""
    sim = start_sim("tls-weak-key")
    before = sim.proc("xen1").tls.internal
    local(sim, "xen1").xenapi.host.emergency_reset_server_certificate()
    assert sim.proc("xen1").tls.internal is before and before.key_bits == 1024
    assert tls_state.verify_failure(sim.proc("xen2").tls, True, sim.proc("xen1").tls) == tls_state.KEY_TOO_WEAK


def test_refresh_replaces_a_weak_pool_certificate_with_a_2048_bit_one(start_sim):
    """cert_refresh.ml host (`host_internal`): Gencertlib.Selfcert.xapi_pool,
    2048 bits (gencert/selfcert.ml), distributed to every host; refused with
    CANNOT_CONTACT_HOST until every member is live (unreachable_hosts)."""
    sim = start_sim("tls-weak-key")
    master = login(sim, "xen1")
    ref = master.xenapi.host.get_by_name_label("xen1")[0]
    for member in ("xen2", "xen3"):
        local(sim, member).xenapi.host.emergency_disable_tls_verification()
    wait_until(lambda: not sim.proc("xen2").emergency and not sim.proc("xen3").emergency, 10, what="rejoin")
    master.xenapi.host.refresh_server_certificate(ref)
    assert sim.proc("xen1").tls.internal.key_bits == tls_state.GENERATED_KEY_BITS
    assert tls_state.verify_failure(sim.proc("xen2").tls, True, sim.proc("xen1").tls) is None


def test_emergency_ha_disable_answers_ha_not_enabled_on_a_disarmed_host_unless_soft(start_sim):
    """xapi_ha.ml emergency_ha_disable: HA_NOT_ENABLED on a host whose localdb is
    not armed, unless soft=true (an emergency call: datamodel.ml emergency_calls)."""
    sim = start_sim("ha-mismatch-no-statefile")
    xen3 = local(sim, "xen3").xenapi
    with pytest.raises(XenAPI.Failure) as info:
        xen3.host.emergency_ha_disable(False)
    assert info.value.details[0] == "HA_NOT_ENABLED"
    xen3.host.emergency_ha_disable(True)


def test_a_coordinator_in_the_ha_startup_loop_turns_pool_ha_off_once_disarmed(start_sim):
    """Xapi_ha.on_server_restart holds the master (HA armed, no statefile:
    HA_HOST_CANNOT_ACCESS_STATEFILE); pool.disable_ha cannot reach it. Disarmed
    through its own xapi it carries on, and xapi.ml resynchronise_ha_state (the
    master branch: pool HA on, local HA off) turns pool.ha_enabled off."""
    sim = start_sim("ha-mismatch-no-statefile")
    assert sim.proc("xen1").emergency_error.details == ["HA_HOST_CANNOT_ACCESS_STATEFILE"]
    local(sim, "xen1").xenapi.host.emergency_ha_disable(False)
    wait_until(lambda: not sim.proc("xen1").emergency and sim.proc("xen1").db is not None, 10, what="xen1 master")
    master = login(sim, "xen1")
    assert master.xenapi.pool.get_ha_enabled(master.xenapi.pool.get_all()[0]) is False
