"""Everything known about one host (Enter/Right on the dashboard)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.actions import bindings_for
from xentui.ui.console_app import app_of
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import KeyValues, PaneTitle


class HostDetailsScreen(XenScreen):
    SCOPE = "details"
    BINDINGS = bindings_for("details")

    def __init__(self, host_key: str) -> None:
        super().__init__()
        self.host_key = host_key

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield PaneTitle("Host details", id="details-title")
        with VerticalScroll(id="details-scroll"):
            yield KeyValues(label_width=11, id="details")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.set_focus(self.query_one("#details-scroll"))  # now: typed-ahead keys scroll this page

    def render_observation(self, obs: Observation) -> None:
        rows = list(vm.host_details(obs, self.host_key, app_of(self).now()))
        name = next((v for k, v in rows if k == "Name"), "?")
        self.query_one("#details-title", PaneTitle).update(f"Host details: {name}")
        snap = obs.snapshot
        if snap is not None:
            host = next((h for h in snap.hosts.values() if (h.uuid or h.ref) == self.host_key), None)
            if host is not None:
                vms = snap.vms_on(host.ref)
                rows.append(("Resident VMs", ", ".join(v.name_label for v in vms[:40]) or "none"))
        self.query_one("#details", KeyValues).show(rows)

    def action_close(self) -> None:
        self.app.pop_screen()
