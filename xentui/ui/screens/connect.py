"""Connect: this host, an SSH target, or a saved profile from config.toml.

The SSH host-key flow: an unknown key shows its SHA256 fingerprint and is
trusted only on an explicit F8; a changed key is refused. Wrong passwords,
invalid addresses and unknown hosts get a clear message and the fields keep
what was typed."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Input, Static

from xentui.recovery.observation import Observation
from xentui.ui.actions import bindings_for
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import KeyTable, PaneTitle


class ConnectScreen(XenScreen):
    SCOPE = "connect"
    BINDINGS = bindings_for("connect")

    pending_fingerprint = ""

    def compose(self):
        yield from self.compose_top()
        yield PaneTitle("Connect to a pool host", id="connect-title")
        yield KeyTable(id="targets", show_header=False)
        with Vertical(id="connect-form"):
            yield Static("Target (local, [ssh://]user@host[:port], https://host, sim:DIR/HOST)")
            yield Input(placeholder="local", id="target", compact=True)
            yield Static("xapi password (for a slave-local login; leave empty for a local root socket)")
            yield Input(placeholder="", password=True, id="password", compact=True)
        yield Static("", id="connect-message")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#targets", KeyTable)
        table.add_column("Target")
        table.add_row("This host (local xapi socket)", key="local")
        if self.app.demo is not None:
            table.add_row("The demo's console host (simulator)", key="demo")
        for profile in self.app.config.profiles:
            table.add_row(f"{profile.name}  ({profile.target})", key="profile:" + profile.target)
        table.add_row("Another host: type it below", key="new")
        for field in self.query(Input):
            field.cursor_blink = False
        table.focus()
        super().on_mount()

    def render_observation(self, obs: Observation) -> None:
        pass  # the connect screen shows no pool data

    def _target_for_row(self, key: str) -> str:
        if key == "local":
            return "local"
        if key == "demo":
            return self.app.demo.target if self.app.demo.sim is not None else ""
        if key.startswith("profile:"):
            return key[len("profile:"):]
        return ""

    def show_message(self, text: str, level: str = "info") -> None:
        style = {"error": "bold white on red", "warning": "bold black on yellow", "ok": "bold green"}.get(level, "")
        self.query_one("#connect-message", Static).update(Text(text, style=style))

    # --- actions -------------------------------------------------------------

    def action_connect(self) -> None:
        focused = self.focused
        target_input = self.query_one("#target", Input)
        if focused is self.query_one("#targets", KeyTable):
            key = self.query_one("#targets", KeyTable).current_key() or "new"
            chosen = self._target_for_row(key)
            if key == "new" or not chosen:
                target_input.focus()
                return
            target_input.value = chosen
            if chosen.startswith("sim:") or chosen == "local":
                self._start(accept="")
            else:
                self.query_one("#password", Input).focus()
            return
        if focused is target_input:
            self.query_one("#password", Input).focus()
            return
        self._start(accept="")

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_connect()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_connect()

    def action_accept_host_key(self) -> None:
        if not self.pending_fingerprint:
            self.show_message("No host key is waiting for confirmation.", "warning")
            return
        self._start(accept=self.pending_fingerprint)

    def _start(self, accept: str) -> None:
        target = self.query_one("#target", Input).value
        password = self.query_one("#password", Input).value
        self.show_message(f"Connecting to {target or 'local'}...")
        self.app.connect_to(target, password, accept_fingerprint=accept or None)

    def show_outcome(self, outcome) -> None:
        """Called by the app with the worker's ConnectOutcome."""
        self.pending_fingerprint = outcome.fingerprint if outcome.kind == "hostkey-unknown" else ""
        self.refresh_bindings()
        level = {"ok": "ok", "hostkey-unknown": "warning"}.get(outcome.kind, "error")
        self.show_message(outcome.message, level)
        if outcome.kind == "auth":
            self.query_one("#password", Input).focus()
        elif outcome.kind in ("invalid", "unknown-host"):
            self.query_one("#target", Input).focus()

    def action_next_field(self) -> None:
        self.focus_next()

    def action_previous_field(self) -> None:
        self.focus_previous()

    def action_back(self) -> None:
        if self.pending_fingerprint:
            self.pending_fingerprint = ""
            self.refresh_bindings()
            self.show_message("Host key NOT trusted. Nothing was written.", "warning")
            return
        self.app.show_screen("dashboard")

    def check_action(self, action: str, parameters):
        if action == "accept_host_key" and not self.pending_fingerprint:
            return False  # F8 appears only while a fingerprint waits for confirmation
        return super().check_action(action, parameters)
