"""Small widgets shared by the screens: top bar, emergency banner, key tables,
label/value panes. They render view-model values only (xentui.ui.viewmodel)."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import VisualType
from textual.widgets import DataTable, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist, RowKey

from xentui.ui import viewmodel as vm
from xentui.xapi.safe_text import markup, multiline, printable


class TopBar(Horizontal):
    """product | pool | this host (role) .......... HH:MM  [marker] READ-ONLY"""

    DEFAULT_CSS = """
    TopBar { height: 1; dock: top; background: $panel; }
    TopBar #tb-left { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: clip; }
    TopBar #tb-right { width: auto; height: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="tb-left")
        yield Static("", id="tb-right")

    def show(self, bar: vm.TopBar) -> None:
        left = Text()
        left.append(f" {bar.product} ", style="bold reverse")
        left.append(printable(f" Pool: {bar.pool}  Host: {bar.host} ({bar.role})"))
        right = Text()
        right.append(f"{bar.clock} ")
        marker_style = "bold white on red" if bar.demo else "bold reverse"
        right.append(f" {printable(bar.marker)} ", style=marker_style)  # the target's label
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
            # Border titles are markup: peer text (host names) is escaped for it.
            self.border_title = f" {markup(banner.title)} "
            self.border_subtitle = f" >> {markup(banner.key_hint)} << " if banner.key_hint else None
            self.update(Text("\n".join(printable(line) for line in banner.lines), no_wrap=True, overflow="crop"))
        else:
            self.border_title = None
            self.border_subtitle = None
            mark = "OK " if banner.level == "ok" else "!! "
            hint = f"   ({banner.key_hint})" if banner.key_hint else ""
            self.update(Text(mark + printable(banner.title) + printable(hint)))


class PaneTitle(Static):
    DEFAULT_CSS = """
    PaneTitle { height: 1; background: $title-background; color: $title-foreground; text-style: bold; padding: 0 1;
                text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, content: VisualType = "", **kw: Any) -> None:
        super().__init__(_plain(content), **kw)

    def update(self, content: VisualType = "", **kw: Any) -> None:
        # Titles carry host names: plain text, never markup, no raw controls.
        super().update(_plain(content), **kw)


def _plain(content: VisualType) -> VisualType:
    return Text(printable(content)) if isinstance(content, str) else content


class KeyValues(Static):
    """Label/value rows, labels padded like xsconsole's (16 columns)."""

    DEFAULT_CSS = """
    KeyValues { height: auto; padding: 0 1; }
    """

    def __init__(self, label_width: int = 11, **kw: Any) -> None:
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
            text.append(f"{printable(label):<{self.label_width}}", style="bold " + style)
            text.append(" " + printable(value))
        if footer:
            text.append("\n" + multiline(footer), style="italic")
        self.update(text)


def _fit_cell(cell: object, width: int) -> object:
    """Cut a cell to its column with an ASCII marker: Rich's own ellipsis
    (U+2026) is not in the Linux console font."""
    # Every cell may hold peer text (names, versions): plain Text, never
    # DataTable markup, with control characters escaped.
    if isinstance(cell, Text):
        plain = cell.plain
        if printable(plain) != plain:
            cell = Text(printable(plain), style=cell.style)
    else:
        cell = Text(printable(cell))
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


class KeyTable(DataTable[Any]):
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

    def __init__(self, *, jump_column: int = 0, **kw: Any) -> None:
        kw.setdefault("cursor_type", "row")
        kw.setdefault("zebra_stripes", False)
        super().__init__(**kw)
        self.jump_column = jump_column
        self.cursor_blink = False
        self._shown_rows: Optional[List[Tuple[str, Tuple[object, ...]]]] = None
        self._all_fixed_width = False

    # Textual runs an async action as well as a sync one; DataTable's is sync.
    async def action_cursor_left(self) -> None:  # type: ignore[override]
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

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
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


