"""Keys typed ahead on the connect screen go to the focused field, in order.

The keys are sent as one burst, with no pause between them (as a fast typist
or a paste into the terminal delivers them): Enter in the target field must
move the typing to the password field before the next key is routed, so a
password can never end up in the target field, nor in an error message that
quotes the target.

The burst may also start on the dashboard with the `5` that opens the
connect screen: the keys after it belong to the connect screen (not to the
dashboard's letter-jump, not lost while the screen mounts)."""

from __future__ import annotations

import unicodedata

import pytest
from textual import events

from tests.program.test_tty_demo import TMUX, Tmux, installed_xentui
from tests.program.test_tty_demo import wait_until as tty_wait
from tests.ui import ui_fixtures as fx
from tests.ui.test_wizard_fakes import FakeExecutor, FakeObserver, master_down_plan, wait_state
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.recovery.audit import AuditLog
from xentui.ui.app import XenTuiApp
from xentui.ui.screens.confirm import ConfirmScreen
from xentui.ui.static_observer import StaticObserver
from xentui.ui.wizard import RecoveryWizard, WizardState

SIZE = (80, 25)
SECRET = "s3cr3t-Pa55"


def burst(app, keys) -> None:
    """Queue every key at once, as the terminal driver does for typed-ahead
    input (Pilot.press waits for the app to go idle after each key). The key
    events are built the way Pilot builds them."""
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


class Recorder:
    """make_observer for the app: records what a connect was asked to use."""

    def __init__(self) -> None:
        self.calls = []

    def __call__(self, target, password=None, read_only=False):
        self.calls.append((target.raw, password))
        return StaticObserver(fx.healthy())


def make_app(recorder) -> XenTuiApp:
    return XenTuiApp(
        lambda: StaticObserver(fx.master_down()), clock=lambda: fx.FIXED_NOW, make_observer=recorder, follow=False
    )


async def ready(app, pilot):
    assert await wait_for(pilot, lambda: app.observation is not None)
    await pilot.pause()


async def open_connect_screen(app, pilot):
    await pilot.press("5")
    assert await wait_for(
        pilot,
        lambda: type(app.screen).__name__ == "ConnectScreen" and app.screen.query_one("#targets").has_focus,
        timeout=5,
    )


@pytest.mark.parametrize("repeat", range(3))
async def test_burst_from_the_list_to_connect(repeat):
    recorder = Recorder()
    app = make_app(recorder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await open_connect_screen(app, pilot)
        # Everything below is typed before the screen has handled the first key.
        burst(app, ["down", "enter", *"http://127.0.0.12", "enter", *SECRET, "enter"])
        assert await wait_for(pilot, lambda: recorder.calls, timeout=10), screen_text(app)
        assert recorder.calls == [("http://127.0.0.12", SECRET)]
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=10)
        assert SECRET not in screen_text(app) and SECRET not in "\n".join(app.log_lines)


