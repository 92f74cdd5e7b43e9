"""pool.join's pre-join checks the rejoin of a rebuilt host can meet, beyond
those of tests/sim/test_sim_failures.py, through the real XenAPI SDK.

Source: xen-api ocaml/xapi/xapi_pool.ml `pre_join_checks` (the call order at
its end: ... assert_no_running_vms_on_me, assert_no_vms_with_current_ops,
assert_no_host_pending_mandatory_guidance, assert_hosts_compatible,
`if not force then assert_hosts_homogeneous`, ...).
"""

from __future__ import annotations

import pytest
import XenAPI

from tests.sim.sessions import make_tcp_session


def _login(sim, name):
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def _join_error(sim, force=False):
    rebuilt = _login(sim, "xen1")
    call = rebuilt.xenapi.pool.join_force if force else rebuilt.xenapi.pool.join
    with pytest.raises(XenAPI.Failure) as info:
        call(sim.endpoints.host("xen2").address, "root", sim.endpoints.root_password)
    return info.value.details


def _master_db(sim):
    return sim.proc("xen2").db


def test_pending_mandatory_guidance_on_the_joiner_then_the_coordinator(start_sim):
    """assert_no_host_pending_mandatory_guidance: Repository_helpers' check on the
    joiner (HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY [joiner]), then the remote
    coordinator's Host.get_pending_guidances (same error, [coordinator ref]);
    before assert_hosts_compatible and the homogeneity check."""
    sim = start_sim("rejoin-rebuilt")
    with sim.world.lock:
        db = sim.proc("xen1").db
        me = db.refs("host")[0]
        db.set_field("host", me, "pending_guidances", ["reboot_host"])
        version = dict(db.get_field("host", me, "software_version"))
        version["xapi"] = "24.39"  # would fail homogeneity, which comes later
        db.set_field("host", me, "software_version", version)
    assert _join_error(sim) == ["HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", me]
    with sim.world.lock:
        db.set_field("host", me, "pending_guidances", [])
        rdb = _master_db(sim)
        coordinator = rdb.by_name_label("host", "xen2")[0]
        rdb.set_field("host", coordinator, "pending_guidances", ["restart_toolstack"])
    assert _join_error(sim) == ["HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", coordinator]


def test_hosts_compatible_is_checked_even_with_force(start_sim):
    """assert_hosts_compatible compares (PLATFORM_VERSION, PRODUCT_BRAND or
    PLATFORM_NAME) and raises POOL_HOSTS_NOT_COMPATIBLE []; it runs whether or not
    force is given, while assert_hosts_homogeneous is skipped by join_force."""
    sim = start_sim("rejoin-rebuilt")
    with sim.world.lock:
        db = sim.proc("xen1").db
        me = db.refs("host")[0]
        version = dict(db.get_field("host", me, "software_version"))
        version["platform_version"] = "3.2.1"
        db.set_field("host", me, "software_version", version)
    assert _join_error(sim) == ["POOL_HOSTS_NOT_COMPATIBLE"]
    assert _join_error(sim, force=True) == ["POOL_HOSTS_NOT_COMPATIBLE"]


def test_join_force_skips_only_homogeneity(start_sim):
    """`if not force then assert_hosts_homogeneous ()`: a differing xapi version is
    refused by join and let through by join_force, which then meets the next
    checks (here the TLS mismatch the scenario carries)."""
    sim = start_sim("rejoin-rebuilt")
    with sim.world.lock:
        db = sim.proc("xen1").db
        me = db.refs("host")[0]
        version = dict(db.get_field("host", me, "software_version"))
        version["xapi"] = "24.39"
        db.set_field("host", me, "software_version", version)
    assert _join_error(sim) == ["POOL_HOSTS_NOT_HOMOGENEOUS", "Software version differs"]
    assert _join_error(sim, force=True) == ["POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH"]


def test_set_iscsi_iqn_is_forwarded_to_the_host(start_sim):
    """message_forwarding.ml Host.set_iscsi_iqn: do_op_on ~host, whose check_live
    raises HOST_OFFLINE [host] for a host marked not live, and do_op_on_common turns
    a failed connection into CANNOT_CONTACT_HOST [host] (the old record of the
    reinstalled host: the machine at its address is another install), both before
    xapi_host.ml set_iscsi_iqn's INVALID_VALUE check on the host."""
    sim = start_sim("rejoin-rebuilt")
    master = _login(sim, "xen2")
    old = master.xenapi.host.get_by_name_label("xen1")[0]
    with pytest.raises(XenAPI.Failure) as info:
        master.xenapi.host.set_iscsi_iqn(old, "")
    assert info.value.details in (["HOST_OFFLINE", old], ["CANNOT_CONTACT_HOST", old])
    xen3 = master.xenapi.host.get_by_name_label("xen3")[0]
    with pytest.raises(XenAPI.Failure) as info:
        master.xenapi.host.set_iscsi_iqn(xen3, "")
    assert info.value.details == ["INVALID_VALUE", "value", ""]
