"""Recovery calls end to end: the seed article's manual recovery, split brain,
designate_new_master, recover_slaves, emergency_reset_master (xapi-semantics.md §2, §3)."""

from __future__ import annotations

import xmlrpc.client

import pytest
import XenAPI

from tests.sim.sessions import failure, make_tcp_session, make_unix_session, wait_until


def login_master(sim, name):
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def test_seed_article_manual_recovery_by_api_calls_only(start_sim):
    sim = start_sim("master-down")
    ep = sim.endpoints
    survivor = ep.host(ep.console)
    assert survivor.name == "xen2"
    # 1. detect emergency mode on the survivor (xe host-is-in-emergency-mode)
    local = make_tcp_session(survivor.address, survivor.port)
    local.slave_local_login_with_password("root", ep.root_password)
    assert local.xenapi.host.is_in_emergency_mode() is True
    own_vms_running = set(sim.world.running_domains("xen2"))
    assert len(own_vms_running) == 2  # its own VMs still run
    # 2. promote it: returns "" at once, takes effect after the 10 s fuse
    assert local.xenapi.pool.emergency_transition_to_master() == ""
    # pool.conf says master at once; the running xapi keeps its cached role until the restart
    assert (survivor_root := sim.proc("xen2")).conf_role == "master" and survivor_root.role == "slave"
    assert local.xenapi.host.local_assert_healthy is not None
    assert failure(local.xenapi.host.local_assert_healthy)[0] in ("HOST_STILL_BOOTING", "INTERNAL_ERROR")
    assert (open(survivor.root + "/etc/xensource/pool.conf").read()) == "master"
    assert survivor_root.up and survivor_root.emergency  # not yet restarted
    # 3. wait through the fuse: the old sessions are gone
    wait_until(lambda: sim.proc("xen2").starts >= 3 and sim.proc("xen2").up, what="restart as master")
    raw = xmlrpc.client.ServerProxy(f"http://{survivor.address}:{survivor.port}/")
    assert raw.host.is_in_emergency_mode(local._session)["ErrorDescription"] == ["SESSION_INVALID", local._session]
    s = login_master(sim, "xen2")
    assert s.xenapi.host.is_in_emergency_mode() is False
    pool = s.xenapi.pool.get_all()[0]
    me = s.xenapi.pool.get_master(pool)
    assert s.xenapi.host.get_name_label(me) == "xen2"
    # it runs on its backup DB: the VM created after the last sync is missing
    assert s.xenapi.VM.get_by_name_label("new01") == []
    # the dead host's VMs still show Running there
    xen1 = s.xenapi.host.get_by_name_label("xen1")[0]
    dead_vms = [v for v in s.xenapi.host.get_resident_VMs(xen1) if not s.xenapi.VM.get_is_control_domain(v)]
    assert {s.xenapi.VM.get_power_state(v) for v in dead_vms} == {"Running"}
    assert s.xenapi.host_metrics.get_live(s.xenapi.host.get_metrics(xen1)) is True
    # 4. recover_slaves: the old master is unreachable, nothing to recover
    assert s.xenapi.pool.recover_slaves() == []
    # 5. clean up the dead host's VMs: power_state_reset one, declare_dead for the rest
    s.xenapi.VM.power_state_reset(dead_vms[0])
    assert s.xenapi.VM.get_power_state(dead_vms[0]) == "Halted"
    assert s.xenapi.VM.get_resident_on(dead_vms[0]) == "OpaqueRef:NULL"
    s.xenapi.host.declare_dead(xen1)
    assert s.xenapi.host.get_enabled(xen1) is False
    assert all(s.xenapi.VM.get_power_state(v) == "Halted" for v in dead_vms)
    # declaring ourselves dead is refused
    assert failure(s.xenapi.host.declare_dead, me) == ["HOST_IS_LIVE", me]
    # 6. start them on the survivor (shared storage); the local-SR VM cannot
    started = []
    for vm in dead_vms:
        name = s.xenapi.VM.get_name_label(vm)
        if name == "local01":
            assert failure(s.xenapi.VM.start_on, vm, me, False, False)[0] == "VM_REQUIRES_SR"
            continue
        s.xenapi.VM.start_on(vm, me, False, False)
        started.append(vm)
    # 7. verify
    for vm in started:
        assert s.xenapi.VM.get_power_state(vm) == "Running"
        assert s.xenapi.VM.get_resident_on(vm) == me
    running_uuids = {s.xenapi.VM.get_uuid(v) for v in started}
    assert running_uuids <= set(sim.world.running_domains("xen2"))
    assert own_vms_running <= set(sim.world.running_domains("xen2"))
    assert sim.world.double_starts == []
    # 8. the old master comes back: its no-other-masters check finds xen2 and demotes it
    sim.faults.power_on("xen1", immediate=True)
    wait_until(
        lambda: sim.proc("xen1").role == "slave" and sim.proc("xen1").up and not sim.proc("xen1").emergency,
        what="old master demoted and joined",
    )
    assert sim.proc("xen1").master_address == survivor.address
    assert open(ep.host("xen1").root + "/etc/xensource/pool.conf").read() == "slave:" + survivor.address
    wait_until(lambda: s.xenapi.host_metrics.get_live(s.xenapi.host.get_metrics(xen1)), what="xen1 live")


