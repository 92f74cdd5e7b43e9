"""What the wizard's mixins (keys.py, workers.py) use of the screen they are
mixed into, so mypy can check them.

`RecoveryWizard` (screen.py) is `WizardKeys` + `WizardWorkers` + `Screen`: the
mixins read its state and call its methods. For mypy they derive from
`WizardHost`, which declares those members; at run time `WizardHost` is plain
`object`, so the mixins are exactly what they were. screen.py imports the
mixins, so they cannot name `RecoveryWizard` itself (an import cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import abc
    import threading
    from pathlib import Path
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from textual.screen import Screen

    from xentui.recovery.executor import PlanExecutor, StepResult
    from xentui.recovery.plan import Plan, Step
    from xentui.recovery.preconditions import CheckResult
    from xentui.recovery.step_context import Progress
    from xentui.ui.wizard.machine import WizardEvent, WizardState
    from xentui.ui.wizard.progress import RecoveryProgress
    from xentui.ui.wizard.runlog import RunLog

    class WizardHost(Screen[Dict[str, str]]):
        """RecoveryWizard's state (its __init__) and the methods the mixins call."""

        observer: Any
        executor: PlanExecutor
        plan: Plan
        read_only: bool
        clock: Callable[[], float]
        report_dir: Optional[Path]
        runlog: RunLog
        progress: RecoveryProgress
        selected: int
        choice_cursor: int
        choices: Dict[str, str]
        attested: List[str]
        attest_host: str
        typed: str
        error: str
        checks: Tuple[CheckResult, ...]
        check_error: str
        events: List[Progress]
        countdown: Optional[float]
        countdown_at: float
        run_started: float
        run_started_mono: float
        cancel: Optional[threading.Event]
        last_result: Optional[StepResult]
        last_step: Optional[Step]
        report_path: str
        report_error: str
        report_writing: bool
        health: Tuple[str, ...]
        healthy: Optional[bool]
        _token: int

        @property
        @abc.abstractmethod
        def state(self) -> WizardState: ...

        @property
        @abc.abstractmethod
        def steps(self) -> Tuple[Step, ...]: ...

        # None only while the plan has no step; the states that use it need one.
        @property
        @abc.abstractmethod
        def step(self) -> Any: ...

        # screen.py
        @abc.abstractmethod
        def _fire(self, event: WizardEvent) -> WizardState: ...

        @abc.abstractmethod
        def _next_token(self) -> int: ...

        @abc.abstractmethod
        def render_state(self) -> None: ...

        @abc.abstractmethod
        def _can_run_selected(self) -> bool: ...

        @abc.abstractmethod
        def _pending_attest(self, step: Step) -> List[str]: ...

        @abc.abstractmethod
        def _apply_choice(self, step: Step, chosen: str) -> None: ...

        @abc.abstractmethod
        def _promote_newer(self) -> None: ...

        @abc.abstractmethod
        def _connect_to_master(self) -> None: ...

        @abc.abstractmethod
        def _confirm_kind(self, step: Step) -> str: ...

        @abc.abstractmethod
        def _can_retry(self) -> bool: ...

        @abc.abstractmethod
        def _summary_is_next(self) -> bool: ...

        # workers.py (keys.py starts the work)
        @abc.abstractmethod
        def _start_checks(self, step: Step) -> None: ...

        @abc.abstractmethod
        def _run_step(self) -> None: ...

        @abc.abstractmethod
        def _start_report(self) -> None: ...

else:
    WizardHost = object
