"""xapi over SSH against a REAL OpenSSH sshd on 127.0.0.1 (skipped only when
/usr/sbin/sshd is absent), with the real XenAPI SDK and a fake xapi."""

from __future__ import annotations

import base64
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import XenAPI

from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi, SilentListener, refused_tcp_port
from xentui.xapi.errors import (
    AuthenticationFailed,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    HostKeyChanged,
    HostKeyUnknown,
)
from xentui.xapi.known_hosts import HostKeyRevoked, accept_host_key
from xentui.xapi.ssh import ChannelRefused, SshEndpoint
from xentui.xapi.targets import parse_target
from xentui.xapi.tls import sha256_fingerprint
from xentui.xapi.transport import open_endpoint

pytestmark = pytest.mark.sshd


@pytest.fixture
def fake(tmp_path):
    server = FakeXapi(unix_path=tmp_path / "remote_root" / "var_lib_xcp" / "xapi", tcp=True).start()
    yield server
    server.stop()


@pytest.fixture
def empty_config(tmp_path):
    path = tmp_path / "ssh_config"
    path.write_text("")
    return path


def host_key_fingerprint(server) -> str:
    blob = base64.b64decode(Path(str(server.host_key_path) + ".pub").read_text().split()[1])
    return sha256_fingerprint(blob)


def host_key_line(server) -> str:
    return " ".join(Path(str(server.host_key_path) + ".pub").read_text().split()[:2])


def ssh_target(server, fake, tmp_path, config, **overrides):
    values = dict(
        identity=str(server.client_key_path),
        known_hosts=str(server.known_hosts_path),
        accepted_known_hosts=str(tmp_path / "xentui_known_hosts"),
        ssh_config=str(config),
        xapi_socket=str(fake.unix_path),
        xapi_port=fake.tcp_port,
        connect_timeout=5.0,
    )
    values.update(overrides)
    return parse_target(f"root@{server.host}:{server.port}", **values)


def session_for(endpoint, call_timeout=5.0):
    return XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(call_timeout))


def test_streamlocal_as_root_reaches_the_unix_socket(sshd_server, fake, tmp_path, empty_config):
    with open_endpoint(ssh_target(sshd_server, fake, tmp_path, empty_config)) as endpoint:
        assert isinstance(endpoint, SshEndpoint)
        assert endpoint.transport_name == "ssh-streamlocal" and endpoint.preauthenticated_root
        session = session_for(endpoint)
        session.login_with_password("root", "")  # pre-authenticated: no password
        assert session.xenapi.test.peer() == "unix"
        assert session.xenapi.host.get_all() == [fake.host_ref]
        # TCP_NODELAY on the SSH socket (the 44 ms trap)
        import socket

        sock = endpoint.ssh_client.get_transport().sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        # the same SSH connection serves exec/SFTP for the host layer
        _, stdout, _ = endpoint.ssh_client.exec_command("echo via-ssh")
        assert stdout.read().strip() == b"via-ssh"


def test_direct_tcpip_needs_xapi_credentials(sshd_server, fake, tmp_path, empty_config):
    target = ssh_target(sshd_server, fake, tmp_path, empty_config, ssh_channel="tcp")
    with open_endpoint(target) as endpoint:
        assert endpoint.transport_name == "ssh-tcp" and not endpoint.preauthenticated_root
        session = session_for(endpoint)
        with pytest.raises(XenAPI.Failure):
            session.login_with_password("root", "wrong")
        session.login_with_password("root", ROOT_PASSWORD)
        assert session.xenapi.test.peer() == "tcp"
        # for_address: another pool host through the same SSH connection, to
        # its port 443 in pool TLS (tests/recovery/test_peer_pool_tls.py logs in there)
        peer = endpoint.for_address("127.0.0.1")
        assert peer.transport_name == "ssh-tls" and peer.ssh_client is endpoint.ssh_client
        assert peer.uri == "https://127.0.0.1:443/"
        peer.close()
        assert endpoint.connection.is_active()  # closing the peer keeps the connection


