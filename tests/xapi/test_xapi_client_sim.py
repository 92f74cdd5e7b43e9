"""XapiClient (real XenAPI SDK) against the simulator, in every pool state:
healthy master and member, emergency mode, hung master, xapi restarting,
wrong password."""

from __future__ import annotations

import threading
import time

import pytest

from xentui.xapi.client import XapiClient
from xentui.xapi.errors import AuthenticationFailed, CallTimeout, ConnectionRefused, XapiFailure
from xentui.xapi.live import load_snapshot
from xentui.xapi.session_info import SessionKind
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TcpEndpoint, open_endpoint


class SimTcpEndpoint(TcpEndpoint):
    """http to one simulated host; pool addresses map to the simulator's ports."""

    def __init__(self, sim, name):
        host = sim.endpoints.host(name)
        super().__init__("http", host.address, host.port, connect_timeout=1.0)
        self.sim = sim

    def for_address(self, address):
        name = next(h.name for h in self.sim.endpoints.hosts if h.address == address)
        return SimTcpEndpoint(self.sim, name)


def unix_endpoint(sim, name):
    return open_endpoint(parse_target(f"sim:{sim.state_dir}/{name}"))


def client(call_timeout=2.0):
    return XapiClient(call_timeout=call_timeout, backoff_initial=0.02, backoff_cap=0.2)


def test_healthy_master_over_unix_socket_and_tcp(start_sim):
    sim = start_sim("healthy")
    local = client()
    info = local.connect(unix_endpoint(sim, "xen1"))
    assert info.session_kind is SessionKind.LOCAL_ROOT and info.state == "connected"
    snapshot = load_snapshot(local)
    assert snapshot.master.name_label == "xen1"
    local.close()

    remote = client()
    info = remote.connect(SimTcpEndpoint(sim, "xen1"), password=sim.endpoints.root_password)
    assert info.session_kind is SessionKind.PASSWORD and info.transport == "http"
    assert len(load_snapshot(remote).hosts) == 3
    remote.close()


def test_healthy_member_over_unix_socket_is_proxied(start_sim):
    sim = start_sim("healthy")
    c = client()
    c.connect(unix_endpoint(sim, "xen2"))
    assert c.session_kind is SessionKind.LOCAL_ROOT
    assert load_snapshot(c).master.name_label == "xen1"  # forwarded to the master
    c.close()


def test_healthy_member_over_tcp_reports_master_and_follows(start_sim):
    sim = start_sim("healthy")
    c = client()
    info = c.connect(SimTcpEndpoint(sim, "xen2"), password=sim.endpoints.root_password)
    master = sim.endpoints.host("xen1")
    assert c.master_address == master.address
    assert info.master_address == master.address
    assert c.session_kind is SessionKind.SLAVE_LOCAL  # still usable on this host
    info = c.follow_master()
    assert c.session_kind is SessionKind.PASSWORD
    assert c.endpoint.port == master.port
    assert load_snapshot(c).master.name_label == "xen1"
    c.close()


@pytest.mark.parametrize("over", ["unix", "tcp"])
def test_emergency_mode_uses_slave_local_and_reports_the_reason(start_sim, over):
    sim = start_sim("master-down")
    endpoint = unix_endpoint(sim, "xen2") if over == "unix" else SimTcpEndpoint(sim, "xen2")
    c = client()
    info = c.connect(endpoint, password=sim.endpoints.root_password)
    assert c.session_kind is SessionKind.SLAVE_LOCAL
    assert info.state == "emergency"
    code, params = c.emergency_reason
    expected = sim.proc("xen2").emergency_error.details
    assert [code, *params] == expected
    assert code in ("INTERNAL_ERROR", "HOST_STILL_BOOTING")
    with pytest.raises(XapiFailure) as failure:
        load_snapshot(c)
    assert failure.value.code == code
    assert c.check_emergency()[0] is True
    c.close()


def test_master_down_master_itself_is_refused(start_sim):
    sim = start_sim("master-down")
    c = client()
    started = time.monotonic()
    with pytest.raises(ConnectionRefused):
        c.connect(SimTcpEndpoint(sim, "xen1"), password=sim.endpoints.root_password)
    assert time.monotonic() - started < 1.0
    assert c.connection_info().state == "refused"


def test_hung_master_costs_bounded_time_and_says_timed_out(start_sim):
    sim = start_sim("master-hung")
    # The hung master itself: the login times out.
    c = client(call_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        c.connect(SimTcpEndpoint(sim, "xen1"), password=sim.endpoints.root_password)
    assert time.monotonic() - started < 1.5
    assert c.connection_info().state == "timed-out"
    # Its member's console: login_with_password needs the master's database
    # and hangs; the local login answers; pool calls time out.
    member = client(call_timeout=0.5)
    started = time.monotonic()
    info = member.connect(unix_endpoint(sim, "xen2"))
    assert time.monotonic() - started < 1.5
    assert member.session_kind is SessionKind.SLAVE_LOCAL and member.master_unresponsive
    assert "no answer" in info.detail
    assert member.check_emergency()[0] is False  # running member: not in emergency mode
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        load_snapshot(member)
    assert time.monotonic() - started < 1.5
    member.close(logout=False)


def test_xapi_restart_is_survived_within_a_deadline(start_sim):
    sim = start_sim("healthy", time_scale=0.05)  # restart gap 2 s -> 0.1 s real
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    old_ref = c.session_ref
    assert load_snapshot(c).master is not None
    sim.faults.restart_xapi("xen1")
    started = time.monotonic()
    snapshot = load_snapshot(c, recover_within=5.0)
    assert time.monotonic() - started < 5.0
    assert snapshot.master.name_label == "xen1"
    assert c.session_ref != old_ref  # logged in again after SESSION_INVALID / refused
    assert c.logins == 2
    c.close()


def test_wrong_password_fails_after_the_scaled_delay(start_sim):
    # Without external auth xapi's own 5 s delay never runs (the PAM error escapes
    # the handler that sleeps, xapi_session.ml); PAM's 2 s fail delay does.
    sim = start_sim("healthy", time_scale=0.1)  # 2 s PAM delay -> 0.2 s real
    c = client()
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed):
        c.connect(SimTcpEndpoint(sim, "xen1"), password="not-the-password")
    elapsed = time.monotonic() - started
    assert 0.15 < elapsed < 2.0
    assert c.connection_info().state == "auth-failed"


def test_many_threads_share_one_session(start_sim):
    sim = start_sim("healthy")
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    results, errors = [], []

    def worker():
        try:
            for _ in range(10):
                results.append(len(c.call("VM.get_all")))
        except Exception as exc:  # collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert errors == [] and len(results) == 80 and len(set(results)) == 1
    assert c.logins == 1
    c.close()


def test_call_raw_for_list_methods(start_sim):
    sim = start_sim("healthy")
    c = client()
    c.connect(unix_endpoint(sim, "xen1"))
    methods = c.call_raw("system.listMethods")
    assert "pool.emergency_transition_to_master" in methods and "event.from" in methods
    c.close()
