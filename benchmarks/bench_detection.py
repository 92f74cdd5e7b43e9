"""How soon does the banner say the master is gone? Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_detection.py [--repeat 2] [--no-baseline]

`healthy` is served by `xentui sim serve` in its own process at time scale 1
(xapi's real timings). The real app runs headless on the member xen2 with
the UI's default Observer settings. Once the dashboard says the pool is
healthy and the liveness probe is running, the master xen1 is powered off
(its port refuses at once) or hung (accepts, never answers) through the
simulator's control socket; the figure is the time from that fault to the
first observation whose banner says POOL MASTER NOT ANSWERING, with the
reach it names (refused / hung). `--no-baseline` skips the same run with
the liveness probe switched off (the event.from loop alone).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_size import SimProcess  # noqa: E402

from xentui.recovery.findings import Code  # noqa: E402
from xentui.recovery.observer import Observer  # noqa: E402
from xentui.sim import control  # noqa: E402
from xentui.ui import viewmodel as vm  # noqa: E402
from xentui.ui.app import XenTuiApp  # noqa: E402
from xentui.xapi.targets import parse_target  # noqa: E402

SIZE = (80, 25)


async def _until(pilot, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await pilot.pause(0.01)


def _banner(app):
    obs = app.observation
    return None if obs is None else vm.banner(obs, obs.at)


def _reach(app) -> str:
    finding = next((f for f in app.observation.findings if f.code is Code.MASTER_UNREACHABLE), None)
    return finding.data.get("reach", "?") if finding is not None else "?"


async def one_run(fault: str, probe: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimProcess("healthy", Path(tmp) / "sim", time_scale=1.0)
        observers = []

        def open_observer():
            kwargs = {} if probe else {"liveness_interval": 0.0}
            observer = Observer(parse_target(f"sim:{sim.state}/xen2"), **kwargs)
            observers.append(observer)
            return observer

        try:
            app = XenTuiApp(open_observer, target_label="sim")
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, lambda: _banner(app) is not None and _banner(app).level == "ok", 60)
                if probe:
                    await _until(
                        pilot,
                        lambda: (
                            observers[0]._liveness is not None
                            and observers[0]._liveness._monitor is not None
                            and observers[0]._liveness._monitor.probes_done >= 2
                        ),
                        30,
                    )
                else:
                    await pilot.pause(3.0)
                started = time.perf_counter()
                control.send(sim.state, fault, ["xen1"])
                await _until(
                    pilot, lambda: _banner(app).level == "emergency" and "NOT ANSWERING" in _banner(app).title, 120
                )
                seconds = time.perf_counter() - started
                reach = _reach(app)
                await pilot.press("q")
            return {"seconds": seconds, "reach": reach}
        finally:
            sim.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    rows = []
    modes = [True] if args.no_baseline else [True, False]
    for probe in modes:
        for fault, what in (("power_off", "powered off"), ("hang", "hung")):
            runs = [asyncio.run(one_run(fault, probe)) for _ in range(args.repeat if probe else 1)]
            label = "liveness probe" if probe else "event.from loop only (probe off)"
            rows.append(
                (
                    f"master {what}: fault -> banner, {label} (s, median of {len(runs)})",
                    statistics.median(r["seconds"] for r in runs),
                    "/".join(sorted({r["reach"] for r in runs})),
                )
            )
    width = max(len(r[0]) for r in rows)
    for name, seconds, reach in rows:
        print(f"{name:<{width}}  {seconds:6.2f}  banner says: {reach}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
