"""The dom0 single file against the venv install: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_dom0.py [--file OUTDIR/xentui] [--repeat 7]

Without --file it runs packaging/build-dom0 into a temp dir first and reports
the build time. Then, in the same run, for the file and for the venv's
`xentui` (next to this interpreter):
  * start to exit of `--version` and of `sim scenarios` (median of --repeat);
  * the demo's first full screen: tmux at 80x25 with TERM=linux, from starting
    the command to the emergency banner's "Press r to start recovery" on screen;
  * at that moment: the resident memory of the whole process tree (the file
    runs as three processes: staticx's launcher, PyInstaller's, Python) and
    the space used in TMPDIR (a fresh one per run);
  * peak RSS of the largest process (/usr/bin/time -v) for `sim scenarios`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]


def venv_command() -> str:
    candidate = Path(sys.executable).parent / "xentui"
    return str(candidate) if candidate.exists() else (shutil.which("xentui") or "xentui")


def build(outdir: Path) -> Tuple[Path, float]:
    started = time.perf_counter()
    subprocess.run([str(REPO / "packaging" / "build-dom0"), str(outdir)], check=True, capture_output=True)
    return outdir / "xentui", time.perf_counter() - started


def start_times(command: str, args: List[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        tmp = tempfile.mkdtemp(prefix="bench-dom0-")
        env = dict(os.environ, TMPDIR=tmp, XENTUI_STATE_DIR=tmp)
        started = time.perf_counter()
        subprocess.run([command, *args], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
        shutil.rmtree(tmp, ignore_errors=True)
    return statistics.median(times)


def tree(pid: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                    children.setdefault(int(stat.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def du_kb(path: str) -> int:
    done = subprocess.run(["du", "-sk", path], capture_output=True, text=True)
    return int(done.stdout.split()[0]) if done.stdout else 0


def demo_first_screen(command: str) -> Tuple[float, int, int, int, int]:
    """(seconds to the first full dashboard, tree RSS kB, TMPDIR kB, of which unpacked kB,
    peak RSS kB of the largest process over the whole run)."""
    tmux = shutil.which("tmux")
    tmp = tempfile.mkdtemp(prefix="bench-dom0-")
    socket = f"bench-dom0-{os.getpid()}"
    pid_file = Path(tmp) / "pid"
    run = Path(tmp) / "run.sh"
    run.write_text(
        f"echo $$ > {pid_file}\nexec env TERM=linux TMPDIR={tmp}/t XDG_STATE_HOME={tmp}/s "
        f"XDG_CONFIG_HOME={tmp}/c XDG_DATA_HOME={tmp}/d /usr/bin/time -v -o {tmp}/time.txt "
        f"{command} --demo\n"
    )
    os.makedirs(f"{tmp}/t")

    def capture() -> str:
        return subprocess.run(
            [tmux, "-L", socket, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True
        ).stdout

    try:
        started = time.perf_counter()
        subprocess.run(
            [
                tmux,
                "-L",
                socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "b",
                "-x",
                "80",
                "-y",
                "25",
                f"sh {run}",
            ],
            check=True,
        )
        while "Press r to start recovery" not in capture():
            if time.perf_counter() - started > 60:
                raise RuntimeError(capture())
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        pid = int(pid_file.read_text())
        memory = sum(rss_kb(p) for p in tree(pid))
        used = du_kb(f"{tmp}/t")
        unpacked = sum(du_kb(str(p)) for p in Path(tmp, "t").iterdir() if p.name.startswith(("_MEI", "staticx-")))
        subprocess.run([tmux, "-L", socket, "send-keys", "-t", "b", "q"])
        timing = Path(tmp, "time.txt")
        while not timing.exists() or "Maximum resident" not in timing.read_text():
            if time.perf_counter() - started > 90:
                raise RuntimeError("the demo did not quit")
            time.sleep(0.05)
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing.read_text())
        return seconds, memory, used, unpacked, int(peak.group(1))
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def peak_rss_kb(command: str, args: List[str]) -> int:
    done = subprocess.run(["/usr/bin/time", "-v", command, *args], capture_output=True, text=True)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return int(match.group(1)) if match else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, help="a built dom0 file (default: build one now)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.file:
        file = args.file
    else:
        file, seconds = build(Path(tempfile.mkdtemp(prefix="bench-dom0-build-")))
        print(f"build (packaging/build-dom0, build venv cached): {seconds:.1f} s")
    print(f"file size: {file.stat().st_size / 1e6:.1f} MB")
    venv = venv_command()
    rows = []
    for label, argv in (("--version", ["--version"]), ("sim scenarios", ["sim", "scenarios"])):
        f, v = start_times(str(file), argv, args.repeat), start_times(venv, argv, args.repeat)
        rows.append((f"start to exit, {label} (median of {args.repeat})", f, v))
    demo_file = [demo_first_screen(str(file)) for _ in range(3)]
    demo_venv = [demo_first_screen(venv) for _ in range(3)]
    rows.append(
        (
            "demo: first full screen (median of 3)",
            statistics.median(d[0] for d in demo_file),
            statistics.median(d[0] for d in demo_venv),
        )
    )
    print(f"{'':52} {'file':>8} {'venv':>8} {'ratio':>6}")
    for label, f, v in rows:
        print(f"{label:52} {f:7.3f}s {v:7.3f}s {f / v:6.2f}")
    print(
        f"demo at first screen, RSS of the process tree:  file {demo_file[0][1] / 1024:.0f} MB, "
        f"venv {demo_venv[0][1] / 1024:.0f} MB"
    )
    print(
        f"demo, peak RSS of the largest process (time -v): file {demo_file[0][4] / 1024:.0f} MB, "
        f"venv {demo_venv[0][4] / 1024:.0f} MB"
    )
    print(
        f"demo at first screen, TMPDIR used:              file {demo_file[0][2] / 1024:.0f} MB "
        f"(unpacked copies {demo_file[0][3] / 1024:.0f} MB), venv {demo_venv[0][2] / 1024:.1f} MB"
    )
    for label, argv in (("--version", ["--version"]), ("sim scenarios", ["sim", "scenarios"])):
        print(
            f"peak RSS, largest process, {label:14} file {peak_rss_kb(str(file), argv) / 1024:.0f} MB, "
            f"venv {peak_rss_kb(venv, argv) / 1024:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
