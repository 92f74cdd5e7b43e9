"""Where `xentui status` spends its time: the phases of its one observation.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_status_phases.py [--repeat 3]

For `healthy` and `large`, each served by `xentui sim serve` in its own
process at time scale 1, runs `xentui status --json` in-process with the
Observer's phases timed (time.perf_counter, from the command's start): the
master's snapshot (asked for by the command's head start) and the look that
takes it over with the emergency check, the host's own files and TCP probes, the
other hosts' logins (first started -> last answered), the diagnosis. The
phases that overlap show what runs concurrently; the last one to end is the
critical path. One child process per run, with a bytecode cache.

The child imports the observer and the diagnosis before its clock starts (to
time them), so the head start's overlap with those imports (the command asks
xapi before loading them: xentui.xapi.head_start) does not show here; the
wall times of `bench_size.py` include it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

PHASES = {
    "load_snapshot": "the master's snapshot (head start)",
    "_look_through_xapi": "the look: takes it over",
    "_gather_ground_truth": "host files + TCP probes",
    "_ask_peer": "other hosts' logins",
    "diagnose": "diagnosis",
}


def _child(target: str) -> Dict[str, Any]:
    started = time.perf_counter()
    spans: Dict[str, List[Tuple[float, float]]] = {name: [] for name in PHASES}
    lock = threading.Lock()

    def timed(owner: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter() - started
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    spans[name].append((t, time.perf_counter() - started))

        setattr(owner, name, wrapper)

    import xentui.recovery.diagnosis as diagnosis
    import xentui.recovery.observer as observer
    import xentui.xapi.live as live
    from xentui.cli import main

    for name in ("_look_through_xapi", "_gather_ground_truth", "_ask_peer"):
        timed(observer.Observer, name)
    timed(diagnosis, "diagnose")
    timed(live, "load_snapshot")  # the head start imports it when its login is done
    imported = time.perf_counter() - started
    with contextlib.redirect_stdout(io.StringIO()):
        main(["status", target, "--json"])
    out: Dict[str, Any] = {"imports done": (0.0, imported), "total": (0.0, time.perf_counter() - started)}
    for name, label in PHASES.items():
        if spans[name]:
            out[label] = (min(s for s, _ in spans[name]), max(e for _, e in spans[name]))
            out[label + " (count)"] = len(spans[name])
    return out


def run_child(target: str) -> Dict[str, Any]:
    from bench_size import child_env

    proc = subprocess.run(
        [sys.executable, __file__, "--child", target], capture_output=True, text=True, timeout=300, env=child_env()
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
    result: Dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", metavar="TARGET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return 0
    from bench_size import SimProcess

    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("healthy", "large"):
            sim = SimProcess(scenario, Path(tmp) / scenario)
            try:
                run_child(f"sim:{sim.state}")  # warms the bytecode cache, not measured
                runs = [run_child(f"sim:{sim.state}") for _ in range(args.repeat)]
            finally:
                sim.stop()
            print(f"{scenario}: seconds from the command's start (median of {args.repeat})")
            for key in runs[0]:
                if key.endswith("(count)"):
                    continue
                begin = statistics.median(r[key][0] for r in runs if key in r)
                end = statistics.median(r[key][1] for r in runs if key in r)
                count = runs[0].get(key + " (count)")
                label = key + (f" x{count}" if count and count > 1 else "")
                print(f"  {label:<36} {begin:6.3f} -> {end:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
