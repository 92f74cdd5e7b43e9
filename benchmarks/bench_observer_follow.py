"""CPU cost of Observer.follow on the 64-host `large` pool.

The simulator runs in a subprocess (`xentui sim serve`), so only the
observer's own CPU is measured: process CPU seconds (all threads) per 10 s
of wall time while follow() runs, plus how many event.from calls were full
snapshots (token "") versus incremental ones.

    .venv/bin/python benchmarks/bench_observer_follow.py [--seconds 10]
        [--observer-module PATH]   # e.g. an older observer.py, to compare
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_size import SimProcess  # noqa: E402


def load_observer_class(path: str):
    if not path:
        from xentui.recovery.observer import Observer

        return Observer
    spec = importlib.util.spec_from_file_location("bench_observer_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Observer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="wall seconds to follow (after the first look)")
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--observer-module", default="", help="path of an observer.py to measure instead")
    args = parser.parse_args()

    from xentui.xapi.client import XapiClient
    from xentui.xapi.targets import parse_target

    Observer = load_observer_class(args.observer_module)
    calls = {"full": 0, "incremental": 0}
    original_call = XapiClient.call

    def counting_call(self, method, *a, **kw):
        if method == "event.from" and len(a) >= 2:
            calls["full" if a[1] == "" else "incremental"] += 1
        return original_call(self, method, *a, **kw)

    XapiClient.call = counting_call
    state_dir = Path(tempfile.mkdtemp(prefix="bench-follow-"))
    sim = SimProcess(args.scenario, state_dir, args.time_scale)
    try:
        time.sleep(2.0)  # let the simulator write its hosts' files
        observer = Observer(parse_target(f"sim:{state_dir}"), call_timeout=5.0, probe_timeout=0.5)
        seen = []
        first = threading.Event()
        stop = threading.Event()

        def on_observation(obs):
            seen.append(obs)
            first.set()

        worker = threading.Thread(target=observer.follow, args=(on_observation, stop), daemon=True)
        t0 = time.monotonic()
        worker.start()
        if not first.wait(120):
            raise SystemExit("no first observation within 120 s")
        first_look = time.monotonic() - t0
        calls.update(full=0, incremental=0)
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(args.seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        counted = dict(calls)
        stop.set()
        t_stop = time.monotonic()
        worker.join(30)
        stop_latency = time.monotonic() - t_stop
        observer.close()
        print(f"observer: {args.observer_module or 'xentui.recovery.observer'}")
        print(f"scenario {args.scenario}, time scale {args.time_scale}; first observation after {first_look:.2f} s")
        print(f"CPU {cpu:.2f} s over {wall:.1f} s wall = {cpu / wall * 10:.2f} CPU s per 10 s")
        print(f"event.from calls: {counted['full']} full snapshots (token ''), {counted['incremental']} incremental")
        print(
            f"observations delivered: {len(seen)}; stop took {stop_latency:.2f} s"
            + ("" if not worker.is_alive() else " (worker still running!)")
        )
    finally:
        sim.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
