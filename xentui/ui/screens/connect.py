"""Connect: this host, an SSH target, or a saved profile from config.toml.

The SSH host-key flow: an unknown key shows its SHA256 fingerprint and is
trusted only on an explicit F8; a changed key is refused. Wrong passwords,
invalid addresses and unknown hosts get a clear message and the fields keep
what was typed."""

from __future__ import annotations

from typing import Optional, Set

from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widgets import DataTable, Input, Static

from xentui.recovery.observation import Observation
from xentui.ui.actions import bindings_for
from xentui.ui.connecting import ConnectOutcome
from xentui.ui.console_app import app_of
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import KeyTable, PaneTitle
from xentui.xapi.safe_text import multiline, printable


class TypeAheadInput(Input):
    """An Input whose own editing keys (Backspace, Left, Home, Ctrl+U...)
    act on the field the key was typed into. Textual resolves a widget's
    bindings when the key bubbles up to the app, against whatever has focus
    by then: after a typed-ahead Enter moved the focus on, a Backspace meant
    for the target field would delete from the password field instead."""

    async def _on_key(self, event: events.Key) -> None:
        # `_bindings` is this widget's BindingsMap with the user keymap applied.
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if binding.priority:
                continue
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)


class FieldDrained(Message):
    """Posted INTO a field's own message queue: it is handled after every key
    already routed to that field, so the field's value is complete."""

    def __init__(self, token: int, field_id: str) -> None:
        super().__init__()
        self.token = token
        self.field_id = field_id


