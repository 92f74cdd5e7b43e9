"""What judging health with the open recovery run costs per observation.

status, the dashboard (on every observation of its follow loop) and recover
judge each observation with the open run's record (recovery.open_run): the
audit log is stat()ed, re-read only when it changed, and the findings are
re-diagnosed only while a run with a baseline is open. Measured on the
`large` scenario (64 hosts, 2,000 VMs) with an open run whose baseline holds
every running VM:

- "no open run":  judge.apply() when the log has no open run (the usual case);
- "open, cached": the log unchanged since the last call (stat + re-diagnosis);
- "open, reread": the log changed (read + parse + re-diagnosis).

    .venv/bin/python benchmarks/bench_open_run.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.observer import Observer
from xentui.recovery.open_run import OpenRunJudge
from xentui.recovery.run_record import record_baseline
from xentui.sim.runner import Simulator
from xentui.xapi.targets import parse_target


def timed(fn, runs: int):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(xs) -> str:
    return f"median {statistics.median(xs) * 1000:7.2f} ms  min {min(xs) * 1000:7.2f}  max {max(xs) * 1000:7.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[au.STATE_DIR_ENV] = str(Path(tmp) / "state")
        with Simulator.start("large", state_dir=Path(tmp) / "sim", time_scale=0.01) as sim:
            sim.flush_files(30.0)
            observer = Observer(parse_target(f"sim:{tmp}/sim"), call_timeout=10.0, probe_timeout=0.5)
            obs = observer.observe()
            observer.close()
        log_path = Path(tmp) / "audit.jsonl"
        judge = OpenRunJudge(log_path)
        idle = timed(lambda: judge.apply(obs), args.runs)
        audit = AuditLog(log_path)
        run_id = au.new_run_id()
        audit.record(run_id, au.RUN_START, inputs={"read_only": False})
        record_baseline(audit, run_id, obs, [])
        audit.record(run_id, au.ATTEST, host="x", outcome="attested")
        baseline = len(judge.record().baseline)
        cached = timed(lambda: judge.apply(obs), args.runs)

        def changed() -> None:
            audit.record(run_id, au.NOTE, outcome="bench")
            judge.apply(obs)

        reread = timed(changed, args.runs)
    print(
        f"large: {len(obs.snapshot.hosts)} hosts, {len(obs.snapshot.vms)} VMs, baseline {baseline} VMs, "
        f"runs={args.runs}"
    )
    print(f"  no open run:  {fmt(idle)}")
    print(f"  open, cached: {fmt(cached)}")
    print(f"  open, reread: {fmt(reread)}  (includes one audit append)")


if __name__ == "__main__":
    main()
