"""Log: what this run did - observations, xapi calls, audit records."""

from __future__ import annotations

from typing import Iterable

from textual.app import ComposeResult
from textual.widgets import Log

from xentui.recovery.observation import Observation
from xentui.ui.actions import bindings_for
from xentui.ui.console_app import app_of
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import PaneTitle

MAX_LINES = 2000


class LogScreen(XenScreen):
    SCOPE = "log"
    BINDINGS = bindings_for("log")

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield PaneTitle("Log of this run (xapi calls, audit records, events)", id="log-title")
        yield Log(max_lines=MAX_LINES, auto_scroll=True, id="log")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        app = app_of(self)
        app.log_screen = self
        app.pull_audit_records()
        log = self.query_one("#log", Log)
        log.write_lines(list(app.log_lines))
        log.focus()
        super().on_mount()

    def append(self, line: str) -> None:
        self.query_one("#log", Log).write_line(line)

    def append_many(self, lines: Iterable[str]) -> None:
        self.query_one("#log", Log).write_lines(lines)

    def render_observation(self, obs: Observation) -> None:
        pass  # lines arrive through append()

    def action_back(self) -> None:
        app_of(self).show_screen("dashboard")

    def action_to_end(self) -> None:
        self.query_one("#log", Log).scroll_end(animate=False)
