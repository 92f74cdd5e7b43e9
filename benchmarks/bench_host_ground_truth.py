"""Cost of reading a dom0's ground truth without xapi.

* state.db parse (render a pool with N hosts / M VMs in xapi's format, then
  parse it with xentui.host.statedb): MB/s, rows/s, transient memory;
* PoolSnapshot.from_records on the parsed tables;
* gather_ground_truth on a simulated root (files + ip + pid + probes of all
  peers: half refused, half open, so no probe waits for its timeout).

    .venv/bin/python benchmarks/bench_host_ground_truth.py [--hosts 64] [--vms 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
import tracemalloc
from pathlib import Path

from xentui.host.access import SimulatedAccess
from xentui.host.gather import gather_ground_truth
from xentui.host.statedb import parse_state_db
from xentui.sim.dom0_files import render_pool_conf, render_state_db, write_host_files
from xentui.xapi.model import PoolSnapshot


def build_tables(hosts: int, vms: int) -> dict:
    tables: dict = {
        "pool": {
            "OpaqueRef:pool": {"uuid": "p", "name_label": "bench", "master": "OpaqueRef:h0", "other_config": {"a": "b"}}
        },
        "host": {},
        "host_metrics": {},
        "PIF": {},
        "VM": {},
        "SR": {},
        "PBD": {},
    }
    for h in range(hosts):
        tables["host"]["OpaqueRef:h%d" % h] = {
            "uuid": "host-%d" % h,
            "name_label": "xcp %d" % h,
            "address": "127.0.1.%d" % (h + 1),
            "metrics": "OpaqueRef:hm%d" % h,
            "software_version": {"product_version": "8.2.1", "xapi": "1.249"},
            "enabled": True,
            "API_version_major": 2,
            "API_version_minor": 21,
        }
        tables["host_metrics"]["OpaqueRef:hm%d" % h] = {
            "uuid": "hm-%d" % h,
            "live": h != 0,
            "memory_total": 2**35,
            "memory_free": 2**33,
        }
        tables["PIF"]["OpaqueRef:pif%d" % h] = {
            "uuid": "pif-%d" % h,
            "device": "eth0",
            "host": "OpaqueRef:h%d" % h,
            "management": True,
            "IP": "127.0.1.%d" % (h + 1),
            "MTU": 1500,
        }
        tables["PBD"]["OpaqueRef:pbd%d" % h] = {
            "uuid": "pbd-%d" % h,
            "host": "OpaqueRef:h%d" % h,
            "SR": "OpaqueRef:sr",
            "currently_attached": True,
            "device_config": {"server": "127.0.0.50", "serverpath": "/x"},
        }
    tables["SR"]["OpaqueRef:sr"] = {"uuid": "sr", "name_label": "NFS", "shared": True, "physical_size": 2**40}
    for v in range(vms):
        tables["VM"]["OpaqueRef:vm%d" % v] = {
            "uuid": "vm-%d" % v,
            "name_label": "vm %d" % v,
            "power_state": "Running",
            "resident_on": "OpaqueRef:h%d" % (v % hosts),
            "VCPUs_max": 2,
            "memory_static_max": 2**31,
            "other_config": {
                "base_template_name": "Debian Bookworm 12",
                "import_task": "OpaqueRef:NULL",
                "mac_seed": "5e2d-%d" % v,
            },
            "platform": {"timeoffset": "0", "device-model": "qemu-upstream-compat", "viridian": "true"},
            "tags": ["prod"],
            "is_a_template": False,
            "HVM_boot_params": {"order": "cd"},
        }
    return tables


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--vms", type=int, default=2000)
    args = parser.parse_args()
    tables = build_tables(args.hosts, args.vms)
    started = time.perf_counter()
    data = render_state_db(tables, 1)
    render_s = time.perf_counter() - started
    rows = sum(len(t) for t in tables.values())
    print(
        "state.db: %d hosts, %d VMs, %d rows, %.2f MB (render %.3f s)"
        % (args.hosts, args.vms, rows, len(data) / 1e6, render_s)
    )

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parsed = parse_state_db(data)
        best = min(best, time.perf_counter() - started)
    print("parse:    %.3f s  (%.1f MB/s, %.0f rows/s)" % (best, len(data) / 1e6 / best, rows / best))
    tracemalloc.start()
    parsed = parse_state_db(data)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print("memory:   result %.1f MB, transient overhead %.2f MB" % (current / 1e6, (peak - current) / 1e6))
    started = time.perf_counter()
    snap = PoolSnapshot.from_records(parsed.tables)
    print(
        "model:    %.3f s  (%d hosts, %d guest VMs)"
        % (time.perf_counter() - started, len(snap.hosts), len(snap.guest_vms()))
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        me = tables["host"]["OpaqueRef:h1"]
        write_host_files(
            root,
            pool_conf=render_pool_conf("slave", "127.0.1.1"),
            inventory={"INSTALLATION_UUID": me["uuid"], "CONTROL_DOMAIN_UUID": "d", "MANAGEMENT_INTERFACE": "xenbr0"},
            state_db_tables=tables,
            db_generation=1,
            link=dict(ifname="xenbr0", mac="aa:bb:cc:00:00:01", operstate="UP", addresses=[("inet", me["address"], 8)]),
        )
        (root / "var/run").mkdir(parents=True)
        (root / "var/run/xapi.pid").write_text(str(os.getpid()))
        listeners, ports = [], {}
        for h, host in enumerate(tables["host"].values()):
            s = socket.socket()
            s.bind((host["address"], 0))
            ports[host["address"]] = s.getsockname()[1]
            if h % 2:
                s.listen(16)
                listeners.append(s)
            else:
                s.close()  # refused
        started = time.perf_counter()
        truth = gather_ground_truth(SimulatedAccess(root), port_for=ports, probe_timeout=1.0)
        elapsed = time.perf_counter() - started
        for s in listeners:
            s.close()
    outcomes: dict = {}
    for probe in truth.peers:
        outcomes[probe.outcome] = outcomes.get(probe.outcome, 0) + 1
    print("gather:   %.3f s  (%d peers probed: %s)" % (elapsed, len(truth.peers), outcomes))


if __name__ == "__main__":
    main()
