"""What screens use of xentui's own App, and one typed way to reach it.

Textual types `widget.app` as `App[Any]`, which knows nothing of the state our
app keeps (the observation, the read-only flag, the clock, ...). Screens reach
it through `app_of(self)`, typed by the `ConsoleApp` protocol below: a
protocol, not `XenTuiApp` itself, because app.py imports every screen (naming
it here would be an import cycle)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Protocol, Tuple, cast

from textual.app import App

from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.config import UiConfig


class ConsoleApp(Protocol):
    """The members of `xentui.ui.app.XenTuiApp` that screens read or call."""

    now: Callable[[], float]
    read_only: bool
    demo: Any  # a demo.Demo with --demo, else None
    config: UiConfig
    keymap: Dict[str, str]
    target_label: str
    status_text: str
    observation: Optional[Observation]
    generation: int
    trouble_first_seen: Optional[float]
    recovery_status: Optional[vm.RecoveryInProgress]
    log_lines: Deque[str]
    log_screen: Any  # the LogScreen while it is shown

    def check_size(self) -> None: ...

    def show_screen(self, name: str) -> Optional[Awaitable[Any]]: ...  # the switch, for a binding to await

    # @work methods: they start a worker (and return it; screens do not use it)
    def connect_to(self, text: str, password: str, accept_fingerprint: Optional[str] = None) -> object: ...

    def apply_demo_fault(self, fault: Any) -> object: ...

    def start_recovery(self) -> Optional[Awaitable[Any]]: ...  # the wizard's (or plan's) mount

    def pull_audit_records(self) -> None: ...

    def help_paths(self) -> List[Tuple[str, str]]: ...


class InsideApp(Protocol):
    """Any widget or screen (Textual's MessagePump.app); also the self-type of screen mixins."""

    @property
    def app(self) -> App[Any]: ...


def app_of(node: InsideApp) -> ConsoleApp:
    """`node.app` as xentui's app (every screen of ours runs inside XenTuiApp)."""
    return cast(ConsoleApp, node.app)