def test_concurrent_sessions_share_one_ssh_connection(sshd_server, fake, tmp_path, empty_config):
    with open_endpoint(ssh_target(sshd_server, fake, tmp_path, empty_config)) as endpoint:
        errors, done = [], []

        def worker(n):
            try:
                session = session_for(endpoint)
                session.login_with_password("root", "")
                for i in range(10):
                    assert session.xenapi.test.echo(f"{n}/{i}") == f"{n}/{i}"
                done.append(n)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert not errors and sorted(done) == [0, 1, 2, 3]


def test_streamlocal_refused_falls_back_to_tcp(sshd_factory, fake, tmp_path, empty_config):
    server = sshd_factory(extra_config=["AllowStreamLocalForwarding no"])
    with open_endpoint(ssh_target(server, fake, tmp_path, empty_config)) as endpoint:
        assert endpoint.transport_name == "ssh-tcp"
        assert "streamlocal unavailable" in endpoint.description
        session = session_for(endpoint)
        session.login_with_password("root", ROOT_PASSWORD)
        assert session.xenapi.test.peer() == "tcp"


def test_all_forwarding_refused_gives_a_clear_error(sshd_factory, fake, tmp_path, empty_config):
    server = sshd_factory(extra_config=["AllowStreamLocalForwarding no", "AllowTcpForwarding no"])
    with open_endpoint(ssh_target(server, fake, tmp_path, empty_config)) as endpoint:
        # SSH itself is fine (files/exec still work); xapi calls say why not
        # OpenSSH answers "connect failed" for a forbidden streamlocal, the
        # same as for a missing socket: the message names both causes.
        session = session_for(endpoint)
        with pytest.raises(ConnectionRefused) as error:
            session.login_with_password("root", ROOT_PASSWORD)
        assert "AllowStreamLocalForwarding" in str(error.value)
        _, stdout, _ = endpoint.ssh_client.exec_command("echo still-usable")
        assert stdout.read().strip() == b"still-usable"


def test_forbidden_tcp_forwarding_is_channel_refused(sshd_factory, fake, tmp_path, empty_config):
    server = sshd_factory(extra_config=["AllowTcpForwarding no"])
    target = ssh_target(server, fake, tmp_path, empty_config, ssh_channel="tcp")
    with open_endpoint(target) as endpoint:
        with pytest.raises(ChannelRefused) as error:
            session_for(endpoint).login_with_password("root", ROOT_PASSWORD)
        assert error.value.reason == "channel-refused"
        assert "refused by the SSH server" in str(error.value)


def test_permit_open_none_refuses_direct_tcpip(sshd_factory, fake, tmp_path, empty_config):
    server = sshd_factory(extra_config=["PermitOpen none"])
    target = ssh_target(server, fake, tmp_path, empty_config, ssh_channel="tcp")
    with open_endpoint(target) as endpoint:
        with pytest.raises(ConnectFailed) as error:
            session_for(endpoint).login_with_password("root", ROOT_PASSWORD)
        assert error.value.reason == "channel-refused"


def test_xapi_down_behind_ssh_is_connection_refused(sshd_server, fake, tmp_path, empty_config):
    target = ssh_target(
        sshd_server,
        fake,
        tmp_path,
        empty_config,
        xapi_socket=str(tmp_path / "no_such_socket"),
        xapi_port=refused_tcp_port(),
    )
    with open_endpoint(target) as endpoint:
        assert endpoint.transport_name == "ssh-streamlocal"  # root keeps its preferred way
        with pytest.raises(ConnectionRefused):
            session_for(endpoint).login_with_password("root", "")


