"""Simulated time: one scale factor and one scheduler thread.

Every xapi timing in the simulator (fuse, heartbeats, dead-host interval,
DB sync, hello retries, login-failure delay) is expressed in SIMULATED
seconds and converted with one factor: real_seconds = simulated * time_scale.
A single scheduler thread runs all timed work, so there are no per-timer
threads and no busy loops.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass(frozen=True)
class Timings:
    """xapi's timing constants in simulated seconds (xapi-semantics.md §8)."""

    fuse: float = 10.0
    heartbeat: float = 30.0
    host_dead: float = 600.0
    db_sync: float = 300.0
    # The master's DB flush thread (Db_backend.db_FLUSH_TIMER): state.db is rewritten
    # at most this often, and only when the database changed.
    db_flush: float = 2.0
    emergency_restart_base: float = 60.0
    emergency_restart_extra: float = 120.0
    # xapi_session.ml thread_delay_and_raise_error: only on the external-auth path
    login_failure_delay: float = 5.0
    # PAM's own delay after a failed password (pam_unix via /etc/pam.d/xapi -> system-auth;
    # xa_auth.c does not set PAM_FAIL_DELAY): every failed local-password check pays it.
    pam_fail_delay: float = 2.0
    hello_retry_temporary: float = 5.0
    hello_retry_permanent: float = 60.0
    ha_statefile_retry: float = 10.0
    # A connection attempt to an address nobody answers (host off, partition, hung)
    # fails only after a connect timeout; until then a booting slave shows
    # HOST_STILL_BOOTING. (A refused connection fails at once.)
    connect_timeout: float = 10.0
    # How long a restarting xapi is down between exit and listening again.
    xapi_restart_gap: float = 2.0
    # A booting host needs a while before its xapi listens.
    boot_time: float = 30.0
    # Inter-host calls have no timeout of their own: a peer that accepts and never
    # answers holds the call until stunnel's idle timeout (TIMEOUTidle 43200 s).
    stunnel_idle: float = 43200.0
    # After a successful Pool.hello the member finishes its start-up (dbsync, PBD
    # plugs) before consider_enabling_host marks it enabled again.
    enable_after_hello: float = 5.0


class SimClock:
    """Simulated POSIX time that runs `1 / time_scale` times faster than real time."""

    def __init__(self, time_scale: float = 1.0, epoch: Optional[float] = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = float(time_scale)
        self._real_start = time.monotonic()
        self._sim_start = time.time() if epoch is None else float(epoch)

    def now(self) -> float:
        return self._sim_start + (time.monotonic() - self._real_start) / self.time_scale

    def real(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds * self.time_scale)

    def sleep(self, sim_seconds: float) -> None:
        time.sleep(self.real(sim_seconds))

    def wait(self, condition: threading.Condition, sim_timeout: float) -> bool:
        """Wait on an already-acquired condition for a simulated timeout."""
        return condition.wait(self.real(sim_timeout))


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    handle: "TimerHandle" = field(compare=False)


class TimerHandle:
    def __init__(self, callback: Callable[[], None], name: str) -> None:
        self.callback = callback
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """One thread that runs callbacks at simulated times.

    Callbacks must not block for long: anything that may wait on another host
    is modelled in-process and answers at once (reachable or not)."""

    def __init__(self, clock: SimClock, on_error: Optional[Callable[[str, BaseException], None]] = None) -> None:
        self.clock = clock
        self._heap: List[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)
        self.lock: Optional[threading.RLock] = None  # set by the World: callbacks run under it

    def start(self) -> None:
        self._thread.start()

    def call_later(self, sim_delay: float, callback: Callable[[], None], name: str = "") -> TimerHandle:
        handle = TimerHandle(callback, name)
        with self._cond:
            heapq.heappush(self._heap, _Entry(self.clock.now() + max(0.0, sim_delay), next(self._seq), handle))
            self._cond.notify()
        return handle

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0].due - self.clock.now()
                    if delay <= 0:
                        break
                    self._cond.wait(self.clock.real(delay))
                if self._stopped:
                    return
                entry = heapq.heappop(self._heap)
            if entry.handle.cancelled:
                continue
            try:
                if self.lock is not None:
                    with self.lock:
                        if not entry.handle.cancelled:
                            entry.handle.callback()
                else:
                    entry.handle.callback()
            except Exception as exc:  # a broken timer must not stop the whole pool
                if self._on_error is not None:
                    self._on_error(entry.handle.name, exc)
