"""Helpers for the UI tests: read the screen as text, wait without sleeping long,
the app as `xentui --demo` builds it."""

from __future__ import annotations

import io
import time

from rich.console import Console

from xentui.commands.ui import _demo_opener
from xentui.ui.app import XenTuiApp
from xentui.ui.demo import DemoControl


def screen_text(app) -> str:
    """The current frame as plain text (what a person would read)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text()


async def wait_for(pilot, predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


def demo_app(scenario: str, tmp_path, *, time_scale: float, read_only: bool = False):
    """`xentui --demo SCENARIO` as the command builds it: the demo's pool under
    tmp_path/demo, the audit log at tmp_path/audit.jsonl. Returns (demo, app);
    the caller stops the demo (demo.stop)."""
    demo = DemoControl(scenario, state_dir=tmp_path / "demo", time_scale=time_scale)
    app = XenTuiApp(
        _demo_opener(demo, read_only=read_only),
        target_label="DEMO",
        demo=demo,
        read_only=read_only,
        audit_path=tmp_path / "audit.jsonl",
        time_scale=time_scale,
    )
    return demo, app