class ConnectScreen(XenScreen):
    """Typed-ahead keys go to the field that has focus at the moment they
    were typed. Textual routes each key to the focused widget as soon as the
    app reads it, while `widget.focus()` only takes effect later; so Enter,
    Up and Down are priority bindings here (run in key order, by the app)
    that move the focus at once (`set_focus`), and a connect waits until both
    fields have consumed the keys already sent to them (`FieldDrained`).
    Keys typed right after the `5` that opens this screen wait in the app's
    queue until this screen is mounted and has its focus (the app's
    `action_show_screen`), so they start in the list, not on the dashboard."""

    SCOPE = "connect"
    BINDINGS = bindings_for("connect")
    FIELDS = ("target", "password")

    pending_fingerprint = ""
    _submit_token = 0

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield PaneTitle("Connect to a pool host", id="connect-title")
        yield KeyTable(id="targets", show_header=False)
        with Vertical(id="connect-form"):
            yield Static("Target (local, [ssh://]user@host[:port], https://host, sim:DIR/HOST)")
            # select_on_focus off: a typed-ahead key must add to the field, not replace what is in it.
            yield TypeAheadInput(placeholder="local", id="target", compact=True, select_on_focus=False)
            yield Static("xapi password (for a slave-local login; leave empty for a local root socket)")
            yield TypeAheadInput(placeholder="", password=True, id="password", compact=True, select_on_focus=False)
        yield Static("", id="connect-message")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#targets", KeyTable)
        table.add_column("Target")
        table.add_row("This host (local xapi socket)", key="local")
        app = app_of(self)
        if app.demo is not None:
            table.add_row("The demo's console host (simulator)", key="demo")
            # Any other simulated host, as if at its console (stale-db: promote the member
            # with the newest database copy from its own console).
            others = [n for n in app.demo.host_names() if n != app.demo.console_host] if app.demo.sim else []
            for name in others:
                table.add_row(Text(f"The demo's host {name} (at its console)"), key="demo-host:" + name)
        for profile in app.config.profiles:
            # Config text: a plain Text cell (a str cell would be read as markup).
            table.add_row(Text(printable(f"{profile.name}  ({profile.target})")), key="profile:" + profile.target)
        table.add_row("Another host: type it below", key="new")
        for field in self.query(Input):
            field.cursor_blink = False
        self._drained: Set[str] = set()
        self._submit_accept = ""
        self.set_focus(table)  # now, not after the keys already queued
        super().on_mount()

    def render_observation(self, obs: Observation) -> None:
        pass  # the connect screen shows no pool data

    def _target_for_row(self, key: str) -> str:
        if key == "local":
            return "local"
        if key == "demo":
            demo = app_of(self).demo
            return demo.target if demo.sim is not None else ""
        if key.startswith("profile:"):
            return key[len("profile:") :]
        if key.startswith("demo-host:"):
            demo = app_of(self).demo
            return f"sim:{demo.state_dir}/{key[len('demo-host:') :]}" if demo is not None and demo.sim else ""
        return ""

    def show_message(self, text: str, level: str = "info") -> None:
        style = {"error": "bold white on red", "warning": "bold black on yellow", "ok": "bold green"}.get(level, "")
        # Connection errors quote the peer (SSH banners, HTTP reasons, host names).
        slots = self.query("#connect-message")
        if not slots:
            # An outcome can land while this screen is not composed (yet, or any
            # more): it still reaches the admin, as a notification.
            severity: SeverityLevel = (
                "error" if level == "error" else "warning" if level == "warning" else "information"
            )
            self.app.notify(multiline(text), severity=severity, markup=False)
            return
        slots.first(Static).update(Text(multiline(text), style=style))

    def ask_for(self, prefix: str, message: str) -> None:
        """Focus the target field with `prefix` typed (e.g. "root@"), so the
        keys typed next complete it, and say what to type."""
        target_input = self.query_one("#target", Input)
        target_input.value = prefix
        target_input.cursor_position = len(prefix)
        self.set_focus(target_input)
        self.show_message(message, "warning")

    # --- actions -------------------------------------------------------------

    def action_connect(self) -> None:
        """Enter: a row of the list, the target field, or the password field."""
        focused = self.focused
        table = self.query_one("#targets", KeyTable)
        target_input = self.query_one("#target", Input)
        password_input = self.query_one("#password", Input)
        if focused is table:
            key = table.current_key() or "new"
            chosen = self._target_for_row(key)
            if key == "new" or not chosen:
                self.set_focus(target_input)
                return
            target_input.value = chosen
            if chosen.startswith("sim:") or chosen == "local":
                self._submit(accept="")
            else:
                self.set_focus(password_input)
            return
        if focused is target_input:
            self.set_focus(password_input)
            return
        self._submit(accept="")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # Enter is the screen's priority binding; nothing else selects a row

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # Enter never reaches the fields (priority binding): see action_connect

    def action_accept_host_key(self) -> None:
        if not self.pending_fingerprint:
            self.show_message("No host key is waiting for confirmation.", "warning")
            return
        self._submit(accept=self.pending_fingerprint)

    def _submit(self, accept: str) -> None:
        """Connect once both fields have taken every key typed before this."""
        self._submit_token += 1
        self._drained = set()
        self._submit_accept = accept
        for field_id in self.FIELDS:
            self.query_one(f"#{field_id}", Input).post_message(FieldDrained(self._submit_token, field_id))

    def on_field_drained(self, message: FieldDrained) -> None:
        message.stop()
        if message.token != self._submit_token:
            return  # an older submit: a newer Enter is on its way
        self._drained.add(message.field_id)
        if self._drained.issuperset(self.FIELDS):
            self._drained = set()
            self._start(self._submit_accept)

    def _start(self, accept: str) -> None:
        target = self.query_one("#target", Input).value
        password = self.query_one("#password", Input).value
        self.show_message(f"Connecting to {target or 'local'}...")
        app_of(self).connect_to(target, password, accept_fingerprint=accept or None)

    def show_outcome(self, outcome: ConnectOutcome) -> None:
        """Called by the app with the worker's ConnectOutcome."""
        self.pending_fingerprint = outcome.fingerprint if outcome.kind == "hostkey-unknown" else ""
        self.refresh_bindings()
        level = {"ok": "ok", "hostkey-unknown": "warning"}.get(outcome.kind, "error")
        self.show_message(outcome.message, level)
        if outcome.kind == "auth":
            self.set_focus(self.query_one("#password", Input))
        elif outcome.kind in ("invalid", "unknown-host"):
            self.set_focus(self.query_one("#target", Input))

    def action_next_field(self) -> None:
        self._move(+1)

    def action_previous_field(self) -> None:
        self._move(-1)

    def _move(self, step: int) -> None:
        """Up/Down, in key order: the list's highlight, or the next field
        (synchronously, so the next key typed goes to the new field)."""
        focused = self.focused
        if isinstance(focused, KeyTable):
            (focused.action_cursor_down_wrap if step > 0 else focused.action_cursor_up_wrap)()
        elif isinstance(focused, Input):
            self.focus_next() if step > 0 else self.focus_previous()
        else:
            raise SkipAction()

    async def action_back(self) -> None:
        if self.pending_fingerprint:
            self.pending_fingerprint = ""
            self.refresh_bindings()
            self.show_message("Host key NOT trusted. Nothing was written.", "warning")
            return
        switching = app_of(self).show_screen("dashboard")
        if switching is not None:
            await switching  # Esc is a priority binding: the keys after it are the dashboard's

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        if action == "accept_host_key" and not self.pending_fingerprint:
            return False  # F8 appears only while a fingerprint waits for confirmation
        return super().check_action(action, parameters)
