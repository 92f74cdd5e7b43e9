"""Pilot tests of the console UI at 80x25, keyboard only, against hand-built
observations (StaticObserver). The simulator-backed tests are in test_ui_sim.py."""

from __future__ import annotations

import time

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.ui.actions import ACTIONS
from xentui.ui.app import XenTuiApp
from xentui.ui.config import UiConfig
from xentui.ui.profile import ConsoleProfile
from xentui.ui.screens.confirm import ConfirmScreen
from xentui.ui.static_observer import StaticObserver

SIZE = (80, 25)


def make_app(obs=None, **kw) -> XenTuiApp:
    observer = kw.pop("observer", None) or StaticObserver(obs or fx.master_down())
    kw.setdefault("clock", lambda: fx.FIXED_NOW)
    return XenTuiApp(lambda: observer, **kw)


async def ready(app, pilot) -> None:
    assert await wait_for(pilot, lambda: app.observation is not None)
    await pilot.pause()


@pytest.mark.parametrize(
    "scenario,expected",
    [
        ("healthy", ["OK Pool healthy", "Mgmt interface of xcp-b (xapi)", "127.0.0.12"]),
        ("master-down", ["EMERGENCY MODE", "Master xcp-a at 127.0.0.11", "Press r to start recovery", "127.0.0.12"]),
        ("master-hung", ["POOL MASTER NOT ANSWERING", "no answer", "127.0.0.12"]),
        ("no-management-ip", ["EMERGENCY MODE", "no management IP address", "NONE (no address"]),
    ],
)
async def test_dashboard_shows_banner_hosts_and_management(scenario, expected):
    app = make_app(fx.SCENARIOS[scenario]())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        text = screen_text(app)
        for needle in expected + ["xcp-a", "xcp-b", "xcp-c", "Pool: prod-pool", "Host: xcp-b (member)", "local"]:
            assert needle in text, (needle, text)
        assert "Findings" in text


async def test_every_screen_by_keyboard_only():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for key, needle in [
            ("2", "Virtual machines: 10, 3 on a host"),
            ("3", "Network interfaces: 7 PIFs"),
            ("4", "Log of this run"),
            ("5", "Connect to a pool host"),
            ("question_mark", "Help - xentui keys"),
            ("escape", "Connect to a pool host"),
            ("f1", "Help - xentui keys"),
            ("1", "EMERGENCY MODE"),
        ]:
            await pilot.press(key)
            shown = await wait_for(pilot, lambda needle=needle: needle in screen_text(app), timeout=3)
            assert shown, (key, screen_text(app))
        # Enter/Right open the selected host's details; Esc/Left come back.
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: "Host details: xcp-a" in screen_text(app), timeout=3)
        assert "Resident VMs a-vm00, a-vm01, a-vm02" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("down", "right")
        assert await wait_for(pilot, lambda: "Host details: xcp-b" in screen_text(app), timeout=3)
        await pilot.press("left")
        assert await wait_for(pilot, lambda: "(* = this host)" in screen_text(app), timeout=3)


async def test_host_list_wraps_and_letter_jumps_like_xsconsole():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        table = app.screen.query_one("#hosts")
        assert table.cursor_row == 0
        await pilot.press("up")  # wraps to the last host
        assert table.cursor_row == 2
        await pilot.press("down")  # and back to the first
        assert table.cursor_row == 0
        await pilot.press("x")  # next item starting with x
        assert table.cursor_row == 1
        assert "Selected host: xcp-b" in screen_text(app)
        await pilot.press("escape")  # Esc at the root: back to the first item
        assert table.cursor_row == 0
        await pilot.press("r")  # a bound letter keeps its meaning (recovery), it does not jump
        await pilot.pause()
        assert app.screen is not None and type(app.screen).__name__ in ("RecoveryWizard", "PlanScreen")


