"""Messages the wizard's worker threads post back to the screen.

Workers never touch widgets (textual-console.md §1.2): they post one of
these (`post_message` is thread-safe) and the screen updates itself on the
UI thread. Each carries the `token` of the attempt that started it, so an
answer that arrives after the operator backed out (Esc) is recognised as
stale and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from textual.message import Message

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import StepResult
    from xentui.recovery.preconditions import CheckResult
    from xentui.recovery.step_context import Progress


class ChecksDone(Message):
    def __init__(self, token: int, step_id: str, checks: Sequence[CheckResult], error: str = "") -> None:
        super().__init__()
        self.token = token
        self.step_id = step_id
        self.checks: Tuple[CheckResult, ...] = tuple(checks)
        self.error = error


class StepProgressed(Message):
    def __init__(self, token: int, progress: Progress) -> None:
        super().__init__()
        self.token = token
        self.progress = progress


class StepFinished(Message):
    def __init__(self, token: int, result: StepResult) -> None:
        super().__init__()
        self.token = token
        self.result = result


class ReportWritten(Message):
    def __init__(self, path: str, health: Sequence[str], error: str = "", healthy: Optional[bool] = None) -> None:
        super().__init__()
        self.path = path
        self.health: Tuple[str, ...] = tuple(health)
        self.error = error
        self.healthy = healthy
