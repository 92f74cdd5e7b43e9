"""Regenerate the README screenshots (run by developers, not by CI).

    .venv/bin/python screenshots/make_screenshots.py

Writes SVGs of the main screens at 80x25 (App.export_screenshot), from the
hand-built observations in tests/ui/ui_fixtures.py with a fixed clock, so a
rerun only changes what the UI changed. PNGs are converted when a converter
is available, in this order: the `cairosvg` module, a `cairosvg` command
(e.g. `python3 -m venv /tmp/shots && /tmp/shots/bin/pip install cairosvg`,
then CAIROSVG=/tmp/shots/bin/cairosvg), or `rsvg-convert` (Debian: librsvg2-bin).
Without one, only the SVGs are written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT))

from tests.ui import ui_fixtures as fx  # noqa: E402
from tests.ui.ui_helpers import wait_for  # noqa: E402
from xentui.ui.app import XenTuiApp  # noqa: E402
from xentui.ui.profile import ConsoleProfile  # noqa: E402
from xentui.ui.static_observer import StaticObserver  # noqa: E402

SIZE = (80, 25)

# name -> (scenario, console profile, keys pressed after the dashboard is up, read_only)
SHOTS = {
    "dashboard-master-down": ("master-down", False, (), False),
    "dashboard-healthy": ("healthy", False, (), False),
    "dashboard-no-management-ip": ("no-management-ip", False, (), False),
    "dashboard-master-hung-console": ("master-hung", True, (), False),
    "vms-master-down": ("master-down", False, ("2",), False),
    "network-master-down": ("master-down", False, ("3",), False),
    "host-details": ("master-down", False, ("enter",), False),
    "help": ("master-down", False, ("question_mark",), False),
    "connect": ("master-down", False, ("5",), False),
    "dashboard-read-only-console": ("master-down", True, (), True),
}


async def shoot(name: str, scenario: str, basic: bool, keys, read_only: bool) -> Path:
    observer = StaticObserver(fx.SCENARIOS[scenario]())
    app = XenTuiApp(
        lambda: observer,
        clock=lambda: fx.FIXED_NOW,
        follow=False,
        read_only=read_only,
        profile=ConsoleProfile(basic, "--basic" if basic else ""),
    )
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.observation is not None)
        await app.workers.wait_for_complete()
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        for _ in range(3):
            await pilot.pause()
        svg = app.export_screenshot(title=f"xentui - {name}")
    path = HERE / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def to_png(svg: Path) -> bool:
    png = svg.with_suffix(".png")
    try:
        import cairosvg  # type: ignore[import-not-found]

        cairosvg.svg2png(url=str(svg), write_to=str(png))
        return True
    except ImportError:
        pass
    command = os.environ.get("CAIROSVG") or shutil.which("cairosvg")
    if command:
        subprocess.run([command, str(svg), "-o", str(png)], check=True, timeout=60)
        return True
    rsvg = shutil.which("rsvg-convert")
    if rsvg:
        subprocess.run([rsvg, "-o", str(png), str(svg)], check=True, timeout=60)
        return True
    return False


def main() -> int:
    converted = 0
    for name, (scenario, basic, keys, read_only) in SHOTS.items():
        svg = asyncio.run(shoot(name, scenario, basic, keys, read_only))
        if to_png(svg):
            converted += 1
        print(svg.relative_to(ROOT))
    if not converted:
        print("no SVG->PNG converter found: wrote SVGs only (see this script's docstring)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
