"""What an idle healthy pool costs the console: bytes written to the terminal
per second and CPU. Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_terminal.py [--scenario healthy] [--idle 30] [--settle 8]

Runs the INSTALLED `xentui --demo SCENARIO` (or, with --separate, `xentui
sim:STATE` against `xentui sim serve` in its own process at time scale 1, as
on a real pool; --demo runs the simulator in-process 20x fast) in tmux (TERM=linux, 80x25, as on
a dom0's VGA console), records every byte the app writes with `pipe-pane`,
waits `--settle` seconds after the first dashboard (the first look's follow-up
and the peers' answers land then), then counts the bytes written and the CPU
seconds used (/proc/PID/stat, the whole process: UI, observer, liveness probe
and, in --demo, the in-process simulator) over `--idle` seconds.

The clock in the top bar ticks once a minute, so a window of `--idle` seconds
may include one clock repaint; the figure is reported per second anyway.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_size import SimProcess  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def installed_xentui() -> str:
    candidate = Path(sys.executable).parent / "xentui"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("xentui")
    if not found:
        raise SystemExit("the xentui command is not installed (pip install -e .)")
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and its reaped children (fields 14-17 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="healthy")
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument(
        "--separate",
        action="store_true",
        help="the simulator in its own process at time scale 1 (the UI process alone is measured)",
    )
    parser.add_argument("--dump", type=Path, help="write the bytes of the idle window to this file")
    args = parser.parse_args()
    tmux_bin = shutil.which("tmux")
    if tmux_bin is None:
        raise SystemExit("tmux is not installed")
    xentui = installed_xentui()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        raw, pid_file = tmp / "raw.out", tmp / "pid"
        socket = f"xentui-bench-{os.getpid()}"

        def tmux(*argv: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [tmux_bin, "-L", socket, "-f", "/dev/null", *argv], capture_output=True, text=True, timeout=10
            )

        env = f"TERM=linux XDG_CONFIG_HOME={tmp}/config XDG_STATE_HOME={tmp}/state XDG_DATA_HOME={tmp}/data"
        sim = None
        if args.separate:
            state = tmp / "sim"
            sim = SimProcess(args.scenario, state)
            what = f"sim:{state}"
        else:
            what = f"--demo {args.scenario}"
        command = f"{tmux_bin} -L {socket} wait-for go; echo $$ > {pid_file}; exec env {env} {xentui} {what}"
        try:
            tmux("new-session", "-d", "-s", "bench", "-x", "80", "-y", "25", command)
            tmux("pipe-pane", "-t", "bench", "-o", f"cat >> {raw}")
            tmux("wait-for", "-S", "go")
            started = time.monotonic()
            if not wait_until(lambda: "Pool " in tmux("capture-pane", "-p", "-t", "bench").stdout, 60):
                raise SystemExit("no dashboard within 60 s:\n" + tmux("capture-pane", "-p", "-t", "bench").stdout)
            first_paint = time.monotonic() - started
            time.sleep(args.settle)
            pid = int(pid_file.read_text().strip())
            bytes0, cpu0, t0 = raw.stat().st_size, cpu_seconds(pid), time.monotonic()
            writes, size = 0, bytes0
            while time.monotonic() - t0 < args.idle:  # count bursts of output, sampled 10x a second
                time.sleep(0.1)
                now_size = raw.stat().st_size
                writes, size = writes + (now_size != size), now_size
            bytes1, cpu1, t1 = raw.stat().st_size, cpu_seconds(pid), time.monotonic()
            screen = tmux("capture-pane", "-p", "-t", "bench").stdout
            if args.dump is not None:
                args.dump.write_bytes(raw.read_bytes()[bytes0:bytes1])
            tmux("send-keys", "-t", "bench", "q")
        finally:
            tmux("kill-server")
            if sim is not None:
                sim.stop()
    span = t1 - t0
    banner = next((line.strip() for line in screen.splitlines() if "Pool" in line or "MASTER" in line), "?")
    where = "simulator in its own process, time scale 1" if args.separate else "--demo, simulator in-process"
    print(f"scenario                          : {args.scenario} ({where}; TERM=linux, 80x25, tmux)")
    print(f"start -> dashboard on screen      : {first_paint:.2f} s  ({banner[:60]})")
    print(f"bytes written in the first paint  : {bytes0} (incl. {args.settle:g} s settle)")
    print(f"idle window                       : {span:.1f} s")
    idle_bytes = bytes1 - bytes0
    print(
        f"terminal bytes written while idle : {idle_bytes} ({idle_bytes / span:.1f} B/s) in {writes} burst(s);"
        " the top bar's clock repaints once a minute (~160 B)"
    )
    print(f"CPU while idle (whole process)    : {(cpu1 - cpu0) / span * 100:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
