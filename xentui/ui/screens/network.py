"""Network: the PIFs of every host; stale ones (NIC gone) are marked."""

from __future__ import annotations

from rich.text import Text

from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.actions import bindings_for
from xentui.ui.screens.vms import FilterableTableScreen
from xentui.ui.widgets import PaneTitle, VirtualTable


class NetworkScreen(FilterableTableScreen):
    SCOPE = "network"
    BINDINGS = bindings_for("network")
    TITLE_TEXT = "Network interfaces (PIFs)"
    COLUMNS = (
        ("Host", 9),
        ("Device", 7),
        ("Bridge", 7),
        ("Mode", 6),
        ("IP", 15),
        ("Mgmt", 4),
        ("Up", 3),
        ("Link", 4),
        ("Stale", 5),
    )

    def render_observation(self, obs: Observation) -> None:
        rows = vm.pif_rows(obs)
        shown = [r for r in rows if vm.matches_filter(self.filter_text, r.host, r.device, r.network, r.ip)]
        stale = sum(1 for r in rows if r.stale)
        title = f"Network interfaces: {len(rows)} PIFs on {len({r.host for r in rows})} hosts"
        if stale:
            title += f", {stale} stale"
        if not vm.snapshot_is_live(obs) and obs.snapshot_source:
            title += f"  [{obs.snapshot_source}]"
        self.query_one("#table-title", PaneTitle).update(title)
        self.query_one("#table", VirtualTable).replace_rows(
            [
                (
                    r.key,
                    (
                        r.host,
                        r.device,
                        r.network,
                        r.mode,
                        r.ip or "-",
                        "MGMT" if r.management else "",
                        "yes" if r.attached else "no",
                        r.carrier,
                        Text("STALE", style="bold black on yellow") if r.stale else "",
                    ),
                )
                for r in shown
            ]
        )
