"""The recovery plan shown read-only (used when the wizard is not available,
or in --read-only mode when the wizard refuses to open)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Static

from xentui.recovery.plan import Plan
from xentui.ui.actions import bindings_for
from xentui.ui.screens.base import OverlayPage
from xentui.ui.widgets import PaneTitle, TopBar
from xentui.xapi.safe_text import printable


def plan_text(plan: Plan) -> Text:
    text = Text()
    steps = getattr(plan, "steps", ())
    if not steps:
        text.append("Nothing to do: no step is needed for the current findings.\n")
    for number, step in enumerate(steps, start=1):
        phase = getattr(step, "phase", "now")
        # Step texts quote host and VM names: control characters escaped.
        text.append(f"{number}. {printable(step.title)}", style="bold")
        text.append(f"   [risk: {step.risk}{', later' if phase == 'later' else ''}]\n")
        if step.why:
            text.append(f"   Why: {printable(step.why)}\n")
        if step.changes:
            text.append(f"   Changes: {printable(step.changes)}\n")
        for xe in step.xe:
            text.append(f"   $ {printable(xe)}\n", style="bold")
        if step.verify:
            text.append(f"   Verify: {printable(step.verify)}\n")
        text.append("\n")
    return text


class PlanScreen(OverlayPage):
    SCOPE = "plan"
    BINDINGS = bindings_for("plan")
    FOCUS_ID = "plan-scroll"
    DEFAULT_CSS = """
    PlanScreen { align: center middle; }
    PlanScreen #plan-box { width: 100%; height: 100%; background: $surface; }
    """

    def __init__(self, plan: Plan, note: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.note = note

    def compose(self) -> ComposeResult:
        yield TopBar()
        with Vertical(id="plan-box"):
            yield PaneTitle("Recovery plan (read-only: nothing is executed from here)")
            with VerticalScroll(id="plan-scroll"):
                if self.note:
                    yield Static(Text(printable(self.note), style="bold"))  # may quote an error
                yield Static(plan_text(self.plan), id="plan-text")
            yield Footer(compact=True, show_command_palette=False)
