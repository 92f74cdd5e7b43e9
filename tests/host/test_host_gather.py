"""gather_ground_truth against a simulated dom0 root (rendered with the
simulator's own dom0_files), and against a running master-down simulator."""

from __future__ import annotations

import os
import socket

import pytest

from xentui.host.access import LocalAccess, SimulatedAccess
from xentui.host.facts import PoolRole
from xentui.host.gather import gather_ground_truth, ports_from_endpoints
from xentui.sim.dom0_files import render_pool_conf, write_host_files
from xentui.sim.xapi_pid import XapiPidProcess, stand_in_executable
from xentui.xapi.model import PoolSnapshot

MASTER, ME, THIRD = "127.0.0.51", "127.0.0.52", "127.0.0.53"


def _tables():
    def host(ref, uuid, name, address):
        return {
            "uuid": uuid,
            "name_label": name,
            "hostname": name,
            "address": address,
            "metrics": ref.replace("host", "hm"),
            "enabled": True,
        }

    return {
        "pool": {"OpaqueRef:pool": {"uuid": "p", "name_label": "pool", "master": "OpaqueRef:host-a"}},
        "host": {
            "OpaqueRef:host-a": host("OpaqueRef:host-a", "ua", "xcp-a", MASTER),
            "OpaqueRef:host-b": host("OpaqueRef:host-b", "ub", "xcp-b", ME),
            "OpaqueRef:host-c": host("OpaqueRef:host-c", "uc", "xcp-c", THIRD),
        },
        "host_metrics": {
            "OpaqueRef:hm-a": {"uuid": "ma", "live": True},
            "OpaqueRef:hm-b": {"uuid": "mb", "live": True},
            "OpaqueRef:hm-c": {"uuid": "mc", "live": True},
        },
        "VM": {
            "OpaqueRef:vm1": {
                "uuid": "v1",
                "name_label": "web",
                "power_state": "Running",
                "resident_on": "OpaqueRef:host-a",
            }
        },
    }


@pytest.fixture
def sim_root(tmp_path):
    inventory = {
        "INSTALLATION_UUID": "ub",
        "CONTROL_DOMAIN_UUID": "dom0-b",
        "MANAGEMENT_INTERFACE": "xenbr0",
        "MANAGEMENT_ADDRESS_TYPE": "IPv4",
        "PRODUCT_VERSION": "8.2.1",
    }
    link = dict(ifname="xenbr0", mac="aa:bb:cc:00:00:52", operstate="UP", addresses=[("inet", ME, 8)])
    write_host_files(
        tmp_path,
        pool_conf=render_pool_conf("slave", MASTER),
        inventory=inventory,
        state_db_tables=_tables(),
        db_generation=9,
        link=link,
    )
    os.utime(tmp_path / "var/lib/xcp/state.db", (1_700_000_000, 1_700_000_000))
    return tmp_path


@pytest.fixture
def third_host_listening():
    s = socket.socket()
    s.bind((THIRD, 0))
    s.listen(5)
    yield s.getsockname()[1]
    s.close()


def _closed_port(address):
    s = socket.socket()
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_gather_from_simulated_root(sim_root, third_host_listening, tmp_path):
    xapi = XapiPidProcess(stand_in_executable(tmp_path / "bin"))  # a live process named xapi
    pid = sim_root / "var/run/xapi.pid"
    pid.parent.mkdir(parents=True)
    pid.write_text("%d\n" % xapi.pid)
    ports = {MASTER: _closed_port(MASTER), THIRD: third_host_listening}
    truth = gather_ground_truth(SimulatedAccess(sim_root), port_for=ports, probe_timeout=0.5, now=lambda: 2e9)

    assert truth.pool_role.value == PoolRole("slave", MASTER)
    assert truth.pool_role.source.endswith("/etc/xensource/pool.conf")
    assert truth.inventory.value.installation_uuid == "ub"
    assert truth.state_db.observed_at == 1_700_000_000  # the file's age, not the read time
    assert truth.state_db.age(2e9) == 2e9 - 1_700_000_000
    snap = PoolSnapshot.from_records(truth.state_db.value)
    assert sorted(h.name_label for h in snap.hosts.values()) == ["xcp-a", "xcp-b", "xcp-c"]
    assert [v.name_label for v in snap.vms_on("OpaqueRef:host-a")] == ["web"]
    assert truth.management_link.value.ipv4[0].address == ME
    xapi.stop()
    assert truth.xapi_running.value is True
    assert [(p.host_name, p.address, p.outcome) for p in truth.peers] == [
        ("xcp-a", MASTER, "refused"),
        ("xcp-c", THIRD, "open"),
    ]  # not itself
    assert truth.gathered_at == 2e9 and truth.host_root.startswith("sim:")