def test_start_of_vm_still_running_on_hung_master_is_recorded_as_double_start(start_sim):
    sim = start_sim("master-hung")
    ep = sim.endpoints
    u = make_unix_session(ep.host("xen2").socket)
    u.slave_local_login_with_password("root", "x")
    u.xenapi.pool.emergency_transition_to_master()
    wait_until(
        lambda: sim.proc("xen2").is_master and sim.proc("xen2").db is not None and sim.proc("xen2").up, what="promoted"
    )
    # the hung old master could not be asked: xen2 carries on as master
    s = login_master(sim, "xen2")
    web01 = s.xenapi.VM.get_by_name_label("web01")[0]
    xen1 = s.xenapi.host.get_by_name_label("xen1")[0]
    # live=true in the DB; a hung host would hold is_host_alive (see test_sim_fidelity); one
    # that cannot be reached does not answer pool.is_slave: treated as dead
    sim.faults.partition("xen1", "xen2")
    sim.faults.unhang("xen1")
    s.xenapi.VM.power_state_reset(web01)
    s.xenapi.VM.start(web01, False, False)
    assert s.xenapi.VM.get_resident_on(web01) == s.xenapi.pool.get_master(s.xenapi.pool.get_all()[0])
    uuid = s.xenapi.VM.get_uuid(web01)
    assert [(d.vm_uuid, d.host, d.already_on) for d in sim.world.double_starts] == [(uuid, "xen2", "xen1")]
    assert xen1


def test_power_state_reset_and_declare_dead_refuse_a_live_host(start_sim):
    sim = start_sim("healthy")
    s = login_master(sim, "xen1")
    xen2 = s.xenapi.host.get_by_name_label("xen2")[0]
    vm = s.xenapi.VM.get_by_name_label("web02")[0]
    assert failure(s.xenapi.VM.power_state_reset, vm) == ["HOST_IS_LIVE", xen2]
    assert failure(s.xenapi.host.declare_dead, xen2) == ["HOST_IS_LIVE", xen2]
    local_vm = s.xenapi.VM.get_by_name_label("web01")[0]
    assert failure(s.xenapi.VM.power_state_reset, local_vm) == ["DOMAIN_EXISTS", local_vm]  # xapi_vm.ml
    dom0 = s.xenapi.host.get_control_domain(xen2)
    assert failure(s.xenapi.VM.power_state_reset, dom0) == ["CANNOT_RESET_CONTROL_DOMAIN", dom0]
    assert failure(s.xenapi.VM.start, vm, False, False)[0] == "VM_BAD_POWER_STATE"


