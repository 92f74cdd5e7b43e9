"""Crash-point enumeration for `xentui recover --run` (used by test_crash_resume*.py).

One uninterrupted run is recorded: every audit record it writes and every
audited xapi call it makes. Each of those is a crash point. A point is
replayed in-process against a fresh simulator: the run is abandoned there by
a BaseException (what kill -9 leaves: nothing in memory, the audit log as
written, the pool as changed so far), or the disk fills there (every audit
write from that point on fails, as ENOSPC does), and then the same command
is run again with fresh objects against the same simulator and audit log.

Which points are distinct. What a resumed run sees is durable state only:
the pool and the audit log. So:
- "kill before audit record n" and "disk full from record n" leave the same
  durable state, provided the failing process sends no change to xapi after
  the failed write; the full-disk replay checks exactly that
  (`Injector.changes_after_fault`) and so stands for both;
- "kill before a read-only xapi call" (get_*, is_*) leaves the same state as
  "kill before the audit record that call would have written": only calls
  that change the pool are points of their own;
- "kill after a call returned" is "kill before its audit record".
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from xentui.cli import main as xentui_main
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.report import run_outcome
from xentui.sim.runner import Simulator

SCALE = 0.01

# case -> (simulator scenario, the operator's arguments: what a fresh run and every resume pass)
SCENARIO_ARGS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    "master-down": ("master-down", ("--confirm-dead", "xen1")),
    "master-down-ha": ("master-down-ha", ("--confirm-dead", "xen1")),
    "split-brain": ("split-brain", ("--keep-master", "xen2")),
    # the console host (xen2) is the master demoted: the resumed run looks from a new member
    "split-brain-keep-xen1": ("split-brain", ("--keep-master", "xen1")),
}


class Killed(BaseException):
    """The process is gone (kill -9): nothing after this point runs."""


@dataclass(frozen=True)
class Point:
    kind: str  # "record" (before audit record n), "call" (before audited xapi call n), "full" (disk full from record n)
    index: int
    label: str  # what was about to happen, for failure messages

    def __str__(self) -> str:
        return f"{self.kind}#{self.index} ({self.label})"


def recover_args(sim_dir: Path, audit_path: Path, scenario: str, verify_timeout: float = 10.0) -> List[str]:
    return [
        "recover",
        f"sim:{sim_dir}",
        "--run",
        *SCENARIO_ARGS[scenario][1],
        "--audit-log",
        str(audit_path),
        "--call-timeout",
        "2",
        "--probe-timeout",
        "0.5",
        "--time-scale",
        str(SCALE),
        "--verify-timeout",
        str(verify_timeout),
    ]


def _record_label(record: au.AuditRecord) -> str:
    what = record.kind
    if record.kind == "call":
        what += " " + str(record.inputs.get("method", ""))
    elif record.kind == au.NOTE:
        what += " " + record.outcome
    return f"{what} {record.step_id}".strip()


def changes_pool(method: str) -> bool:
    """Whether an xapi method changes the pool (everything but getters and
    predicates, e.g. VM.get_record, host.is_in_emergency_mode)."""
    name = method.rsplit(".", 1)[-1]
    return not (name.startswith("get_") or name.startswith("is_") or method.startswith("event."))


class Injector:
    """Counts audit appends and audited xapi calls of one invocation; fires
    the fault at its point. Installed with `installed()` around one run."""

    def __init__(self, point: Optional[Point] = None) -> None:
        self.point = point
        self.records: List[str] = []  # labels of the records written (or attempted)
        self.calls: List[str] = []  # methods of the audited calls made (or attempted)
        self.fired = False
        self.disk_full = False
        self.changes_after_fault: List[str] = []  # pool changes sent after the disk filled

    @contextlib.contextmanager
    def installed(self):
        real_append = AuditLog.append
        real_call = PlanExecutor.call_xapi
        injector = self

        def append(log, record):
            n = len(injector.records)
            injector.records.append(_record_label(record))
            p = injector.point
            if p is not None and p.kind == "record" and p.index == n:
                injector.fired = True
                raise Killed()
            if injector.disk_full or (p is not None and p.kind == "full" and p.index == n):
                injector.fired = injector.disk_full = True
                raise au.AuditUnwritable(log.path, "No space left on device")
            return real_append(log, record)

        def call_xapi(executor, ctx, client, method, *args, **kwargs):
            n = len(injector.calls)
            injector.calls.append(f"{method} {ctx.step.id}")
            p = injector.point
            if injector.disk_full and changes_pool(method):
                injector.changes_after_fault.append(f"{method} {ctx.step.id}")
            if p is not None and p.kind == "call" and p.index == n:
                injector.fired = True
                raise Killed()
            return real_call(executor, ctx, client, method, *args, **kwargs)

        AuditLog.append = append
        PlanExecutor.call_xapi = call_xapi
        try:
            yield self
        finally:
            AuditLog.append = real_append
            PlanExecutor.call_xapi = real_call


def invoke(argv: Sequence[str], injector: Optional[Injector] = None) -> Tuple[Optional[int], str]:
    """Run `xentui argv` in-process: (exit code or None if killed, stdout+stderr)."""
    buf = io.StringIO()
    code: Optional[int] = None
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            if injector is None:
                code = xentui_main(list(argv))
            else:
                with injector.installed():
                    code = xentui_main(list(argv))
        except Killed:
            code = None
    return code, buf.getvalue()


def points_of(recording: Injector, kinds: Sequence[str] = ("full", "call")) -> List[Point]:
    """The distinct points (see the module's docstring): a full disk at every
    audit record, a kill before every call that changes the pool; with
    "record" and "read-call" also the kills those stand for."""
    out: List[Point] = []
    for kind in kinds:
        if kind in ("call", "read-call"):
            out.extend(
                Point("call", i, label)
                for i, label in enumerate(recording.calls)
                if changes_pool(label.split()[0]) == (kind == "call")
            )
        else:
            out.extend(Point(kind, i, label) for i, label in enumerate(recording.records))
    return out


# --- the pool's final state -------------------------------------------------------------------


def pool_state(sim) -> dict:
    """Roles, power states, residency, enabled, PBDs, as the live master(s) hold
    them, plus where each VM's domain physically runs (the simulator's truth)."""
    world = sim.world
    with world.lock:
        roles = {name: (p.up, p.conf_role, p.emergency) for name, p in sorted(world.procs.items())}
        masters = sorted(name for name, p in world.procs.items() if p.up and p.db is not None)
        state = {"roles": roles, "masters": masters}
        if len(masters) != 1:
            return state
        db = world.procs[masters[0]].db
        hosts = db.records("host")
        host_name = {ref: rec["name_label"] for ref, rec in hosts.items()}
        srs = {ref: rec["name_label"] for ref, rec in db.records("SR").items()}
        pool = next(iter(db.records("pool").values()))
        state["pool_master"] = host_name.get(pool["master"], "")
        state["ha_enabled"] = bool(pool.get("ha_enabled"))
        state["enabled"] = {rec["name_label"]: bool(rec["enabled"]) for rec in hosts.values()}
        vms = {}
        for rec in db.records("VM").values():
            if rec.get("is_control_domain") or rec.get("is_a_template") or rec.get("is_a_snapshot"):
                continue
            vms[rec["name_label"]] = (
                rec["power_state"],
                host_name.get(rec.get("resident_on"), ""),
                tuple(world.where_running(rec["uuid"])),
            )
        state["vms"] = vms
        state["pbds"] = {
            f"{host_name.get(rec['host'], '?')}/{srs.get(rec['SR'], '?')}": bool(rec["currently_attached"])
            for rec in db.records("PBD").values()
        }
        state["double_starts"] = len(world.double_starts)
    return state


def differences(final: dict, expected: dict) -> Dict[str, List[str]]:
    """item -> names an honest exit message must mention (host or VM names)."""
    out: Dict[str, List[str]] = {}
    for key in sorted(set(final) | set(expected)):
        a, b = final.get(key), expected.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                if a.get(name) != b.get(name):
                    out[f"{key}:{name}"] = [name.split("/")[0]]
        else:
            out[key] = []
    return out


# --- replaying points ---------------------------------------------------------------------------


class Pool:
    """A fresh simulated pool in its own directory."""

    def __init__(self, scenario: str, root: Path) -> None:
        self.root = root
        self.sim = Simulator.start(SCENARIO_ARGS[scenario][0], root / "sim", time_scale=SCALE)
        assert self.sim.flush_files(10.0)
        self.audit_path = root / "audit.jsonl"
        self.args = recover_args(root / "sim", self.audit_path, scenario)

    def close(self) -> None:
        self.sim.stop()


def reference(scenario: str, root: Path):
    pool = Pool(scenario, root)
    try:
        recording = Injector()
        code, out = invoke(pool.args, recording)
        assert code == 0, out
        return pool_state(pool.sim), recording
    finally:
        pool.close()


def replay(scenario: str, point: Point, root: Path, expected: dict) -> str:
    """'' if resuming from `point` is correct, else what went wrong."""
    pool = Pool(scenario, root)
    try:
        injector = Injector(point)
        first, out1 = invoke(pool.args, injector)
        if not injector.fired:  # the run took another path and never got there
            final = pool_state(pool.sim)
            return "" if first == 0 and final == expected else f"{point}: unfired, exit {first}: {out1[-600:]}"
        if point.kind == "full":
            if first in (0, None):
                return f"{point}: a full disk was not an error (exit {first})"
            if "audit log not writable" not in out1:
                return f"{point}: no clear line about the full disk: {out1[-400:]}"
            if injector.changes_after_fault:
                return f"{point}: changed the pool after the audit log filled: {injector.changes_after_fault}"
        second, out2 = invoke(pool.args)
        final = pool_state(pool.sim)
        diff = differences(final, expected)
        recs = AuditLog(pool.audit_path).records()
        run_id = next((r.run_id for r in reversed(recs) if r.kind == au.RUN_START), "")
        outcome = run_outcome([r for r in recs if r.run_id == run_id])
        if final.get("double_starts"):
            return f"{point}: a VM was started twice"
        if second == 0:
            if diff:
                return f"{point}: exit 0 but the pool differs: {sorted(diff)}\n{out2[-1500:]}"
            if outcome != "healthy":
                return f"{point}: exit 0 but the run's recorded outcome is {outcome!r}"
            return ""
        if not diff:
            return f"{point}: exit {second} although the pool is as after an uninterrupted run:\n{out2[-1500:]}"
        unnamed = [item for item, names in diff.items() if names and not any(n in out2 for n in names)]
        if unnamed:
            return f"{point}: exit {second} without naming {unnamed}:\n{out2[-1500:]}"
        if outcome == "healthy":
            return f"{point}: exit {second} but the audit log says healthy"
        return ""
    finally:
        pool.close()


def _replay_task(scenario: str, point: Point, root: str, expected: dict) -> str:
    try:
        return replay(scenario, point, Path(root), expected)
    except Exception as exc:  # noqa: BLE001 - a broken point is a finding, not a lost worker
        return f"{point}: the replay raised {type(exc).__name__}: {exc}"


def _worker_path(tests_dir: str) -> None:
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)


def workers() -> int:
    """Replays run in parallel processes (each has its own simulator and
    audit log): XENTUI_CRASH_WORKERS, else the CPUs this process may use (max 4)."""
    configured = os.environ.get("XENTUI_CRASH_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def replay_all(scenario: str, points: Sequence[Point], root: Path, expected: dict) -> List[str]:
    """Every point replayed; the failures, in point order."""
    args = [(scenario, p, str(root / f"{p.kind}-{p.index}"), expected) for p in points]
    n = workers()
    if n == 1:
        return [f for f in (_replay_task(*a) for a in args) if f]
    # spawn, not fork: the test process has simulator and Textual threads of its own
    context = multiprocessing.get_context("spawn")
    tests_dir = str(Path(__file__).resolve().parents[2])  # the repo: tests.* importable
    with ProcessPoolExecutor(
        max_workers=n, mp_context=context, initializer=_worker_path, initargs=(tests_dir,)
    ) as pool:
        results = list(pool.map(_replay_task, *zip(*args)))
    return [f for f in results if f]
