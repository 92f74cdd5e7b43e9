"""A 64-host pool as cheap as a 3-host one? Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_size.py [--repeat 3] [--status-repeat 15] [--idle 10]

For `healthy` (3 hosts) and `large` (64 hosts, 2,000 VMs), in one run, both
pools served by `xentui sim serve` (each in its own process, time scale 1)
for the whole run, every measurement alternating between them:
  * the real app headless (80x25) in a child process: start -> first look
    drawn (hosts, VM counts from the hosts' resident_VMs, findings so far;
    drawn BEFORE the VM records and the other hosts' answers, the banner says
    what is being read, no health is claimed), with the UI process's CPU
    seconds until then (the simulator's own time to encode the reply is NOT
    in it: on a real pool that is xapi's, on another machine); then the VM
    records in; then the full dashboard (VM records in AND every other host
    asked: every finding, the health verdict); then the VM screen; then
    `--idle` seconds of idling (CPU seconds and frames drawn);
  * the UI child's peak RSS (/usr/bin/time -v) and, in a second child, the
    Python heap peak (tracemalloc);
  * `xentui status --json` wall time (a subprocess, as a user runs it), its
    own CPU, and the simulator's CPU meanwhile (all 64 hosts' xapi in one
    process: the master's event.from and 63 members' logins, which on a real
    pool run on 64 machines);
  * large vs healthy ratios: of the medians, and for `status` also run by
    run (each large run against the healthy run just before it), whose
    spread shows how noisy the machine was;
  * one full event.from snapshot of `large`, JSON-RPC vs XML-RPC.

Every child runs with a bytecode cache (PYTHONPYCACHEPREFIX in the run's
temporary directory, warmed by one unmeasured run) as an installed package
or the dom0 bundle does: without it each start compiles xentui's sources
again (~0.1 s, the same for both pools).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZE = (80, 25)


# --- the UI child ----------------------------------------------------------------


async def _ui_child(target: str, idle: float, trace: bool) -> dict:
    if trace:
        import tracemalloc

        tracemalloc.start()
    from xentui.recovery.observer import Observer
    from xentui.ui.app import XenTuiApp
    from xentui.xapi.targets import parse_target

    started = time.perf_counter()
    cpu_started = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    app = XenTuiApp(lambda: Observer(parse_target(target)), target_label="sim")
    frames = []
    original = app._display

    def display(screen, renderable):
        frames.append(time.perf_counter())
        return original(screen, renderable)

    app._display = display
    out = {}
    async with app.run_test(size=SIZE) as pilot:
        while app.observation is None:
            await pilot.pause(0.005)
        await pilot.pause()
        out["dashboard_s"] = time.perf_counter() - started
        out["dashboard_cpu_s"] = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_started
        # The first look of a big pool is drawn before its VM records arrive; then they do.
        while app.observation.snapshot is not None and app.observation.snapshot.vms_pending:
            await pilot.pause(0.005)
        await pilot.pause()
        out["vms_in_s"] = time.perf_counter() - started
        # The first look is drawn before any peer login; the peers are asked meanwhile.
        while app.observation.peers_pending or (
            app.observation.snapshot is not None and app.observation.snapshot.vms_pending
        ):
            await pilot.pause(0.005)
        await pilot.pause()
        out["peers_answered_s"] = time.perf_counter() - started
        await pilot.press("2")
        while type(app.screen).__name__ != "VmsScreen" or app.screen.query_one("#table").row_count < 1:
            await pilot.pause(0.005)
        await pilot.pause()
        out["vm_screen_s"] = time.perf_counter() - started
        await pilot.press("1")
        await pilot.pause(2.0)  # let the first full look's follow-up settle
        cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        count0 = len(frames)
        await pilot.pause(idle)
        out["idle_cpu_percent"] = (sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0) / idle * 100
        out["idle_frames_per_s"] = (len(frames) - count0) / idle
        await pilot.press("q")
    if trace:
        import tracemalloc

        out["tracemalloc_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    return out


def run_ui_child(target: str, idle: float, trace: bool) -> dict:
    argv = [sys.executable, __file__, "--ui-child", target, "--idle", str(idle)] + (["--trace"] if trace else [])
    time_bin = shutil.which("time") or "/usr/bin/time"
    if os.path.exists(time_bin) and not trace:
        argv = [time_bin, "-v"] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=child_env())
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"UI child failed: {proc.stderr[-2000:]}")
    out = json.loads(lines[-1])
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if match:
        out["peak_rss_mib"] = int(match.group(1)) / 1024
    return out


def child_env() -> dict:
    """The environment of every measured child: with a bytecode cache (see the docstring)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "xentui-bench-pycache"))
    return env


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the simulator ------------------------------------------------------------------


