"""Transports against the real simulator (xentui/sim), with the real SDK."""

from __future__ import annotations

import time

import pytest
import XenAPI

from xentui.xapi.errors import CallTimeout, ConnectionLost, ConnectionRefused
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TcpEndpoint, UnixSocketEndpoint, open_endpoint


def session_for(endpoint, call_timeout=5.0):
    return XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(call_timeout))


def test_sim_target_is_the_hosts_unix_socket(start_sim):
    sim = start_sim("healthy")
    target = parse_target(f"sim:{sim.state_dir}/xen2")
    assert target.socket_path == sim.endpoints.host("xen2").socket
    endpoint = open_endpoint(target)
    assert isinstance(endpoint, UnixSocketEndpoint) and endpoint.preauthenticated_root
    session = session_for(endpoint)
    session.login_with_password("root", "")  # unix socket: root without password
    assert len(session.xenapi.host.get_all()) == 3
    session.xenapi.session.logout()


def test_following_host_is_slave_with_for_address(start_sim):
    sim = start_sim("healthy")
    console = open_endpoint(parse_target(f"sim:{sim.state_dir}/xen2"))
    slave = console.for_address(sim.endpoints.host("xen2").address)
    assert isinstance(slave, TcpEndpoint) and not slave.preauthenticated_root
    with pytest.raises(XenAPI.Failure) as failure:
        session_for(slave).login_with_password("root", sim.endpoints.root_password)
    assert failure.value.details[0] == "HOST_IS_SLAVE"
    master = slave.for_address(failure.value.details[1])
    session = session_for(master)
    session.login_with_password("root", sim.endpoints.root_password)
    assert len(session.xenapi.pool.get_all()) == 1


def test_hung_host_gives_call_timeout(start_sim):
    sim = start_sim("healthy")
    endpoint = open_endpoint(parse_target(f"sim:{sim.state_dir}/xen1"))
    session = session_for(endpoint, call_timeout=0.3)
    session.login_with_password("root", "")
    sim.faults.hang("xen1")
    started = time.monotonic()
    with pytest.raises(CallTimeout) as error:
        session.xenapi.host.get_all()
    assert time.monotonic() - started < 2
    assert error.value.method == "host.get_all"


def test_powered_off_host_is_lost_then_refused(start_sim):
    sim = start_sim("healthy")
    endpoint = open_endpoint(parse_target(f"sim:{sim.state_dir}/xen3"))
    session = session_for(endpoint, call_timeout=2)
    session.login_with_password("root", "")
    session.xenapi.host.get_all()
    sim.faults.power_off("xen3")
    with pytest.raises((ConnectionLost, ConnectionRefused)):
        session.xenapi.host.get_all()
    with pytest.raises(ConnectionRefused):
        session_for(endpoint, call_timeout=2).login_with_password("root", "")