def test_proxyjump_through_the_same_sshd_twice(sshd_server, fake, tmp_path):
    s = sshd_server
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jump\n  HostName {s.host}\n  Port {s.port}\n  User root\n  IdentityFile {s.client_key_path}\n"
        f"  UserKnownHostsFile {s.known_hosts_path}\n"
        f"Host dom0\n  HostName {s.host}\n  Port {s.port}\n  User root\n  IdentityFile {s.client_key_path}\n"
        f"  UserKnownHostsFile {s.known_hosts_path}\n  ProxyJump jump,jump\n"
    )
    target = parse_target(
        "dom0", ssh_config=str(config), accepted_known_hosts=str(tmp_path / "acc"), xapi_socket=str(fake.unix_path)
    )
    with open_endpoint(target) as endpoint:
        assert [hop.alias for hop in endpoint.connection.hops] == ["jump", "jump", "dom0"]
        session = session_for(endpoint)
        session.login_with_password("root", "")
        assert session.xenapi.test.peer() == "unix"


def test_proxyjump_hop_with_unknown_key_is_checked(sshd_server, fake, tmp_path):
    s = sshd_server
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host jump\n  HostName {s.host}\n  Port {s.port}\n  User root\n  UserKnownHostsFile {empty}\n"
        f"Host dom0\n  HostName localhost\n  Port {s.port}\n  User root\n  ProxyJump jump\n"
        f"  UserKnownHostsFile {s.known_hosts_path}\n"
    )
    target = parse_target(
        "dom0",
        ssh_config=str(config),
        accepted_known_hosts=str(tmp_path / "acc"),
        identity=str(s.client_key_path),
        xapi_socket=str(fake.unix_path),
    )
    with pytest.raises(HostKeyUnknown) as error:
        open_endpoint(target)
    assert (error.value.host, error.value.port) == (s.host, s.port)  # the JUMP host's key


def test_unknown_host_key_then_explicit_accept(sshd_server, fake, tmp_path, empty_config):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    accepted = tmp_path / "data" / "xentui" / "known_hosts"
    target = ssh_target(
        sshd_server, fake, tmp_path, empty_config, known_hosts=str(empty), accepted_known_hosts=str(accepted)
    )
    with pytest.raises(HostKeyUnknown) as error:
        open_endpoint(target)
    unknown = error.value
    assert unknown.fingerprint == host_key_fingerprint(sshd_server)
    assert unknown.fingerprint.startswith("SHA256:") and not unknown.fingerprint.endswith("=")
    assert unknown.fingerprint in str(unknown) and unknown.reason == "hostkey-unknown"
    assert not accepted.exists()  # never auto-accepted
    accept_host_key(accepted, unknown.host, unknown.port, unknown.key_type, unknown.key_base64)
    assert oct(accepted.stat().st_mode & 0o777) == "0o600"
    with open_endpoint(target) as endpoint:
        session = session_for(endpoint)
        session.login_with_password("root", "")
        assert session.xenapi.test.peer() == "unix"


def test_accept_host_key_parameter_accepts_exactly_that_fingerprint(sshd_server, fake, tmp_path, empty_config):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    accepted = tmp_path / "accepted"
    target = ssh_target(
        sshd_server, fake, tmp_path, empty_config, known_hosts=str(empty), accepted_known_hosts=str(accepted)
    )
    with pytest.raises(HostKeyUnknown):
        open_endpoint(target, accept_host_key="SHA256:" + "A" * 43)  # not this key
    assert not accepted.exists()
    with open_endpoint(target, accept_host_key=host_key_fingerprint(sshd_server)) as endpoint:
        assert endpoint.connection.is_active()
    assert f"[{sshd_server.host}]:{sshd_server.port} ssh-ed25519 " in accepted.read_text()
    with open_endpoint(target) as endpoint:  # now known, no parameter needed
        assert endpoint.connection.is_active()


def test_changed_host_key_is_refused_even_with_accept(sshd_server, fake, tmp_path, empty_config):
    other = tmp_path / "other_host_key"
    from tests.xapi.sshd_fixture import _write_keypair

    other_pub = _write_keypair(other).split()
    changed = tmp_path / "known_hosts"
    changed.write_text(f"[{sshd_server.host}]:{sshd_server.port} {other_pub[0]} {other_pub[1]}\n")
    target = ssh_target(sshd_server, fake, tmp_path, empty_config, known_hosts=str(changed))
    with pytest.raises(HostKeyChanged) as error:
        open_endpoint(target, accept_host_key=host_key_fingerprint(sshd_server))
    assert error.value.fingerprint == host_key_fingerprint(sshd_server)
    assert error.value.reason == "hostkey-changed"
    assert not (tmp_path / "xentui_known_hosts").exists()


