"""Per-host xapi dispatch: logins, forwarding, emergency mode, arity, sessions
(xapi-semantics.md §1.3-§1.5, §7.2), through the real XenAPI SDK and raw XML-RPC."""

from __future__ import annotations

import socket
import time
import xmlrpc.client

import pytest

from tests.sim.sessions import TimeoutTransport, UnixTransport, failure, make_tcp_session, make_unix_session, wait_until


def raw_unix(path: str, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(path, timeout), allow_none=True)


def raw_tcp(ep, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy(
        f"http://{ep.address}:{ep.port}/", transport=TimeoutTransport(timeout), allow_none=True
    )


def test_healthy_pool_logins_and_forwarding(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    master, slave = ep.host("xen1"), ep.host("xen2")
    # TCP password login on the master
    s = make_tcp_session(master.address, master.port)
    s.login_with_password("root", ep.root_password)
    pool = s.xenapi.pool.get_all()[0]
    master_ref = s.xenapi.pool.get_master(pool)
    assert s.xenapi.host.get_address(master_ref) == master.address
    assert s.xenapi.host.is_in_emergency_mode() is False
    # TCP password login on a healthy slave: HOST_IS_SLAVE [master address from pool.conf]
    assert failure(make_tcp_session(slave.address, slave.port).login_with_password, "root", ep.root_password) == [
        "HOST_IS_SLAVE",
        master.address,
    ]
    # even with a wrong password: refused at once, no DB access, no delay
    t0 = time.monotonic()
    assert (
        failure(make_tcp_session(slave.address, slave.port).login_with_password, "root", "wrong")[0] == "HOST_IS_SLAVE"
    )
    assert time.monotonic() - t0 < 1.0
    # unix socket on a slave: pre-authenticated root, calls forwarded to the master
    u = make_unix_session(slave.socket)
    u.login_with_password("anyone", "anything")
    assert sorted(u.xenapi.VM.get_all()) == sorted(s.xenapi.VM.get_all())
    assert u.xenapi.pool.get_master(pool) == master_ref
    # a master session used over TCP on the slave: HOST_IS_SLAVE
    raw = raw_tcp(slave)
    reply = raw.VM.get_all(s._session)
    assert reply["Status"] == "Failure" and reply["ErrorDescription"] == ["HOST_IS_SLAVE", master.address]
    # slave-local login over TCP checks the local root password (PAM: its fail delay only)
    local = make_tcp_session(slave.address, slave.port)
    assert failure(local.slave_local_login_with_password, "root", "wrong")[0] == "SESSION_AUTHENTICATION_FAILED"
    local.slave_local_login_with_password("root", ep.root_password)
    assert local._session.startswith("OpaqueRef:")
    # a local session can call anything on the slave; DB calls go through the master
    assert sorted(local.xenapi.host.get_all()) == sorted(s.xenapi.host.get_all())
    assert local.xenapi.host.is_in_emergency_mode() is False
    # the local session is only valid on the host that issued it
    assert raw_tcp(master).VM.get_all(local._session)["ErrorDescription"] == ["SESSION_INVALID", local._session]
    local_ref = local._session
    local.xenapi.session.logout()  # the SDK sends session.local_logout for slave_local logins
    assert raw_tcp(slave).host.is_in_emergency_mode(local_ref)["ErrorDescription"][0] == "SESSION_INVALID"
    ref = s._session
    s.xenapi.session.logout()
    assert raw_tcp(master).VM.get_all(ref)["ErrorDescription"] == ["SESSION_INVALID", ref]


def test_failed_password_login_delays(start_sim):
    # xapi_session.ml login_with_password: with no external auth, do_local_auth raises
    # SESSION_AUTHENTICATION_FAILED itself, which escapes the `with Failure msg ->
    # thread_delay_and_raise_error` handler: only PAM's fail delay (2 s) applies. With external
    # auth xapi adds its own 5 s.
    sim = start_sim("healthy", time_scale=0.1)  # 2 s = 0.2 s real, 7 s = 0.7 s real
    master = sim.endpoints.host("xen1")
    t0 = time.monotonic()
    details = failure(make_tcp_session(master.address, master.port).login_with_password, "root", "bad")
    elapsed = time.monotonic() - t0
    assert details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    assert 0.18 <= elapsed < 0.5
    with sim.world.lock:
        db = sim.proc("xen1").db
        db.set_field("host", sim.proc("xen1").host_ref_in(db), "external_auth_type", "AD")
    t0 = time.monotonic()
    details = failure(make_tcp_session(master.address, master.port).login_with_password, "root", "bad")
    assert details == ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    assert 0.65 <= time.monotonic() - t0 < 2.5
    # the unix socket accepts any credentials (preauth root)
    make_unix_session(master.socket).login_with_password("root", "bad")


def test_arity_unknown_method_and_list_methods(start_sim):
    sim = start_sim("healthy")
    master = sim.endpoints.host("xen1")
    s = make_tcp_session(master.address, master.port)
    s.login_with_password("root", sim.endpoints.root_password)
    raw = raw_tcp(master)
    assert raw.VM.get_all(s._session, "extra")["ErrorDescription"] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "VM.get_all",
        "0",
        "1",
    ]
    # arity is checked before the session
    assert raw.VM.get_record("OpaqueRef:bogus")["ErrorDescription"][0] == "MESSAGE_PARAMETER_COUNT_MISMATCH"
    assert raw.VM.get_all("OpaqueRef:bogus")["ErrorDescription"] == ["SESSION_INVALID", "OpaqueRef:bogus"]
    assert raw.VM.no_such_call(s._session)["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"]
    # login_with_password: version and originator are optional
    assert raw.session.login_with_password("root", sim.endpoints.root_password)["Status"] == "Success"
    assert raw.session.login_with_password("root", sim.endpoints.root_password, "1.1", "t")["Status"] == "Success"
    # underscore form works outside emergency mode
    assert raw.host_is_in_emergency_mode(s._session) == {"Status": "Success", "Value": False}
    methods = raw.system.listMethods()
    assert isinstance(methods, list) and "pool.emergency_transition_to_master" in methods


def test_emergency_mode_dispatch_on_restarted_survivor(start_sim):
    sim = start_sim("master-down")
    ep = sim.endpoints
    survivor, dead = ep.host("xen2"), ep.host("xen1")
    # the dead master refuses connections
    with pytest.raises(OSError):
        socket.create_connection((dead.address, dead.port), timeout=1).close()
    stashed = sim.proc("xen2").emergency_error.details
    assert stashed[0] == "INTERNAL_ERROR" and "Connection failed" in stashed[1]
    # normal logins get the stashed error on every transport, before any session check
    for session in (make_tcp_session(survivor.address, survivor.port), make_unix_session(survivor.socket)):
        assert failure(session.login_with_password, "root", ep.root_password) == stashed
    raw = raw_unix(survivor.socket)
    assert raw.VM.get_all("OpaqueRef:whatever")["ErrorDescription"] == stashed
    # emergency calls work with a slave-local session
    local = make_tcp_session(survivor.address, survivor.port)
    local.slave_local_login_with_password("root", ep.root_password)
    assert local.xenapi.host.is_in_emergency_mode() is True
    assert failure(local.xenapi.host.local_assert_healthy) == stashed
    assert raw_tcp(survivor).pool.is_slave(local._session, "OpaqueRef:NULL") == {"Status": "Success", "Value": True}
    # only the dot form is in the emergency list
    assert raw_tcp(survivor).host_is_in_emergency_mode(local._session)["ErrorDescription"] == stashed
    # non-emergency calls with a local session: the stashed error too
    assert failure(local.xenapi.VM.get_all) == stashed
    # HOST_IN_EMERGENCY_MODE is never raised
    assert "HOST_IN_EMERGENCY_MODE" not in stashed
    # local_management_reconfigure is allowed only in emergency mode; here it is. It
    # writes the inventory, then its on_dom0_networking_change tail waits for the
    # master's database, which an emergency-mode member never reaches: no reply.
    console = make_unix_session(survivor.socket, timeout=0.3)
    console.slave_local_login_with_password("root", "anything")
    with pytest.raises(socket.timeout):
        console.xenapi.host.local_management_reconfigure("xenbr0")
    assert sim.proc("xen2").management_interface == "xenbr0"


def test_running_slave_whose_master_died_hangs_and_is_not_in_emergency(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    slave = ep.host("xen2")
    local = make_tcp_session(slave.address, slave.port, timeout=0.5)
    local.slave_local_login_with_password("root", ep.root_password)
    sim.faults.power_off("xen1")
    assert local.xenapi.host.is_in_emergency_mode() is False
    # a DB call hangs: the client times out
    with pytest.raises(socket.timeout):
        local.xenapi.VM.get_all()
    # so does anything on the unix socket that is not whitelisted
    u = make_unix_session(slave.socket, timeout=0.5)
    with pytest.raises(socket.timeout):
        u.login_with_password("root", "x")
    # pure-local calls still answer
    again = make_tcp_session(slave.address, slave.port, timeout=2)
    again.slave_local_login_with_password("root", ep.root_password)
    assert again.xenapi.host.is_in_emergency_mode() is False
    # after a toolstack restart it is in emergency mode...
    sim.faults.restart_xapi("xen2")
    wait_until(lambda: sim.proc("xen2").up and sim.proc("xen2").emergency, what="emergency after restart")
    wait_until(lambda: sim.proc("xen2").emergency_error.code == "INTERNAL_ERROR", what="hello failed")
    # ...and leaves it by itself when the master is back (master sets enabled/live on hello)
    sim.faults.power_on("xen1")
    wait_until(lambda: sim.proc("xen1").up and not sim.proc("xen2").emergency, timeout=10, what="hello")
    m = ep.host("xen1")
    s = make_tcp_session(m.address, m.port)
    s.login_with_password("root", ep.root_password)
    host = s.xenapi.host.get_by_name_label("xen2")[0]
    assert s.xenapi.host_metrics.get_live(s.xenapi.host.get_metrics(host)) is True
    # Pool.hello sets enabled=false; the member enables itself when its start-up is done
    wait_until(lambda: s.xenapi.host.get_enabled(host) is True, what="consider_enabling_host")


def test_hung_master_forwarded_call_blocks_until_it_answers(start_sim):
    sim = start_sim("master-hung")
    ep = sim.endpoints
    slave, master = ep.host("xen2"), ep.host("xen1")
    # the hung master accepts but never answers
    with pytest.raises(socket.timeout):
        make_tcp_session(master.address, master.port, timeout=0.3).login_with_password("root", ep.root_password)
    local = make_unix_session(slave.socket, timeout=0.3)
    local.slave_local_login_with_password("root", "x")
    assert local.xenapi.host.is_in_emergency_mode() is False
    with pytest.raises(socket.timeout):
        local.xenapi.host.get_all()
    sim.faults.unhang("xen1")
    fresh = make_unix_session(slave.socket, timeout=5)
    fresh.login_with_password("root", "x")
    assert len(fresh.xenapi.host.get_all()) == 2


def test_slave_in_emergency_with_the_master_reachable_but_unknown(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    m = ep.host("xen1")
    s = make_tcp_session(m.address, m.port)
    s.login_with_password("root", ep.root_password)
    # the master forgets xen3 while xen3 is off; xen3 comes back: HOST_UNKNOWN_TO_MASTER
    sim.faults.power_off("xen3")
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    for vm in s.xenapi.host.get_resident_VMs(xen3):
        if not s.xenapi.VM.get_is_control_domain(vm):
            s.xenapi.VM.power_state_reset(vm)
    s.xenapi.host.destroy(xen3)
    sim.faults.power_on("xen3", immediate=True)
    wait_until(lambda: sim.proc("xen3").emergency_error.code == "HOST_UNKNOWN_TO_MASTER", what="unknown")
    assert sim.proc("xen3").emergency_error.params == (ep.host("xen3").uuid,)


def test_restarted_slave_is_still_booting_until_the_connect_timeout(start_sim):
    from xentui.sim.clock import Timings

    # a long connect timeout (100 s simulated = 1 s real) keeps the window wide under load
    sim = start_sim("healthy", time_scale=0.01, timings=Timings(connect_timeout=100.0))
    ep = sim.endpoints
    slave = ep.host("xen2")
    sim.faults.power_off("xen1")
    sim.faults.restart_xapi("xen2")
    wait_until(lambda: sim.proc("xen2").up, timeout=5, what="xapi back")
    u = make_unix_session(slave.socket)
    assert failure(u.login_with_password, "root", "x") == ["HOST_STILL_BOOTING"]
    wait_until(lambda: sim.proc("xen2").emergency_error.code == "INTERNAL_ERROR", timeout=5, what="connect timeout")
    details = failure(u.login_with_password, "root", "x")
    assert details[0] == "INTERNAL_ERROR" and "Connection failed" in details[1]
    # a disabled slave whose xapi is down refuses connections on the unix socket
    sim.faults.power_off("xen3")
    with pytest.raises(OSError):
        make_unix_session(ep.host("xen3").socket).login_with_password("root", "x")


def test_event_from_ends_when_the_xapi_restarts(start_sim):
    import threading

    sim = start_sim("healthy")
    master = sim.endpoints.host("xen1")
    s = make_tcp_session(master.address, master.port, timeout=10)
    s.login_with_password("root", sim.endpoints.root_password)
    first = s.xenapi.event_from(["vm"], "", 1.0)
    assert {e["operation"] for e in first["events"]} == {"add"}
    outcome = {}

    def wait_for_events():
        started = time.monotonic()
        try:
            s.xenapi.event_from(["vm"], first["token"], 5000.0)  # 50 s real if nothing stopped it
            outcome["result"] = "returned"
        except Exception as exc:  # noqa: BLE001 - connection closed or error reply
            outcome["result"] = type(exc).__name__
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=wait_for_events)
    thread.start()
    time.sleep(0.2)
    sim.faults.restart_xapi("xen1")
    thread.join(timeout=5)
    assert not thread.is_alive() and outcome["elapsed"] < 5


def test_slave_pointing_at_itself_and_host_disable(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints
    local = make_unix_session(ep.host("xen3").socket)
    local.slave_local_login_with_password("root", "x")
    local.xenapi.pool.emergency_reset_master(ep.host("xen3").address)
    assert sim.proc("xen3").fuse_pending
    wait_until(lambda: sim.proc("xen3").emergency_error.code == "HOST_ITS_OWN_SLAVE", what="its own slave")
    m = ep.host("xen1")
    s = make_tcp_session(m.address, m.port)
    s.login_with_password("root", ep.root_password)
    xen2 = s.xenapi.host.get_by_name_label("xen2")[0]
    s.xenapi.host.disable(xen2)
    assert s.xenapi.host.get_enabled(xen2) is False
    web02 = s.xenapi.VM.get_by_name_label("spare01")[0]
    assert failure(s.xenapi.VM.start_on, web02, xen2, False, False) == ["HOST_DISABLED", xen2]
