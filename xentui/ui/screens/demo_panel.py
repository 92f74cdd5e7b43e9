"""Demo panel (d): inject and clear faults in the simulated pool."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Static

from xentui.ui.actions import bindings_for
from xentui.ui.console_app import app_of
from xentui.ui.demo import DemoControl
from xentui.ui.screens.base import OverlayPage
from xentui.ui.widgets import KeyTable, PaneTitle, TopBar
from xentui.xapi.safe_text import printable


class DemoPanel(OverlayPage):
    SCOPE = "demo"
    FOCUS_ID = "faults"
    BINDINGS = bindings_for("demo")
    DEFAULT_CSS = """
    DemoPanel { align: center middle; }
    DemoPanel #demo-box { width: 60; height: 20; max-height: 100%; border: double $accent; background: $surface; }
    DemoPanel #demo-status { height: 2; padding: 0 1; }
    """

    def __init__(self, demo: DemoControl) -> None:
        super().__init__()
        self.demo = demo
        self.faults = demo.faults() if demo.sim is not None else []

    def compose(self) -> ComposeResult:
        yield TopBar()
        with Vertical(id="demo-box"):
            yield PaneTitle("DEMO: inject or clear a fault (Enter)")
            yield KeyTable(id="faults", show_header=False)
            yield Static("", id="demo-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # (OverlayPage.on_mount then fills the top bar and focuses the table.)
        table = self.query_one("#faults", KeyTable)
        table.add_column("Fault")
        for fault in self.faults:
            table.add_row(fault.label, key=fault.id)
        if not self.faults:
            self.query_one("#demo-status", Static).update("The simulator is still starting...")
        elif self.demo.history:
            self.query_one("#demo-status", Static).update(Text("Last: " + printable(self.demo.history[-1])))

    def action_apply(self) -> None:
        key = self.query_one("#faults", KeyTable).current_key()
        fault = next((f for f in self.faults if f.id == key), None)
        if fault is not None:
            self.query_one("#demo-status", Static).update(f"Applying: {fault.label}...")
            app_of(self).apply_demo_fault(fault)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_apply()

    def show_status(self, text: str) -> None:
        # May quote an error: plain text, never markup, no raw controls.
        self.query_one("#demo-status", Static).update(Text(printable(text)))

    def action_back(self) -> None:
        self.dismiss()
