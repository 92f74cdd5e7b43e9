#!/usr/bin/env python3
"""How much a full PoolSnapshot of the `large` scenario costs over the unix socket.

    .venv/bin/python benchmarks/bench_snapshot.py [--scenario large] [--repeat 3]

The simulator runs in a forked child process so that the peak memory
(resource.getrusage ru_maxrss) measured here is the client's alone. Prints:
calls and wall time for one snapshot via a single event.from (what xentui
does) over JSON-RPC and over XML-RPC in the same run, with the Python heap
peak of each (tracemalloc), the same via one get_all_records per class (for
comparison), the time to apply one event to the big snapshot, and peak client
memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _run_simulator(scenario: str, state_dir: str, ready, stop) -> None:
    from xentui.sim.runner import Simulator

    sim = Simulator.start(scenario, Path(state_dir), time_scale=0.01)
    ready.set()
    stop.wait()
    sim.stop()


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--call-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    ctx = multiprocessing.get_context("fork")
    state_dir = tempfile.mkdtemp(prefix="xentui-bench-")
    ready, stop = ctx.Event(), ctx.Event()
    started = time.monotonic()
    child = ctx.Process(target=_run_simulator, args=(args.scenario, state_dir, ready, stop), daemon=True)
    child.start()
    if not ready.wait(600):
        print("simulator did not start within 600 s", file=sys.stderr)
        child.kill()
        return 1
    sim_start = time.monotonic() - started

    # Imported after the fork: the child never pays for them, we measure only the client.
    from xentui.xapi.client import XapiClient
    from xentui.xapi.live import load_snapshot
    from xentui.xapi.model import PoolSnapshot
    from xentui.xapi.targets import load_sim_endpoints, parse_target
    from xentui.xapi.transport import open_endpoint

    rss_before = _maxrss_mib()
    endpoints = load_sim_endpoints(state_dir)
    client = XapiClient(call_timeout=args.call_timeout)
    try:
        client.connect(open_endpoint(parse_target(f"sim:{state_dir}/{endpoints.console}")))
        times, calls = [], []
        snapshot = None
        for _ in range(args.repeat):
            before = client.calls
            t0 = time.perf_counter()
            snapshot = load_snapshot(client)
            times.append(time.perf_counter() - t0)
            calls.append(client.calls - before)
        assert snapshot is not None
        rss_after_event_from = _maxrss_mib()

        # The same snapshot over each protocol, in this run (the ratio is the figure).
        import tracemalloc

        protocols = {}
        for label, prefer_json in (("JSON-RPC", True), ("XML-RPC", False)):
            other = XapiClient(call_timeout=args.call_timeout, prefer_jsonrpc=prefer_json)
            try:
                other.connect(open_endpoint(parse_target(f"sim:{state_dir}/{endpoints.console}")))
                runs = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    same = load_snapshot(other)
                    runs.append(time.perf_counter() - t0)
                    assert same.raw == snapshot.raw
                tracemalloc.start()  # one more, traced (tracing slows it down: not timed)
                load_snapshot(other)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                protocols[label] = (statistics.median(runs), peak, other.jsonrpc_calls)
            finally:
                other.close()

        # The naive way, for comparison: one get_all_records per class.
        class_names = {
            "pool": "pool",
            "host": "host",
            "host_metrics": "host_metrics",
            "pif": "PIF",
            "pif_metrics": "PIF_metrics",
            "network": "network",
            "vm": "VM",
            "sr": "SR",
            "pbd": "PBD",
        }
        before = client.calls
        t0 = time.perf_counter()
        records = {lower: client.call(f"{name}.get_all_records") for lower, name in class_names.items()}
        naive = PoolSnapshot.from_records(records)
        naive_time = time.perf_counter() - t0
        naive_calls = client.calls - before
        assert len(naive.vms) == len(snapshot.vms)

        # Applying one event to the big immutable snapshot (the follower's per-batch cost).
        vm_ref, vm = next(iter(snapshot.vms.items()))
        event = {
            "class": "vm",
            "operation": "mod",
            "ref": vm_ref,
            "snapshot": {"name_label": "renamed", "uuid": vm.uuid, "power_state": vm.power_state},
        }
        t0 = time.perf_counter()
        for _ in range(20):
            snapshot.apply_events([event])
        apply_ms = (time.perf_counter() - t0) / 20 * 1000
    finally:
        client.close()
        stop.set()
        child.join(30)

    print(
        f"scenario                 : {args.scenario} ({len(snapshot.hosts)} hosts, {len(snapshot.vms)} VM records,"
        f" {len(snapshot.guest_vms())} guests, {len(snapshot.pifs)} PIFs)"
    )
    print(f"simulator start          : {sim_start:.1f} s (child process)")
    print(
        f"event.from snapshot      : {calls[0]} call(s); {statistics.median(times):.2f} s median,"
        f" {min(times):.2f} s best of {len(times)}"
    )
    for label, (seconds, peak, json_calls) in protocols.items():
        print(
            f"event.from via {label:<9} : {seconds:.2f} s median (wall, incl. the simulator's encoding),"
            f" heap peak {peak:.0f} MiB, {json_calls} JSON-RPC call(s)"
        )
    print(f"XML-RPC / JSON-RPC       : {protocols['XML-RPC'][0] / protocols['JSON-RPC'][0]:.1f}x")
    print(f"get_all_records x class  : {naive_calls} calls; {naive_time:.2f} s")
    print(f"apply one event          : {apply_ms * 1000:.0f} µs")
    print(f"client peak RSS          : {rss_after_event_from:.0f} MiB (before connecting {rss_before:.0f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