async def test_filter_vms_with_slash_and_escape_clears_then_goes_back():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("2", "slash", "c", "-")
        assert await wait_for(pilot, lambda: "filter 'c-': 3 shown" in screen_text(app), timeout=3)
        text = screen_text(app)
        assert "c-vm00" in text and "a-vm00" not in text
        await pilot.press("q")  # typing: q is text in the filter, not quit
        assert app.is_running
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: "a-vm00" in screen_text(app), timeout=3)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: "(* = this host)" in screen_text(app), timeout=3)


async def test_live_update_changes_the_banner_without_a_key():
    observer = StaticObserver(fx.healthy())
    app = make_app(observer=observer)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert "OK Pool healthy" in screen_text(app)
        observer.push(fx.master_down())
        assert await wait_for(pilot, lambda: "EMERGENCY MODE" in screen_text(app), timeout=3)
        assert "observation: connection emergency" in "\n".join(app.log_lines)


async def test_read_only_marker_and_hint():
    app = make_app(read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        text = screen_text(app)
        assert "READ-ONLY" in text and "Press r to show the recovery plan" in text


async def test_demo_key_absent_without_demo_and_demo_marker_shown_with_it():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        assert type(app.screen).__name__ == "DashboardScreen"
        assert "d Demo" not in screen_text(app)


async def test_help_is_generated_from_the_registry():
    app = make_app()
    async with app.run_test(size=(120, 200)) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: "Help - xentui keys" in screen_text(app), timeout=3)
        text = screen_text(app)
        for action in ACTIONS:
            if not action.demo_only:
                assert f"[{action.id}]" in text, action.id


async def test_keymap_from_config_remaps_keys(tmp_path):
    app = make_app(config=UiConfig(keys={"app.quit": "x", "app.screen.vms": "v"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert "x Quit" in screen_text(app) and "v VMs" in screen_text(app)
        await pilot.press("v")
        assert await wait_for(pilot, lambda: "Virtual machines" in screen_text(app), timeout=3)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=3)


async def test_confirm_modal_f8_y_yes_escape_n_no():
    app = make_app()
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for key, expected in (("f8", True), ("y", True), ("escape", False), ("n", False)):
            app.push_screen(ConfirmScreen("Promote xcp-b to master?", ["It restarts xapi."]), answers.append)
            await pilot.pause()
            assert "<F8> Yes" in screen_text(app) and "Promote xcp-b" in screen_text(app)
            await pilot.press(key)
            await pilot.pause()
            assert answers[-1] is expected
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_terminal_too_small_screen_and_recovery():
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(app, pilot)
        assert await wait_for(pilot, lambda: "Terminal too small: 60x20" in screen_text(app), timeout=3)
        await pilot.resize_terminal(80, 24)
        assert await wait_for(pilot, lambda: "EMERGENCY MODE" in screen_text(app), timeout=3)
        await pilot.resize_terminal(79, 24)
        assert await wait_for(pilot, lambda: "Terminal too small" in screen_text(app), timeout=3)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=3)


async def test_larger_terminal_uses_the_space():
    app = make_app(fx.large(300))
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(app, pilot)
        await pilot.press("2")
        assert await wait_for(pilot, lambda: "Virtual machines: 304" in screen_text(app), timeout=5)
        assert screen_text(app).count("-vm") >= 40  # the table fills the taller screen


async def test_keys_answer_and_q_quits_while_the_observer_hangs():
    observer = StaticObserver(fx.master_hung(), delay=30.0)  # every observe() blocks 30 s
    app = make_app(observer=observer, follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert app.observation is None
        await pilot.press("2")
        assert await wait_for(
            pilot, lambda: "Virtual machines" in screen_text(app) or type(app.screen).__name__ == "VmsScreen", timeout=1
        )
        await pilot.press("f5")  # another blocked observe: still answers
        await pilot.press("1")
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=1)
        started = time.monotonic()
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=2)
    assert time.monotonic() - started < 1.0


async def test_console_profile_uses_the_vt_theme():
    app = make_app(profile=ConsoleProfile(True, "--basic"))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.theme == "xentui-vt" and app.animation_level == "none"
        assert "EMERGENCY MODE" in screen_text(app)
