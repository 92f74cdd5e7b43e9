"""Small widgets shared by the screens: top bar, emergency banner, key tables,
label/value panes. They render view-model values only (xentui.ui.viewmodel)."""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from xentui.ui import viewmodel as vm


class TopBar(Horizontal):
    """product | pool | this host (role) .......... HH:MM  [marker] READ-ONLY"""

    DEFAULT_CSS = """
    TopBar { height: 1; dock: top; background: $panel; }
    TopBar #tb-left { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: clip; }
    TopBar #tb-right { width: auto; height: 1; }
    """

    def compose(self):
        yield Static("", id="tb-left")
        yield Static("", id="tb-right")

    def show(self, bar: vm.TopBar) -> None:
        left = Text()
        left.append(f" {bar.product} ", style="bold reverse")
        left.append(f" Pool: {bar.pool}  Host: {bar.host} ({bar.role})")
        right = Text()
        right.append(f"{bar.clock} ")
        marker_style = "bold white on red" if bar.demo else "bold reverse"
        right.append(f" {bar.marker} ", style=marker_style)
        if bar.read_only:
            right.append(" READ-ONLY ", style="bold black on yellow")
        self.query_one("#tb-left", Static).update(left)
        self.query_one("#tb-right", Static).update(right)


class EmergencyBanner(Static):
    """Cannot be missed when this host lost its master; one calm line otherwise."""

    DEFAULT_CSS = """
    EmergencyBanner { height: auto; padding: 0 1; }
    EmergencyBanner.-ok { color: $success; text-style: bold; }
    EmergencyBanner.-warning { background: $warning; color: $background; text-style: bold; }
    EmergencyBanner.-emergency { background: $error; color: $alarm-foreground; border: double $alarm-foreground;
                                 padding: 0 1;
                                 border-title-style: bold; border-subtitle-style: bold reverse;
                                 border-subtitle-align: center; }
    EmergencyBanner.-info { color: $foreground; }
    """

    def show(self, banner: vm.Banner) -> None:
        for level in ("ok", "info", "warning", "emergency"):
            self.set_class(banner.level == level, f"-{level}")
        if banner.level == "emergency":
            self.border_title = f" {banner.title} "
            self.border_subtitle = f" >> {banner.key_hint} << " if banner.key_hint else None
            self.update(Text("\n".join(banner.lines), no_wrap=True, overflow="crop"))
        else:
            self.border_title = None
            self.border_subtitle = None
            mark = "OK " if banner.level == "ok" else "!! "
            hint = f"   ({banner.key_hint})" if banner.key_hint else ""
            self.update(Text(mark + banner.title + hint))


class PaneTitle(Static):
    DEFAULT_CSS = """
    PaneTitle { height: 1; background: $title-background; color: $title-foreground; text-style: bold; padding: 0 1;
                text-wrap: nowrap; text-overflow: clip; }
    """


class KeyValues(Static):
    """Label/value rows, labels padded like xsconsole's (16 columns)."""

    DEFAULT_CSS = """
    KeyValues { height: auto; padding: 0 1; }
    """

    def __init__(self, label_width: int = 11, **kw) -> None:
        super().__init__("", **kw)
        self.label_width = label_width

    def show(self, rows: Iterable[Tuple[str, str]], footer: str = "") -> None:
        text = Text(no_wrap=False, overflow="fold")
        first = True
        for label, value in rows:
            if not first:
                text.append("\n")
            first = False
            style = "bold" if label in ("CRITICAL", "WARNING") else ""
            text.append(f"{label:<{self.label_width}}", style="bold " + style)
            text.append(" " + value)
        if footer:
            text.append("\n" + footer, style="italic")
        self.update(text)


def _fit_cell(cell: object, width: int) -> object:
    """Cut a cell to its column with an ASCII marker: Rich's own ellipsis
    (U+2026) is not in the Linux console font."""
    if not width:
        return cell
    if isinstance(cell, Text):
        if cell.cell_len > width:
            cell = cell.copy()
            cell.truncate(width - 1)
            cell.append("~")
        return cell
    text = str(cell)
    return text if len(text) <= width else text[: width - 1] + "~"