def test_known_hosts_with_markers_hashes_and_comments(sshd_server, fake, tmp_path, empty_config):
    import hashlib
    import hmac

    from tests.xapi.sshd_fixture import _write_keypair

    other = _write_keypair(tmp_path / "ca_key").split()
    name = f"[{sshd_server.host}]:{sshd_server.port}".encode()
    salt = os.urandom(20)
    hashed = "|1|{}|{}".format(
        base64.b64encode(salt).decode(), base64.b64encode(hmac.new(salt, name, hashlib.sha1).digest()).decode()
    )
    known = tmp_path / "known_hosts"
    known.write_text(
        "# a comment\n\n"
        f"@cert-authority *.example.org {other[0]} {other[1]}\n"
        f"@revoked * {other[0]} {other[1]}\n"
        "garbage line that is not a key\n"
        f"other.example.org,10.1.1.1 {other[0]} {other[1]}\n"
        f"{hashed} {host_key_line(sshd_server)}\n"
    )
    target = ssh_target(sshd_server, fake, tmp_path, empty_config, known_hosts=str(known))
    with open_endpoint(target) as endpoint:
        session = session_for(endpoint)
        session.login_with_password("root", "")
        assert session.xenapi.test.peer() == "unix"


def test_revoked_host_key_is_refused(sshd_server, fake, tmp_path, empty_config):
    known = tmp_path / "known_hosts"
    known.write_text(Path(sshd_server.known_hosts_path).read_text() + f"@revoked * {host_key_line(sshd_server)}\n")
    target = ssh_target(sshd_server, fake, tmp_path, empty_config, known_hosts=str(known))
    with pytest.raises(HostKeyRevoked) as error:
        open_endpoint(target, accept_host_key=host_key_fingerprint(sshd_server))
    assert isinstance(error.value, HostKeyChanged) and "REVOKED" in str(error.value)


def test_ssh_config_user_known_hosts_and_identity_are_honoured(sshd_server, fake, tmp_path):
    s = sshd_server
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host box\n  HostName {s.host}\n  Port {s.port}\n  User root\n"
        f"  IdentityFile {s.client_key_path}\n  UserKnownHostsFile {s.known_hosts_path}\n"
    )
    target = parse_target(
        "box", ssh_config=str(config), accepted_known_hosts=str(tmp_path / "acc"), xapi_socket=str(fake.unix_path)
    )
    with open_endpoint(target) as endpoint:
        assert endpoint.connection.hops[-1].port == s.port
        assert endpoint.connection.username == "root"


def test_wrong_identity_is_authentication_failed(sshd_server, fake, tmp_path, empty_config, monkeypatch):
    from tests.xapi.sshd_fixture import _write_keypair

    _write_keypair(tmp_path / "stranger")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    target = ssh_target(sshd_server, fake, tmp_path, empty_config, identity=str(tmp_path / "stranger"))
    with pytest.raises(AuthenticationFailed):
        open_endpoint(target)


def test_ssh_port_refused_and_silent(tmp_path, fake, empty_config):
    base = dict(
        identity=str(tmp_path / "none"),
        known_hosts=str(tmp_path / "kh"),
        ssh_config=str(empty_config),
        accepted_known_hosts=str(tmp_path / "acc"),
    )
    with pytest.raises(ConnectionRefused):
        open_endpoint(parse_target(f"root@127.0.0.1:{refused_tcp_port()}", **base))
    listener = SilentListener()
    try:
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as error:
            open_endpoint(parse_target(f"root@127.0.0.1:{listener.port}", **base), connect_timeout=0.5)
        assert error.value.reason == "timeout"
        assert time.monotonic() - started < 3
    finally:
        listener.close()


