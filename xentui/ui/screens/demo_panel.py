"""Demo panel (d): inject and clear faults in the simulated pool."""

from __future__ import annotations

from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from xentui.ui.actions import bindings_for
from xentui.ui.screens.base import update_top_bar
from xentui.ui.widgets import TopBar, KeyTable, PaneTitle


class DemoPanel(Screen):
    SCOPE = "demo"
    BINDINGS = bindings_for("demo")
    DEFAULT_CSS = """
    DemoPanel { align: center middle; }
    DemoPanel #demo-box { width: 60; height: 20; max-height: 100%; border: double $accent; background: $surface; }
    DemoPanel #demo-status { height: 2; padding: 0 1; }
    """

    def __init__(self, demo) -> None:
        super().__init__()
        self.demo = demo
        self.faults = demo.faults() if demo.sim is not None else []

    def compose(self):
        yield TopBar()
        with Vertical(id="demo-box"):
            yield PaneTitle("DEMO: inject or clear a fault (Enter)")
            yield KeyTable(id="faults", show_header=False)
            yield Static("", id="demo-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        update_top_bar(self, self.app.observation)
        table = self.query_one("#faults", KeyTable)
        table.add_column("Fault")
        for fault in self.faults:
            table.add_row(fault.label, key=fault.id)
        if not self.faults:
            self.query_one("#demo-status", Static).update("The simulator is still starting...")
        elif self.demo.history:
            self.query_one("#demo-status", Static).update("Last: " + self.demo.history[-1])
        table.focus()

    def action_apply(self) -> None:
        key = self.query_one("#faults", KeyTable).current_key()
        fault = next((f for f in self.faults if f.id == key), None)
        if fault is not None:
            self.query_one("#demo-status", Static).update(f"Applying: {fault.label}...")
            self.app.apply_demo_fault(fault)

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_apply()

    def show_status(self, text: str) -> None:
        self.query_one("#demo-status", Static).update(text)

    def action_back(self) -> None:
        self.dismiss()

    def action_close(self) -> None:
        self.dismiss()

    def on_resize(self, event) -> None:
        # Resize events reach screens, not the app: let the app decide on the size guard.
        self.app.call_after_refresh(self.app.check_size)
