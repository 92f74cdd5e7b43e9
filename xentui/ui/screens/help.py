"""Help (? or F1): generated from the action registry, so it always tells
the keys that really work, remapped ones included."""

from __future__ import annotations

from typing import List, Mapping, Sequence, Tuple

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from xentui.ui.actions import ACTIONS, SCOPE_TITLES, SCOPES, WIDGET_KEYS, actions_for, bindings_for, display_keys
from xentui.ui.console_app import app_of
from xentui.ui.scenario_guide import SCENARIO_GUIDE
from xentui.ui.screens.base import OverlayPage
from xentui.ui.widgets import PaneTitle, TopBar
from xentui.xapi.liveness import PROBE_INTERVAL, PROBE_MISSES, PROBE_TIMEOUT


def help_text(
    keymap: Mapping[str, str], *, read_only: bool, demo: bool, paths: Sequence[Tuple[str, str]] = ()
) -> Group:
    """A Rich renderable: one key table per scope, generated from ACTIONS."""
    parts: List[RenderableType] = []
    for scope in SCOPES:
        actions = actions_for(scope, read_only=read_only, demo=demo)
        if not actions:
            continue
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(width=14, style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for action in actions:
            words = Text(action.help)
            words.append(f"  [{action.id}]", style="dim")
            table.add_row(display_keys(action, keymap), words)
        parts.append(Text(SCOPE_TITLES[scope], style="bold underline"))
        parts.append(table)
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=14, style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for keys, meaning in WIDGET_KEYS:
        table.add_row(keys, meaning)
    parts.append(Text("Lists", style="bold underline"))
    parts.append(table)
    parts.append(Text("The master's banner", style="bold underline"))
    parts.append(
        Text(
            f"From a member, the master is probed every {PROBE_INTERVAL:g} s on its own connection "
            f"(connect + one request, {PROBE_TIMEOUT:g} s deadline). After {PROBE_MISSES} probes in a row "
            "fail (once it has answered at all) the banner says NOT ANSWERING and which: refuses "
            "connections (nothing listens) or accepts connections but xapi never answers (hung). "
            "One slow answer is not an alarm; one answer clears it."
        )
    )
    parts.append(Text("Failures xentui knows (the demo's scenarios: xentui --demo SCENARIO)", style="bold underline"))
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(width=26, style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for name, what in SCENARIO_GUIDE:
        table.add_row(name, what)
    parts.append(table)
    tail = Text('\nRemap any key in config.toml, [keys] section: "<id>" = "key,key".\n')
    for label, value in paths:
        tail.append(f"{label}: {value}\n")
    if read_only:
        tail.append("READ-ONLY: actions that change the pool are hidden.\n", style="bold")
    parts.append(tail)
    return Group(*parts)


class HelpScreen(OverlayPage):
    SCOPE = "help"
    BINDINGS = bindings_for("help")
    FOCUS_ID = "help-scroll"
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-box { width: 100%; max-width: 100; height: 100%; background: $surface; }
    """

    def compose(self) -> ComposeResult:
        from textual.containers import Vertical

        app = app_of(self)
        yield TopBar()
        with Vertical(id="help-box"):
            yield PaneTitle(f"Help - xentui keys ({len(ACTIONS)} actions)")
            with VerticalScroll(id="help-scroll"):
                yield Static(
                    help_text(app.keymap, read_only=app.read_only, demo=app.demo is not None, paths=app.help_paths()),
                    id="help-text",
                )
            yield Footer(compact=True, show_command_palette=False)