def test_split_brain_two_masters_answer_and_the_restarted_one_yields(start_sim):
    sim = start_sim("split-brain")
    a, b = login_master(sim, "xen1"), login_master(sim, "xen2")
    for s, name in ((a, "xen1"), (b, "xen2")):
        pool = s.xenapi.pool.get_all()[0]
        assert s.xenapi.host.get_name_label(s.xenapi.pool.get_master(pool)) == name
        assert s.xenapi.host.is_in_emergency_mode() is False
    assert sim.proc("xen3").master_address == sim.endpoints.host("xen2").address
    # while xen2 is unreachable, a restarted xen1 carries on regardless (still split)
    sim.faults.partition("xen1", "xen2")
    sim.faults.restart_xapi("xen1", immediate=True)
    assert sim.proc("xen1").is_master
    sim.faults.heal("xen1", "xen2")
    # the next restart finds the other master and demotes itself
    sim.faults.restart_xapi("xen1", immediate=True)
    wait_until(
        lambda: sim.proc("xen1").role == "slave" and sim.proc("xen1").up and not sim.proc("xen1").emergency,
        what="xen1 demoted",
    )
    assert sim.proc("xen1").master_address == sim.endpoints.host("xen2").address


def test_recover_slaves_and_emergency_reset_master(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    # promote xen2 while xen1 is alive: recover_slaves repoints every reachable member,
    # including the old master, which is demoted explicitly
    u = make_unix_session(ep.host("xen2").socket)
    u.slave_local_login_with_password("root", "x")
    sim.faults.partition("xen1", "xen2")
    sim.faults.partition("xen3", "xen2")
    u.xenapi.pool.emergency_transition_to_master()
    wait_until(lambda: sim.proc("xen2").is_master and sim.proc("xen2").db is not None, what="xen2 master")
    sim.faults.heal("xen1", "xen2")
    sim.faults.heal("xen3", "xen2")
    s = login_master(sim, "xen2")
    before = {h: sim.proc(h).starts for h in ("xen1", "xen3")}
    recovered = s.xenapi.pool.recover_slaves()
    names = sorted(s.xenapi.host.get_name_label(h) for h in recovered)
    assert names == ["xen1", "xen3"]
    assert sim.proc("xen1").conf_role == "slave"  # pool.conf now, restart after the fuse
    wait_until(
        lambda: all(
            sim.proc(h).starts > before[h]
            and sim.proc(h).up
            and not sim.proc(h).emergency
            and sim.proc(h).role == "slave"
            and sim.proc(h).master_address == ep.host("xen2").address
            for h in ("xen1", "xen3")
        ),
        what="members joined xen2",
    )
    # a second call: already pointing at us, still "recovered", no restart
    starts = sim.proc("xen3").starts
    assert len(s.xenapi.pool.recover_slaves()) == 2
    assert sim.proc("xen3").fuse_pending is False and sim.proc("xen3").starts == starts
    # emergency_reset_master: no-op when already a slave of that address; bad address fails
    l3 = make_unix_session(ep.host("xen3").socket)
    l3.slave_local_login_with_password("root", "x")
    assert l3.xenapi.pool.emergency_reset_master(ep.host("xen2").address) == ""
    assert sim.proc("xen3").fuse_pending is False
    assert failure(l3.xenapi.pool.emergency_reset_master, "no.such.host")[0] == "INTERNAL_ERROR"
    assert failure(l3.xenapi.host.local_management_reconfigure, "xenbr0") == ["NOT_IN_EMERGENCY_MODE"]
    assert failure(l3.xenapi.host.management_disable) == ["SLAVE_REQUIRES_MANAGEMENT_INTERFACE"]
    assert l3.xenapi.host.local_assert_healthy() == ""


def test_designate_new_master_two_phase(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    s = login_master(sim, "xen1")
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    pool = s.xenapi.pool.get_all()[0]
    s.xenapi.pool.designate_new_master(s.xenapi.pool.get_master(pool))  # no-op on the master itself
    assert s.xenapi.pool.designate_new_master(xen3) == ""
    wait_until(
        lambda: (
            sim.proc("xen3").is_master
            and sim.proc("xen3").db is not None
            and sim.proc("xen3").starts > 1
            and all(
                sim.proc(h).up
                and sim.proc(h).starts > 1
                and not sim.proc(h).emergency
                and sim.proc(h).master_address == ep.host("xen3").address
                for h in ("xen1", "xen2")
            )
        ),
        timeout=10,
        what="xen3 is the new master",
    )
    n = login_master(sim, "xen3")
    assert n.xenapi.host.get_name_label(n.xenapi.pool.get_master(n.xenapi.pool.get_all()[0])) == "xen3"
    old = ep.host("xen1")
    assert failure(make_tcp_session(old.address, old.port).login_with_password, "root", ep.root_password) == [
        "HOST_IS_SLAVE",
        ep.host("xen3").address,
    ]


def test_designate_new_master_aborts_when_a_member_cannot_be_reached(start_sim):
    sim = start_sim("healthy")
    s = login_master(sim, "xen1")
    xen2 = s.xenapi.host.get_by_name_label("xen2")[0]
    sim.faults.power_off("xen3")
    # xapi_pool_transition.ml phase 1: the raw connection error of the first host that
    # does not answer propose_new_master
    details = failure(s.xenapi.pool.designate_new_master, xen2)
    assert details[0] == "INTERNAL_ERROR" and details[1].startswith("Connection failed")
    assert sim.proc("xen2").role == "slave" and not sim.proc("xen1").fuse_pending


def test_heartbeat_to_a_master_that_does_not_know_us_restarts_the_slave(start_sim):
    sim = start_sim("healthy", time_scale=0.005)  # heartbeat every 30 s = 0.15 s real
    s = login_master(sim, "xen1")
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    sim.faults.partition("xen1", "xen3")  # xen3 keeps running, unseen
    for vm in s.xenapi.host.get_resident_VMs(xen3):
        if not s.xenapi.VM.get_is_control_domain(vm):
            s.xenapi.VM.power_state_reset(vm)
    s.xenapi.host.destroy(xen3)
    starts = sim.proc("xen3").starts
    sim.faults.heal("xen1", "xen3")
    # SESSION_AUTHENTICATION_FAILED on the heartbeat: "we must be pointing at the wrong master"
    wait_until(lambda: sim.proc("xen3").starts > starts, timeout=5, what="slave restarted")
    wait_until(
        lambda: sim.proc("xen3").emergency_error.code == "HOST_UNKNOWN_TO_MASTER", timeout=5, what="unknown to master"
    )


def test_enable_ha_needs_every_host_live_and_a_shared_heartbeat_sr(start_sim):
    # xapi_ha.ml `enable`: HOST_OFFLINE while a host is down, HA_IS_ENABLED when
    # already on; otherwise a statefile VDI in a shared SR and every host armed.
    sim = start_sim("healthy")
    s = make_unix_session(sim.endpoints.hosts[0].socket)
    s.login_with_password("root", "")
    pool = s.xenapi.pool.get_all()[0]
    shared = [ref for ref, rec in s.xenapi.SR.get_all_records().items() if rec["shared"]]
    local = [ref for ref, rec in s.xenapi.SR.get_all_records().items() if not rec["shared"]]
    with pytest.raises(XenAPI.Failure) as refused:
        s.xenapi.pool.enable_ha(local[:1], {})
    # xha_statefile.ml check_sr_can_host_statefile: an explicit SR's own error, as is
    assert refused.value.details == ["SR_NO_PBDS", local[0]]
    sim.faults.power_off("xen3")
    with pytest.raises(XenAPI.Failure) as offline:
        s.xenapi.pool.enable_ha(shared, {})
    assert offline.value.details[0] == "HOST_OFFLINE"
    sim.faults.power_on("xen3")
    wait_until(lambda: _enable_ha_or_none(s, shared), timeout=15, what="all hosts back and HA enabled")
    assert s.xenapi.pool.get_ha_enabled(pool) is True
    assert len(s.xenapi.pool.get_ha_statefiles(pool)) == 1
    assert all(sim.proc(h.name).ha_armed for h in sim.endpoints.hosts)
    with pytest.raises(XenAPI.Failure) as again:
        s.xenapi.pool.enable_ha(shared, {})
    assert again.value.details[0] == "HA_IS_ENABLED"


def _enable_ha_or_none(session, srs):
    try:
        session.xenapi.pool.enable_ha(srs, {})
        return True
    except XenAPI.Failure as failure:
        if failure.details[0] == "HOST_OFFLINE":
            return None
        raise
