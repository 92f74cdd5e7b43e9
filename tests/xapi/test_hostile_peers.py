"""Hostile or broken peers (issue 10): every call has ONE deadline for the
whole reply on every transport, replies are capped in size, a peer that is
not xapi is named as such, and nothing it sends reaches the terminal raw.

The peers are tests/xapi/hostile_peers.py servers on 127.0.0.1 or a unix socket;
the SSH cases reach them through a real sshd (direct-tcpip and streamlocal).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import XenAPI

from tests.xapi.hostile_peers import SESSION_REF, HostilePeer
from tests.xapi.test_transport_tls import self_signed
from xentui.xapi.client import XapiClient, connection_state_for
from xentui.xapi.endpoint import bounded_http_request
from xentui.xapi.error_table import explain_exception
from xentui.xapi.errors import CallTimeout, ConnectFailed, MalformedReply, ReplyTooLarge, XapiFailure
from xentui.xapi.ssh import SshEndpoint
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TlsCertificateUntrusted, UnixSocketEndpoint, open_endpoint

CALL_TIMEOUT = 0.5


@pytest.fixture
def hostile(tmp_path):
    """hostile(behaviour, transport="unix"|"tcp"|"https") -> (peer, endpoint)."""
    peers = []

    def make(behaviour, transport="unix", **options):
        if transport == "unix":
            peer = HostilePeer(behaviour, unix_path=tmp_path / f"xapi-{len(peers)}", **options).start()
            endpoint = UnixSocketEndpoint(peer.unix_path, connect_timeout=2)
        elif transport == "tcp":
            peer = HostilePeer(behaviour, **options).start()
            endpoint = open_endpoint(parse_target(f"http://127.0.0.1:{peer.port}", connect_timeout=2))
        else:
            context, fingerprint = self_signed(tmp_path, f"peer{len(peers)}")
            peer = HostilePeer(behaviour, tls_context=context, **options).start()
            endpoint = open_endpoint(
                parse_target(f"https://127.0.0.1:{peer.port}", tls_fingerprint=fingerprint, connect_timeout=2)
            )
        peers.append(peer)
        return peer, endpoint

    yield make
    for peer in peers:
        peer.stop()


def _login(endpoint, timeout=CALL_TIMEOUT):
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(timeout))
    session.login_with_password("root", "pw", "1.1", "xentui")
    return session


# --- one deadline for the whole reply -------------------------------------------


@pytest.mark.parametrize("transport", ["unix", "tcp", "https"])
def test_dripping_peer_is_given_up_on_at_the_call_timeout(hostile, transport):
    # One byte every 50 ms: every single read is quick, the whole reply
    # (~300 bytes) would take 15 s. A per-read timeout would wait for all of it.
    peer, endpoint = hostile("drip", transport, drip_interval=0.05)
    with pytest.raises(CallTimeout) as error:
        _login(endpoint)
    assert error.value.seconds == CALL_TIMEOUT
    assert 0 < peer.bytes_sent < 200  # it was answering, slowly


def test_a_dripping_peer_is_not_taken_for_a_hung_master(hostile):
    # On a pre-authenticated socket a login that times out is retried as a
    # slave-local login (a member whose master hangs sends NOTHING). A peer
    # that sent part of a reply is not that: one call timeout, not two.
    peer, endpoint = hostile("drip", "unix", drip_interval=0.05)
    client = XapiClient(call_timeout=CALL_TIMEOUT)
    with pytest.raises(CallTimeout) as error:
        client.connect(endpoint)
    assert error.value.received > 0
    assert peer.methods == ["session.login_with_password"]
    silent, endpoint = hostile("silent", "unix")
    with pytest.raises(CallTimeout) as error:
        XapiClient(call_timeout=0.2).connect(endpoint)
    assert error.value.received == 0
    assert silent.methods == ["session.login_with_password", "session.slave_local_login_with_password"]


def test_a_slow_but_complete_reply_within_the_deadline_is_read(hostile):
    peer, endpoint = hostile("drip", "unix", drip_interval=0.001)
    session = _login(endpoint, timeout=30)
    assert session._session == SESSION_REF


@pytest.mark.parametrize("transport", ["unix", "tcp", "https"])
def test_endless_reply_stops_at_the_size_cap(hostile, transport):
    peer, endpoint = hostile("endless", transport)
    endpoint.max_reply_bytes = 1024 * 1024
    with pytest.raises(ReplyTooLarge) as error:
        _login(endpoint, timeout=30)
    assert "exceeds 1 MB" in str(error.value)
    assert isinstance(error.value, MalformedReply)


def test_endless_reply_stops_at_the_deadline_below_the_cap(hostile):
    peer, endpoint = hostile("endless", "unix")
    endpoint.max_reply_bytes = 1 << 40  # never reached: the deadline ends the call
    with pytest.raises(CallTimeout):
        _login(endpoint, timeout=0.3)


@pytest.mark.parametrize("connect_timeout, call_timeout", [(30, 0.5), (0.5, 30)])
def test_a_peer_dripping_its_tls_handshake_is_given_up_on_at_the_deadline(tmp_path, connect_timeout, call_timeout):
    # The handshake (~1 kB, one byte every 50 ms) would take about a minute;
    # every single read is quick. It ends at the earlier of the connect
    # deadline and the call's deadline, never per read.
    context, fingerprint = self_signed(tmp_path, "dripper")
    with HostilePeer("drip_handshake", tls_context=context, drip_interval=0.05) as peer:
        endpoint = open_endpoint(
            parse_target(f"https://127.0.0.1:{peer.port}", tls_fingerprint=fingerprint, connect_timeout=connect_timeout)
        )
        with pytest.raises(ConnectFailed) as error:
            _login(endpoint, timeout=call_timeout)
        assert error.value.reason == "timeout"
        assert "TLS handshake not complete within 0.5 s" in str(error.value)
        assert 0 < peer.bytes_sent < 200  # it was answering, slowly
        assert peer.methods == []  # no call ever reached it


def test_an_untrusted_dripping_peer_is_given_up_on_too(tmp_path):
    # Without a pin the certificate check fails only once the handshake is
    # complete, which a dripping peer never lets happen: the same deadline.
    context, _ = self_signed(tmp_path, "dripper")
    with HostilePeer("drip_handshake", tls_context=context, drip_interval=0.05) as peer:
        endpoint = open_endpoint(parse_target(f"https://127.0.0.1:{peer.port}", connect_timeout=0.5))
        with pytest.raises(ConnectFailed) as error:
            _login(endpoint, timeout=30)
        assert error.value.reason == "timeout" and not isinstance(error.value, TlsCertificateUntrusted)


def test_endless_headers_are_refused(hostile):
    peer, endpoint = hostile("endless_headers", "unix")
    with pytest.raises(MalformedReply):
        _login(endpoint, timeout=30)


def test_gzip_bomb_is_capped_after_decoding(tmp_path):
    import gzip

    from tests.xapi.hostile_peers import xmlrpc_reply

    bomb = gzip.compress(xmlrpc_reply({"Status": "Success", "Value": "A" * (4 * 1024 * 1024)}))
    path = tmp_path / "gz"
    peer = HostilePeer("html", unix_path=path)
    peer._answer = lambda conn, method: (
        peer._send(
            conn,
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                % len(bomb)
            ).encode()
            + bomb,
        ),
        True,
    )[1]
    with peer:
        endpoint = UnixSocketEndpoint(str(path))
        endpoint.max_reply_bytes = 1024 * 1024
        assert len(bomb) < endpoint.max_reply_bytes  # small on the wire, big once decoded
        with pytest.raises(ReplyTooLarge):
            _login(endpoint, timeout=30)


def test_bounded_http_request_shares_the_deadline_and_the_cap(hostile):
    peer, endpoint = hostile("drip", "unix", drip_interval=0.05)
    with pytest.raises(CallTimeout):
        bounded_http_request(endpoint, "/jsonrpc", b"{}", call_timeout=CALL_TIMEOUT, what="host.get_all")
    peer, endpoint = hostile("endless", "unix")
    with pytest.raises(ReplyTooLarge):
        bounded_http_request(
            endpoint, "/jsonrpc", b"{}", call_timeout=30, what="host.get_all", max_reply_bytes=256 * 1024
        )
    peer, endpoint = hostile("escape_status", "unix")
    with pytest.raises(MalformedReply) as error:
        bounded_http_request(endpoint, "/jsonrpc", b"{}", call_timeout=5, what="host.get_all")
    assert "\x1b" not in str(error.value) and "HTTP 503" in str(error.value)
    peer, endpoint = hostile("wrong_type", "unix")
    assert b"<int>42</int>" in bounded_http_request(endpoint, "/", b"{}", call_timeout=5, what="x")


# --- over SSH (real sshd): direct-tcpip and streamlocal ----------------------------


def _ssh_target(server, tmp_path, **overrides):
    config = tmp_path / "ssh_config"
    config.write_text("")
    values = dict(
        identity=str(server.client_key_path),
        known_hosts=str(server.known_hosts_path),
        accepted_known_hosts=str(tmp_path / "xentui_known_hosts"),
        ssh_config=str(config),
        connect_timeout=5.0,
    )
    values.update(overrides)
    return parse_target(f"root@{server.host}:{server.port}", **values)


@pytest.mark.sshd
def test_dripping_peer_behind_ssh_direct_tcpip(sshd_server, hostile, tmp_path):
    peer, _ = hostile("drip", "tcp", drip_interval=0.05)
    endpoint = open_endpoint(_ssh_target(sshd_server, tmp_path, ssh_channel="tcp", xapi_port=peer.port))
    try:
        assert endpoint.transport_name == "ssh-tcp"
        with pytest.raises(CallTimeout):
            _login(endpoint)
        endpoint.max_reply_bytes = 512 * 1024
        endless, _ = hostile("endless", "tcp")
        other = SshEndpoint(endpoint.connection, mode="tcp", tcp_port=endless.port, owns_connection=False)
        other.max_reply_bytes = 512 * 1024
        with pytest.raises(ReplyTooLarge):
            _login(other, timeout=30)
    finally:
        endpoint.close()


@pytest.mark.sshd
def test_dripping_peer_behind_ssh_streamlocal(sshd_server, hostile, tmp_path):
    peer, _ = hostile("drip", "unix", drip_interval=0.05)
    endpoint = open_endpoint(_ssh_target(sshd_server, tmp_path, ssh_channel="streamlocal", xapi_socket=peer.unix_path))
    try:
        assert endpoint.transport_name == "ssh-streamlocal"
        with pytest.raises(CallTimeout):
            _login(endpoint)
    finally:
        endpoint.close()


# --- a peer that is not xapi ------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["wrong_type", "html", "http500", "bad_envelope", "escape_status"])
def test_a_peer_that_is_not_xapi_is_named_as_such(hostile, behaviour):
    peer, endpoint = hostile(behaviour, "unix")
    client = XapiClient(call_timeout=5)
    with pytest.raises(MalformedReply) as error:
        client.connect(endpoint)
    assert connection_state_for(error.value) == "not-xapi"
    text = explain_exception(error.value).one_line()
    assert "not xapi" in text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


def test_nonsense_types_after_login_never_invent_an_emergency(hostile):
    peer, endpoint = hostile("wrong_emergency", "unix")
    client = XapiClient(call_timeout=5)
    client.connect(endpoint)
    try:
        with pytest.raises(MalformedReply):
            client.check_emergency()
        assert client.emergency_reason is None
    finally:
        client.close(logout=False)


def test_xapi_error_strings_are_kept_but_shown_escaped(hostile):
    peer, endpoint = hostile("escape", "unix")
    client = XapiClient(call_timeout=5)
    with pytest.raises(XapiFailure) as error:
        client.connect(endpoint)
    assert error.value.code.startswith("INTERNAL_ERROR\x9b")  # kept as sent, for the logic
    shown = explain_exception(error.value).one_line()
    for raw in "\x9b\u202e\x85\x7f\n":
        assert raw not in shown
    assert "INTERNAL_ERROR\\x9b2J\\u202e" in shown


# --- the CLI: one finding, nothing raw -------------------------------------------------


def _xentui() -> str:
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "xentui", Path(sys.executable).parent / "xentui"):
        if candidate.exists():
            return str(candidate)
    raise AssertionError("xentui is not installed in this environment")


@pytest.mark.parametrize(
    "behaviour", ["wrong_type", "html", "http500", "escape_status", "wrong_emergency", "escape", "bad_snapshot"]
)
def test_status_against_a_hostile_socket(hostile, tmp_path, behaviour):
    peer, endpoint = hostile(behaviour, "unix")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [_xentui(), "status", "--socket", peer.unix_path, "--host-root", str(tmp_path / "root"), "--call-timeout", "5"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    out = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    for raw in "\x1b\x07\x9b\u202e\x85\x7f":
        assert raw not in out, out
    assert "Traceback" not in out
    assert "XAPI_DOWN" not in out and "EMERGENCY_MODE" not in out, out
    if behaviour == "escape":
        assert "INTERNAL_ERROR\\x9b2J" in out, out
    else:
        assert "not xapi" in out, out
    assert done.returncode in (2, 3)


def test_a_hostile_ssh_server_gets_one_clean_line(hostile, tmp_path):
    peer, _ = hostile("ssh_banner", "tcp")
    (tmp_path / "ssh_config").write_text("")
    (tmp_path / "known_hosts").write_text("")
    env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [
            _xentui(),
            "status",
            f"root@127.0.0.1:{peer.port}",
            "--ssh-config",
            str(tmp_path / "ssh_config"),
            "--known-hosts",
            str(tmp_path / "known_hosts"),
            "--connect-timeout",
            "5",
        ],
        capture_output=True,
        env=env,
        timeout=60,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 3 and done.stdout == b""
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for raw in "\x1b\x07\u202e\r":
        assert raw not in err


def test_the_budget_is_one_deadline_for_the_whole_call():
    import socket

    from xentui.xapi.endpoint import DeadlineStream, ReplyBudget

    now = [100.0]
    budget = ReplyBudget(10, where="peer", clock=lambda: now[0])
    budget.start(3.0, "host.get_all")
    left, right = socket.socketpair()
    try:
        stream = DeadlineStream(left, budget)
        right.sendall(b"abcd")
        assert stream.recv(2) == b"ab" and left.gettimeout() == 3.0
        now[0] += 2.5  # each read arms the socket with what is LEFT of the call
        assert stream.recv(2) == b"cd" and left.gettimeout() == 0.5
        now[0] += 0.5
        with pytest.raises(socket.timeout):
            stream.recv(1)
        budget.start(3.0, "host.get_all")  # the next call starts afresh
        right.sendall(b"x" * 11)
        with pytest.raises(ReplyTooLarge):
            while True:
                stream.recv(4)
    finally:
        left.close()
        right.close()
