"""End-to-end figures for the `large` scenario (64 hosts, 2,000 VMs) through the
real Simulator (pool semantics, dispatch, HTTP) and the real XenAPI SDK:

* Simulator.start and the first flush of every state.db;
* state.db rendering: the reference (per-row) renderer vs the fast renderer vs an
  incremental re-render after one change (the master's periodic flush);
* VM.get_all_records and event.from full snapshot (token "") latency over TCP,
  and the server-side cost of building + encoding the same replies.

    .venv/bin/python benchmarks/bench_sim_large.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import XenAPI

from xentui.sim import dom0_files
from xentui.sim.host_files import render_incrementally
from xentui.sim.runner import Simulator
from xentui.sim.wire import Reply, encode_xmlrpc_response

CLASSES = ["pool", "host", "host_metrics", "PIF", "PIF_metrics", "network", "VM", "SR", "PBD"]


def timed(fn, repeat):
    samples = []
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - began)
    return min(samples), statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        sim = Simulator.start("large", Path(tmp), time_scale=1.0)
        print(f"Simulator.start(large): {time.perf_counter() - began:.2f} s")
        try:
            began = time.perf_counter()
            sim.flush_files(120)
            print(f"first flush of every state.db: {time.perf_counter() - began:.2f} s")
            master = next(p for p in sim.world.procs.values() if p.is_master)
            db = master.db
            tables = db.tables()
            rows = sum(len(v) for k, v in tables.items() if k not in dom0_files.NON_PERSISTENT_TABLES)
            ref_best, _, _ = timed(
                lambda: [
                    dom0_files._row_reference(c, r, recs[r], 1)
                    for c, recs in tables.items()
                    if c not in dom0_files.NON_PERSISTENT_TABLES
                    for r in recs
                ],
                1,
            )
            fast_best, fast_med, _ = timed(lambda: dom0_files.render_state_db(tables, db.generation), args.repeat)
            print(
                f"state.db rows: {rows}; reference renderer {ref_best:.3f} s "
                f"({ref_best / rows * 1e3:.3f} ms/row); fast renderer best {fast_best:.3f} s, "
                f"median {fast_med:.3f} s ({fast_best / rows * 1e3:.4f} ms/row)"
            )
            vm = db.refs("VM")[5]
            render_incrementally(db)

            def one_change():
                db.set_field("VM", vm, "name_description", "bench %f" % time.time())
                return render_incrementally(db)

            inc_best, inc_med, _ = timed(one_change, args.repeat)
            print(
                f"incremental re-render after one change: best {inc_best * 1e3:.1f} ms, median {inc_med * 1e3:.1f} ms"
            )

            ep = sim.endpoints.host(master.name)
            session = XenAPI.Session(f"http://{ep.address}:{ep.port}/")
            session.login_with_password("root", sim.endpoints.root_password)
            best, med, records = timed(session.xenapi.VM.get_all_records, args.repeat)
            print(f"VM.get_all_records over TCP ({len(records)} VMs): best {best:.3f} s, median {med:.3f} s")
            best, med, reply = timed(lambda: session.xenapi.event_from(CLASSES, "", 30.0), args.repeat)
            print(
                f"event.from full snapshot, 9 classes ({len(reply['events'])} events): "
                f"best {best:.3f} s, median {med:.3f} s"
            )
            recs = db.records("VM")
            best, med, body = timed(lambda: encode_xmlrpc_response(Reply(value=recs)), args.repeat)
            print(f"server side: encode VM.get_all_records reply ({len(body) / 1e6:.1f} MB): best {best:.3f} s")
            best, med, _ = timed(lambda: db.records("VM"), args.repeat)
            print(f"server side: build VM records: best {best:.3f} s")
            session.xenapi.session.logout()
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