async def test_burst_into_an_invalid_target_never_shows_the_password():
    recorder = Recorder()
    app = make_app(recorder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await open_connect_screen(app, pilot)
        burst(app, ["down", "enter", *"http://127.0.0.300", "enter", *SECRET, "enter"])
        assert await wait_for(pilot, lambda: "Invalid target" in screen_text(app), timeout=10), screen_text(app)
        screen = app.screen
        assert screen.query_one("#target").value == "http://127.0.0.300"
        assert screen.query_one("#password").value == SECRET
        assert "invalid IPv4 address '127.0.0.300'" in screen_text(app)
        assert SECRET not in screen_text(app) and SECRET not in "\n".join(app.log_lines)
        assert recorder.calls == []
        # The error put the cursor back in the target field: the fix is typed there.
        burst(app, ["backspace", "backspace", "backspace", *"12", "enter", "enter"])
        assert await wait_for(pilot, lambda: recorder.calls, timeout=10), screen_text(app)
        assert recorder.calls == [("http://127.0.0.12", SECRET)]


async def test_burst_with_field_moves_and_backspace_keeps_the_order():
    recorder = Recorder()
    app = make_app(recorder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await open_connect_screen(app, pilot)
        burst(
            app,
            [
                "down",
                "enter",
                *"http://127.0.0.99",
                "backspace",
                "backspace",
                *"12",
                "down",
                *"pw",
                "up",
                *"",
                "down",
                "backspace",
                *"w!",
                "enter",
            ],
        )
        assert await wait_for(pilot, lambda: recorder.calls, timeout=10), screen_text(app)
        assert recorder.calls == [("http://127.0.0.12", "pw!")]


# --- the burst starts on the dashboard, with the `5` that opens this screen ------------------


def connect_screen(app):
    """The connect screen, also once a connect took the app back to the dashboard."""
    return app.get_screen_stack("connect")[0]


def assert_secret_nowhere(app) -> None:
    assert SECRET not in screen_text(app), screen_text(app)
    assert SECRET not in "\n".join(app.log_lines)
    assert SECRET not in connect_screen(app).query_one("#target").value


@pytest.mark.parametrize("repeat", range(3))
async def test_burst_from_the_dashboard_through_a_valid_target(repeat):
    recorder = Recorder()
    app = make_app(recorder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        hosts = app.screen.query_one("#hosts")
        assert hosts.cursor_row == 0
        # `x` and `c` would jump the dashboard's host list (xcp-b, xcp-c); digits would switch screens.
        target = "https://xcp-c.invalid:8443"
        burst(app, ["5", "down", "enter", *target, "enter", *SECRET, "enter"])
        assert await wait_for(pilot, lambda: recorder.calls, timeout=10), screen_text(app)
        assert recorder.calls == [(target, SECRET)]
        assert connect_screen(app).query_one("#target").value == target
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=10)
        assert hosts.cursor_row == 0  # no key of the burst reached the dashboard
        assert_secret_nowhere(app)


async def test_burst_from_the_dashboard_into_an_invalid_target_never_shows_the_password():
    recorder = Recorder()
    app = make_app(recorder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["5", "down", "enter", *"http://127.0.0.300", "enter", *SECRET, "enter"])
        assert await wait_for(pilot, lambda: "Invalid target" in screen_text(app), timeout=10), screen_text(app)
        screen = app.screen
        assert type(screen).__name__ == "ConnectScreen"
        assert screen.query_one("#target").value == "http://127.0.0.300"
        assert screen.query_one("#password").value == SECRET
        assert screen.query_one("#target").has_focus  # the error put the cursor where the fix goes
        assert recorder.calls == []
        assert_secret_nowhere(app)


async def test_burst_of_5_then_1_goes_back_to_the_dashboard_and_keys_follow():
    app = make_app(Recorder())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        hosts = app.screen.query_one("#hosts")
        burst(app, ["5", "1", "x"])  # x: the dashboard's letter-jump, to xcp-b
        assert await wait_for(pilot, lambda: hosts.cursor_row == 1, timeout=5), screen_text(app)
        assert type(app.screen).__name__ == "DashboardScreen"
        assert connect_screen(app).is_mounted  # it was opened, in between
        assert connect_screen(app).query_one("#target").value == ""


async def test_digits_typed_in_a_field_stay_in_the_field():
    app = make_app(Recorder())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["5", "down", "enter", *"12345"])
        assert await wait_for(
            pilot,
            lambda: type(app.screen).__name__ == "ConnectScreen" and app.screen.query_one("#target").value == "12345",
            timeout=5,
        ), screen_text(app)
        assert type(app.screen).__name__ == "ConnectScreen"


async def test_a_digit_leaves_a_modal_question_open():
    app = make_app(Recorder())
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.push_screen(ConfirmScreen("Promote xcp-b to master?"), answers.append)
        await pilot.pause()
        burst(app, ["5", "1"])
        await pilot.pause()
        await pilot.press("n")
        assert await wait_for(pilot, lambda: answers == [False], timeout=5)
        assert type(app.screen).__name__ == "DashboardScreen"


async def test_digits_of_a_typed_host_name_stay_in_the_wizard(tmp_path):
    """The screen keys act as the app reads them (priority bindings): the
    wizard, which reads typed host names key by key, keeps its digits."""
    executor = FakeExecutor()
    wizard = RecoveryWizard(
        FakeObserver(),
        master_down_plan(),
        executor,
        audit=AuditLog(tmp_path / "audit.jsonl"),
        report_dir=tmp_path / "reports",
    )
    app = make_app(Recorder())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.push_screen(wizard)
        await wait_state(pilot, wizard, WizardState.OVERVIEW)
        burst(app, ["1", "5"])
        await pilot.pause()
        assert app.screen is wizard
        for key, state in (
            ("enter", WizardState.STEP_DETAIL),
            ("enter", WizardState.CONFIRM),
            ("enter", WizardState.RESULT),
        ):
            await pilot.press(key)
            await wait_state(pilot, wizard, state)
        await pilot.press("enter", "enter")
        await wait_state(pilot, wizard, WizardState.ATTEST)
        burst(app, [*"xs01"])
        assert await wait_for(pilot, lambda: wizard.typed == "xs01", timeout=5), wizard.typed
        assert app.screen is wizard


# --- the same burst in a real terminal: the installed command, tmux, TERM=linux ---------------


@pytest.mark.tty
@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_burst_in_a_real_terminal_from_the_dashboard(tmp_path):
    """One `send-keys`: tmux writes every key to the pty at once, so the app
    reads them as typed-ahead input. Up wraps the connect list to its last
    row ("Another host"), whatever rows the demo and profiles add."""
    tmux = Tmux(tmp_path)
    env = f"TERM=linux XDG_CONFIG_HOME={tmp_path}/config XDG_STATE_HOME={tmp_path}/state XDG_DATA_HOME={tmp_path}/data"
    try:
        tmux.run(
            "new-session", "-d", "-s", "demo", "-x", "80", "-y", "25", f"exec env {env} {installed_xentui()} --demo"
        )
        assert tty_wait(lambda: "EMERGENCY MODE" in tmux.capture(), timeout=30), tmux.capture()
        # (a string that is no key name is sent as its characters)
        tmux.run("send-keys", "-t", "demo", "5", "Up", "Enter", "http://127.0.0.300", "Enter", SECRET, "Enter")
        assert tty_wait(lambda: "Invalid target" in tmux.capture(), timeout=15), tmux.capture()
        screen = tmux.capture()
        assert "Connect to a pool host" in screen and "http://127.0.0.300" in screen
        assert "invalid IPv4 address '127.0.0.300'" in screen, screen
        assert SECRET not in screen
        tmux.run("send-keys", "-t", "demo", "q")
    finally:
        tmux.kill()


async def test_a_connect_that_finishes_while_quitting_switches_no_screen():
    """The burst test above once lost this race: its connect finished as the test
    app closed, and switching to the dashboard found no screen (ScreenStackError)."""
    app = make_app(Recorder())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
    assert app.show_screen("dashboard") is None  # closed: nothing to switch, nothing raised
