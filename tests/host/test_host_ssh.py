"""SshAccess against a real OpenSSH sshd on 127.0.0.1 (tests/xapi/sshd_fixture.py)."""

from __future__ import annotations

import os
import socket
import time

import paramiko
import pytest

from xentui.host.access import AccessError, AccessTimeout, FileMissing, SshAccess
from xentui.host.facts import PoolRole
from xentui.host.gather import gather_ground_truth
from xentui.host.iplink import parse_ip_addr_json
from xentui.sim.dom0_files import render_pool_conf, write_host_files
from xentui.sim.xapi_pid import XapiPidProcess, stand_in_executable
from xentui.xapi.model import PoolSnapshot

pytestmark = pytest.mark.sshd


def test_files_commands_and_timeouts(sshd_server, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hello").write_bytes(b"x" * 300_000)
    os.utime(tmp_path / "etc/hello", (1_700_000_000, 1_700_000_000))
    client = sshd_server.connect()
    try:
        access = SshAccess(client, root=str(tmp_path))
        assert access.read_file("/etc/hello") == (b"x" * 300_000, 1_700_000_000.0)
        assert access.exists("/etc/hello") and not access.exists("/etc/missing")
        with pytest.raises(FileMissing):
            access.read_file("/etc/missing")
        assert access.describe("/etc/hello") == "%s@127.0.0.1:%d:%s/etc/hello" % (
            sshd_server.user,
            sshd_server.port,
            tmp_path,
        )
        assert access.run(["sh", "-c", "printf out; printf err >&2; exit 7"]) == (7, b"out", b"err")
        assert access.run(["printf", "%s", "it's a 'quoted' arg; $HOME"]) == (0, b"it's a 'quoted' arg; $HOME", b"")
        rc, out, _ = access.run(["ip", "-j", "addr", "show", "dev", "lo"])
        assert rc == 0 and parse_ip_addr_json(out.decode(), "lo").ifname == "lo"
        started = time.monotonic()
        with pytest.raises(AccessTimeout):
            access.run(["sleep", "10"], timeout=0.3)
        assert time.monotonic() - started < 2
        assert access.run(["true"]) == (0, b"", b"")  # the connection survives a timeout
    finally:
        client.close()


def test_access_over_a_transport_and_a_dead_connection(sshd_server, tmp_path):
    client = sshd_server.connect()
    access = SshAccess(client.get_transport(), root=str(tmp_path))
    assert access.run(["true"])[0] == 0
    client.close()
    with pytest.raises(AccessError):
        access.run(["true"], timeout=1)
    with pytest.raises(AccessError):
        access.read_file("/etc/hello", timeout=1)
    with pytest.raises(AccessError):
        SshAccess(client)


def test_gather_over_ssh(sshd_server, tmp_path):
    inventory = {"INSTALLATION_UUID": "ub", "CONTROL_DOMAIN_UUID": "d", "MANAGEMENT_INTERFACE": "lo"}
    tables = {
        "host": {
            "OpaqueRef:a": {"uuid": "ua", "name_label": "xcp-a", "address": "127.0.0.61"},
            "OpaqueRef:b": {"uuid": "ub", "name_label": "xcp-b", "address": "127.0.0.62"},
        },
        "VM": {
            "OpaqueRef:v": {"uuid": "v", "name_label": "web", "resident_on": "OpaqueRef:a", "power_state": "Running"}
        },
    }
    write_host_files(
        tmp_path,
        pool_conf=render_pool_conf("slave", "127.0.0.61"),
        inventory=inventory,
        state_db_tables=tables,
        db_generation=5,
        link=None,
    )
    (tmp_path / "var/run").mkdir(parents=True)
    xapi = XapiPidProcess(stand_in_executable(tmp_path / "bin"))  # a live process named xapi on that host
    (tmp_path / "var/run/xapi.pid").write_text("%d\n" % xapi.pid)
    with socket.socket() as closed:
        closed.bind(("127.0.0.61", 0))
        port = closed.getsockname()[1]
    client = sshd_server.connect()
    try:
        truth = gather_ground_truth(
            SshAccess(client, root=str(tmp_path)), port_for={"127.0.0.61": port}, probe_timeout=0.5
        )
    finally:
        client.close()
        xapi.stop()
    assert truth.pool_role.value == PoolRole("slave", "127.0.0.61")
    assert truth.pool_role.source.startswith("%s@127.0.0.1:%d:" % (sshd_server.user, sshd_server.port))
    assert truth.inventory.value.installation_uuid == "ub"
    snap = PoolSnapshot.from_records(truth.state_db.value)
    assert [v.name_label for v in snap.vms_on("OpaqueRef:a")] == ["web"]
    assert truth.management_link.value.ifname == "lo"  # the remote machine's real `ip`
    assert truth.xapi_running.value is True  # via `readlink /proc/<pid>/exe` over exec
    assert [(p.host_name, p.outcome) for p in truth.peers] == [("xcp-a", "refused")]


def test_fixture_pins_the_host_key_and_runs_two_instances(sshd_factory):
    first = sshd_factory()
    second = sshd_factory(extra_config=["AllowTcpForwarding no"])
    assert first.port != second.port and first.pid != second.pid
    assert second.config_path.read_text().startswith("AllowTcpForwarding no\n")
    wrong = paramiko.SSHClient()
    wrong.load_host_keys(str(first.known_hosts_path))
    wrong.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException):  # second's key is not first's
        wrong.connect(
            second.host,
            port=second.port,
            username=second.user,
            key_filename=str(second.client_key_path),
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
    wrong.close()
    client = second.connect()
    with pytest.raises(paramiko.ChannelException):
        client.get_transport().open_channel("direct-tcpip", ("127.0.0.1", first.port), ("127.0.0.1", 0), timeout=5)
    client.close()
    second.stop()
    with pytest.raises((ConnectionRefusedError, paramiko.SSHException, OSError)):
        second.connect(timeout=2)


@pytest.mark.parametrize("sshd_server", [["PasswordAuthentication no"]], indirect=True)
def test_indirect_extra_config(sshd_server):
    assert sshd_server.config_path.read_text().startswith("PasswordAuthentication no\n")
    client = sshd_server.connect()
    assert SshAccess(client).run(["true"])[0] == 0
    client.close()


def test_one_access_shared_by_worker_threads(sshd_server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    for i in range(8):
        (tmp_path / ("f%d" % i)).write_bytes(bytes([65 + i]) * (50_000 + i))
    client = sshd_server.connect()
    try:
        access = SshAccess(client, root=str(tmp_path))

        def work(i):
            data, _ = access.read_file("/f%d" % i)
            rc, out, _ = access.run(["printf", str(i)])
            return data == bytes([65 + i]) * (50_000 + i) and rc == 0 and out == str(i).encode()

        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(work, range(8)))
    finally:
        client.close()
