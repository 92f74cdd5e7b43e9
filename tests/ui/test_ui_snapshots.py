"""SVG snapshots of the dashboard at 80x25 (normal look and the Linux-console
profile), from hand-built observations with a fixed clock, so they are
deterministic. Update after a deliberate change: pytest --snapshot-update."""

from __future__ import annotations

import time

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.ui_helpers import wait_for
from xentui.ui.app import XenTuiApp
from xentui.ui.profile import ConsoleProfile
from xentui.ui.static_observer import StaticObserver


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch):
    """The top bar shows local time: pin the zone so snapshots match everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _app(scenario: str, basic: bool, **kw) -> XenTuiApp:
    observer = StaticObserver(fx.SCENARIOS[scenario]())
    # follow=False: one observe() worker that completes, so the test can wait for it.
    return XenTuiApp(
        lambda: observer,
        clock=lambda: fx.FIXED_NOW,
        profile=ConsoleProfile(basic, "--basic" if basic else ""),
        follow=False,
        **kw,
    )


async def _wait_for_dashboard(pilot) -> None:
    app = pilot.app
    assert await wait_for(pilot, lambda: app.observation is not None)
    await app.workers.wait_for_complete()
    for _ in range(3):  # let highlight/footer/size-guard messages settle
        await pilot.pause()


@pytest.mark.parametrize("basic", [False, True], ids=["rich", "console"])
@pytest.mark.parametrize("scenario", ["healthy", "master-down", "master-hung", "no-management-ip"])
def test_dashboard_snapshot(snap_compare, scenario, basic):
    assert snap_compare(_app(scenario, basic), terminal_size=(80, 25), run_before=_wait_for_dashboard)


def test_vms_screen_snapshot(snap_compare):
    async def run_before(pilot):
        await _wait_for_dashboard(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(_app("master-down", False), terminal_size=(80, 25), run_before=run_before)


def test_read_only_console_snapshot(snap_compare):
    assert snap_compare(
        _app("master-down", True, read_only=True), terminal_size=(80, 25), run_before=_wait_for_dashboard
    )