class VirtualTable(ScrollView, can_focus=True):
    """A read-only table that draws only the rows on screen.

    DataTable builds and measures every row; for the VM list of a 2,000-VM
    pool that costs a third of a second per rebuild on an idle machine and
    seconds while the observer's threads compete for the GIL. This table
    keeps plain rows and renders the visible ones on demand, with
    xsconsole's keys: Up/Down wrap, a letter jumps, Left backs out, Right
    and Enter select.
    """

    COMPONENT_CLASSES = {"virtualtable--header", "virtualtable--cursor"}
    DEFAULT_CSS = """
    VirtualTable { background: $surface; }
    VirtualTable > .virtualtable--header { background: $panel; color: $accent; text-style: bold; }
    VirtualTable > .virtualtable--cursor { background: $block-cursor-background; color: $block-cursor-foreground;
                                           text-style: bold; }
    VirtualTable:blur > .virtualtable--cursor { background: $panel; color: $foreground; text-style: bold; }
    """
    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False, id="vlist.up"),
        Binding("down", "cursor_down", "Down", show=False, id="vlist.down"),
        Binding("pageup", "page_up_rows", "Page up", show=False, id="vlist.page_up"),
        Binding("pagedown", "page_down_rows", "Page down", show=False, id="vlist.page_down"),
        Binding("home", "first_row", "Top", show=False, id="vlist.home"),
        Binding("end", "last_row", "Bottom", show=False, id="vlist.end"),
        Binding("left", "back", "Back", show=False, id="vlist.left"),
    ]

    cursor_row: reactive[int] = reactive(0, repaint=True)

    def __init__(self, columns: Sequence[Tuple[str, int]], **kw: Any) -> None:
        super().__init__(**kw)
        self.columns_spec = tuple(columns)
        self.total_width = sum(width + 2 for _, width in self.columns_spec)
        self._rows: List[Tuple[str, Tuple[object, ...]]] = []

    # --- data -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def replace_rows(self, rows: Sequence[Tuple[str, Sequence[object]]]) -> None:
        keep = self.current_key()
        self._rows = [(key, tuple(cells)) for key, cells in rows]
        index = next((i for i, (key, _) in enumerate(self._rows) if key == keep), None) if keep else None
        self.virtual_size = Size(self.total_width, len(self._rows) + 1)
        self.set_reactive(VirtualTable.cursor_row, min(index or 0, max(0, len(self._rows) - 1)))
        self._scroll_cursor_into_view()
        self.refresh()

    def current_key(self) -> Optional[str]:
        if not self._rows:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)][0]

    def row_text(self, index: int) -> str:
        return " ".join(_cell_text(c) for c in self._rows[index][1])

    # --- movement ------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        if self._rows:
            self.cursor_row = max(0, min(row, len(self._rows) - 1))
            self._scroll_cursor_into_view()

    def _page(self) -> int:
        return max(1, self.size.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        visible = self._page()
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_cursor_up(self) -> None:
        if self._rows:
            self.move_cursor((self.cursor_row - 1) % len(self._rows))

    def action_cursor_down(self) -> None:
        if self._rows:
            self.move_cursor((self.cursor_row + 1) % len(self._rows))

    def action_page_up_rows(self) -> None:
        self.move_cursor(self.cursor_row - self._page())

    def action_page_down_rows(self) -> None:
        self.move_cursor(self.cursor_row + self._page())

    def action_first_row(self) -> None:
        self.move_cursor(0)

    def action_last_row(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    async def action_back(self) -> None:
        await self.screen.run_action("back")

    def on_key(self, event: events.Key) -> None:
        char = event.character or ""
        if len(char) != 1 or not char.isalpha() or not self._rows:
            return
        if event.key in self.screen.active_bindings:
            return
        char = char.lower()
        count = len(self._rows)
        for step in range(1, count + 1):
            row = (self.cursor_row + step) % count
            if _cell_text(self._rows[row][1][0]).lstrip("* ").lower().startswith(char):
                self.move_cursor(row)
                event.stop()
                event.prevent_default()
                return

    # --- drawing ------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            style = self.get_component_rich_style("virtualtable--header")
            cells: Sequence[object] = [label for label, _ in self.columns_spec]
        else:
            index = int(scroll_y) + y - 1
            if index >= len(self._rows):
                return Strip.blank(width, self.rich_style)
            cells = self._rows[index][1]
            style = (
                self.get_component_rich_style("virtualtable--cursor") if index == self.cursor_row else self.rich_style
            )
        line = Text(style=style, no_wrap=True, end="")
        for cell, (_, cell_width) in zip(cells, self.columns_spec):
            piece = _fit_cell(cell, cell_width)
            piece = piece if isinstance(piece, Text) else Text(str(piece))
            line.append(" ")
            line.append_text(piece)
            line.append(" " * (cell_width - piece.cell_len + 1))
        # Text.render drops the base style when a line has no spans: apply it underneath.
        strip = Strip(list(Segment.apply_style(line.render(self.app.console), style)), line.cell_len)
        return strip.crop_extend(int(scroll_x), int(scroll_x) + width, style)

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.call_after_refresh(self._scroll_cursor_into_view)