def _wait_until(predicate, seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_dropped_ssh_connection_is_connection_lost_then_reconnect(sshd_server, fake, tmp_path, empty_config):
    with open_endpoint(ssh_target(sshd_server, fake, tmp_path, empty_config)) as endpoint:
        session = session_for(endpoint, call_timeout=5)
        session.login_with_password("root", "")
        assert session.xenapi.test.echo("before") == "before"
        held_client = endpoint.ssh_client  # as the host layer's SshAccess holds it
        # kill the sshd process serving THIS connection (the listener stays)
        processes = sshd_server.connection_processes()
        assert processes
        for pid in processes:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already gone with its parent
        assert _wait_until(lambda: not endpoint.connection.is_active())
        started = time.monotonic()
        with pytest.raises(ConnectionLost):
            session.xenapi.test.echo("during")
        assert time.monotonic() - started < 3  # detected, not timed out
        endpoint.reconnect()
        assert session.xenapi.test.echo("after") == "after"  # same Session, new connection
        with held_client.open_sftp() as sftp:  # the held SSHClient works again
            assert sftp.stat(str(fake.unix_path)).st_mode


def test_transport_closed_mid_call_is_connection_lost(sshd_server, fake, tmp_path, empty_config):
    with open_endpoint(ssh_target(sshd_server, fake, tmp_path, empty_config)) as endpoint:
        session = session_for(endpoint, call_timeout=5)
        session.login_with_password("root", "")
        timer = threading.Timer(0.3, endpoint.ssh_client.get_transport().close)
        timer.start()
        started = time.monotonic()
        with pytest.raises(ConnectionLost):
            session.xenapi.test.sleep(3)
        assert time.monotonic() - started < 2.5
        timer.join()
        with pytest.raises(ConnectionLost):  # until reconnect(), every call says so
            session.xenapi.test.echo("x")
        endpoint.reconnect()
        assert session.xenapi.test.echo("back") == "back"


def test_call_timeout_over_ssh(sshd_server, fake, tmp_path, empty_config):
    from xentui.xapi.errors import CallTimeout

    with open_endpoint(ssh_target(sshd_server, fake, tmp_path, empty_config)) as endpoint:
        session = session_for(endpoint, call_timeout=0.3)
        session.login_with_password("root", "")
        with pytest.raises(CallTimeout) as error:
            session.xenapi.test.sleep(1.0)
        assert error.value.method == "test.sleep"
        assert session.xenapi.test.echo("next") == "next"


@pytest.mark.skipif(not Path("/usr/bin/ssh").exists(), reason="OpenSSH client not installed")
def test_proxycommand_from_ssh_config(sshd_server, fake, tmp_path):
    s = sshd_server
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host viacmd\n  HostName {s.host}\n  Port {s.port}\n  User root\n  IdentityFile {s.client_key_path}\n"
        f"  UserKnownHostsFile {s.known_hosts_path}\n"
        f"  ProxyCommand /usr/bin/ssh -F /dev/null -i {s.client_key_path} -o BatchMode=yes"
        f" -o StrictHostKeyChecking=yes -o UserKnownHostsFile={s.known_hosts_path} -p {s.port} -W %h:%p root@{s.host}\n"
    )
    target = parse_target(
        "viacmd", ssh_config=str(config), accepted_known_hosts=str(tmp_path / "acc"), xapi_socket=str(fake.unix_path)
    )
    with open_endpoint(target) as endpoint:
        assert "-W" in endpoint.connection.hops[0].proxy_command
        session = session_for(endpoint)
        session.login_with_password("root", "")
        assert session.xenapi.test.peer() == "unix"
        proxy = endpoint.connection._clients[0].get_transport().sock
        assert proxy.process.returncode is None  # the `ssh -W` is running
    # Closed: the command is reaped, not left a zombie (paramiko only sends it
    # SIGTERM), and its pipes are closed once the transport thread has ended.
    assert proxy.process.returncode is not None
    assert proxy.process.stdin.closed and proxy.process.stdout.closed and proxy.process.stderr.closed
