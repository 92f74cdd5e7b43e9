"""The replaced-nics scenario (interface-rename gave the new NICs new names) and
its manual repair, through the real XenAPI SDK against the simulator."""

from __future__ import annotations

import pytest

from tests.sim.sessions import failure, make_tcp_session, make_unix_session, wait_until


def pifs_of(s, host):
    return {r: rec for r, rec in s.xenapi.PIF.get_all_records().items() if rec["host"] == host}


def test_renamed_nics_leave_stale_pifs_and_no_management_ip(start_sim):
    """xapi_host.ml local_management_reconfigure writes any name into the inventory and
    assigns no address: pointing it at the new NICs' would-be bridge (xenbr2, which
    networkd has no config for) changes nothing. What works on a real host is
    interface-rename --update (the new NICs get the old names back) and a reboot."""
    sim = start_sim("replaced-nics", time_scale=0.01)
    machine = sim.world.machines["xen3"]
    assert [n.device for n in machine.nics] == ["eth2", "eth3"]
    assert not machine.has_ip
    wait_until(
        lambda: sim.proc("xen3").emergency_error.code == "HOST_HAS_NO_MANAGEMENT_IP",
        what="xen3 waits for a management IP",
    )
    local = make_unix_session(sim.endpoints.host("xen3").socket, timeout=0.3)
    local.slave_local_login_with_password("root", "x")
    assert local.xenapi.host.is_in_emergency_mode() is True
    with pytest.raises(OSError):  # written unchecked; the call then waits for the master's DB
        local.xenapi.host.local_management_reconfigure("xenbr2")
    assert sim.proc("xen3").management_interface == "xenbr2" and not machine.has_ip
    sim.faults.restart_xapi("xen3", immediate=True)  # no networkd config for xenbr2: still no address
    assert sim.proc("xen3").emergency_error.code == "HOST_HAS_NO_MANAGEMENT_IP"
    with sim.world.lock:
        sim.proc("xen3").management_interface = "xenbr0"  # the inventory as it was
    sim.faults.rename_interfaces("xen3", immediate=True)
    assert [n.device for n in machine.nics] == ["eth0", "eth1"] and machine.has_ip
    wait_until(lambda: not sim.proc("xen3").emergency, what="xen3 back with its master")

    ep = sim.endpoints.host("xen1")
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    old = pifs_of(s, xen3)
    s.xenapi.PIF.scan(xen3)
    now = pifs_of(s, xen3)
    assert set(now) == set(old)  # the same PIFs, re-matched to the new MACs by device name
    assert {rec["MAC"] for rec in now.values()} == {n.mac for n in machine.nics}
    ep3 = sim.endpoints.host("xen3")
    assert failure(make_tcp_session(ep3.address, ep3.port).login_with_password, "root", "x")[0] == "HOST_IS_SLAVE"


def test_same_names_keeps_the_reviewed_behaviour(start_sim):
    sim = start_sim("replaced-nics-same-names", time_scale=0.01)
    assert [n.device for n in sim.world.machines["xen3"].nics] == ["eth0", "eth1"]
    assert sim.world.machines["xen3"].has_ip
    sim.faults.restore_nics("xen3")
    sim.faults.replace_nics("xen3", rename=True)
    assert not sim.world.machines["xen3"].has_ip
    sim.faults.restore_nics("xen3")
    assert sim.world.machines["xen3"].has_ip