def test_gather_never_raises_on_an_empty_root(tmp_path):
    truth = gather_ground_truth(LocalAccess(tmp_path), probe_timeout=0.2)
    for fact in (truth.pool_role, truth.inventory, truth.state_db, truth.management_link):
        assert fact.value is None and fact.error
    assert truth.xapi_running.value is False
    assert truth.peers == ()


def test_gather_reports_garbage_files_as_errors(sim_root):
    (sim_root / "etc/xensource/pool.conf").write_text("coordinator")
    (sim_root / "var/lib/xcp/state.db").write_bytes(b"<database><table")
    truth = gather_ground_truth(SimulatedAccess(sim_root), probe_timeout=0.2)
    assert "cannot parse pool role" in truth.pool_role.error
    assert "not well-formed" in truth.state_db.error
    assert truth.inventory.ok and truth.management_link.ok
    assert truth.peers == ()  # no database, no slave role: nobody known to probe


def test_pool_conf_master_is_probed_even_when_state_db_is_missing(sim_root):
    os.unlink(sim_root / "var/lib/xcp/state.db")
    port = _closed_port(MASTER)
    truth = gather_ground_truth(SimulatedAccess(sim_root), port_for={MASTER: port}, probe_timeout=0.3)
    assert [(p.host_name, p.address, p.outcome) for p in truth.peers] == [("master (pool.conf)", MASTER, "refused")]


# --- a running simulator --------------------------------------------------------------


def test_gather_from_master_down_simulator(tmp_path):
    runner = pytest.importorskip("xentui.sim.runner")
    with runner.Simulator.start("master-down", tmp_path / "sim", time_scale=0.01) as sim:
        endpoints = sim.endpoints
        console = endpoints.host(endpoints.console)
        ports = ports_from_endpoints(tmp_path / "sim" / "endpoints.json")
        truth = gather_ground_truth(SimulatedAccess(console.root), port_for=ports, probe_timeout=0.5)
        # The dead master's disk still holds its files; from there the survivor answers.
        master = next(h for h in endpoints.hosts if h.address == truth.pool_role.value.master_address)
        from_master = gather_ground_truth(SimulatedAccess(master.root), port_for=ports, probe_timeout=0.5)

    assert truth.pool_role.ok, truth.pool_role.error
    assert truth.pool_role.value == PoolRole("slave", master.address)
    assert master.name != console.name
    assert truth.inventory.value.installation_uuid == console.uuid
    assert truth.state_db.ok, truth.state_db.error
    snap = PoolSnapshot.from_records(truth.state_db.value)
    assert {h.uuid for h in snap.hosts.values()} == {h.uuid for h in endpoints.hosts}
    assert {h.address for h in snap.hosts.values()} == {h.address for h in endpoints.hosts}
    assert snap.guest_vms(), "the database lists the pool's VMs"
    assert snap.master.uuid == master.uuid
    assert truth.management_link.ok and truth.management_link.value.ipv4[0].address == console.address
    assert truth.xapi_running.value is True
    outcomes = {p.address: p.outcome for p in truth.peers}
    assert outcomes == {master.address: "refused"}  # the dead master; never itself

    assert from_master.pool_role.value == PoolRole("master")
    assert from_master.xapi_running.value is False
    assert {p.address: p.outcome for p in from_master.peers} == {console.address: "open"}  # the survivor
