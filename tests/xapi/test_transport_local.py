"""Unix-socket and TCP transports with the real XenAPI SDK against a fake xapi."""

from __future__ import annotations

import threading
import time

import pytest
import XenAPI

from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi, SilentListener, refused_tcp_port
from xentui.xapi.errors import (
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    MalformedReply,
)
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TcpEndpoint, UnixSocketEndpoint, open_endpoint


@pytest.fixture
def fake(tmp_path):
    # underscores in the path: XenAPI.xapi_local() would mangle them into '/'
    server = FakeXapi(unix_path=tmp_path / "var_lib" / "xapi_sock", tcp=True).start()
    yield server
    server.stop()


def test_unix_socket_with_underscores_works_with_real_sdk(fake):
    endpoint = open_endpoint(parse_target(None, socket_path=str(fake.unix_path)))
    assert isinstance(endpoint, UnixSocketEndpoint)
    assert endpoint.transport_name == "local" and endpoint.preauthenticated_root
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(10))
    session.login_with_password("root", "", "2.21", "xentui-test")  # preauth: no password
    assert session.xenapi.host.get_all() == [fake.host_ref]
    assert session.xenapi.test.peer() == "unix"
    session.xenapi.session.logout()


def test_tcp_endpoint_with_password_and_keepalive(fake):
    endpoint = open_endpoint(parse_target(f"http://127.0.0.1:{fake.tcp_port}"))
    assert isinstance(endpoint, TcpEndpoint)
    assert endpoint.transport_name == "http" and not endpoint.preauthenticated_root
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(10))
    with pytest.raises(XenAPI.Failure) as failure:
        session.login_with_password("root", "wrong")
    assert failure.value.details[0] == "SESSION_AUTHENTICATION_FAILED"
    session.login_with_password("root", ROOT_PASSWORD)
    before = fake.connections
    for _ in range(20):
        assert session.xenapi.test.peer() == "tcp"
    assert fake.connections - before <= 1  # HTTP/1.1 keep-alive: one stream


def test_each_transport_is_independent_across_threads(fake):
    endpoint = open_endpoint(parse_target(None, socket_path=str(fake.unix_path)))
    results, errors = [], []

    def worker(n: int) -> None:
        try:
            session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(5))
            session.login_with_password("root", "")
            for i in range(10):
                results.append(session.xenapi.test.echo(f"{n}-{i}") == f"{n}-{i}")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors and len(results) == 40 and all(results)


def test_refused_tcp_port_raises_connection_refused():
    endpoint = open_endpoint(parse_target(f"http://127.0.0.1:{refused_tcp_port()}"))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(2))
    with pytest.raises(ConnectionRefused) as error:
        session.login_with_password("root", "x")
    assert error.value.reason == "refused"


def test_missing_unix_socket_raises_connection_refused(tmp_path):
    endpoint = open_endpoint(parse_target(None, socket_path=str(tmp_path / "nothing_here")))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(2))
    with pytest.raises(ConnectionRefused):
        session.login_with_password("root", "")


@pytest.mark.parametrize("family", ["tcp", "unix"])
def test_listener_that_never_answers_gives_call_timeout_within_bound(tmp_path, family):
    listener = SilentListener(tmp_path / "silent_sock" if family == "unix" else None)
    try:
        if family == "unix":
            endpoint = UnixSocketEndpoint(str(listener.unix_path), connect_timeout=1)
        else:
            endpoint = TcpEndpoint("http", "127.0.0.1", listener.port, connect_timeout=1)
        session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(0.3))
        started = time.monotonic()
        with pytest.raises(CallTimeout) as error:
            session.login_with_password("root", "x")
        elapsed = time.monotonic() - started
        assert error.value.method == "session.login_with_password"
        assert error.value.seconds == pytest.approx(0.3)
        assert 0.25 <= elapsed < 1.5
        assert endpoint.description in str(error.value)
    finally:
        listener.close()


def test_slow_call_times_out_and_next_call_uses_a_fresh_stream(fake):
    endpoint = open_endpoint(parse_target(None, socket_path=str(fake.unix_path)))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(0.2))
    session.login_with_password("root", "")
    with pytest.raises(CallTimeout) as error:
        session.xenapi.test.sleep(0.6)
    assert error.value.method == "test.sleep"
    # the late reply must not be read as the answer to the next call
    assert session.xenapi.test.echo("after") == "after"


def test_hangup_mid_call_is_connection_lost_and_not_resent(fake):
    endpoint = open_endpoint(parse_target(f"http://127.0.0.1:{fake.tcp_port}"))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(5))
    session.login_with_password("root", ROOT_PASSWORD)
    session.xenapi.host.get_all()
    # the kept-alive stream is fine, so the hangup happens on a used stream:
    # retried once (stale keep-alive rule), then reported as lost.
    before = fake.requests
    with pytest.raises(ConnectionLost):
        session.xenapi.test.hangup()
    assert fake.requests - before == 2
    # on a FRESH stream a hangup is never re-sent (could be non-idempotent)
    fresh = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(5))
    before = fake.requests
    with pytest.raises(ConnectionLost):
        fresh.xenapi.test.hangup()
    assert fake.requests - before == 1


def test_stale_keepalive_stream_is_retried_transparently(fake):
    endpoint = open_endpoint(parse_target(None, socket_path=str(fake.unix_path)))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(5))
    session.login_with_password("root", "")
    assert session.xenapi.test.reply_then_drop() == "bye"
    time.sleep(0.05)
    assert session.xenapi.test.echo("again") == "again"


def test_garbage_reply_is_malformed(fake):
    endpoint = open_endpoint(parse_target(None, socket_path=str(fake.unix_path)))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(5))
    with pytest.raises(MalformedReply):
        session.xenapi_request("test.garbage", ())


def test_server_stopped_mid_session(fake):
    endpoint = open_endpoint(parse_target(f"http://127.0.0.1:{fake.tcp_port}"))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(2))
    session.login_with_password("root", ROOT_PASSWORD)
    fake.stop()
    with pytest.raises((ConnectionLost, ConnectionRefused)):
        session.xenapi.host.get_all()


def test_https_to_plain_listener_is_a_tls_error(fake):
    endpoint = open_endpoint(parse_target(f"https://127.0.0.1:{fake.tcp_port}"))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(2))
    with pytest.raises(ConnectFailed) as error:
        session.login_with_password("root", "x")
    assert error.value.reason == "tls"


def test_for_address_on_http_keeps_scheme_and_port():
    endpoint = open_endpoint(parse_target("https://127.0.0.1:8443"))
    peer = endpoint.for_address("127.0.0.2")
    assert peer.uri == "https://127.0.0.2:8443/" and peer.transport_name == "https"
    assert peer.tls_fingerprint is None
