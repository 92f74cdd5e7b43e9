"""What every main screen shares: the top bar, the footer, re-rendering
from the app's current Observation, and the read-only/demo action filter."""

from __future__ import annotations

from typing import Any, Optional

from textual import events
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.actions import ACTIONS
from xentui.ui.console_app import InsideApp, app_of
from xentui.ui.widgets import TopBar


def _action_name(action: str) -> str:
    """'screen.answer(True)' -> 'answer' (what check_action receives)."""
    return action.split(".", 1)[-1].split("(", 1)[0]


_HIDDEN_IN_READ_ONLY = {(a.scope, _action_name(a.action)) for a in ACTIONS if a.destructive}
_DEMO_ONLY = {(a.scope, _action_name(a.action)) for a in ACTIONS if a.demo_only}


def action_allowed(app: object, action: str, scope: str = "app") -> Optional[bool]:
    """check_action policy shared by screens and the app: --read-only hides
    destructive actions, demo-only actions exist only with --demo."""
    key = (scope, action)
    if key in _HIDDEN_IN_READ_ONLY and getattr(app, "read_only", False):
        return False
    if key in _DEMO_ONLY and getattr(app, "demo", None) is None:
        return False
    return True


class SizeGuarded:
    """Mixin for every screen: resize events reach screens, not the app, so
    each one hands the size guard (too small below 80x24) back to the app.
    (Textual calls `on_resize` of every class in the MRO, mixins included.)"""

    def on_resize(self: InsideApp, event: events.Resize) -> None:
        self.app.call_after_refresh(app_of(self).check_size)


class OverlayPage(SizeGuarded, Screen[None]):
    """A page pushed over the main screens (help, plan, demo): the top bar is
    filled on mount, `FOCUS_ID` gets the focus, close dismisses it."""

    FOCUS_ID = ""

    def on_mount(self) -> None:
        update_top_bar(self, getattr(self.app, "observation", None))
        if self.FOCUS_ID:
            # Now, not later (Widget.focus defers it behind the keys already queued): the key that
            # opened this page is a priority binding that awaits this mount, so the keys typed
            # after it are read only once the focus is here.
            self.set_focus(self.query_one(f"#{self.FOCUS_ID}"))

    def action_close(self) -> None:
        self.dismiss()


class XenScreen(SizeGuarded, Screen[None]):
    """A main screen. Subclasses implement `render_observation(obs)`."""

    SCOPE = ""
    _rendered_generation = -1

    def compose_top(self) -> ComposeResult:
        yield TopBar(id="topbar")

    def compose_footer(self) -> ComposeResult:
        yield Footer(compact=True, show_command_palette=False)

    def on_screen_resume(self) -> None:
        self.refresh_from_app()

    def on_mount(self) -> None:
        self.refresh_from_app()

    def refresh_from_app(self, force: bool = False) -> None:
        app = self.app
        obs = getattr(app, "observation", None)
        generation = getattr(app, "generation", 0)
        self._update_top_bar(obs)
        if obs is None:
            self.render_waiting(getattr(app, "status_text", "Observing..."))
            return
        if force or generation != self._rendered_generation:
            self._rendered_generation = generation
            self.render_observation(obs)

    def _update_top_bar(self, obs: Optional[Observation]) -> None:
        update_top_bar(self, obs)

    def tick_clock(self) -> None:
        self._update_top_bar(getattr(self.app, "observation", None))

    def render_waiting(self, text: str) -> None:
        """Before the first observation arrives."""

    def render_observation(self, obs: Observation) -> None:
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> Optional[bool]:
        return action_allowed(self.app, action, self.SCOPE)


def update_top_bar(screen: Screen[Any], obs: Optional[Observation]) -> None:
    """Fill a screen's TopBar (pool, host, clock, DEMO / READ-ONLY markers)."""
    app = app_of(screen)
    try:
        bar = screen.query_one(TopBar)
    except NoMatches:  # screens without a top bar
        return
    demo = getattr(app, "demo", None) is not None
    if obs is None:
        marker = "DEMO" if demo else getattr(app, "target_label", "local")
        bar.show(
            vm.TopBar(
                "xentui", "pool ?", "connecting", "role ?", vm.format_clock(app.now()), marker, app.read_only, demo
            )
        )
    else:
        bar.show(vm.top_bar(obs, app.now(), read_only=app.read_only, demo=demo))
