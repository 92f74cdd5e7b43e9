"""A real `xentui recover --run` process, killed with SIGKILL at the points
that matter most, then run again (issue 10).

The simulator runs in this test process and the xentui under test in its
own; a barrier on the Nth call of one xapi method holds that call (after
xapi applied it, or before) until the test has killed the process, so the
kill point is exact without any sleep. The in-process enumeration of every
point is in test_crash_resume.py.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading

import pytest

from tests.program.crash_points import Pool, pool_state, reference
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.report import run_outcome

HOLD = 60.0  # seconds a barrier holds at most (a safety net: the test releases it far sooner)


class Barrier:
    """Holds the `nth` call of `method` in the simulator, `when` "before" or
    "after" xapi applied it, until `release()`."""

    def __init__(self, sim, method: str, nth: int = 1, when: str = "after") -> None:
        self.table = sim.world.methods
        self.original = self.table.lookup(method)
        self.nth = nth
        self.when = when
        self.count = 0
        self.reached = threading.Event()
        self.released = threading.Event()
        original = self.original

        def held(ctx, *args):
            self.count += 1
            mine = self.count == self.nth
            if mine and self.when == "before":
                self._hold()
            value = original.handler(ctx, *args)
            if mine and self.when == "after":
                self._hold()
            return value

        self.table.register(dataclasses.replace(original, handler=held))

    def _hold(self) -> None:
        self.reached.set()
        self.released.wait(HOLD)

    def release(self) -> None:
        self.released.set()
        self.table.register(self.original)


def xentui_command() -> list:
    return [sys.executable, "-m", "xentui"]


def start_recover(pool: Pool, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        xentui_command() + pool.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def kill_at(pool: Pool, method: str, nth: int, when: str, env: dict) -> str:
    """Start the run, SIGKILL it when the barrier is reached, release the barrier."""
    barrier = Barrier(pool.sim, method, nth, when)
    proc = start_recover(pool, env)
    try:
        reached = barrier.reached.wait(HOLD)
        if not reached:
            proc.kill()
            out = proc.communicate()[0]
            raise AssertionError(f"the run never reached {method} #{nth}: {out}")
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
        assert proc.returncode == -signal.SIGKILL, out
        return out
    finally:
        barrier.release()


CASES = [
    # (scenario, method, nth, when): the points that matter most
    ("master-down", "host.declare_dead", 1, "after"),  # VMs reset, nothing recorded: issue 10's worst
    ("master-down", "VM.start_on", 1, "after"),  # mid start-vms: one VM started, one not
    ("master-down", "pool.emergency_transition_to_master", 1, "after"),  # mid promotion
    ("master-down-ha", "pool.recover_slaves", 1, "before"),  # HA disarmed, members not yet told
    ("split-brain", "pool.emergency_reset_master", 1, "after"),  # mid demotion of the other master
    ("split-brain-keep-xen1", "pool.emergency_reset_master", 1, "after"),  # the console host demoted
]


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """The pool after an uninterrupted run, per scenario."""
    done = {}
    for scenario in sorted({c[0] for c in CASES}):
        done[scenario] = reference(scenario, tmp_path_factory.mktemp(f"ref-{scenario}"))[0]
    return done


@pytest.mark.parametrize("scenario,method,nth,when", CASES, ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES])
def test_killed_process_resumes_to_the_same_pool(scenario, method, nth, when, tmp_path, references):
    env = dict(os.environ, **{au.STATE_DIR_ENV: str(tmp_path / "state")})
    pool = Pool(scenario, tmp_path)
    try:
        killed_out = kill_at(pool, method, nth, when, env)
        recs = AuditLog(pool.audit_path).records()
        assert au.last_open_run(recs), killed_out  # the killed run is open: the next one resumes it
        resumed = subprocess.run(
            xentui_command() + pool.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=120,
        )
        assert resumed.returncode == 0, killed_out + "\n--- resumed ---\n" + resumed.stdout
        assert "(resuming)" in resumed.stdout
        assert pool_state(pool.sim) == references[scenario], resumed.stdout
        assert pool.sim.world.double_starts == []
    finally:
        pool.close()
    recs = AuditLog(pool.audit_path).records()
    assert len({r.run_id for r in recs}) == 1  # one incident, one run
    assert run_outcome(recs) == "healthy"


def test_resume_named_in_the_plan_after_kill_following_declare_dead(tmp_path):
    """`recover --plan` after the kill shows what is left: the VMs to start."""
    env = dict(os.environ, **{au.STATE_DIR_ENV: str(tmp_path / "state")})
    pool = Pool("master-down", tmp_path)
    try:
        kill_at(pool, "host.declare_dead", 1, "after", env)
        plan_args = ["recover", pool.args[1], "--plan"] + pool.args[3:]
        shown = subprocess.run(
            xentui_command() + plan_args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=120,
        )
        assert shown.returncode == 0, shown.stdout
        assert "VMS_NOT_RESTARTED" in shown.stdout and "web01" in shown.stdout
        assert "[start-vms, risk high]" in shown.stdout
    finally:
        pool.close()
