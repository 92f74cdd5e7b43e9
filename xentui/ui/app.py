"""The xentui console app.

Architecture (harlequin/posting style): the Textual-free core (Observer,
diagnosis, plans; here reached through `opener()`) runs only in thread
workers; workers post Messages and never touch widgets; the message
handlers below own all state (`observation`, `generation`, the log).
Every blocking call runs through `call_abandonable`, so a hung master can
never keep a key from answering or `q` from quitting.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Deque, Dict, List, Optional, Set, Tuple, Type

from textual import events, work
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.widget import AwaitMount
from textual.worker import Worker, WorkerState, get_current_worker

from xentui.recovery.observation import Observation
from xentui.recovery.open_run import OpenRunJudge
from xentui.ui import viewmodel as vm
from xentui.ui.actions import bindings_for, display_key
from xentui.ui.background import Abandoned, call_abandonable
from xentui.ui.config import UiConfig
from xentui.ui.heap import fix_mmap_threshold
from xentui.ui.messages import ConnectFinished, DemoFaultApplied, LogLine, ObservationArrived, ObserverReady
from xentui.ui.profile import ConsoleProfile, install_console_safe_scrollbars, make_themes
from xentui.ui.screens.base import XenScreen, action_allowed
from xentui.ui.screens.connect import ConnectScreen
from xentui.ui.screens.dashboard import DashboardScreen
from xentui.ui.screens.log import MAX_LINES, LogScreen
from xentui.ui.screens.network import NetworkScreen
from xentui.ui.screens.too_small import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from xentui.ui.screens.vms import VmsScreen
from xentui.xapi.safe_text import printable

if TYPE_CHECKING:
    from xentui.recovery.audit import AuditLog
    from xentui.recovery.executor import PlanExecutor
    from xentui.ui.wizard import RecoveryWizard

RETRY_FOLLOW_SECONDS = 5.0
# The xapi client logs one DEBUG record per call (method, duration, outcome):
# the log screen shows them, so this logger is opened to DEBUG while the app runs.
XAPI_CALL_LOGGER = "xentui.xapi"


class _LogToApp(logging.Handler):
    """Collects the core's log records (xapi logins, reconnects...) for the
    log screen. Records are queued and drained by the app twice a second:
    a 64-host pool logs dozens of lines per observation, and one message
    per line would crowd out keypresses."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.pending: Deque[str] = deque(maxlen=MAX_LINES)  # deque appends are thread-safe

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        except (TypeError, ValueError):
            text = f"{record.name}: {record.msg!r}"
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        self.pending.append(f"{stamp} {printable(text)}")


