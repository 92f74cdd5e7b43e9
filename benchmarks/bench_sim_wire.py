"""Simulator core throughput on a `large`-shaped pool (64 hosts, 2,000 VMs).

Builds the database directly with xentui.sim.db.Database (no pool
semantics), serves it over TCP with HostListeners and a minimal dispatcher,
and measures through the real XenAPI SDK:

* VM.get_all_records            (requests/second)
* event.from full snapshot      (token "", xentui's 9 classes, and "*")

plus the server-side cost alone (building + encoding the reply, no HTTP,
no client parsing) and the process's peak RSS. Run:

    .venv/bin/python benchmarks/bench_sim_wire.py [--hosts 64] [--vms 2000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import sys
import time
from typing import Any, Callable, List

import XenAPI

from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.httpd import HostListeners, Request
from xentui.sim.methods import MethodTable, event_methods, generated_methods, system_methods
from xentui.sim.wire import Reply, encode_xmlrpc_response
from xentui.xapi.model import SNAPSHOT_CLASSES

GIB = 1 << 30


def build_large(db: Database, hosts: int, vms: int) -> None:
    networks = [
        db.create("network", name_label=f"Pool-wide network associated with eth{i}", bridge=f"xenbr{i}")
        for i in range(4)
    ]
    shared = db.create(
        "SR", name_label="shared NFS", type="nfs", shared=True, content_type="user", physical_size=16 << 40
    )
    host_refs: List[str] = []
    for h in range(hosts):
        metrics = db.create(
            "host_metrics", live=True, memory_total=256 * GIB, memory_free=128 * GIB, last_updated=db.now()
        )
        host = db.create(
            "host",
            name_label=f"xcp{h:02d}",
            hostname=f"xcp{h:02d}",
            address=f"127.0.{h // 250}.{h % 250 + 2}",
            metrics=metrics,
            software_version={"product_version": "8.3.0", "xapi": "24.19"},
            cpu_info={"cpu_count": "32", "vendor": "GenuineIntel"},
        )
        host_refs.append(host)
        dom0_metrics = db.create("VM_metrics", memory_actual=4 * GIB, VCPUs_number=8)
        dom0 = db.create(
            "VM",
            name_label=f"Control domain on host: xcp{h:02d}",
            is_control_domain=True,
            power_state="Running",
            resident_on=host,
            domid=0,
            metrics=dom0_metrics,
            memory_static_max=4 * GIB,
        )
        db.set_field("host", host, "control_domain", dom0)
        for i, net in enumerate(networks):
            pm = db.create("PIF_metrics", carrier=True, speed=10000, vendor_name="Intel", device_name="X710")
            db.create(
                "PIF",
                device=f"eth{i}",
                host=host,
                network=net,
                metrics=pm,
                MAC=f"02:00:00:00:{h:02x}:{i:02x}",
                management=(i == 0),
                IP=f"127.0.{h // 250}.{h % 250 + 2}" if i == 0 else "",
                ip_configuration_mode="Static" if i == 0 else "None",
            )
        local = db.create(
            "SR", name_label=f"Local storage on xcp{h:02d}", type="ext", content_type="user", physical_size=2 << 40
        )
        db.create("PBD", host=host, SR=local, currently_attached=True, device_config={"device": "/dev/sda3"})
        db.create(
            "PBD", host=host, SR=shared, currently_attached=True, device_config={"server": "nfs", "serverpath": "/vms"}
        )
    for v in range(vms):
        host = host_refs[v % len(host_refs)]
        metrics = db.create("VM_metrics", memory_actual=2 * GIB, VCPUs_number=2)
        db.create(
            "VM",
            name_label=f"vm-{v:04d}",
            power_state="Running",
            resident_on=host,
            domid=v // len(host_refs) + 1,
            metrics=metrics,
            memory_static_max=2 * GIB,
            memory_dynamic_max=2 * GIB,
            VCPUs_max=2,
            VCPUs_at_startup=2,
            other_config={"owner": "bench", "base_template_name": "Debian"},
            platform={"acpi": "1", "apic": "true", "pae": "true"},
        )
    db.create("pool", name_label="large", master=host_refs[0], default_SR=shared)


class _Ctx:
    def __init__(self, db: Database) -> None:
        self.db = db


def make_handler(db: Database, table: MethodTable) -> Callable[[Request], Reply]:
    def handle(req: Request) -> Reply:
        if req.method == "session.login_with_password":
            return Reply(value=db.create("session", auth_user_name=str(req.params[0])))
        method = table.lookup(req.method)
        if method is None:
            raise ApiError("MESSAGE_METHOD_UNKNOWN", req.method)
        params = list(req.params[1:] if method.takes_session else req.params)
        if len(params) != len(method.params):
            raise ApiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method.name, str(len(method.params)), str(len(params)))
        return Reply(value=method.handler(_Ctx(db), *params), raw=method.raw)

    return handle


class _JsonRpc:
    """A keep-alive JSON-RPC 2.0 client on /jsonrpc (xapi serves both protocols)."""

    def __init__(self, port: int, session: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.session = session
        self.next_id = 0

    def call(self, method: str, *params: Any) -> Any:
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "id": self.next_id, "params": [self.session, *params]})
        self.conn.request("POST", "/jsonrpc", body=body, headers={"Content-Type": "application/json"})
        doc = json.loads(self.conn.getresponse().read())
        if "error" in doc:
            raise RuntimeError(doc["error"])
        return doc["result"]


def rate(label: str, seconds: float, fn: Callable[[], Any]) -> float:
    fn()  # warm up
    count, start = 0, time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    per_second = count / elapsed
    print(f"  {label:<52} {per_second:8.2f} /s   ({1000 * elapsed / count:7.1f} ms each, n={count})")
    return per_second


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--vms", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    args = parser.parse_args(argv)

    db = Database(time.time)
    start = time.perf_counter()
    build_large(db, args.hosts, args.vms)
    print(
        f"built {sum(db.count(c) for c in db.tables())} objects "
        f"({db.count('VM')} VMs, {db.count('host')} hosts) in {time.perf_counter() - start:.2f} s"
    )

    table = MethodTable(generated_methods())
    for m in event_methods() + system_methods(table):
        table.register(m)
    listeners = HostListeners("bench", None, "127.0.0.1", 0, make_handler(db, table))
    listeners.start()
    try:
        session = XenAPI.Session(f"http://127.0.0.1:{listeners.tcp_port}/")
        session.xenapi.login_with_password("root", "bench")
        api = session.xenapi
        records = api.VM.get_all_records()
        snap = api.event_from(list(SNAPSHOT_CLASSES), "", 0.0)
        every = api.event_from(["*"], "", 0.0)
        size_records = len(encode_xmlrpc_response(Reply(value=db.records("VM"))))
        size_snap = len(encode_xmlrpc_response(Reply(value=db.event_from(list(SNAPSHOT_CLASSES), "", 0.0))))
        print(f"VM.get_all_records: {len(records)} records, {size_records / 1e6:.1f} MB of XML")
        print(
            f"event.from full snapshot: {len(snap['events'])} events (xentui classes), "
            f"{size_snap / 1e6:.1f} MB; {len(every['events'])} events for '*'"
        )

        print("server side only (build + encode the reply, no HTTP, no client parsing):")
        rate("VM.get_all_records", args.seconds, lambda: encode_xmlrpc_response(Reply(value=db.records("VM"))))
        rate(
            "event.from full snapshot (xentui classes)",
            args.seconds,
            lambda: encode_xmlrpc_response(Reply(value=db.event_from(list(SNAPSHOT_CLASSES), "", 0.0))),
        )
        rate(
            "event.from full snapshot ('*')",
            args.seconds,
            lambda: encode_xmlrpc_response(Reply(value=db.event_from(["*"], "", 0.0))),
        )

        print("end to end through the XenAPI SDK over TCP (client parsing included):")
        rate("VM.get_all_records", args.seconds, api.VM.get_all_records)
        rate(
            "event.from full snapshot (xentui classes)",
            args.seconds,
            lambda: api.event_from(list(SNAPSHOT_CLASSES), "", 0.0),
        )
        rate("event.from full snapshot ('*')", args.seconds, lambda: api.event_from(["*"], "", 0.0))
        rate("VM.get_record (small call, keep-alive)", args.seconds, lambda: api.VM.get_record(next(iter(records))))
        jsonrpc = _JsonRpc(listeners.tcp_port, session._session)
        rate("JSON-RPC 2.0 VM.get_all_records (json.loads)", args.seconds, lambda: jsonrpc.call("VM.get_all_records"))
        rate(
            "JSON-RPC 2.0 event.from full snapshot (xentui classes)",
            args.seconds,
            lambda: jsonrpc.call("event.from", list(SNAPSHOT_CLASSES), "", 0.0),
        )
        token = snap["token"]
        rate(
            "event.from incremental, nothing new (timeout 0)",
            args.seconds,
            lambda: api.event_from(list(SNAPSHOT_CLASSES), token, 0.0),
        )
    finally:
        listeners.stop()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS (server + client in one process): {peak_kib / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
