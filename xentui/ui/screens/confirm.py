"""The y/n confirmation modal (posting style, xsconsole keys: F8 or y = yes,
Esc or n = no). Reusable: `ConfirmScreen(question, details)` dismisses with
True or False; push it with a callback or `await push_screen_wait`."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from xentui.ui.actions import bindings_for
from xentui.ui.widgets import PaneTitle
from xentui.xapi.safe_text import multiline


class ConfirmScreen(ModalScreen[bool]):
    SCOPE = "confirm"
    BINDINGS = bindings_for("confirm")
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #confirm-box { width: 70; max-width: 100%; height: auto; max-height: 100%;
                                 border: double $warning; background: $surface; }
    ConfirmScreen #confirm-text { padding: 0 1; height: auto; }
    """

    def __init__(
        self,
        question: str,
        details: Sequence[str] = (),
        *,
        title: str = "Confirm",
        yes_label: str = "<F8> Yes",
        no_label: str = "<Esc> No",
    ) -> None:
        super().__init__()
        self.question = question
        self.details = tuple(details)
        self.title_text = title
        self.yes_label = yes_label
        self.no_label = no_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield PaneTitle(self.title_text)
            text = Text()
            text.append(multiline(self.question) + "\n", style="bold")
            for line in self.details:
                text.append(multiline(line) + "\n")
            text.append(f"\n{self.yes_label}    {self.no_label}", style="bold")
            yield Static(text, id="confirm-text")
        yield Footer(compact=True, show_command_palette=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))