class XenTuiApp(App[int]):
    CSS_PATH = "app.tcss"
    BINDINGS = bindings_for("app")
    ENABLE_COMMAND_PALETTE = False
    MODES = {
        "dashboard": DashboardScreen,
        "vms": VmsScreen,
        "network": NetworkScreen,
        "log": LogScreen,
        "connect": ConnectScreen,
    }
    DEFAULT_MODE = "dashboard"
    TITLE = "xentui"

    def __init__(
        self,
        opener: Callable[[], Any],
        *,
        target_label: str = "local",
        profile: Optional[ConsoleProfile] = None,
        read_only: bool = False,
        demo: Any = None,
        config: Optional[UiConfig] = None,
        clock: Callable[[], float] = time.time,
        follow: bool = True,
        audit_path: Optional[Path] = None,
        time_scale: float = 1.0,
        make_observer: Optional[Callable[..., Any]] = None,
        connect_overrides: Optional[Dict[str, Any]] = None,
        preferred_master: str = "",
    ) -> None:
        super().__init__()
        self.preferred_master = preferred_master  # --prefer-master: the plan ends with designate
        fix_mmap_threshold()  # big reads must not ratchet the RSS up (see xentui.ui.heap)
        self.opener = opener
        self.target_label = target_label
        self.profile = profile or ConsoleProfile(False, "")
        self.read_only = read_only
        self.demo = demo
        self.config = config or UiConfig()
        self.keymap = dict(self.config.keys)
        self.now = clock
        self.follow_enabled = follow
        self.audit_path = audit_path
        self.time_scale = time_scale
        self.make_observer = make_observer
        # Target options from the command line (--identity, --known-hosts...) also apply on the connect screen.
        self.connect_overrides = dict(connect_overrides or {})
        self.observer: Any = None
        self.observation: Optional[Observation] = None
        self.generation = 0
        self.status_text = f"Observing {target_label}..."
        self.log_lines: Deque[str] = deque(maxlen=MAX_LINES)
        self.log_screen: Optional[LogScreen] = None
        self.first_full_dashboard_at: Optional[float] = None
        self.trouble_first_seen: Optional[float] = None
        self._stop_follow = threading.Event()
        self._log_handler = _LogToApp()
        self._last_minute = ""
        self._last_summary: Tuple[str, Tuple[str, ...]] = ("", ())
        self.run_started_at = time.time()
        self._audit_seen: Set[Any] = set()
        self.recovery_status: Optional[vm.RecoveryInProgress] = None
        # Health includes the open recovery run's workload, judged as status and recover judge it.
        self.workload_judge = OpenRunJudge(self.audit_file())
        self._workload_problem = ""
        self._xapi_log_level = logging.NOTSET
        install_console_safe_scrollbars()
        rich_theme, vt_theme = make_themes()
        self.register_theme(rich_theme)
        self.register_theme(vt_theme)
        self.theme = self.profile.theme
        if self.profile.basic:
            self.animation_level = "none"

    # --- lifecycle -----------------------------------------------------------

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        for problem in self.config.problems:
            self.append_log("config: " + problem)
        if self.config.problems:
            # On screen too (once the first screen is up): a remap that silently did nothing looks like a broken key.
            self.call_after_refresh(
                self.notify,
                "\n".join(self.config.problems[:4]),
                title=f"config: {len(self.config.problems)} problem(s)",
                severity="warning",
                timeout=30,
                markup=False,
            )
        core_log = logging.getLogger("xentui")
        core_log.addHandler(self._log_handler)
        if core_log.level == logging.NOTSET or core_log.level > logging.INFO:
            core_log.setLevel(logging.INFO)
        xapi_log = logging.getLogger(XAPI_CALL_LOGGER)
        self._xapi_log_level = xapi_log.level
        xapi_log.setLevel(logging.DEBUG)
        self.refresh_recovery_status()
        self.append_log(
            f"xentui started: {self.target_label}"
            + (" (read-only)" if self.read_only else "")
            + (f", console profile ({self.profile.reason})" if self.profile.basic else "")
        )
        self.open_observer()
        self.set_interval(10, self._tick_clock)
        self.set_interval(0.5, self._drain_core_log)
        self.call_after_refresh(self.check_size)

    def on_unmount(self) -> None:
        self._stop_follow.set()
        logging.getLogger("xentui").removeHandler(self._log_handler)
        logging.getLogger(XAPI_CALL_LOGGER).setLevel(self._xapi_log_level)

    def _close_observer_in_background(self, observer: Any) -> None:
        if observer is not None and hasattr(observer, "close"):
            threading.Thread(target=observer.close, name="xentui-close", daemon=True).start()

    # --- workers (never touch widgets) ---------------------------------------

    @work(thread=True, exit_on_error=False, group="open", exclusive=True)
    def open_observer(self) -> None:
        worker = get_current_worker()
        try:
            observer = call_abandonable(self.opener, lambda: worker.is_cancelled, name="xentui-open")
        except Abandoned:
            return
        self.post_message(ObserverReady(observer, self.target_label))

    @work(thread=True, exit_on_error=False, group="follow", exclusive=True)
    def follow_worker(self, observer: Any, stop: threading.Event) -> None:
        worker = get_current_worker()

        def deliver(observation: Observation) -> None:
            if not stop.is_set():
                self.post_message(ObservationArrived(self.judged(observation), "follow"))

        try:
            call_abandonable(
                lambda: observer.follow(deliver, stop),
                lambda: worker.is_cancelled or stop.is_set(),
                name="xentui-follow",
            )
        except Abandoned:
            return

    @work(thread=True, exit_on_error=False, group="observe", exclusive=True)
    def observe_now(self) -> None:
        worker = get_current_worker()
        observer = self.observer
        if observer is None:
            return
        try:
            observation = call_abandonable(
                lambda: self.judged(observer.observe()), lambda: worker.is_cancelled, name="xentui-observe"
            )
        except Abandoned:
            return
        self.post_message(ObservationArrived(observation, "observe"))

    @work(thread=True, exit_on_error=False, group="demo")
    def apply_demo_fault(self, fault: Any) -> None:
        worker = get_current_worker()
        try:
            text = call_abandonable(lambda: self.demo.apply(fault), lambda: worker.is_cancelled, name="xentui-demo")
        except Abandoned:
            return
        self.post_message(DemoFaultApplied(text))

    @work(thread=True, exit_on_error=False, group="connect", exclusive=True)
    def connect_to(self, text: str, password: str, accept_fingerprint: Optional[str] = None) -> None:
        from xentui.ui import connecting

        worker = get_current_worker()
        try:
            outcome = call_abandonable(
                lambda: connecting.connect(
                    text,
                    password,
                    accept_fingerprint=accept_fingerprint,
                    make_observer=self.make_observer,
                    read_only=self.read_only,
                    overrides=self.connect_overrides,
                ),
                lambda: worker.is_cancelled,
                name="xentui-connect",
            )
        except Abandoned:
            return
        if getattr(outcome, "observation", None) is not None:
            outcome = dataclasses.replace(outcome, observation=self.judged(outcome.observation))
        self.post_message(ConnectFinished(outcome))

    def judged(self, observation: Observation) -> Observation:
        """The observation with the open recovery run's workload findings
        (VMs that ran on a dead host and run nowhere now). Worker threads
        only: it may read the audit log and re-run the diagnosis."""
        judged = self.workload_judge.apply(observation)
        problem = self.workload_judge.problem
        if problem != self._workload_problem:  # once per change, not once per observation
            self._workload_problem = problem
            if problem:
                self.post_message(LogLine(problem))
        return judged

    # --- handlers (own all state) --------------------------------------------

    def on_observer_ready(self, message: ObserverReady) -> None:
        self.observer = message.observer
        self.append_log(f"observer ready: {message.description}")
        if self.follow_enabled:
            self._start_follow()
        else:
            self.observe_now()

    def _start_follow(self) -> None:
        self._stop_follow.set()
        self._stop_follow = threading.Event()
        self.follow_worker(self.observer, self._stop_follow)

    def on_observation_arrived(self, message: ObservationArrived) -> None:
        obs = message.observation
        self.observation = obs
        self.generation += 1
        troubled = vm.banner(obs, obs.at).level == "emergency"
        if troubled and self.trouble_first_seen is None:
            self.trouble_first_seen = obs.at
        elif not troubled:
            self.trouble_first_seen = None
        self._log_changes(obs)
        # A worker's observation can land while the app is shutting down and
        # its screen stack is already empty: there is nothing left to refresh.
        screen = self.screen_stack[-1] if self.screen_stack else None
        if isinstance(screen, XenScreen):
            screen.refresh_from_app()
        elif screen is not None and hasattr(screen, "observation_changed"):
            screen.observation_changed(obs)  # the wizard re-plans while untouched (auto_replan.py)
        if self.first_full_dashboard_at is None:
            self.first_full_dashboard_at = time.perf_counter()

    def _drain_core_log(self) -> None:
        pending = self._log_handler.pending
        lines = []
        while pending:
            lines.append(pending.popleft())
        if lines:
            self.log_lines.extend(lines)
            if self.log_screen is not None and self.log_screen.is_mounted:
                self.log_screen.append_many(lines)

    def on_log_line(self, message: LogLine) -> None:
        self.append_log(message.text)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        what = worker.group or worker.name
        self.append_log(f"{what} failed: {type(error).__name__}: {error}")
        if worker.group == "follow" and not self._stop_follow.is_set():
            self.status_text = f"Live updates stopped ({type(error).__name__}); retrying..."
            self.set_timer(RETRY_FOLLOW_SECONDS, self._retry_follow)
        elif worker.group == "open":
            self.status_text = printable(f"Could not open {self.target_label}: {error}")
            if isinstance(self.screen, XenScreen):
                self.screen.refresh_from_app(force=True)
            self.notify(self.status_text, severity="error", markup=False, timeout=10)
        else:
            self.notify(printable(f"{what}: {error}"), severity="error", markup=False)

    def _retry_follow(self) -> None:
        if self.observer is not None and not self._stop_follow.is_set():
            self._start_follow()

    def on_connect_finished(self, message: ConnectFinished) -> None:
        outcome = message.outcome
        screen = self.screen
        if isinstance(screen, ConnectScreen):
            screen.show_outcome(outcome)
        self.append_log(f"connect: {outcome.kind}: {outcome.message.splitlines()[0]}")
        if outcome.ok:
            old = self.observer
            self._stop_follow.set()
            self.observer = outcome.observer
            self.target_label = outcome.target.label
            self._close_observer_in_background(old)
            self.post_message(ObservationArrived(outcome.observation, "observe"))
            if self.follow_enabled:
                self._start_follow()
            self.show_screen("dashboard")

    def on_demo_fault_applied(self, message: DemoFaultApplied) -> None:
        from xentui.ui.screens.demo_panel import DemoPanel

        text = message.text
        self.append_log(text)
        if isinstance(self.screen, DemoPanel):
            self.screen.show_status(text + " - watch the dashboard")
        self.observe_now()

    def _log_changes(self, obs: Observation) -> None:
        summary = (obs.connection.state, tuple(f.code.value for f in vm.sorted_findings(obs)))
        if summary != self._last_summary:
            self._last_summary = summary
            codes = ", ".join(summary[1]) or "none"
            self.append_log(
                f"observation: connection {summary[0]} ({obs.connection.session_kind.value}); "
                f"findings: {codes}; data: {obs.snapshot_source or 'none'}"
            )

    def append_log(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S', time.localtime())} {printable(text)}"
        self.log_lines.append(line)
        if self.log_screen is not None and self.log_screen.is_mounted:
            self.log_screen.append(line)

    def help_paths(self) -> List[Tuple[str, str]]:
        paths = [("Config", str(self.config.path) if self.config.path else "(none)")]
        if self.audit_path is not None:
            paths.append(("Audit log", str(self.audit_path)))
        return paths

    # --- size guard and clock --------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.check_size()

    def check_size(self) -> None:
        width, height = self.size
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        top = self.screen
        if too_small and not isinstance(top, TooSmallScreen):
            self.push_screen(TooSmallScreen())
        elif too_small and isinstance(top, TooSmallScreen):
            top.update_size()
        elif not too_small and isinstance(top, TooSmallScreen):
            self.pop_screen()

    def _tick_clock(self) -> None:
        minute = vm.format_clock(self.now())
        if minute != self._last_minute:
            self._last_minute = minute
            if isinstance(self.screen, XenScreen):
                self.screen.tick_clock()

    # --- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: Tuple[object, ...]) -> Optional[bool]:
        return action_allowed(self, action, "app")

    def get_key_display(self, binding: Binding) -> str:
        # Textual's defaults include glyphs the Linux console lacks (U+23CE for Enter, arrows).
        if binding.key_display:
            return str(binding.key_display)
        return display_key(binding.key)

    def action_quit_app(self) -> None:
        self._stop_follow.set()
        self.workers.cancel_all()
        self._close_observer_in_background(self.observer)
        self.exit(0)

    def action_refresh(self) -> None:
        if self.observer is None:
            self.notify("Still connecting...", markup=False)
            return
        self.append_log("refresh (F5)")
        self.observe_now()

    async def action_help(self) -> None:
        from xentui.ui.screens.help import HelpScreen

        if self.screen.is_modal:
            raise SkipAction()  # a priority binding: a question on screen keeps its keys
        if not isinstance(self.screen, HelpScreen):
            await self.push_screen(HelpScreen())  # typed-ahead keys go to the help, once it is there

    async def action_show_screen(self, name: str) -> None:
        if self.screen.is_modal:
            raise SkipAction()  # a question on screen (confirm, too small) keeps its keys
        # 1-5 are priority bindings: this runs as the app reads the key. Until the new
        # screen is mounted (its on_mount set the focus) the app reads no further key,
        # so the keys typed after the digit go to that screen's focused field, in order.
        mounting = self._switch_to(name)
        if mounting is not None:
            await mounting

    def show_screen(self, name: str) -> Optional[Awaitable[Any]]:
        """Switch to a main screen; a priority binding awaits the result (see action_show_screen)."""
        return self._switch_to(name)

    def _switch_to(self, name: str) -> Optional[Awaitable[Any]]:
        if not self.is_running:
            # Quitting: Textual is closing the screens, yet a worker's message (a
            # connect that just finished) may still be handled. No screen to switch to.
            return None
        if isinstance(self.screen, TooSmallScreen):
            return None
        # Close modals (help, demo, details) first so the numbers always work.
        while len(self.screen_stack) > 1 and not isinstance(self.screen, TooSmallScreen):
            self.pop_screen()
        if self.current_mode != name:
            return self.switch_mode(name)
        return None

    async def action_demo_panel(self) -> None:
        from xentui.ui.screens.demo_panel import DemoPanel

        if self.screen.is_modal:
            raise SkipAction()
        if self.demo is not None and not isinstance(self.screen, DemoPanel):
            await self.push_screen(DemoPanel(self.demo))

    # --- recovery ----------------------------------------------------------------

    async def ask_master_address(self, this_host: str) -> None:
        """The wizard's M on a reinstalled host (plan_rejoin.standalone_notes):
        the connect screen, its target field ready for the pool master's
        address (SSH; in a demo, the simulator's host at that address)."""
        mounting = self._switch_to("connect")
        if mounting is not None:
            await mounting
        screen = self.screen
        if not isinstance(screen, ConnectScreen):
            return
        if self.demo is not None and self.demo.sim is not None:
            prefix = f"sim:{self.demo.state_dir}/"  # sim:DIR/ADDRESS finds the host at that address
        else:
            prefix = "root@"
        screen.ask_for(
            prefix,
            f"{this_host or 'This host'} cannot know the pool it left. Type the pool master's address after "
            f"'{prefix}', Enter, then the pool's root password (pool.join needs it) and Enter; "
            "then r plans the rejoin on the master.",
        )

    def start_recovery(self) -> Optional[AwaitMount]:
        """Push the wizard (or the plan); the returned mount is awaited by the
        `r` binding so the keys typed after it reach the wizard."""
        obs = self.observation
        if obs is None:
            self.notify("No observation yet: wait for the dashboard to fill.", markup=False)
            return None
        try:
            from xentui.recovery.plan_builder import build_plan

            plan = build_plan(obs, preferred_master=self.preferred_master)
        except Exception as exc:  # noqa: BLE001 - a plan bug must show, never crash the console
            self.append_log(f"plan failed: {type(exc).__name__}: {exc}")
            self.notify(printable(f"Could not build the plan: {exc}"), severity="error", markup=False)
            return None
        self.append_log(f"recovery plan: {len(plan.steps)} steps ({', '.join(s.id for s in plan.steps)})")
        wizard_cls = _load_wizard()
        if wizard_cls is None or self.observer is None:
            from xentui.ui.screens.plan import PlanScreen

            return self.push_screen(
                PlanScreen(
                    plan,
                    note="The recovery wizard is not available in this build; "
                    "this is the plan it would guide you through.",
                )
            )
        try:
            executor, audit = self._make_executor()
        except Exception as exc:  # noqa: BLE001 - fall back to showing the plan
            from xentui.ui.screens.plan import PlanScreen

            self.append_log(f"executor unavailable: {type(exc).__name__}: {exc}")
            return self.push_screen(PlanScreen(plan, note=f"Cannot execute from here ({exc}); plan shown read-only."))
        wizard = wizard_cls(self.observer, plan, executor, read_only=self.read_only, audit=audit)
        return self.push_screen(wizard, callback=lambda _result: self._after_recovery())

    def _make_executor(self) -> Tuple["PlanExecutor", "AuditLog"]:
        from xentui.recovery.audit import AuditLog
        from xentui.recovery.executor import PlanExecutor

        if self.audit_path is None:
            self.audit_path = self.audit_file()
        audit = AuditLog(self.audit_path)
        executor = PlanExecutor(self.observer, audit, read_only=self.read_only, time_scale=self.time_scale)
        return executor, audit

    def _after_recovery(self) -> None:
        self.pull_audit_records()
        self.refresh_recovery_status()
        self.observe_now()

    def audit_file(self) -> Path:
        """The audit log the wizard writes (and the dashboard reads)."""
        if self.audit_path is not None:
            return Path(self.audit_path)
        from xentui.recovery.audit import default_audit_path

        return default_audit_path()

    def refresh_recovery_status(self) -> None:
        """Is a recovery open in the audit log? The dashboard banner says so.
        (A local file of a few hundred lines: read on the UI thread.)"""
        path = self.audit_file()
        status: Optional[vm.RecoveryInProgress] = None
        if path.exists():
            try:
                from xentui.recovery.audit import AuditLog

                status = vm.recovery_in_progress(AuditLog(path).records())
            except (OSError, ValueError) as exc:
                self.append_log(f"audit log unreadable: {exc}")
        if status != self.recovery_status:
            self.recovery_status = status
            if status is not None:
                self.append_log("audit: " + vm.recovery_hint(status, "r", self.read_only) + f" (run {status.run_id})")
            if isinstance(self.screen, XenScreen):
                self.screen.refresh_from_app(force=True)

    def pull_audit_records(self) -> None:
        """Copy this run's audit records (what the wizard did) into the log."""
        if self.audit_path is None or not Path(self.audit_path).exists():
            return
        try:
            from xentui.recovery.audit import AuditLog

            records = AuditLog(self.audit_path).records(since=self.run_started_at)
        except (OSError, ValueError) as exc:
            self.append_log(f"audit log unreadable: {exc}")
            return
        for record in records:
            seen = (record.ts, record.kind, record.step_id)
            if seen in self._audit_seen:
                continue
            self._audit_seen.add(seen)
            self.append_log(
                f"audit: {record.kind} {record.step_id} {record.host} -> {record.outcome} {record.detail}".rstrip()
            )


def _load_wizard() -> "Optional[Type[RecoveryWizard]]":
    try:
        from xentui.ui.wizard import RecoveryWizard
    except ImportError:
        return None
    return RecoveryWizard
