"""XapiClient against a scripted fake xapi (real SDK, real sockets).

Covers every branch of the login strategy and the retry rules
deterministically; the same behaviours against the full simulator are in
tests/xapi/test_xapi_client_sim.py.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tests.xapi.test_xapi_client_fakexapi import FakeXapi
from xentui.xapi.client import XapiClient, connect, is_read_only
from xentui.xapi.errors import AuthenticationFailed, CallTimeout, ConnectionLost, ConnectionRefused, XapiFailure
from xentui.xapi.session_info import SessionKind
from xentui.xapi.transport import TcpEndpoint

PASSWORD = "secret"


@pytest.fixture
def fake(tmp_path):
    server = FakeXapi(tmp_path)
    yield server
    server.stop()


def _client(**kw):
    kw.setdefault("call_timeout", 2.0)
    kw.setdefault("backoff_initial", 0.02)
    kw.setdefault("backoff_cap", 0.2)
    return XapiClient(**kw)


def test_unix_socket_is_preauthenticated_root(fake):
    client = _client()
    info = client.connect(fake.unix_endpoint(), password=None)
    try:
        assert client.session_kind is SessionKind.LOCAL_ROOT
        assert info.session_kind is SessionKind.LOCAL_ROOT
        assert info.transport == "local" and info.state == "connected"
        assert fake.logins == [("session.login_with_password", "root", "unix")]
        reply = client.call("event.from", ["pool"], "", 0.0)
        assert "token" in reply
    finally:
        client.close()
    assert fake.sessions == {}
    assert "session.logout" in fake.methods_called()


def test_tcp_master_uses_password_login(fake):
    client = connect(fake.tcp_endpoint(), password=PASSWORD, call_timeout=2.0)
    try:
        assert client.session_kind is SessionKind.PASSWORD
        assert client.connection_info().transport == "http"
        assert client.emergency_reason is None
    finally:
        client.close()


def test_wrong_password_is_authentication_failed_and_never_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    client = _client()
    with pytest.raises(AuthenticationFailed) as info:
        client.connect(fake.tcp_endpoint(), password="wrong-pw-123")
    assert info.value.reason == "auth"
    assert client.connection_info().state == "auth-failed"
    assert "wrong-pw-123" not in str(info.value)
    assert "wrong-pw-123" not in caplog.text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    client.connect(fake.tcp_endpoint(), password=PASSWORD)
    assert PASSWORD not in caplog.text and PASSWORD not in repr(client)
    client.close()


@pytest.mark.parametrize(
    "emergency",
    [
        ("HOST_STILL_BOOTING",),
        ("INTERNAL_ERROR", "Connection failed: connection refused"),
        ("HOST_HAS_NO_MANAGEMENT_IP",),
        ("HA_HOST_CANNOT_ACCESS_STATEFILE",),
        ("HOST_BROKEN",),
        ("HOST_MASTER_CANNOT_TALK_BACK", "10.0.0.2"),
        ("HOST_UNKNOWN_TO_MASTER", "some-uuid"),
        ("HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR", "25.1"),
        ("HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",),
    ],
)
@pytest.mark.parametrize("over", ["unix", "tcp"])
def test_emergency_mode_falls_back_to_slave_local(tmp_path, emergency, over):
    fake = FakeXapi(tmp_path, role="slave", emergency=emergency)
    try:
        endpoint = fake.unix_endpoint() if over == "unix" else fake.tcp_endpoint()
        client = _client()
        info = client.connect(endpoint, password=PASSWORD)
        assert client.session_kind is SessionKind.SLAVE_LOCAL
        assert client.emergency_reason == (emergency[0], tuple(emergency[1:]))
        assert client.in_emergency is True
        assert info.state == "emergency"
        # slave_local_login_with_password went out with (user, password) only,
        # not with a None session prepended (the .xenapi trap, §4.4).
        assert ("session.slave_local_login_with_password", "root", over) in fake.logins
        # Non-emergency calls keep failing with the stored error.
        with pytest.raises(XapiFailure) as failure:
            client.call("pool.get_all")
        assert failure.value.code == emergency[0]
        assert client.call("host.is_in_emergency_mode") is True
        client.close()
        assert "session.local_logout" in fake.methods_called()
        assert fake.sessions == {}
    finally:
        fake.stop()


def test_host_is_slave_reports_master_and_follow_master_works(tmp_path):
    master = FakeXapi(tmp_path, name="master")
    slave = FakeXapi(tmp_path, name="slave", role="slave", master_address="10.0.0.1")

    class PoolTcpEndpoint(TcpEndpoint):
        def for_address(self, address):
            assert address == "10.0.0.1"
            return master.tcp_endpoint()

    try:
        client = _client()
        info = client.connect(PoolTcpEndpoint("http", "127.0.0.1", slave.port), password=PASSWORD)
        assert client.master_address == "10.0.0.1"
        assert info.master_address == "10.0.0.1"
        assert client.session_kind is SessionKind.SLAVE_LOCAL
        assert client.in_emergency is False and client.emergency_reason is None
        info = client.follow_master()
        assert client.session_kind is SessionKind.PASSWORD
        assert info.master_address == ""
        assert ("session.login_with_password", "root", "tcp") in master.logins
        assert slave.sessions == {}  # the slave-local session was logged out
        client.close()
        assert master.sessions == {}
    finally:
        master.stop()
        slave.stop()


def test_host_is_slave_without_local_login_raises_with_master_address(tmp_path):
    slave = FakeXapi(tmp_path, role="slave", master_address="10.0.0.7")
    try:
        client = _client()
        with pytest.raises(XapiFailure) as failure:
            client.connect(slave.tcp_endpoint(), username="alice", password=PASSWORD)
        assert failure.value.details == ("HOST_IS_SLAVE", "10.0.0.7")
        assert client.master_address == "10.0.0.7"
    finally:
        slave.stop()


def test_session_invalid_after_restart_relogs_once_for_all_threads(fake):
    client = _client()
    client.connect(fake.unix_endpoint())
    client.call("host.is_in_emergency_mode")
    old_ref = client.session_ref
    fake.restart()  # xapi restarted: every session is gone
    errors = []

    def worker():
        try:
            for _ in range(5):
                client.call("host.is_in_emergency_mode", recover_within=5)
        except Exception as exc:  # collected for the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert client.session_ref != old_ref
    assert len(fake.sessions) == 1  # one shared session, not one per thread
    assert len(fake.logins) == 2
    client.close()


def test_refused_connections_are_retried_within_the_deadline(fake):
    client = _client()
    client.connect(fake.unix_endpoint())
    fake.stop()
    started = time.monotonic()
    with pytest.raises(ConnectionRefused):
        client.call("host.is_in_emergency_mode")  # no recover_within: fail at once
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConnectionRefused):
        client.call("host.is_in_emergency_mode", recover_within=0.3)
    assert time.monotonic() - started < 2.0
    timer = threading.Timer(0.3, fake.start)
    timer.start()
    try:
        assert client.call("host.is_in_emergency_mode", recover_within=5) is False
    finally:
        timer.join()
    client.close()


def test_hung_peer_costs_the_call_timeout_and_says_timed_out(fake):
    client = _client(call_timeout=0.5)
    client.connect(fake.unix_endpoint())
    fake.hang()
    try:
        started = time.monotonic()
        with pytest.raises(CallTimeout) as info:
            client.call("host.is_in_emergency_mode", recover_within=5)  # timeouts are never retried
        elapsed = time.monotonic() - started
        assert 0.4 < elapsed < 1.5
        assert info.value.method == "host.is_in_emergency_mode"
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            client.call("event.from", ["pool"], "", 0.0, timeout=0.2)
        assert time.monotonic() - started < 1.0
        # A fresh login against the hung peer is bounded the same way.
        other = _client(call_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            other.connect(fake.unix_endpoint())
        assert time.monotonic() - started < 1.5
        assert other.connection_info().state == "timed-out"
    finally:
        fake.hang(False)
    client.close(logout=False)


def test_lost_connection_is_retried_only_for_read_only_calls(fake):
    client = _client()
    client.connect(fake.unix_endpoint())
    restarted = []

    def drop_connection(args):
        if not restarted:
            restarted.append(True)
            threading.Thread(target=fake.restart).start()
            time.sleep(0.3)
        return "done"

    fake.handlers["VM.start"] = drop_connection
    fake.handlers["VM.get_power_state"] = drop_connection
    with pytest.raises(ConnectionLost):
        client.call("VM.start", "OpaqueRef:x", False, False, recover_within=5)
    restarted.clear()
    assert client.call("VM.get_power_state", "OpaqueRef:x", recover_within=5) == "done"
    client.close()


def test_read_only_classification():
    assert is_read_only("VM.get_all_records")
    assert is_read_only("event.from")
    assert not is_read_only("VM.start")
    assert not is_read_only("pool.emergency_transition_to_master")


def test_close_then_call_fails_cleanly(fake):
    client = _client()
    client.connect(fake.unix_endpoint())
    client.close()
    assert client.session_kind is SessionKind.NONE
    with pytest.raises(Exception) as info:
        client.call("host.is_in_emergency_mode")
    assert "not connected" in str(info.value)


def test_refused_calls_are_retried_even_when_not_read_only(fake):
    """Refused = nothing was sent, so even an action may be retried."""
    client = _client()
    client.connect(fake.unix_endpoint())
    runs = []
    fake.handlers["VM.start"] = lambda args: runs.append(args) or "started"
    fake.stop()
    timer = threading.Timer(0.2, fake.start)
    timer.start()
    try:
        assert client.call("VM.start", "OpaqueRef:x", False, False, recover_within=5) == "started"
    finally:
        timer.join()
    assert len(runs) == 1  # (the first attempt after the restart got SESSION_INVALID: not run)
    client.close()


def test_connecting_again_logs_the_old_session_out(fake):
    client = _client()
    client.connect(fake.unix_endpoint())
    client.connect(fake.unix_endpoint())
    assert len(fake.sessions) == 1
    client.close()


def test_wrong_root_password_on_a_member_is_authentication_failed(tmp_path):
    slave = FakeXapi(tmp_path, role="slave", master_address="10.0.0.7")
    try:
        client = _client()
        with pytest.raises(AuthenticationFailed):
            client.connect(slave.tcp_endpoint(), password="wrong")
        assert client.master_address == "10.0.0.7"  # still learnt where the master is
    finally:
        slave.stop()
