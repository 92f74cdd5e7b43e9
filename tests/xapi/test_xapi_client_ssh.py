"""XapiClient over SSH (real sshd on 127.0.0.1) to a simulated host:
streamlocal-as-root login, and recovery after the SSH connection drops."""

from __future__ import annotations

import os
import signal
import time

import pytest

from xentui.xapi.client import XapiClient
from xentui.xapi.errors import ConnectionLost
from xentui.xapi.live import load_snapshot
from xentui.xapi.session_info import SessionKind
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import open_endpoint

pytestmark = pytest.mark.sshd


def _target(server, sim, host, tmp_path, **overrides):
    config = tmp_path / "ssh_config"
    config.write_text("")
    values = dict(
        identity=str(server.client_key_path),
        known_hosts=str(server.known_hosts_path),
        accepted_known_hosts=str(tmp_path / "xentui_known_hosts"),
        ssh_config=str(config),
        xapi_socket=sim.endpoints.host(host).socket,
        connect_timeout=5.0,
    )
    values.update(overrides)
    return parse_target(f"root@{server.host}:{server.port}", **values)


def test_streamlocal_login_and_recovery_after_ssh_drop(sshd_server, start_sim, tmp_path):
    sim = start_sim("healthy")
    endpoint = open_endpoint(_target(sshd_server, sim, "xen1", tmp_path))
    client = XapiClient(call_timeout=5.0, backoff_initial=0.05, backoff_cap=0.5)
    info = client.connect(endpoint)
    try:
        assert info.transport == "ssh-streamlocal"
        assert client.session_kind is SessionKind.LOCAL_ROOT
        assert load_snapshot(client).master.name_label == "xen1"
        for pid in sshd_server.connection_processes():  # kill THIS connection's sshd processes
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while endpoint.connection.is_active() and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(ConnectionLost):
            client.call("pool.get_all")  # no recover_within: the caller learns it was lost
        started = time.monotonic()
        snapshot = load_snapshot(client, recover_within=10.0)  # reconnects SSH, same session
        assert time.monotonic() - started < 10.0
        assert snapshot.master.name_label == "xen1"
        assert client.logins == 1  # xapi did not restart: the session survived the SSH drop
    finally:
        client.close()


def test_emergency_mode_over_ssh(sshd_server, start_sim, tmp_path):
    sim = start_sim("master-down")
    client = XapiClient(call_timeout=5.0)
    client.connect(open_endpoint(_target(sshd_server, sim, "xen2", tmp_path)))
    try:
        assert client.session_kind is SessionKind.SLAVE_LOCAL
        assert client.emergency_reason[0] == sim.proc("xen2").emergency_error.code
    finally:
        client.close()
