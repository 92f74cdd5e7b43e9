"""What the crash-resume enumeration of tests/program/test_crash_resume.py costs.

Per scenario: the number of audit records and audited xapi calls of one
uninterrupted `xentui recover --run`, the distinct crash points replayed
(a full disk / kill at every record, a kill before every call that changes
the pool), the wall time of replaying all of them (each on a fresh
simulator at time_scale 0.01, then resumed) and the failures (should be 0).

    .venv/bin/python benchmarks/bench_crash_resume.py [--workers N] [SCENARIO ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.program.crash_points import SCENARIO_ARGS, points_of, reference, replay_all  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=sorted(SCENARIO_ARGS))
    parser.add_argument("--workers", type=int, default=0, help="replay processes (default: the test's choice)")
    args = parser.parse_args()
    if args.workers:
        os.environ["XENTUI_CRASH_WORKERS"] = str(args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("XENTUI_STATE_DIR", str(Path(tmp) / "state"))
        print(f"{'scenario':16} {'records':>7} {'calls':>5} {'points':>6} {'seconds':>8} {'failed':>6}")
        for scenario in args.scenarios:
            t0 = time.perf_counter()
            expected, recording = reference(scenario, Path(tmp) / f"ref-{scenario}")
            points = points_of(recording)
            failures = replay_all(scenario, points, Path(tmp) / scenario, expected)
            took = time.perf_counter() - t0
            print(
                f"{scenario:16} {len(recording.records):7} {len(recording.calls):5} {len(points):6} "
                f"{took:8.1f} {len(failures):6}"
            )
            for f in failures[:3]:
                print("   ", f.splitlines()[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
