"""Cost of reading every member's database copy (generation, age) per look.

While no master lists the pool, each observation reads each host's
state.db.generation (recovery/db_copies.py) to say which member to promote.
This measures that read for the stale-db scenario (3 hosts) and the large one
(64 hosts, every simulated host's files reachable).

    .venv/bin/python benchmarks/bench_db_copies.py [--looks N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from xentui.host.access import SimulatedAccess
from xentui.host.statedb import parse_state_db
from xentui.recovery.db_copies import member_accesses, read_db_copies
from xentui.sim.runner import Simulator
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.targets import parse_target


def measure(scenario: str, looks: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        with Simulator.start(scenario, state_dir=Path(tmp) / "sim", time_scale=0.01) as sim:
            sim.flush_files(60.0)
            target = parse_target(f"sim:{Path(tmp) / 'sim'}")
            data = (Path(target.host_root) / "var/lib/xcp/state.db").read_bytes()
            snapshot = PoolSnapshot.from_records(parse_state_db(data).tables)
            this = SimulatedAccess(target.host_root)
            others = member_accesses(target)
            started = time.perf_counter()
            for _ in range(looks):
                copies = read_db_copies(snapshot, target.sim_host or "", this, others)
            per_look = (time.perf_counter() - started) / looks
    known = sum(1 for c in copies if c.known)
    return f"{scenario}: {len(copies)} hosts, {known} copies read, {per_look * 1000:.2f} ms per look"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--looks", type=int, default=20)
    args = parser.parse_args()
    for scenario in ("stale-db", "large"):
        print(measure(scenario, args.looks))


if __name__ == "__main__":
    main()