class KeyTable(DataTable):
    """A DataTable that moves the way xsconsole's menus do: Up/Down wrap, a
    letter jumps to the next row starting with it, Left/Right are left to the
    screen (back / select) instead of scrolling sideways."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Select", id="list.select"),
        Binding("up", "cursor_up_wrap", "Up", show=False, id="list.up"),
        Binding("down", "cursor_down_wrap", "Down", show=False, id="list.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("home", "scroll_top", "Top", show=False, id="list.home"),
        Binding("end", "scroll_bottom", "Bottom", show=False, id="list.end"),
    ]

    def __init__(self, *, jump_column: int = 0, **kw) -> None:
        kw.setdefault("cursor_type", "row")
        kw.setdefault("zebra_stripes", False)
        super().__init__(**kw)
        self.jump_column = jump_column
        self.cursor_blink = False
        self._shown_rows: Optional[list] = None
        self._all_fixed_width = False

    async def action_cursor_left(self) -> None:
        # xsconsole: Left goes back, like Esc.
        await self.screen.run_action("back")

    def action_cursor_right(self) -> None:
        # xsconsole: Right selects, like Enter.
        self.action_select_cursor()

    def action_cursor_up_wrap(self) -> None:
        if self.row_count:
            self.move_cursor(row=(self.cursor_row - 1) % self.row_count)

    def action_cursor_down_wrap(self) -> None:
        if self.row_count:
            self.move_cursor(row=(self.cursor_row + 1) % self.row_count)

    def on_key(self, event: events.Key) -> None:
        char = event.character or ""
        if len(char) != 1 or not char.isalpha() or not self.row_count:
            return
        if event.key in self.screen.active_bindings:
            return  # a bound key (q, r, d...) keeps its meaning
        if self.jump_to_letter(char):
            event.stop()
            event.prevent_default()

    def jump_to_letter(self, char: str) -> bool:
        char = char.lower()
        count = self.row_count
        for step in range(1, count + 1):
            row = (self.cursor_row + step) % count
            cell = self.get_row_at(row)[self.jump_column]
            label = cell.plain if isinstance(cell, Text) else str(cell)
            if label.lstrip("* ").lower().startswith(char):
                self.move_cursor(row=row)
                return True
        return False

    def add_fixed_columns(self, specs: Sequence[Tuple[str, int]]) -> None:
        """Fixed widths: the layout never jumps when data changes, and big
        tables (2,000 VMs) need not measure every cell."""
        for label, width in specs:
            self.add_column(label, width=width, key=label)
        self._all_fixed_width = True

    def _update_dimensions(self, new_rows) -> None:
        # DataTable measures every new cell to size auto-width columns; with
        # fixed widths and one-line rows that work is thrown away, and for
        # 2,000 VMs it is most of the time spent (Textual is pinned: 8.2.8).
        if self._all_fixed_width and all(not c.auto_width for c in self.columns.values()):
            new_rows = ()
        super()._update_dimensions(new_rows)

    def current_key(self) -> Optional[str]:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:  # an empty or rebuilding table has no key
            return None

    def replace_rows(self, rows: Sequence[Tuple[str, Sequence[object]]]) -> None:
        """Show exactly `rows`. When the same keys come back in the same order
        only the changed cells are updated (live updates of 2,000 VMs must not
        rebuild and re-measure the whole table); otherwise the table is
        rebuilt, keeping the highlight on the same key when it survives."""
        widths = [column.width for column in self.columns.values()]
        fitted = [(key, tuple(_fit_cell(c, w) for c, w in zip(cells, widths))) for key, cells in rows]
        previous = self._shown_rows
        if previous is not None and [k for k, _ in previous] == [k for k, _ in fitted]:
            column_keys = list(self.columns.keys())
            for (key, old), (_, new) in zip(previous, fitted):
                for index, (old_cell, new_cell) in enumerate(zip(old, new)):
                    if _cell_text(old_cell) != _cell_text(new_cell) or _cell_style(old_cell) != _cell_style(new_cell):
                        self.update_cell(key, column_keys[index], new_cell)
            self._shown_rows = fitted
            return
        keep = self.current_key()
        self.clear()
        for key, cells in fitted:
            self.add_row(*cells, key=key)
        self._shown_rows = fitted
        if keep is not None:
            try:
                self.move_cursor(row=self.get_row_index(keep))
            except RowDoesNotExist:  # the row is gone: stay at the top
                pass


def _cell_text(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _cell_style(cell: object) -> str:
    return str(cell.style) if isinstance(cell, Text) else ""
