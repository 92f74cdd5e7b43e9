#!/usr/bin/env python3
"""What the VDI lock model costs on `large`: every VDI and VBD, or only the stopped guests' disks.

    .venv/bin/python benchmarks/bench_snapshot_vdi.py [--scenario large] [--repeat 2]

The simulator runs in a forked child so that tracemalloc sees the client alone.
Prints, for one snapshot without disks, with the classes `vdi` and `vbd`
subscribed as a whole (the earlier way), and as `load_snapshot` reads it now
(the VBDs of the guests that are not running and their VDIs, as single
objects: xentui.xapi.disks): the heap the finished snapshot keeps, the heap
peak while decoding, wall time and calls.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import tempfile
import time
import tracemalloc
from pathlib import Path


def _run_simulator(scenario: str, state_dir: str, ready, stop) -> None:
    from xentui.sim.runner import Simulator

    sim = Simulator.start(scenario, Path(state_dir), time_scale=0.01)
    ready.set()
    stop.wait()
    sim.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    ctx = multiprocessing.get_context("fork")
    state_dir = tempfile.mkdtemp(prefix="xentui-bench-")
    ready, stop = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_run_simulator, args=(args.scenario, state_dir, ready, stop), daemon=True)
    child.start()
    if not ready.wait(600):
        child.kill()
        return 1
    # Imported after the fork: the child never pays for them.
    from xentui.xapi.client import XapiClient
    from xentui.xapi.live import load_snapshot
    from xentui.xapi.model import EVENT_CLASSES, SNAPSHOT_CLASSES, PoolSnapshot, lean_event_hook
    from xentui.xapi.targets import load_sim_endpoints, parse_target
    from xentui.xapi.transport import open_endpoint

    client = XapiClient(call_timeout=300.0)
    client.connect(open_endpoint(parse_target(f"sim:{state_dir}/{load_sim_endpoints(state_dir).console}")))

    def subscribed(classes):
        return lambda: PoolSnapshot.from_event_from(
            client.call("event.from", list(classes), "", 0.0, object_hook=lean_event_hook)
        )

    ways = (
        ("without disks", subscribed(EVENT_CLASSES)),
        ("every VDI/VBD", subscribed(SNAPSHOT_CLASSES)),
        ("stopped guests'", lambda: load_snapshot(client)),
    )
    try:
        load_snapshot(client)  # warm-up
        for _ in range(args.repeat):
            for label, read in ways:
                gc.collect()
                calls = client.calls
                tracemalloc.start()
                t0 = time.perf_counter()
                snapshot = read()
                seconds = time.perf_counter() - t0
                gc.collect()
                kept, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(
                    f"{label:<16}: kept {kept / 2**20:.2f} MiB, peak {peak / 2**20:.1f} MiB, {seconds:.2f} s,"
                    f" {client.calls - calls} call(s) ({len(snapshot.vms)} VMs, {len(snapshot.vdis)} VDIs,"
                    f" {len(snapshot.vbds)} VBDs)"
                )
                del snapshot
    finally:
        client.close()
        stop.set()
        child.join(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
