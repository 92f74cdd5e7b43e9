"""UI benchmarks: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_ui.py [--repeat N]

Measures, headless at 80x25 (Textual's test driver, the real app and the
real Observer against the in-process simulator):
  * demo master-down: start (simulator + observer + app) -> first full dashboard;
  * large (64 hosts, 2,000 VMs): start -> first full dashboard, with the
    simulator in this process (as --demo runs it) and in its own process;
  * large: switch to the VM screen (2,000 rows) and keypress -> repaint
    (cursor down on the VM list, and on the dashboard host list);
  * quit: `q` -> app stopped while the master hangs;
  * peak memory (max RSS of this process) after all of the above.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from xentui.ui.app import XenTuiApp  # noqa: E402
from xentui.ui.demo import DemoControl  # noqa: E402

SIZE = (80, 25)


def _opener(demo: DemoControl, **observer_kw):
    def open_observer():
        from xentui.recovery.observer import Observer
        from xentui.xapi.targets import parse_target

        demo.start()
        return Observer(parse_target(demo.target), demo=True, **observer_kw)

    return open_observer


async def _until(pilot, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await pilot.pause(0.005)


async def start_to_dashboard(scenario: str, time_scale: float, extra=None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoControl(scenario, state_dir=Path(tmp) / "sim", time_scale=time_scale)
        started = time.perf_counter()
        app = XenTuiApp(
            _opener(demo, call_timeout=5.0, connect_timeout=2.0, probe_timeout=0.5), target_label="DEMO", demo=demo
        )
        figures = {}
        try:
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, lambda: app.observation is not None)
                await pilot.pause()
                figures["start_to_dashboard_s"] = time.perf_counter() - started
                if extra is not None:
                    figures.update(await extra(app, pilot))
                await pilot.press("q")
        finally:
            demo.stop()
        return figures


class RepaintClock:
    """Times from a key to the first frame written after it. Pilot's own
    press()/pause() add ~100 ms of settling that a user never sees, so the
    frame time is taken where the app hands a frame to its driver."""

    def __init__(self, app) -> None:
        self.frames = []
        original = app._display

        def display(screen, renderable):
            self.frames.append(time.perf_counter())
            return original(screen, renderable)

        app._display = display

    async def key(self, pilot, key: str) -> float:
        start = time.perf_counter()
        count = len(self.frames)
        await pilot.press(key)
        await pilot.pause()
        after = [t for t in self.frames[count:] if t >= start]
        return (after[0] - start) if after else float("nan")


async def large_keys(app, pilot) -> dict:
    out = {}
    clock = RepaintClock(app)
    samples = [await clock.key(pilot, "down") for _ in range(20)]
    out["dashboard_key_to_repaint_ms_median"] = statistics.median(samples) * 1000
    t = time.perf_counter()
    await pilot.press("2")
    await _until(
        pilot, lambda: type(app.screen).__name__ == "VmsScreen" and app.screen.query_one("#table").row_count > 1000
    )
    await pilot.pause()
    out["switch_to_vm_screen_2000_rows_ms"] = (time.perf_counter() - t) * 1000
    out["vm_rows"] = app.screen.query_one("#table").row_count
    samples = [await clock.key(pilot, "down") for _ in range(30)]
    out["vm_list_key_to_repaint_ms_median"] = statistics.median(samples) * 1000
    out["vm_list_key_to_repaint_ms_max"] = max(samples) * 1000
    t = time.perf_counter()
    await pilot.press("slash", "x", "e", "n", "1", "0")
    await pilot.pause()
    out["vm_filter_6_keys_ms"] = (time.perf_counter() - t) * 1000
    return out


async def separate_process_large() -> dict:
    """large, with the simulator in its own process (`xentui sim serve`), as a
    real pool would be: only the UI and the Observer share this process."""
    from bench_size import SimProcess

    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import parse_target

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sim"
        sim = SimProcess("large", state, 0.05)
        try:
            target = parse_target(f"sim:{state}")
            started = time.perf_counter()
            app = XenTuiApp(
                lambda: Observer(target, call_timeout=5.0, connect_timeout=2.0, probe_timeout=0.5), target_label="sim"
            )
            async with app.run_test(size=SIZE) as pilot:
                await _until(pilot, lambda: app.observation is not None)
                await pilot.pause()
                out = {"start_to_dashboard_s": time.perf_counter() - started}
                out.update(await large_keys(app, pilot))
                await pilot.press("q")
            return out
        finally:
            sim.stop()


async def fixture_large() -> dict:
    """The same keys against a prepared 2,000-VM observation: the UI's own
    cost, without the observer's threads competing for the GIL."""
    sys.path.insert(0, str(HERE.parent))
    from tests.ui import ui_fixtures as fx
    from xentui.ui.static_observer import StaticObserver

    observer = StaticObserver(fx.large(2000))
    started = time.perf_counter()
    app = XenTuiApp(lambda: observer, clock=lambda: fx.FIXED_NOW)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.observation is not None)
        await pilot.pause()
        out = {"start_to_dashboard_s": time.perf_counter() - started}
        out.update(await large_keys(app, pilot))
        t = time.perf_counter()
        observer.push(fx.large(2000))
        generation = app.generation
        await _until(pilot, lambda: app.generation > generation)
        await pilot.pause()
        out["new_observation_rerender_on_vm_screen_ms"] = (time.perf_counter() - t) * 1000
        await pilot.press("q")
    return out


async def quit_while_hung() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        demo = DemoControl("master-hung", state_dir=Path(tmp) / "sim", time_scale=0.05)
        app = XenTuiApp(_opener(demo, call_timeout=30.0), target_label="DEMO", demo=demo)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(1.0)
                t = time.perf_counter()
                await pilot.press("q")
                await _until(pilot, lambda: not app.is_running, timeout=10)
                return {"q_to_stopped_while_master_hangs_ms": (time.perf_counter() - t) * 1000}
        finally:
            demo.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = {}
    demo_runs = [
        asyncio.run(start_to_dashboard("master-down", 0.05))["start_to_dashboard_s"] for _ in range(args.repeat)
    ]
    results["demo master-down: start -> first full dashboard (s, median)"] = statistics.median(demo_runs)
    large = asyncio.run(start_to_dashboard("large", 0.05, extra=large_keys))
    results["large (64 hosts, 2,000 VMs): start -> first full dashboard (s)"] = large.pop("start_to_dashboard_s")
    for key, value in large.items():
        results[f"large: {key}"] = value
    results.update(
        {f"large, simulator in its own process: {k}": v for k, v in asyncio.run(separate_process_large()).items()}
    )
    results.update({f"fixture 2,000 VMs: {k}": v for k, v in asyncio.run(fixture_large()).items()})
    results.update({f"hung: {k}": v for k, v in asyncio.run(quit_while_hung()).items()})
    results["peak RSS of this process (MiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key:<{width}}  {value:10.2f}" if isinstance(value, float) else f"{key:<{width}}  {value:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
