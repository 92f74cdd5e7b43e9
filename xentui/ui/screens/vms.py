"""Virtual machines: power state, host, and which ones sit on a dead host."""

from __future__ import annotations

from typing import Optional, Tuple

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input

from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.actions import bindings_for
from xentui.ui.console_app import app_of
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import PaneTitle, VirtualTable

FILTER_DELAY = 0.15  # seconds of no typing before the list is filtered


class FilterInput(Input):
    """The filter line. It keeps the editing keys the screen binds as priority keys (Left goes
    back there): Textual leaves the keys a focused widget consumes out of its ancestors' bindings."""

    EDIT_KEYS = frozenset({"left", "right", "home", "end", "backspace", "delete"})

    def check_consume_key(self, key: str, character: Optional[str]) -> bool:
        return key in self.EDIT_KEYS or super().check_consume_key(key, character)


class FilterableTableScreen(XenScreen):
    """A title, one VirtualTable and a `/` filter line (Esc clears, then goes back)."""

    TITLE_TEXT = ""
    COLUMNS: Tuple[Tuple[str, int], ...] = ()

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield PaneTitle(self.TITLE_TEXT, id="table-title")
        yield VirtualTable(self.COLUMNS, id="table")
        yield FilterInput(placeholder="filter (Enter keeps it, Esc clears)", id="filter", compact=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#table", VirtualTable)
        filt = self.query_one("#filter", Input)
        filt.display = False
        filt.cursor_blink = False
        self.set_focus(table)
        super().on_mount()

    @property
    def filter_text(self) -> str:
        return self.query_one("#filter", Input).value

    def action_filter(self) -> None:
        # `/` is a priority binding: the focus moves now, so the letters typed after it are the filter's.
        filt = self.query_one("#filter", Input)
        filt.display = True
        self.set_focus(filt)

    _filter_timer = None

    def on_input_changed(self, event: Input.Changed) -> None:
        # Re-filter once typing pauses, not on every key: rebuilding a
        # 2,000-row table per keystroke would make typing lag.
        if event.input.id == "filter":
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self.refresh_from_app(force=True))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self.refresh_from_app(force=True)
            if not event.value:
                event.input.display = False
            self.query_one("#table", VirtualTable).focus()

    async def action_back(self) -> None:
        # Esc/Left are priority bindings: the focus moves (or the screen switches) before the next key is read.
        filt = self.query_one("#filter", Input)
        if filt.display:
            filt.value = ""
            filt.display = False
            self.set_focus(self.query_one("#table", VirtualTable))
            self.refresh_from_app(force=True)
            return
        switching = app_of(self).show_screen("dashboard")
        if switching is not None:
            await switching

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        # While typing a filter, letters are text, not keys; Esc still works.
        focused = self.focused
        if isinstance(focused, Input) and action not in ("back",):
            return None if action == "filter" else super().check_action(action, parameters)
        return super().check_action(action, parameters)


class VmsScreen(FilterableTableScreen):
    SCOPE = "vms"
    BINDINGS = bindings_for("vms")
    TITLE_TEXT = "Virtual machines"
    COLUMNS = (("VM", 24), ("Power", 9), ("Host", 12), ("Dead host?", 10), ("Mem GiB", 7), ("vCPU", 4))

    def render_observation(self, obs: Observation) -> None:
        rows = vm.vm_rows(obs)
        shown = [r for r in rows if vm.matches_filter(self.filter_text, r.name, r.host, r.power_state)]
        dead = sum(1 for r in rows if r.on_dead_host)
        title = f"Virtual machines: {len(rows)}"
        if dead:
            title += f", {dead} on a host that does not answer"
        if self.filter_text:
            title += f"  (filter '{self.filter_text}': {len(shown)} shown)"
        self.query_one("#table-title", PaneTitle).update(title)
        self.query_one("#table", VirtualTable).replace_rows(
            [
                (
                    r.key,
                    (
                        r.name,
                        r.power_state,
                        r.host,
                        Text("DEAD HOST", style="bold white on red") if r.on_dead_host else "",
                        f"{r.memory_gib:.1f}",
                        str(r.vcpus),
                    ),
                )
                for r in shown
            ]
        )