class SimProcess:
    def __init__(self, scenario: str, state: Path, time_scale: float = 1.0) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xentui",
                "sim",
                "serve",
                "--scenario",
                scenario,
                "--state-dir",
                str(state),
                "--time-scale",
                str(time_scale),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not (state / "endpoints.json").exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("simulator did not start")
            time.sleep(0.05)
        time.sleep(1.0)  # endpoints.json is written as the listeners come up; state.db right after

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def status_seconds(target: str, sim_pid: int) -> tuple:
    """(wall, CPU, simulator CPU) seconds of one `xentui status --json`: the
    CPU is the status process's own; the simulator's is its answering (xapi's
    work, on a real pool spread over the pool's machines)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_before = process_cpu(sim_pid)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "xentui", "status", target, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=300,
        env=child_env(),
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, process_cpu(sim_pid) - sim_before


def spread(values: list) -> str:
    """`median (min-max)` of a list of figures."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def snapshot_json_vs_xml(state: Path, repeat: int) -> dict:
    from xentui.xapi.client import XapiClient
    from xentui.xapi.live import load_snapshot
    from xentui.xapi.targets import parse_target
    from xentui.xapi.transport import open_endpoint

    out = {}
    for label, json_rpc in (("JSON-RPC", True), ("XML-RPC", False)):
        client = XapiClient(call_timeout=120.0, prefer_jsonrpc=json_rpc)
        client.connect(open_endpoint(parse_target(f"sim:{state}")))
        runs = []
        try:
            for _ in range(repeat):
                t = time.perf_counter()
                load_snapshot(client)
                runs.append(time.perf_counter() - t)
        finally:
            client.close()
        out[label] = statistics.median(runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="UI runs per pool")
    parser.add_argument("--status-repeat", type=int, default=15, help="`status` runs per pool")
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--ui-child", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ui_child:
        print(json.dumps(asyncio.run(_ui_child(args.ui_child, args.idle, args.trace))))
        return 0
    pools = ("healthy", "large")
    dash: dict = {p: [] for p in pools}
    status: dict = {p: [] for p in pools}
    with tempfile.TemporaryDirectory() as tmp:
        # Both pools are served for the whole run and every measurement
        # alternates between them: on a machine shared with other jobs a slow
        # minute then slows both sides of a ratio, not one.
        sims = {p: SimProcess(p, Path(tmp) / p) for p in pools}
        try:
            targets = {p: f"sim:{sims[p].state}" for p in pools}
            for p in pools:
                status_seconds(targets[p], sims[p].proc.pid)  # warms the bytecode cache, not measured
            for _ in range(args.repeat):
                for p in pools:
                    dash[p].append(run_ui_child(targets[p], args.idle, False))
            traced = {p: run_ui_child(targets[p], 1.0, True) for p in pools}
            for _ in range(args.status_repeat):
                for p in pools:
                    status[p].append(status_seconds(targets[p], sims[p].proc.pid))
            json_vs_xml = snapshot_json_vs_xml(sims["large"].state, args.repeat)
        finally:
            for sim in sims.values():
                sim.stop()

    def med(pool: str, key: str) -> float:
        return statistics.median(d[key] for d in dash[pool])

    figures = {}
    for p in pools:
        figures[f"{p}: start -> first look drawn, before VMs and peers (s, median)"] = med(p, "dashboard_s")
        figures[f"{p}:   UI process CPU until then (s, median)"] = med(p, "dashboard_cpu_s")
        figures[f"{p}: start -> VM records in (s, median)"] = med(p, "vms_in_s")
        figures[f"{p}: start -> full dashboard, VMs in and peers asked (s, median)"] = med(p, "peers_answered_s")
        figures[f"{p}: start -> VM screen drawn (s, median)"] = med(p, "vm_screen_s")
        figures[f"{p}: `xentui status --json` (s, median)"] = statistics.median(w for w, _, _ in status[p])
        figures[f"{p}:   its own CPU (s, median)"] = statistics.median(c for _, c, _ in status[p])
        figures[f"{p}:   the simulator's CPU meanwhile (s, median)"] = statistics.median(s for _, _, s in status[p])
        figures[f"{p}: UI peak RSS (MiB, max)"] = max(d.get("peak_rss_mib", float("nan")) for d in dash[p])
        figures[f"{p}: UI tracemalloc peak (MiB)"] = traced[p]["tracemalloc_peak_mib"]
        figures[f"{p}: idle CPU (%, median)"] = med(p, "idle_cpu_percent")
        figures[f"{p}: idle frames drawn per s (median)"] = med(p, "idle_frames_per_s")
    for label, seconds in json_vs_xml.items():
        figures[f"large: one full event.from snapshot via {label} (s, median)"] = seconds
    for label, key in (
        ("first look drawn", "dashboard_s"),
        ("VM records in", "vms_in_s"),
        ("full dashboard (VMs in, peers asked)", "peers_answered_s"),
        ("UI CPU until the first look", "dashboard_cpu_s"),
    ):
        figures[f"ratio large/healthy: {label}"] = med("large", key) / med("healthy", key)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:8.2f}")
    # Each large run against the healthy run just before it: the spread shows the noise.
    for label, index in (("wall", 0), ("its own CPU", 1)):
        pairs = [big[index] / small[index] for small, big in zip(status["healthy"], status["large"])]
        print(f"{'ratio large/healthy: status --json, ' + label + ', run by run':<{width}}  {spread(pairs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
