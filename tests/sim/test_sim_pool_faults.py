"""Faults and their reverses, timers (liveness, DB sync, emergency restarts),
HA, NICs, management IP, and the dom0 files the simulator keeps."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.sim.sessions import failure, make_tcp_session, make_unix_session, wait_until


def login_master(sim, name="xen1"):
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def local_unix(sim, name):
    s = make_unix_session(sim.endpoints.host(name).socket)
    s.slave_local_login_with_password("root", "whatever")
    return s


def test_ha_statefile_lost_blocks_transitions_until_ha_is_disabled(start_sim):
    sim = start_sim("master-down-ha")
    for host in ("xen2", "xen3"):
        assert sim.proc(host).emergency_error.details == ["HA_HOST_CANNOT_ACCESS_STATEFILE"]
    l2 = local_unix(sim, "xen2")
    assert failure(l2.xenapi.pool.emergency_transition_to_master) == ["HA_IS_ENABLED"]
    assert failure(l2.xenapi.pool.emergency_reset_master, "127.0.0.13") == ["HA_IS_ENABLED"]
    l2.xenapi.host.emergency_ha_disable(True)  # soft: still armed
    assert sim.proc("xen2").ha_armed is True
    l2.xenapi.host.emergency_ha_disable(False)
    assert sim.proc("xen2").ha_armed is False
    assert failure(l2.xenapi.host.emergency_ha_disable, False) == ["HA_NOT_ENABLED"]
    assert l2.xenapi.host.emergency_ha_disable(True) == ""
    # without the statefile check, the next hello attempt fails on the dead master
    wait_until(lambda: sim.proc("xen2").emergency_error.code == "INTERNAL_ERROR", what="statefile check skipped")
    l2.xenapi.pool.emergency_transition_to_master()
    wait_until(lambda: sim.proc("xen2").is_master and sim.proc("xen2").db is not None, what="xen2 master")
    s = login_master(sim, "xen2")
    pool = s.xenapi.pool.get_all()[0]
    assert s.xenapi.pool.get_ha_enabled(pool) is False  # master disarmed locally: HA off on the pool
    assert failure(s.xenapi.pool.disable_ha) == ["HA_NOT_ENABLED"]
    assert s.xenapi.pool.recover_slaves() == []  # xen3 is still HA-armed: skipped
    local_unix(sim, "xen3").xenapi.host.emergency_ha_disable(False)
    assert [s.xenapi.host.get_name_label(h) for h in s.xenapi.pool.recover_slaves()] == ["xen3"]
    wait_until(
        lambda: sim.proc("xen3").starts >= 3 and sim.proc("xen3").up and not sim.proc("xen3").emergency,
        what="xen3 joined",
    )


def test_ha_disarmed_slave_of_ha_pool_enters_emergency_and_restarts(start_sim):
    sim = start_sim("master-down-ha", time_scale=0.002)
    sim.faults.restore_statefile()
    sim.faults.power_on("xen1", immediate=True)
    wait_until(lambda: not sim.proc("xen2").emergency, what="xen2 rejoined the HA pool")
    local_unix(sim, "xen3").xenapi.host.emergency_ha_disable(False)
    starts = sim.proc("xen3").starts
    sim.faults.restart_xapi("xen3", immediate=True)
    wait_until(
        lambda: sim.proc("xen3").emergency_error.code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED", what="HA mismatch"
    )
    # server_run_in_emergency_mode restarts xapi after 60 s + up to 120 s
    wait_until(lambda: sim.proc("xen3").starts >= starts + 2, timeout=5, what="emergency restart")
    s = login_master(sim, "xen1")
    s.xenapi.pool.disable_ha()
    assert s.xenapi.pool.get_ha_enabled(s.xenapi.pool.get_all()[0]) is False
    wait_until(lambda: sim.proc("xen3").up and not sim.proc("xen3").emergency, timeout=5, what="xen3 back")


def test_broken_role_is_emergency_with_host_broken(start_sim):
    sim = start_sim("healthy", time_scale=0.002)
    with sim.world.lock:
        sim.proc("xen3").set_role("broken")
    sim.faults.restart_xapi("xen3", immediate=True)
    assert sim.proc("xen3").emergency_error.details == ["HOST_BROKEN"]
    starts = sim.proc("xen3").starts
    wait_until(lambda: sim.proc("xen3").starts > starts, timeout=5, what="restart after 60+rand(120) s")
    assert open(sim.endpoints.host("xen3").root + "/etc/xensource/pool.conf").read() == "broken"


def test_no_management_ip_and_local_management_reconfigure(start_sim):
    sim = start_sim("no-management-ip")
    ep = sim.endpoints.host("xen2")
    assert sim.proc("xen2").emergency_error.details == ["HOST_HAS_NO_MANAGEMENT_IP"]
    with pytest.raises(OSError):
        socket.create_connection((ep.address, ep.port), timeout=1).close()
    link = json.loads(Path(ep.root, "var/lib/xentui-sim/ip-addr.json").read_text())
    assert link[0]["addr_info"] == []
    local = local_unix(sim, "xen2")
    assert failure(local.xenapi.VM.get_all) == ["HOST_HAS_NO_MANAGEMENT_IP"]
    # xapi_host.ml local_management_reconfigure assigns no address (and does not return
    # while the member is in emergency mode); a toolstack restart does not help while
    # the link is down. The link coming back does.
    short = make_unix_session(ep.socket, timeout=0.3)
    short.slave_local_login_with_password("root", "x")
    with pytest.raises(socket.timeout):
        short.xenapi.host.local_management_reconfigure("xenbr0")
    sim.faults.restart_xapi("xen2", immediate=True)
    assert sim.proc("xen2").emergency_error.details == ["HOST_HAS_NO_MANAGEMENT_IP"]
    sim.faults.restore_management_ip("xen2")
    wait_until(lambda: not sim.proc("xen2").emergency, what="left emergency mode")
    link = json.loads(Path(ep.root, "var/lib/xentui-sim/ip-addr.json").read_text())
    assert link[0]["addr_info"][0]["local"] == ep.address
    tcp = make_tcp_session(ep.address, ep.port)
    assert failure(tcp.login_with_password, "root", sim.endpoints.root_password)[0] == "HOST_IS_SLAVE"
    # the fault and its reverse on a running slave: no emergency, calls hang, then work
    sim.faults.lose_management_ip("xen2")
    assert sim.proc("xen2").emergency is False
    sim.faults.restore_management_ip("xen2")
    tcp_local = make_tcp_session(ep.address, ep.port)
    tcp_local.slave_local_login_with_password("root", sim.endpoints.root_password)
    assert len(tcp_local.xenapi.host.get_all()) == 2
    # a slave-local session sent over the unix socket is forwarded with the call; the
    # master does not know it
    import xmlrpc.client

    from tests.sim.sessions import UnixTransport

    raw = xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(ep.socket))
    ref = local_unix(sim, "xen2")._session
    assert raw.host.get_all(ref)["ErrorDescription"] == ["SESSION_INVALID", ref]


def test_replaced_nics_scan_rewrites_macs_and_management_moves(start_sim):
    # ocaml/xapi/xapi_pif.ml scan: refresh_all rewrites the MAC (and device, by the
    # xenbrN position) of the existing PIFs; new PIFs only for unknown device NAMES.
    sim = start_sim("replaced-nics-same-names")
    s = login_master(sim)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    old = {r: rec for r, rec in s.xenapi.PIF.get_all_records().items() if rec["host"] == xen3}
    assert len(old) == 2
    physical_macs = {n.mac for n in sim.world.machines["xen3"].nics}
    assert not physical_macs & {rec["MAC"] for rec in old.values()}
    s.xenapi.PIF.scan(xen3)
    now = {r: rec for r, rec in s.xenapi.PIF.get_all_records().items() if rec["host"] == xen3}
    assert set(now) == set(old)  # no second eth0: the same PIFs, new MACs
    assert {rec["MAC"] for rec in now.values()} == physical_macs
    eth0 = next(r for r, rec in now.items() if rec["device"] == "eth0")
    eth1 = next(r for r, rec in now.items() if rec["device"] == "eth1")
    assert s.xenapi.PIF.get_management(eth0) and not s.xenapi.PIF.get_management(eth1)
    assert failure(s.xenapi.PIF.forget, eth0) == ["PIF_IS_MANAGEMENT_INTERFACE", eth0]
    s.xenapi.PIF.plug(eth1)  # the device is present again
    s.xenapi.host.management_reconfigure(eth0)  # already management: no-op
    # move management to eth1 (needs an IP configuration first), then back
    assert failure(s.xenapi.host.management_reconfigure, eth1) == ["PIF_HAS_NO_NETWORK_CONFIGURATION", eth1]
    assert failure(s.xenapi.PIF.reconfigure_ip, eth1, "Static", "999.1.1.1", "255.0.0.0", "", "") == [
        "INVALID_IP_ADDRESS_SPECIFIED",
        "IP",
    ]
    address = sim.endpoints.host("xen3").address
    s.xenapi.PIF.reconfigure_ip(eth1, "Static", address, "255.0.0.0", "", "127.0.0.1,::1")
    assert s.xenapi.PIF.get_DNS(eth1) == "127.0.0.1"
    s.xenapi.host.management_reconfigure(eth1)
    assert s.xenapi.host.get_management_interface(xen3) == eth1
    assert not s.xenapi.PIF.get_management(eth0)
    s.xenapi.PIF.reconfigure_ip(eth0, "Static", address, "255.0.0.0", "", "")
    s.xenapi.host.management_reconfigure(eth0)
    assert s.xenapi.host.get_management_interface(xen3) == eth0
    # a scan after the old NICs come back rewrites the MACs again
    sim.faults.restore_nics("xen3")
    s.xenapi.PIF.scan(xen3)
    assert {s.xenapi.PIF.get_MAC(p) for p in now} == {rec["MAC"] for rec in old.values()}


def test_host_liveness_timeout_and_hello(start_sim):
    sim = start_sim("healthy", time_scale=0.002)  # 600 s = 1.2 s real
    s = login_master(sim)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    metrics = s.xenapi.host.get_metrics(xen3)
    sim.faults.power_off("xen3")
    assert s.xenapi.host_metrics.get_live(metrics) is True  # DB still says live, VMs Running
    db01 = s.xenapi.VM.get_by_name_label("db01")[0]
    assert s.xenapi.VM.get_power_state(db01) == "Running"
    assert sim.world.running_domains("xen3") == {}
    wait_until(lambda: s.xenapi.host_metrics.get_live(metrics) is False, timeout=5, what="live=false")
    # a dead host's VM can be reset; VM.start_on it is refused
    s.xenapi.VM.power_state_reset(db01)
    # xapi_vm_helpers.ml assert_can_boot_here: assert_host_is_live raises HOST_NOT_LIVE, no parameters
    assert failure(s.xenapi.VM.start_on, db01, xen3, False, False) == ["HOST_NOT_LIVE"]
    sim.faults.power_on("xen3")
    wait_until(lambda: s.xenapi.host_metrics.get_live(metrics) is True, timeout=5, what="live again on hello")
    wait_until(lambda: s.xenapi.host.get_enabled(xen3) is True, timeout=5, what="xen3 enables itself")
    s.xenapi.VM.start_on(db01, xen3, False, False)
    assert s.xenapi.VM.get_uuid(db01) in sim.world.running_domains("xen3")


def test_db_backup_push_and_state_db_files(start_sim):
    sim = start_sim("healthy", time_scale=0.002)  # DB sync every 300 s = 0.6 s real
    ep = sim.endpoints
    s = login_master(sim)
    vm = s.xenapi.VM.get_by_name_label("spare01")[0]
    s.xenapi.VM.set_name_label(vm, "renamed-spare")
    wait_until(lambda: sim.proc("xen2").local_db.by_name_label("VM", "renamed-spare"), timeout=5, what="backup pushed")
    assert sim.proc("xen2").backup_time > sim.clock.now() - 400
    assert sim.flush_files()
    assert b"renamed-spare" in Path(ep.host("xen2").root, "var/lib/xcp/state.db").read_bytes()
    assert b"renamed-spare" in Path(ep.host("xen1").root, "var/lib/xcp/state.db").read_bytes()


def test_dom0_files_follow_the_world(start_sim):
    sim = start_sim("master-down")
    ep = sim.endpoints
    xen1, xen2 = Path(ep.host("xen1").root), Path(ep.host("xen2").root)
    assert (xen1 / "etc/xensource/pool.conf").read_text() == "master"
    assert (xen2 / "etc/xensource/pool.conf").read_text() == "slave:" + ep.host("xen1").address
    assert "INSTALLATION_UUID='%s'" % ep.host("xen2").uuid in (xen2 / "etc/xensource-inventory").read_text()
    assert "MANAGEMENT_INTERFACE='xenbr0'" in (xen2 / "etc/xensource-inventory").read_text()
    assert not (xen1 / "var/run/xapi.pid").exists()  # powered off
    assert (xen2 / "var/run/xapi.pid").read_text().strip().isdigit()
    assert sim.flush_files()
    # the survivor's state.db is the backup from before new01 was created; the master's has it
    assert b"new01" not in (xen2 / "var/lib/xcp/state.db").read_bytes()
    assert b"new01" in (xen1 / "var/lib/xcp/state.db").read_bytes()
    sim.faults.power_on("xen1", immediate=True)
    assert (xen1 / "var/run/xapi.pid").exists()


def test_partition_and_hung_slave_seen_from_the_master(start_sim):
    sim = start_sim("healthy")
    s = login_master(sim)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    local = make_tcp_session(sim.endpoints.host("xen2").address, sim.endpoints.host("xen2").port, timeout=0.3)
    local.slave_local_login_with_password("root", sim.endpoints.root_password)
    sim.faults.partition("xen1", "xen2")
    with pytest.raises(socket.timeout):
        local.xenapi.VM.get_all()
    sim.faults.heal("xen1", "xen2")
    local2 = make_tcp_session(sim.endpoints.host("xen2").address, sim.endpoints.host("xen2").port)
    local2.slave_local_login_with_password("root", sim.endpoints.root_password)
    assert len(local2.xenapi.VM.get_all()) > 0
    sim.faults.partition("xen1", "xen3")
    assert [s.xenapi.host.get_name_label(h) for h in s.xenapi.pool.recover_slaves()] == ["xen2"]
    assert failure(s.xenapi.PIF.scan, xen3) == ["CANNOT_CONTACT_HOST", xen3]
    s.xenapi.host.declare_dead(xen3)  # not answering pool.is_slave: dead
    assert s.xenapi.host.get_enabled(xen3) is False
    sim.faults.heal("xen1", "xen3")
    s.xenapi.host.enable(xen3)
    assert s.xenapi.host.get_enabled(xen3) is True
    pbd = s.xenapi.host.get_PBDs(xen3)[0]
    s.xenapi.PBD.plug(pbd)
    assert s.xenapi.PBD.get_currently_attached(pbd) is True


def test_management_disable_on_the_master(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints.host("xen1")
    local = local_unix(sim, "xen1")
    xen1 = local.xenapi.host.get_by_name_label("xen1")[0]
    assert local.xenapi.host.get_management_interface(xen1)
    local.xenapi.host.management_disable()
    with pytest.raises(OSError):
        socket.create_connection((ep.address, ep.port), timeout=1).close()
    assert failure(local.xenapi.host.get_management_interface, xen1)[0] == "INTERNAL_ERROR"


def test_large_pool_starts_and_answers(start_sim):
    sim = start_sim("large")
    assert len(sim.endpoints.hosts) == 64
    s = login_master(sim)
    assert len(s.xenapi.host.get_all()) == 64
    assert len(s.xenapi.VM.get_all()) == 2000 + 64  # + one control domain per host
    assert not any(p.emergency for p in sim.world.procs.values())
