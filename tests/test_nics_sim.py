"""The replaced-nics scenario (interface-rename gave the new NICs new names) and
its manual repair, through the real XenAPI SDK against the simulator."""

from __future__ import annotations

import pytest
import XenAPI

from conftest import make_tcp_session, make_unix_session, wait_until


def failure(call, *args):
    with pytest.raises(XenAPI.Failure) as info:
        call(*args)
    return info.value.details


def pifs_of(s, host):
    return {r: rec for r, rec in s.xenapi.PIF.get_all_records().items() if rec["host"] == host}


def test_renamed_nics_leave_stale_pifs_and_no_management_ip(start_sim):
    sim = start_sim("replaced-nics", time_scale=0.01)
    machine = sim.world.machines["xen3"]
    assert [n.device for n in machine.nics] == ["eth2", "eth3"]
    assert not machine.has_ip
    wait_until(lambda: sim.proc("xen3").emergency_error.code == "HOST_HAS_NO_MANAGEMENT_IP",
               what="xen3 waits for a management IP")
    local = make_unix_session(sim.endpoints.host("xen3").socket)
    local.slave_local_login_with_password("root", "x")
    assert local.xenapi.host.is_in_emergency_mode() is True
    # xenbr0 has no NIC behind it any more: reconfiguring onto it is refused
    assert failure(local.xenapi.host.local_management_reconfigure, "xenbr0")[0] == "INTERNAL_ERROR"
    local.xenapi.host.local_management_reconfigure("xenbr2")
    wait_until(lambda: not sim.proc("xen3").emergency, what="xen3 back with its master")

    ep = sim.endpoints.host("xen1")
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    old = pifs_of(s, xen3)
    # dbsync after the hello: the gone devices are detached, no PIF is management
    assert sorted(rec["device"] for rec in old.values()) == ["eth0", "eth1"]
    assert not any(rec["currently_attached"] or rec["management"] for rec in old.values())
    s.xenapi.PIF.scan(xen3)
    now = pifs_of(s, xen3)
    assert set(old) < set(now)
    assert {r: (rec["device"], rec["MAC"]) for r, rec in now.items() if r in old} == {
        r: (rec["device"], rec["MAC"]) for r, rec in old.items()}  # stale PIFs untouched by the scan
    new = {rec["device"]: r for r, rec in now.items() if r not in old}
    assert sorted(new) == ["eth2", "eth3"]
    assert {now[r]["MAC"] for r in new.values()} == {n.mac for n in machine.nics}
    eth2, eth3 = new["eth2"], new["eth3"]
    assert now[eth2]["management"] and now[eth2]["currently_attached"]
    assert s.xenapi.network.get_bridge(now[eth2]["network"]) == "xenbr2"
    assert not now[eth3]["currently_attached"]
    # persist the address on the new management PIF, forget the stale ones, plug the rest
    s.xenapi.PIF.reconfigure_ip(eth2, "Static", machine.address, "255.0.0.0", "", "")
    s.xenapi.host.management_reconfigure(eth2)  # already management: no-op
    for ref in old:
        s.xenapi.PIF.forget(ref)
    s.xenapi.PIF.plug(eth3)
    final = pifs_of(s, xen3)
    assert sorted(rec["device"] for rec in final.values()) == ["eth2", "eth3"]
    assert all(rec["currently_attached"] for rec in final.values())
    assert s.xenapi.host.get_management_interface(xen3) == eth2
    assert s.xenapi.PIF.get_IP(eth2) == machine.address
    # the host answers on its management address again
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
