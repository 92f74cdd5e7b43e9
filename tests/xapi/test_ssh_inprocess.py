"""Fault cases OpenSSH cannot be made to produce on demand, with a paramiko
in-process SSH server: streamlocal 'administratively prohibited', a channel
open that never gets an answer, the server dropping the connection."""

from __future__ import annotations

import socket
import threading
import time
from typing import List

import paramiko
import pytest
import XenAPI

from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi
from xentui.xapi.errors import ConnectFailed, ConnectionLost
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import open_endpoint

STREAMLOCAL = "direct-streamlocal@openssh.com"


class _Server(paramiko.ServerInterface):
    def __init__(self, owner: "InProcessSshd") -> None:
        self.owner = owner
        self.destinations = {}

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        if username == "root" and key.asbytes() == self.owner.client_key.asbytes():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == STREAMLOCAL:
            return self.owner.streamlocal_result
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_direct_tcpip_request(self, chanid, origin, destination):
        if self.owner.stall_channel_open:
            time.sleep(self.owner.stall_channel_open)  # blocks this transport: no answer
        self.destinations[chanid] = destination
        return paramiko.OPEN_SUCCEEDED


class InProcessSshd:
    """Accepts SSH connections on 127.0.0.1; forwards direct-tcpip to the
    requested loopback port; everything else is configurable."""

    def __init__(self, tmp_path) -> None:
        self.host_key = paramiko.ECDSAKey.generate()
        self.client_key = paramiko.ECDSAKey.generate()
        self.client_key_path = tmp_path / "client_key"
        self.client_key.write_private_key_file(str(self.client_key_path))
        self.streamlocal_result = paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self.stall_channel_open = 0.0
        self.transports: List[paramiko.Transport] = []
        self.upstreams: List[socket.socket] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.known_hosts = tmp_path / "known_hosts"
        self.known_hosts.write_text(
            f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"
        )
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._spawn(self._accept_loop)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        transport = paramiko.Transport(sock)
        transport.add_server_key(self.host_key)
        server = _Server(self)
        try:
            transport.start_server(server=server)
        except (paramiko.SSHException, EOFError, OSError):
            return
        self.transports.append(transport)
        while transport.is_active() and not self._stop.is_set():
            channel = transport.accept(0.1)
            if channel is None:
                continue
            destination = server.destinations.get(channel.get_id())
            if destination is not None:
                self._spawn(self._pump, channel, destination)

    def _pump(self, channel: paramiko.Channel, destination) -> None:
        upstream = socket.create_connection(destination, timeout=5)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # see ssh-and-dom0.md §3.2
        self.upstreams.append(upstream)

        def down() -> None:
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    channel.sendall(data)
            except (OSError, EOFError, paramiko.SSHException):
                pass  # either side went away
            try:
                channel.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # the SSH transport is already gone

        self._spawn(down)
        try:
            while True:
                data = channel.recv(65536)
                if not data:
                    break
                upstream.sendall(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass  # either side went away
        try:
            upstream.shutdown(socket.SHUT_RDWR)  # wakes the `down` thread's recv
        except OSError:
            pass
        upstream.close()

    def drop_all(self) -> None:
        for transport in self.transports:
            transport.close()

    def stop(self) -> None:
        self._stop.set()
        self.drop_all()
        self.listener.close()
        for upstream in self.upstreams:
            try:
                upstream.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=1)


@pytest.fixture
def sshd(tmp_path):
    server = InProcessSshd(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def fake(tmp_path):
    server = FakeXapi(unix_path=tmp_path / "xapi_sock", tcp=True).start()
    yield server
    server.stop()


def target_for(sshd, fake, tmp_path, **overrides):
    config = tmp_path / "ssh_config"
    config.write_text("")
    values = dict(
        identity=str(sshd.client_key_path),
        known_hosts=str(sshd.known_hosts),
        accepted_known_hosts=str(tmp_path / "accepted"),
        ssh_config=str(config),
        xapi_socket=str(fake.unix_path),
        xapi_port=fake.tcp_port,
        connect_timeout=1.0,
    )
    values.update(overrides)
    return parse_target(f"root@127.0.0.1:{sshd.port}", **values)


def test_streamlocal_prohibited_falls_back_to_direct_tcpip(sshd, fake, tmp_path):
    with open_endpoint(target_for(sshd, fake, tmp_path)) as endpoint:
        assert endpoint.transport_name == "ssh-tcp" and not endpoint.preauthenticated_root
        assert "streamlocal unavailable" in endpoint.description
        session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3))
        session.login_with_password("root", ROOT_PASSWORD)
        assert session.xenapi.test.peer() == "tcp"


def test_channel_open_without_answer_times_out(sshd, fake, tmp_path):
    with open_endpoint(target_for(sshd, fake, tmp_path, ssh_channel="tcp", connect_timeout=0.4)) as endpoint:
        sshd.stall_channel_open = 1.0
        session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3))
        started = time.monotonic()
        with pytest.raises(ConnectFailed) as error:
            session.login_with_password("root", ROOT_PASSWORD)
        assert error.value.reason == "timeout"
        assert time.monotonic() - started < 0.95


def test_server_drops_the_connection_then_reconnect(sshd, fake, tmp_path):
    with open_endpoint(target_for(sshd, fake, tmp_path, ssh_channel="tcp")) as endpoint:
        session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3))
        session.login_with_password("root", ROOT_PASSWORD)
        client = endpoint.ssh_client
        first_transport = client.get_transport()
        sshd.drop_all()
        deadline = time.monotonic() + 3
        while endpoint.connection.is_active() and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(ConnectionLost):
            session.xenapi.host.get_all()
        endpoint.reconnect()
        # the SAME SSHClient (the host layer may hold it) with a new transport
        assert endpoint.ssh_client is client and client.get_transport() is not first_transport
        assert client.get_transport().is_active()
        assert session.xenapi.host.get_all() == [fake.host_ref]


def test_reconnect_keeps_a_live_connection(sshd, fake, tmp_path):
    with open_endpoint(target_for(sshd, fake, tmp_path, ssh_channel="tcp")) as endpoint:
        transport = endpoint.ssh_client.get_transport()
        endpoint.reconnect()  # xapi restarted, SSH fine: nothing to redo
        assert endpoint.ssh_client.get_transport() is transport
        endpoint.reconnect(force=True)
        assert endpoint.ssh_client.get_transport() is not transport and endpoint.connection.is_active()
