"""Shown instead of a garbled layout when the terminal is below 80x24."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Static

from xentui.ui.screens.base import SizeGuarded

MIN_WIDTH = 80
MIN_HEIGHT = 24


class TooSmallScreen(SizeGuarded, ModalScreen[None]):
    # Modal screens cut off the app's bindings: quitting must still work here.
    BINDINGS = [Binding("q", "app.quit_app", "Quit", id="too_small.quit")]
    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; background: $background; }
    TooSmallScreen Static { width: auto; height: auto; padding: 0 1; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small")

    def on_mount(self) -> None:
        self.update_size()

    def update_size(self) -> None:
        w, h = self.app.size
        try:
            label = self.query_one("#too-small", Static)
        except NoMatches:  # not composed yet: on_mount will fill it
            return
        label.update(
            f"Terminal too small: {w}x{h}.\nxentui needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n"
            f"Enlarge the window (q quits)."
        )
