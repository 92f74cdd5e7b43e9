"""Files xentui reads that a user or a peer can point elsewhere are refused
with one line when they are not regular files (issue 10): a FIFO there
would block the read forever. `--known-hosts FILE` (read and written) and a
simulator's endpoints.json (read by the observer for the peers' ports)."""

from __future__ import annotations

import os

import pytest

from tests.ui import ui_fixtures as fx
from tests.xapi.fake_xapi import FakeXapi
from xentui.host.gather import ports_from_endpoints
from xentui.ui.connecting import connect
from xentui.ui.static_observer import StaticObserver
from xentui.xapi.errors import ConnectFailed
from xentui.xapi.known_hosts import KnownHosts, KnownHostsFileRefused, accept_host_key

# an ed25519 public key blob (type string + 32 bytes), base64
KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)  # no writer: opening it the ordinary way blocks forever
    return path


def test_a_fifo_as_known_hosts_is_refused_not_read(fifo):
    with pytest.raises(KnownHostsFileRefused) as info:
        KnownHosts.load([fifo])
    assert isinstance(info.value, ConnectFailed)  # shown as one connect-failure line
    assert str(info.value) == f"known_hosts file {fifo}: it is a FIFO, not a regular file; refused"


def test_a_directory_as_known_hosts_knows_no_hosts_and_takes_no_key(tmp_path):
    assert KnownHosts.load([tmp_path]).entries == []  # it cannot block: read as empty, as before
    with pytest.raises(KnownHostsFileRefused, match="it is a directory, not a regular file"):
        accept_host_key(tmp_path, "192.0.2.7", 22, "ssh-ed25519", KEY)


def test_missing_known_hosts_still_knows_no_hosts(tmp_path):
    assert KnownHosts.load([tmp_path / "nope", tmp_path / "nodir" / "x"]).entries == []


def test_trusting_a_key_into_a_fifo_is_refused(fifo):
    with pytest.raises(KnownHostsFileRefused, match="FIFO"):
        accept_host_key(fifo, "192.0.2.7", 22, "ssh-ed25519", KEY)


def test_trusting_a_key_still_writes_a_regular_file(tmp_path):
    path = tmp_path / "ssh" / "known_hosts"
    accept_host_key(path, "192.0.2.7", 22, "ssh-ed25519", KEY)
    assert path.read_text() == f"192.0.2.7 ssh-ed25519 {KEY}\n"


def test_a_fifo_as_endpoints_json_is_refused_not_read(fifo):
    with pytest.raises(OSError, match="not a regular file; refused"):
        ports_from_endpoints(fifo)


def test_endpoints_json_is_still_read(tmp_path):
    path = tmp_path / "endpoints.json"
    path.write_text('{"hosts": [{"address": "127.0.0.11", "port": 4711}]}')
    assert ports_from_endpoints(path) == {"127.0.0.11": 4711}


@pytest.mark.sshd
def test_connect_with_a_fifo_as_known_hosts_gives_one_line(sshd_server, tmp_path, fifo):
    config = tmp_path / "ssh_config"
    config.write_text("")
    server = FakeXapi(unix_path=tmp_path / "remote_root" / "var_lib_xcp" / "xapi", tcp=True).start()
    try:
        overrides = dict(
            identity=str(sshd_server.client_key_path),
            known_hosts=str(fifo),
            ssh_config=str(config),
            xapi_socket=str(server.unix_path),
            connect_timeout=5.0,
        )
        outcome = connect(
            f"root@{sshd_server.host}:{sshd_server.port}",
            "",
            overrides=overrides,
            make_observer=lambda target, password=None, read_only=False: StaticObserver(fx.healthy()),
        )
    finally:
        server.stop()
    assert not outcome.ok
    assert f"known_hosts file {fifo}: it is a FIFO, not a regular file; refused" in outcome.message
    assert "Traceback" not in outcome.message
