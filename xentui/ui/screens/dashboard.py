"""The first screen: emergency banner, host list with a context pane, this
host's management interface and the findings, most severe first.

80x25 layout (emergency):
  row 0      top bar
  rows 1-5   banner (calm single line when healthy)
  hosts      full-width table
  lower      management interface | context pane of the selected host
                                  | findings
  last row   footer (keys)
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import AwaitMount
from textual.widgets import DataTable, Static

from xentui.recovery.findings import Severity
from xentui.recovery.observation import Observation
from xentui.ui import viewmodel as vm
from xentui.ui.actions import action_by_id, bindings_for, display_keys
from xentui.ui.console_app import app_of
from xentui.ui.screens.base import XenScreen
from xentui.ui.widgets import EmergencyBanner, KeyTable, KeyValues, PaneTitle
from xentui.xapi.safe_text import printable

HOST_COLUMNS = (
    ("Host", 10),
    ("Role", 6),
    ("Address", 15),
    ("State", 11),
    ("En", 3),
    ("Emerg", 5),
    ("xapi", 7),
    ("VMs", 4),
)

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.WARNING: "bold black on yellow",
    Severity.INFO: "bold",
    Severity.OK: "bold green",
}


class DashboardScreen(XenScreen):
    SCOPE = "dashboard"
    BINDINGS = bindings_for("dashboard")

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield EmergencyBanner(id="banner")
        with Vertical(id="hosts-pane"):
            yield PaneTitle("Hosts  (* = this host)", id="hosts-title")
            yield KeyTable(id="hosts")
        with Horizontal(id="lower"):
            with Vertical(id="mgmt-pane"):
                yield PaneTitle("Management interface", id="mgmt-title")
                with VerticalScroll(id="mgmt-scroll"):
                    yield KeyValues(id="mgmt")
            with Vertical(id="right-pane"):
                yield PaneTitle("Selected host", id="context-title")
                with VerticalScroll(id="context-scroll"):
                    yield KeyValues(label_width=9, id="context")
                yield PaneTitle("Findings (most severe first)", id="findings-title")
                with VerticalScroll(id="findings-scroll"):
                    yield Static("", id="findings")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#hosts", KeyTable)
        table.add_fixed_columns(HOST_COLUMNS)
        self.set_focus(table)  # now, not after the keys already queued (Widget.focus defers it)
        super().on_mount()

    def _recover_key(self) -> str:
        return display_keys(action_by_id("dashboard.recover"), app_of(self).keymap).split(",")[0]

    def render_waiting(self, text: str) -> None:
        recovery = getattr(self.app, "recovery_status", None)
        hint = vm.recovery_hint(recovery, self._recover_key(), app_of(self).read_only) if recovery else ""
        self.query_one("#banner", EmergencyBanner).show(vm.Banner("info", text, (), hint))

    def render_observation(self, obs: Observation) -> None:
        app = app_of(self)
        now = app.now()
        self.query_one("#banner", EmergencyBanner).show(
            vm.banner(
                obs,
                now,
                recover_key=self._recover_key(),
                read_only=app.read_only,
                first_seen=app.trouble_first_seen,
                width=max(76, self.app.size.width - 4),
                recovery=getattr(app, "recovery_status", None),
            )
        )
        rows = vm.host_rows(obs)
        table = self.query_one("#hosts", KeyTable)
        table.replace_rows([(r.key, self._host_cells(r)) for r in rows])
        if rows:
            title = f"Hosts: {len(rows)}  (* = this host)"
            if not vm.snapshot_is_live(obs) and obs.snapshot_source:
                title += f"  [{obs.snapshot_source}]"
        else:
            title = "Hosts: unknown - xapi did not list the pool and no database copy was readable"
        self.query_one("#hosts-title", PaneTitle).update(title)
        mgmt = vm.management(obs, now)
        origin = "xapi" if mgmt.source.startswith("xapi") else "host files"
        title = f"Mgmt interface of {vm.this_host_name(obs)} ({origin})"
        self.query_one("#mgmt-title", PaneTitle).update(title)
        mgmt_rows = list(mgmt.rows)
        self.query_one("#mgmt", KeyValues).show(mgmt_rows, footer=f"source: {mgmt.source}")
        self._render_findings(obs)
        self._render_context()

    def _host_cells(self, row: vm.HostRow) -> Tuple[Union[str, Text], ...]:
        name = ("* " if row.is_this_host else "  ") + row.name
        state_style = ""
        if row.state in vm.DEAD_STATES:
            state_style = "bold white on red"
        elif row.state in ("live", "answers"):
            state_style = "green"
        state = Text(row.state, style=state_style)
        emergency = Text(row.emergency, style="bold white on red" if row.emergency == "YES" else "")
        return (name, row.role, row.address, state, row.enabled, emergency, row.xapi_version, str(row.vm_count))

    def _render_findings(self, obs: Observation) -> None:
        text = Text()
        findings = vm.sorted_findings(obs)
        for index, finding in enumerate(findings):
            if index:
                text.append("\n")
            text.append(f"{vm.SEVERITY_MARK[finding.severity]}", style=SEVERITY_STYLE[finding.severity])
            text.append(" " + printable(finding.summary))
        if not findings:
            text.append("No findings.")
        self.query_one("#findings", Static).update(text)

    def _render_context(self) -> None:
        obs = app_of(self).observation
        table = self.query_one("#hosts", KeyTable)
        key = table.current_key()
        pane = self.query_one("#context", KeyValues)
        if obs is None or key is None:
            pane.show([("Host", "none selected")])
            return
        rows = vm.host_details(obs, key, app_of(self).now())
        name = next((value for label, value in rows if label == "Name"), "?")
        self.query_one("#context-title", PaneTitle).update(f"Selected host: {name}")
        # The table already shows name/address/role/state...; the pane adds the rest.
        skip = {"Name", "Address", "Role", "Enabled", "Emergency", "VMs", "xapi"}
        pane.show([(label, value) for label, value in rows if label not in skip])

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        self.refresh_from_app(force=True)  # the banner's lines are cut to the width

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "hosts":
            self._render_context()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "hosts":
            self._open_host_details()

    # --- actions -------------------------------------------------------------
    # r, Enter/Right, Esc/Left and Tab are priority bindings (see actions.py): each runs as the
    # app reads the key and, when it opens a screen, awaits its mount, so the keys typed after
    # it reach the new screen (not this host list), in order.

    async def action_recover(self) -> None:
        mounting = app_of(self).start_recovery()
        if mounting is not None:
            await mounting

    async def action_host_details(self) -> None:
        mounting = self._open_host_details()
        if mounting is not None:
            await mounting

    def _open_host_details(self) -> Optional[AwaitMount]:
        key = self.query_one("#hosts", KeyTable).current_key()
        if key is not None and app_of(self).observation is not None:
            from xentui.ui.screens.details import HostDetailsScreen

            return self.app.push_screen(HostDetailsScreen(key))
        return None

    def action_first_host(self) -> None:
        table = self.query_one("#hosts", KeyTable)
        self.set_focus(table)
        if table.row_count:
            table.move_cursor(row=0)

    def action_back(self) -> None:
        self.action_first_host()

    def action_focus_findings(self) -> None:
        table = self.query_one("#hosts", KeyTable)
        findings = self.query_one("#findings-scroll", VerticalScroll)
        self.set_focus(findings if self.focused is table else table)  # (has_focus lags: it waits for the Blur)
