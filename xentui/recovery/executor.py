"""Runs plan steps: live re-checks, calls, waiting through restarts, verification, audit.

`PlanExecutor.run(step)` is the only place xentui changes a pool. For every
step it: writes a `step-start` audit record; takes a fresh observation and
re-checks the step's preconditions (refusing if any fails); makes the xapi
calls (each call audited with its outcome and timing); waits through xapi's
restart after a role change, reporting a countdown; reconnects; verifies
the effect against a new observation; and writes a `step-end` record. In
read-only mode it audits what it would do and executes nothing.

The executor knows no step by name: it looks the step's kind up in
`step_registry` and calls its parts (step_kind.py) in order: `already_done`
(is the effect there already? a host already master, a member already
following the new master, a VM already running: then "skipped", no call
made), `action`, `verify`. Because `already_done` looks at the live pool,
"run again to resume" is safe after a crash or an SSH drop.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Set, Tuple

from xentui.recovery import audit as au
from xentui.recovery import fence_gate
from xentui.recovery.audit import AuditLog
from xentui.recovery.observation import Observation
from xentui.recovery.plan import Step
from xentui.recovery.preconditions import CheckContext, CheckResult
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (  # noqa: F401  (Progress & co. are part of this module's API)
    Cancelled as Cancelled,
)
from xentui.recovery.step_context import (
    Progress as Progress,
)
from xentui.recovery.step_context import (
    StepContext as StepContext,
)
from xentui.recovery.step_context import (
    StepFailed as StepFailed,
)
from xentui.recovery.step_context import (
    StepRunner as StepRunner,
)
from xentui.recovery.step_context import (
    StepSkipped as StepSkipped,
)
from xentui.recovery.step_kind import StepKind
from xentui.recovery.step_registry import step_kinds
from xentui.xapi.errors import ConnectFailed, ConnectionLost, XapiError, XapiFailure


@dataclass(frozen=True)
class StepResult:
    step_id: str
    status: str  # "done" | "failed" | "refused" | "skipped" | "read-only"
    detail: str
    started_at: float
    finished_at: float
    verification: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped", "read-only")


def _no_progress(_: Progress) -> None:
    pass


class PlanExecutor:
    def __init__(
        self,
        observer: Any,  # recovery.observer.Observer (or a stand-in with its surface)
        audit: AuditLog,
        *,
        read_only: bool = False,
        fenced: Iterable[str] = (),
        time_scale: float = 1.0,
        run_id: str = "",
    ) -> None:
        self.observer = observer
        self.audit = audit
        self.read_only = read_only
        self.time_scale = float(time_scale)
        self.run_id = run_id or au.new_run_id()
        self.fenced: Set[str] = set()
        self.completed: Set[str] = set()  # step ids done in this run (or resumed from the audit)
        self.kept_master = ""
        self.master_change = threading.Lock()  # single flight for role changes (xen-api#6056)
        # step kind -> its parts; each module of recovery/steps registers its own
        self._kinds: Mapping[str, StepKind] = step_kinds()
        for name in fenced:
            self.attest_fenced(name)

    # -- public ----------------------------------------------------------------

    def attest_fenced(self, host_name: str) -> None:
        """The operator says: this host is powered off / fenced and stays so."""
        host_name = host_name.strip()
        if not host_name or host_name in self.fenced:
            return
        self.fenced.add(host_name)
        self.audit.record(
            self.run_id,
            au.ATTEST,
            host=host_name,
            outcome="attested",
            detail=f"operator attests {host_name} is powered off / fenced",
        )

    def mark_completed(self, step_ids: Iterable[str]) -> None:
        """Steps done earlier in this run (resume): satisfies ha-disarmed etc."""
        self.completed.update(step_ids)

    def check(self, step: Step, observation: Optional[Observation] = None) -> Tuple[CheckResult, ...]:
        obs = observation or self.observer.observe()
        sit = Situation(obs)
        declared = [p.id for p in step.preconditions]
        # The fence gate holds for every step that resets or starts a dead host's
        # VMs, whatever its declaration lists (fence_gate).
        checks = list(step.preconditions) + [p for p in fence_gate.gate(step, sit) if p.id not in declared]
        ctx = CheckContext(
            sit,
            fenced=frozenset(self.fenced),
            completed=frozenset(self.completed),
            kept_master=self.kept_master,
            master_change_in_flight=self.master_change.locked(),
        )
        return tuple(p.check(ctx) for p in checks)

    def run(
        self,
        step: Step,
        *,
        progress: Callable[[Progress], None] = _no_progress,
        cancel: Optional[threading.Event] = None,
        choice: str = "",
    ) -> StepResult:
        started = time.time()
        t0 = time.monotonic()
        inputs = {
            "params": dict(step.params),
            "choice": choice,
            "fenced": sorted(self.fenced),
            "read_only": self.read_only,
            "risk": step.risk,
        }
        self.audit.record(
            self.run_id,
            au.STEP_START,
            step_id=step.id,
            host=step.target_host,
            inputs=inputs,
            outcome="started",
            detail=step.title,
            xe=step.xe,
        )

        def finish(status: str, detail: str, verification: str = "") -> StepResult:
            result = StepResult(step.id, status, detail, started, time.time(), verification)
            self.audit.record(
                self.run_id,
                au.STEP_END,
                step_id=step.id,
                host=step.target_host,
                inputs={"verification": verification, "choice": choice},
                outcome=status,
                detail=detail,
                duration=time.monotonic() - t0,
                xe=step.xe,
            )
            if status in ("done", "skipped"):
                self.completed.add(step.id)
            return result

        if self.read_only:
            return finish("read-only", "read-only mode: nothing was executed; would run: " + "; ".join(step.xe))
        try:
            obs = self.observer.observe()
            checks = self.check(step, obs)
        except XapiError as exc:
            return finish("failed", f"could not observe the pool: {exc}")
        self.audit.record(
            self.run_id,
            au.CHECK,
            step_id=step.id,
            host=step.target_host,
            inputs={c.precondition_id: c.ok for c in checks},
            outcome="ok" if all(c.ok for c in checks) else "refused",
            detail="; ".join(f"{c.precondition_id}: {c.detail}" for c in checks),
        )
        failed = [c for c in checks if not c.ok]
        if failed:
            return finish("refused", "; ".join(f"{c.precondition_id}: {c.detail}" for c in failed))
        kind = self._kinds.get(step.kind)
        if kind is None:
            return finish("failed", f"no executor for step kind {step.kind!r}")
        ctx = StepContext(step, obs, progress, cancel, choice, open_client=self.client_for)
        try:
            try:
                verification = self._run_parts(kind, ctx)
            finally:
                ctx.close()
        except StepSkipped as exc:
            return finish("skipped", str(exc), str(exc))
        except Cancelled:
            return finish("failed", "cancelled by the operator (the pool may be mid-change: re-run to resume)")
        except StepFailed as exc:
            return finish("failed", str(exc))
        except XapiError as exc:
            from xentui.xapi.error_table import explain_exception

            e = explain_exception(exc)
            return finish("failed", f"{exc} — {e.title}: {e.meaning} {e.next_step}")
        detail = "; ".join(ctx.notes) if ctx.notes else (verification or "done")
        return finish("done", detail, verification)

    def _run_parts(self, kind: StepKind, ctx: StepContext) -> str:
        """already_done, then action, then verify (step_kind.py); the
        verification text. Raises StepSkipped when the effect is there."""
        reason = kind.already_done(self, ctx)
        if reason:
            raise StepSkipped(reason)
        kind.action(self, ctx)
        return kind.verify(self, ctx)

    # -- scaled waiting -----------------------------------------------------------

    def scaled(self, seconds: float, floor: float = 0.0) -> float:
        return max(floor, seconds * self.time_scale)

    def sleep(self, ctx: StepContext, seconds: float, message: str = "") -> None:
        end = time.monotonic() + seconds
        last_shown = None
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if ctx.cancel is not None and ctx.cancel.is_set():
                raise Cancelled()
            shown = round(left / max(self.time_scale, 1e-6))  # countdown in xapi seconds
            if message and shown != last_shown:
                ctx.say(message, countdown=float(shown))
                last_shown = shown
            time.sleep(min(left, 0.05))

    def poll(
        self, ctx: StepContext, until: Callable[[Observation], Tuple[bool, str]], budget: float, message: str
    ) -> Tuple[Observation, str]:
        """Observe repeatedly until `until(obs)` is true or `budget` (real s) ends."""
        deadline = time.monotonic() + budget
        delay = 0.05
        last = ""
        while True:
            if ctx.cancel is not None and ctx.cancel.is_set():
                raise Cancelled()
            obs = self.observer.observe()
            ok, why = until(obs)
            if ok:
                return obs, why
            last = why
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed(f"not verified within {budget:.0f} s: {last}")
            ctx.say(f"{message}: {why}", countdown=left / max(self.time_scale, 1e-6))
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, 0.5)

    # -- xapi access ----------------------------------------------------------------

    def console_client(self) -> Any:
        client = self.observer.client
        if client is None:
            self.observer.reconnect(self.scaled(30.0, floor=3.0))
            client = self.observer.client
        if client is None:
            raise ConnectFailed("closed", "no xapi session on this host")
        return client

    def client_for(self, sit: Situation, host_name: str) -> Tuple[Any, bool]:
        """(client, owned): the console's session for this host, else a new one."""
        if host_name and host_name == sit.this_name:
            return self.console_client(), False
        return self.observer.host_client(host_name), True

    def call_xapi(
        self,
        ctx: StepContext,
        client: Any,
        method: str,
        *args: Any,
        shown: Sequence[str] = (),
        lost_ok: bool = False,
        timeout: Optional[float] = None,
    ) -> Any:
        """One audited xapi call. `shown` is what the audit records for the
        arguments (names and uuids, never refs). `lost_ok`: a dropped
        connection means the call probably took effect (xapi restarting)."""
        t0 = time.monotonic()
        outcome, detail = "ok", ""
        try:
            return client.call(method, *args, timeout=timeout, recover_within=self.scaled(20.0, floor=2.0))
        except ConnectionLost as exc:
            outcome, detail = ("lost", str(exc))
            if lost_ok:
                return None
            raise
        except XapiFailure as exc:
            outcome, detail = "xapi-error", " ".join(exc.details)
            raise
        except XapiError as exc:
            outcome, detail = type(exc).__name__, str(exc)
            raise
        finally:
            self.audit.record(
                self.run_id,
                "call",
                step_id=ctx.step.id,
                host=ctx.step.target_host,
                inputs={"method": method, "args": list(shown)},
                outcome=outcome,
                detail=detail,
                duration=time.monotonic() - t0,
            )
