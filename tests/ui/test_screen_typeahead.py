"""Keys typed right after a key that opens a screen or moves the focus land there, in order.

Each burst is queued at once, with no pause (as a fast typist or a paste delivers it): the
key that opens the help, the demo panel, the host details, the recovery wizard or the VM
filter must have done so before the next key is routed, so that key reaches the new screen
and never the dashboard behind it (letters jump hosts there, digits switch screens).
The dashboard's host cursor is the witness: a letter that leaked would have moved it."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.test_connect_typeahead import SIZE, Recorder, burst, ready
from tests.ui.test_wizard_fakes import FakeExecutor, FakeObserver, master_down_plan
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.recovery.audit import AuditLog
from xentui.ui import app as app_module
from xentui.ui.app import XenTuiApp
from xentui.ui.screens.demo_panel import DemoPanel
from xentui.ui.screens.help import HelpScreen
from xentui.ui.static_observer import StaticObserver
from xentui.ui.wizard import RecoveryWizard, WizardState


def make_app(**kw) -> XenTuiApp:
    return XenTuiApp(
        lambda: StaticObserver(fx.master_down()),
        clock=lambda: fx.FIXED_NOW,
        make_observer=Recorder(),
        follow=False,
        **kw,
    )


def hosts_of(app):
    return app.get_screen_stack("dashboard")[0].query_one("#hosts")


# --- help, demo panel, host details --------------------------------------------------------


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_keys_after_help_reach_the_help_not_the_dashboard(key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, [key, "x", "c"])  # x, c: the dashboard would jump to xcp-b, xcp-c
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=5)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert hosts_of(app).cursor_row == 0, screen_text(app)


async def test_help_opened_and_closed_in_one_burst_then_the_dashboard_gets_the_rest():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["question_mark", "escape", "x"])  # x after the close: the dashboard's jump to xcp-b
        assert await wait_for(pilot, lambda: hosts_of(app).cursor_row == 1, timeout=5), screen_text(app)
        assert type(app.screen).__name__ == "DashboardScreen"


def fake_demo():
    faults = [SimpleNamespace(id=i, label=label) for i, label in (("a", "Alpha"), ("b", "Bravo"), ("c", "Charlie"))]
    return SimpleNamespace(sim=object(), faults=lambda: faults, history=[])


async def test_keys_after_d_move_in_the_demo_panel():
    app = make_app(demo=fake_demo())
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["d", "down", "down"])  # on the dashboard, Down would move the host cursor
        assert await wait_for(pilot, lambda: isinstance(app.screen, DemoPanel), timeout=5)
        faults = app.screen.query_one("#faults")
        assert await wait_for(pilot, lambda: faults.cursor_row == 2, timeout=5), screen_text(app)
        assert hosts_of(app).cursor_row == 0


@pytest.mark.parametrize("key", ["enter", "right"])
async def test_keys_after_enter_go_to_the_host_details(key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, [key, "x", "escape", "x"])  # the first x is the details page's (unused), the second the list's
        assert await wait_for(pilot, lambda: hosts_of(app).cursor_row == 1, timeout=5), screen_text(app)
        assert type(app.screen).__name__ == "DashboardScreen"
        assert isinstance(app.screen_stack[-1], type(app.get_screen_stack("dashboard")[0]))


async def test_details_of_the_highlighted_host_and_nothing_leaks():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        first = hosts_of(app).current_key()
        burst(app, ["enter", "x", "c", "1"])  # 1 closes the details: the burst ends on the dashboard
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=5)
        await pilot.pause()
        assert hosts_of(app).cursor_row == 0 and hosts_of(app).current_key() == first


async def test_tab_moves_the_focus_before_the_next_key():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["tab", "x", "tab", "x"])  # the first x reaches the findings (no jump), the second the list
        assert await wait_for(pilot, lambda: hosts_of(app).cursor_row == 1, timeout=5), screen_text(app)
        await pilot.pause()  # the first x is still bubbling up from the findings: let it land
        assert app.focused is hosts_of(app)


# --- the VM and network filters --------------------------------------------------------------


@pytest.mark.parametrize("screen_key", ["2", "3"])
async def test_letters_after_slash_are_the_filter(screen_key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, [screen_key, "slash", *"xcp-d1"])  # d: the demo key; 1: a screen key; both are text here
        name = {"2": "VmsScreen", "3": "NetworkScreen"}[screen_key]
        assert await wait_for(
            pilot,
            lambda: type(app.screen).__name__ == name and app.screen.query_one("#filter").value == "xcp-d1",
            timeout=5,
        ), screen_text(app)
        assert app.screen.query_one("#filter").has_focus
        assert app.screen.query_one("#table").cursor_row == 0


# --- the recovery wizard: r, then the whole run typed ahead ------------------------------------


@pytest.fixture
def wizard_app(tmp_path, monkeypatch):
    """The real app and its real `r`, with the wizard on a scripted executor."""
    executor = FakeExecutor()
    made = []

    def wizard_factory(observer, plan, executor_, *, read_only=False, audit=None):
        wizard = RecoveryWizard(
            FakeObserver(),
            master_down_plan(),
            executor,
            audit=AuditLog(tmp_path / "audit.jsonl"),
            report_dir=tmp_path / "reports",
        )
        made.append(wizard)
        return wizard

    monkeypatch.setattr(app_module, "_load_wizard", lambda: wizard_factory)
    app = make_app(audit_path=tmp_path / "audit.jsonl")
    monkeypatch.setattr(app, "_make_executor", lambda: (executor, None))
    return app, executor, made


async def test_r_then_the_whole_recovery_typed_ahead(wizard_app):
    app, executor, made = wizard_app
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        # Step 1 (Enter to run): open the wizard, the step, run its checks, confirm.
        burst(app, ["r", "enter", "enter", "enter"])
        assert await wait_for(pilot, lambda: made and made[0].state is WizardState.RESULT, timeout=10)
        wizard = made[0]
        assert app.screen is wizard
        assert executor.ran == [("confirm-master-down", "")]
        # Step 2 (typed host name, after attesting xs01 is fenced): every digit is the wizard's.
        burst(app, ["enter", "enter", *"xs01", "enter", *"xs02", "enter"])
        assert await wait_for(pilot, lambda: len(executor.ran) == 2 and wizard.state is WizardState.RESULT, timeout=10)
        assert executor.attested == ["xs01"]
        assert executor.ran[1] == ("promote:xs02", "")
        # Step 3 (F8), typed ahead of its checks.
        burst(app, ["enter", "enter", "f8"])
        assert await wait_for(pilot, lambda: len(executor.ran) == 3 and wizard.state is WizardState.RESULT, timeout=10)
        assert executor.ran[2] == ("recover-members", "")
        assert app.screen is wizard
        assert hosts_of(app).cursor_row == 0  # no key reached the dashboard


async def test_a_burst_never_confirms_two_steps(wizard_app):
    app, executor, made = wizard_app
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["r", "enter", "enter", "enter", "enter", "enter", "enter"])
        assert await wait_for(pilot, lambda: made and made[0].state is WizardState.RESULT, timeout=10)
        for _ in range(5):
            await pilot.pause()
        assert executor.ran == [("confirm-master-down", "")]


async def test_a_wrong_name_typed_ahead_is_refused(wizard_app):
    app, executor, made = wizard_app
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["r", "enter", "enter", "enter"])
        assert await wait_for(pilot, lambda: made and made[0].state is WizardState.RESULT, timeout=10)
        wizard = made[0]
        burst(app, ["enter", "enter", *"xs01", "enter", *"xs03", "f8"])
        assert await wait_for(pilot, lambda: "does not match" in wizard.error, timeout=10), screen_text(app)
        assert wizard.state is WizardState.CONFIRM
        assert len(executor.ran) == 1


async def test_esc_during_the_checks_drops_what_was_typed_ahead(wizard_app):
    app, executor, made = wizard_app
    hold = threading.Event()
    executor.check_hold["confirm-master-down"] = hold
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, ["r", "enter", "enter", "d", "x", "enter", "escape"])
        assert await wait_for(pilot, lambda: made and made[0].state is WizardState.STEP_DETAIL, timeout=10)
        wizard = made[0]
        assert await wait_for(pilot, lambda: executor.checked == ["confirm-master-down"], timeout=5)
        hold.set()
        for _ in range(5):
            await pilot.pause()
        assert wizard.state is WizardState.STEP_DETAIL  # the checks' late answer is stale
        assert executor.ran == []
        assert app.screen is wizard
        assert hosts_of(app).cursor_row == 0


async def test_q_during_the_checks_still_quits(wizard_app):
    app, executor, made = wizard_app
    hold = threading.Event()
    executor.check_hold["confirm-master-down"] = hold
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            burst(app, ["r", "enter", "enter"])
            assert await wait_for(pilot, lambda: made and made[0].state is WizardState.PRECHECK, timeout=10)
            await pilot.press("q")
            assert await wait_for(pilot, lambda: not app.is_running, timeout=5)
    finally:
        hold.set()
    assert executor.ran == []


async def test_screen_keys_leave_a_modal_question_open(wizard_app):
    """A modal question keeps its keys: the screen keys do not act under it."""
    from xentui.ui.screens.confirm import ConfirmScreen

    app, executor, made = wizard_app
    answers = []
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.push_screen(ConfirmScreen("Promote xcp-b to master?"), answers.append)
        await pilot.pause()
        burst(app, ["question_mark", "f1", "r", "d"])
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert await wait_for(pilot, lambda: answers == [False], timeout=5)
        assert not made


@pytest.mark.parametrize("screen_key", ["2", "3"])
async def test_left_in_the_filter_stays_in_the_filter(screen_key):
    """Esc/Left go back as priority keys, except Left in the filter line: it moves the cursor there."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, [screen_key, "slash", *"ab", "left"])
        name = {"2": "VmsScreen", "3": "NetworkScreen"}[screen_key]
        assert await wait_for(
            pilot,
            lambda: type(app.screen).__name__ == name and app.screen.query_one("#filter").cursor_position == 1,
            timeout=5,
        ), screen_text(app)
        filt = app.screen.query_one("#filter")
        assert filt.value == "ab" and app.focused is filt
        burst(app, ["escape", "escape", "x"])  # clear the filter, go back, then the dashboard's x (xcp-b)
        assert await wait_for(pilot, lambda: hosts_of(app).cursor_row == 1, timeout=5), screen_text(app)
        assert filt.value == ""


@pytest.mark.parametrize("screen_key", ["2", "3", "5"])
async def test_keys_after_esc_reach_the_dashboard(screen_key):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        burst(app, [screen_key, "escape", "x"])
        assert await wait_for(pilot, lambda: hosts_of(app).cursor_row == 1, timeout=5), screen_text(app)
        assert type(app.screen).__name__ == "DashboardScreen"
