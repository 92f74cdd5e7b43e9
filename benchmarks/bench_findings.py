"""Time from start to findings: master-down and master-hung.

For each scenario a fresh simulator (time_scale 0.01) is started; the clock
runs from creating the Observer (no connection yet) to having the diagnosed
Observation ("cold"), then for a second observe() on the same Observer
("warm": session re-used). master-hung is bounded by the timeouts: the
console's login and the hung master's answer each wait call_timeout /
peer_timeout, concurrently.

    .venv/bin/python benchmarks/bench_findings.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from xentui.recovery.observer import Observer
from xentui.sim.runner import Simulator
from xentui.xapi.targets import parse_target


def measure(scenario: str, call_timeout: float, runs: int):
    cold, warm, codes = [], [], None
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            with Simulator.start(scenario, state_dir=Path(tmp), time_scale=0.01) as sim:
                sim.flush_files(10.0)  # the hosts' files are on disk, as on a real dom0
                t0 = time.perf_counter()
                observer = Observer(parse_target(f"sim:{tmp}"), call_timeout=call_timeout, probe_timeout=0.5)
                obs = observer.observe()
                cold.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                observer.observe()
                warm.append(time.perf_counter() - t1)
                observer.close()
                codes = [f.code.value for f in obs.findings]
    return cold, warm, codes


def fmt(xs):
    return f"median {statistics.median(xs) * 1000:7.1f} ms  min {min(xs) * 1000:7.1f}  max {max(xs) * 1000:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cases = [("master-down", 2.0), ("master-hung", 1.0), ("master-hung", 2.0)]
    for scenario, timeout in cases:
        cold, warm, codes = measure(scenario, timeout, args.runs)
        print(f"{scenario:12} call_timeout={timeout:g}s  runs={args.runs}")
        print(f"  start->findings (cold): {fmt(cold)}")
        print(f"  re-observe     (warm): {fmt(warm)}")
        print(f"  findings: {', '.join(codes)}")


if __name__ == "__main__":
    main()
