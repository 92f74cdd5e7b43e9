"""Figures for the generic xapi surface on the `large` scenario (64 hosts, 2,000 VMs):

* the cost of keeping allowed_operations current: a database write of a field it
  depends on (VM.power_state; VBD.currently_attached, which recomputes its VDI) vs a
  write of a field it does not (VM.user_version);
* build_database(large) (host_cpu rows, guest metrics, memory accounting included);
* VM.get_all_records_where over TCP through the real SDK (filter evaluated per row);
* GET /rrd_updates on the master (host=true, start=-600).

    .venv/bin/python benchmarks/bench_sim_surface.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
from pathlib import Path

import XenAPI

from xentui.sim import scenarios
from xentui.sim.runner import Simulator


def timed(fn, repeat):
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - began)
    return min(samples), statistics.median(samples)


def per_write(db, cls, refs, field, values, rounds=4):
    began = time.perf_counter()
    for i in range(rounds):
        for ref in refs:
            db.update(cls, ref, **{field: values[i % 2]})
    return (time.perf_counter() - began) / (rounds * len(refs)) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = scenarios.load("large")
    best, median = timed(lambda: scenarios.build_database(spec, 1.7e9), args.repeat)
    print(f"build_database(large): best {best:.2f} s, median {median:.2f} s")
    db = scenarios.build_database(spec, 1.7e9)
    vms = [v for v in db.refs("VM") if not db.get_field("VM", v, "is_control_domain")]
    print(
        "allowed_operations upkeep, per write: VM.power_state %.1f us, VM.user_version %.1f us, "
        "VBD.currently_attached %.1f us"
        % (
            per_write(db, "VM", vms, "power_state", ("Halted", "Running")),
            per_write(db, "VM", vms, "user_version", (1, 2)),
            per_write(db, "VBD", db.refs("VBD"), "currently_attached", (False, True)),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        with Simulator.start("large", Path(tmp), time_scale=0.01) as sim:
            ep = sim.endpoints.host("xen1")
            session = XenAPI.Session(f"http://{ep.address}:{ep.port}/")
            session.xenapi.login_with_password("root", sim.endpoints.root_password)
            x = session.xenapi
            expr = 'field "power_state" = "Running" and not field "is_control_domain" = "true"'
            best, median = timed(lambda: x.VM.get_all_records_where(expr), args.repeat)
            print(
                f"VM.get_all_records_where over TCP: best {best:.3f} s, median {median:.3f} s "
                f"({len(x.VM.get_all_records_where(expr))} VMs matched)"
            )

            def rrd():
                conn = http.client.HTTPConnection(ep.address, ep.port, timeout=30)
                conn.request("GET", f"/rrd_updates?session_id={session._session}&start=-600&host=true")
                body = conn.getresponse().read()
                conn.close()
                return body

            best, median = timed(rrd, args.repeat)
            print(
                f"GET /rrd_updates (host=true, start=-600): best {best * 1000:.1f} ms, "
                f"median {median * 1000:.1f} ms, {len(rrd())} bytes"
            )
            session.xenapi.session.logout()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
