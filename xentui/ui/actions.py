"""The one registry of everything a key can do in the UI.

Footer bindings, the help screen and the user keymap (`[keys]` in
config.toml) are all generated from `ACTIONS`, so a key shown in the help
is always the key that works, and a remapped key shows up everywhere.

This module does not import Textual: `bindings_for()` builds Textual
`Binding`s lazily, so the registry can be listed and tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterable, List, Mapping, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from textual.binding import BindingType

# Scopes: where an action is bound. "app" is global; the others are screens.
SCOPES: Tuple[str, ...] = (
    "app",
    "dashboard",
    "vms",
    "network",
    "log",
    "connect",
    "confirm",
    "demo",
    "help",
    "plan",
    "details",
)

SCOPE_TITLES: Dict[str, str] = {
    "app": "Everywhere",
    "dashboard": "Dashboard (1)",
    "vms": "Virtual machines (2)",
    "network": "Network (3)",
    "log": "Log (4)",
    "connect": "Connect (5)",
    "confirm": "Confirmation",
    "demo": "Demo panel",
    "help": "Help",
    "plan": "Recovery plan",
    "details": "Host details",
}


@dataclass(frozen=True)
class UiAction:
    """One thing a key does.

    `id` is the binding id users remap in config.toml; `action` is the
    Textual action string run on the scope's node; `keys` the default keys
    (comma separated Textual key names). `destructive` actions change the
    pool and are hidden by --read-only; `demo_only` ones exist only in --demo.
    """

    id: str
    action: str
    keys: str
    description: str
    help: str
    scope: str
    destructive: bool = False
    demo_only: bool = False
    show: bool = True
    key_display: str = ""
    priority: bool = False


ACTIONS: Tuple[UiAction, ...] = (
    # --- everywhere -----------------------------------------------------------
    UiAction(
        "app.help",
        "app.help",
        "question_mark,f1",
        "Help",
        "Show this help: every key, generated from the action registry.",
        "app",
        key_display="?",
        priority=True,
    ),
    UiAction("app.quit", "app.quit_app", "q", "Quit", "Quit xentui at once, even while a call is hanging.", "app"),
    UiAction(
        "app.refresh",
        "app.refresh",
        "f5",
        "Refresh",
        "Observe the pool again now (xsconsole's F5).",
        "app",
        key_display="F5",
    ),
    # 1-5 are priority bindings: they switch screens as the app reads the key, so the keys typed
    # after one reach the new screen (a focused Input or the wizard keeps its digits: check_consume_key).
    UiAction(
        "app.screen.dashboard",
        "app.show_screen('dashboard')",
        "1",
        "Dash",
        "Dashboard: emergency banner, hosts, management interface, findings.",
        "app",
        priority=True,
    ),
    UiAction(
        "app.screen.vms",
        "app.show_screen('vms')",
        "2",
        "VMs",
        "Virtual machines: power state, host, those on a dead host.",
        "app",
        priority=True,
    ),
    UiAction(
        "app.screen.network",
        "app.show_screen('network')",
        "3",
        "Net",
        "Network: the PIFs of every host, stale ones marked.",
        "app",
        priority=True,
    ),
    UiAction(
        "app.screen.log",
        "app.show_screen('log')",
        "4",
        "Log",
        "Log: xapi calls and audit records of this run.",
        "app",
        priority=True,
    ),
    UiAction(
        "app.screen.connect",
        "app.show_screen('connect')",
        "5",
        "Conn",
        "Connect: this host, an SSH target or a saved profile.",
        "app",
        priority=True,
    ),
    UiAction(
        "app.demo",
        "app.demo_panel",
        "d",
        "Demo",
        "Demo panel: inject and clear faults in the simulated pool.",
        "app",
        demo_only=True,
        priority=True,
    ),
    # --- dashboard ------------------------------------------------------------
    # The keys that open a screen or move the focus (r, Enter/Right, Esc/Left, Tab here; ?, F1, d above;
    # / and the overlays' Esc below) are priority bindings too, for the same reason as 1-5: the action
    # runs as the app reads the key and awaits the new screen's mount, so typed-ahead keys land there.
    # None of them is bound where a text field could want it (an Input's check_consume_key keeps `/`, `?`, `d`).
    UiAction(
        "dashboard.recover",
        "screen.recover",
        "r",
        "Recover",
        "Start the guided recovery (read-only: show the plan).",
        "dashboard",
        priority=True,
    ),
    UiAction(
        "dashboard.details",
        "screen.host_details",
        "enter,right",
        "Details",
        "Show everything known about the selected host.",
        "dashboard",
        key_display="Enter",
        priority=True,
    ),
    UiAction(
        "dashboard.top",
        "screen.first_host",
        "escape,left",
        "Top",
        "Go back to the first host (xsconsole's Esc at the root).",
        "dashboard",
        show=False,
        priority=True,
    ),
    UiAction(
        "dashboard.findings",
        "screen.focus_findings",
        "tab",
        "Findings",
        "Move between the host list and the findings.",
        "dashboard",
        show=False,
        priority=True,
    ),
    # --- virtual machines -------------------------------------------------------
    UiAction(
        "vms.filter",
        "screen.filter",
        "slash",
        "Filter",
        "Filter the list by name, host or power state.",
        "vms",
        key_display="/",
        priority=True,
    ),
    UiAction(
        "vms.back",
        "screen.back",
        "escape,left",
        "Back",
        "Clear the filter, then go back to the dashboard.",
        "vms",
        key_display="Esc",
        priority=True,
    ),
    # --- network ------------------------------------------------------------
    UiAction(
        "network.filter",
        "screen.filter",
        "slash",
        "Filter",
        "Filter the PIFs by host, device or network.",
        "network",
        key_display="/",
        priority=True,
    ),
    UiAction(
        "network.back",
        "screen.back",
        "escape,left",
        "Back",
        "Go back to the dashboard.",
        "network",
        key_display="Esc",
        priority=True,  # (the filter line keeps Left: FilterInput.check_consume_key)
    ),
    # --- log ----------------------------------------------------------------
    UiAction("log.back", "screen.back", "escape,left", "Back", "Go back to the dashboard.", "log", key_display="Esc"),
    UiAction("log.end", "screen.to_end", "end", "End", "Jump to the newest line.", "log", show=False),
    # --- connect --------------------------------------------------------------
    # Enter/Down/Up are priority bindings: they move the focus in key order, so
    # typed-ahead keys land in the right field.
    UiAction(
        "connect.go",
        "screen.connect",
        "enter",
        "Connect",
        "Connect to the highlighted target (fields: Enter moves to the next).",
        "connect",
        key_display="Enter",
        priority=True,
    ),
    UiAction(
        "connect.accept_key",
        "screen.accept_host_key",
        "f8",
        "Trust key",
        "Trust the SSH host key shown (only after you compared the fingerprint).",
        "connect",
        key_display="F8",
    ),
    UiAction("connect.next", "screen.next_field", "down", "Next", "Next field.", "connect", show=False, priority=True),
    UiAction(
        "connect.previous",
        "screen.previous_field",
        "up",
        "Previous",
        "Previous field.",
        "connect",
        show=False,
        priority=True,
    ),
    UiAction(
        "connect.back",
        "screen.back",
        "escape",
        "Back",
        "Go back; what you typed is kept.",
        "connect",
        key_display="Esc",
        priority=True,
    ),
    # --- confirm modal --------------------------------------------------------
    UiAction(
        "confirm.yes",
        "screen.answer(True)",
        "f8,y",
        "Yes",
        "Confirm (F8, as in xsconsole, or y).",
        "confirm",
        key_display="F8",
    ),
    UiAction(
        "confirm.no",
        "screen.answer(False)",
        "escape,n",
        "No",
        "Cancel (Esc or n). Nothing is changed.",
        "confirm",
        key_display="Esc",
    ),
    # --- demo panel -----------------------------------------------------------
    UiAction(
        "demo.apply",
        "screen.apply",
        "enter",
        "Apply",
        "Inject or clear the highlighted fault.",
        "demo",
        demo_only=True,
        key_display="Enter",
    ),
    UiAction(
        "demo.close",
        "screen.close",
        "escape,left",
        "Close",
        "Close the demo panel.",
        "demo",
        demo_only=True,
        key_display="Esc",
        priority=True,
    ),
    # --- help, plan, details ---------------------------------------------------
    UiAction(
        "help.close",
        "screen.close",
        "escape,left",
        "Close",
        "Close the help.",
        "help",
        key_display="Esc",
        priority=True,
    ),
    UiAction(
        "plan.close",
        "screen.close",
        "escape,left",
        "Close",
        "Close the plan.",
        "plan",
        key_display="Esc",
        priority=True,
    ),
    UiAction(
        "details.close",
        "screen.close",
        "escape,left",
        "Back",
        "Back to the dashboard.",
        "details",
        key_display="Esc",
        priority=True,
    ),
)

# Keys handled by widgets rather than bindings; listed in the help so it is complete.
WIDGET_KEYS: Tuple[Tuple[str, str], ...] = (
    ("Up/Down", "Move the highlight (lists wrap at the ends, like xsconsole)."),
    ("PgUp/PgDn Home/End", "Scroll long lists."),
    ("a letter", "Jump to the next item starting with that letter (when the letter is not a key above)."),
)


def actions_for(scope: str, *, read_only: bool = False, demo: bool = False) -> Tuple[UiAction, ...]:
    """The actions bound in `scope`, minus those hidden by the run mode."""
    return tuple(
        a for a in ACTIONS if a.scope == scope and not (read_only and a.destructive) and (demo or not a.demo_only)
    )


def action_by_id(action_id: str) -> UiAction:
    for action in ACTIONS:
        if action.id == action_id:
            return action
    raise KeyError(action_id)


def effective_keys(action: UiAction, keymap: Mapping[str, str]) -> str:
    return keymap.get(action.id, action.keys)


def display_keys(action: UiAction, keymap: Mapping[str, str]) -> str:
    """Keys as a person reads them: 'F5', '?, F1', 'Enter, Right'."""
    keys = effective_keys(action, keymap)
    return ", ".join(display_key(k.strip()) for k in keys.split(",") if k.strip())


_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "escape": "Esc",
    "enter": "Enter",
    "left": "Left",
    "right": "Right",
    "up": "Up",
    "down": "Down",
    "tab": "Tab",
    "end": "End",
    "home": "Home",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "backspace": "Backspace",
    "delete": "Del",
    "space": "Space",
}


def display_key(key: str) -> str:
    if key in _KEY_NAMES:
        return _KEY_NAMES[key]
    if len(key) >= 2 and key[0] == "f" and key[1:].isdigit():
        return key.upper()
    if "+" in key:
        return "+".join(display_key(part) if part in _KEY_NAMES else part.capitalize() for part in key.split("+"))
    return key


def unknown_keymap_ids(keymap: Iterable[str]) -> List[str]:
    """Ids in a user's [keys] table that no action has (reported, not fatal)."""
    known = {a.id for a in ACTIONS}
    return sorted(k for k in keymap if k not in known)


def bindings_for(scope: str) -> "List[BindingType]":
    """Textual `Binding`s for a scope, all of them: the run mode (--read-only,
    --demo) is applied per instance by `check_action`, so one class serves both.
    (Textual is imported here so the registry itself stays Textual-free.)"""
    from textual.binding import Binding

    return [
        Binding(
            a.keys,
            a.action,
            a.description,
            show=a.show,
            key_display=a.key_display or None,
            priority=a.priority,
            tooltip=a.help,
            id=a.id,
        )
        for a in actions_for(scope, read_only=False, demo=True)
    ]
