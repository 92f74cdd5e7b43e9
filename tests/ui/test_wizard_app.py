"""The wizard inside the real app: `xentui --demo` (master-down), opened from
the dashboard with one key, driven by keys alone to a healthy pool."""

from __future__ import annotations

import time

from tests.ui.test_wizard_fakes import drive_until, wait_for
from tests.ui.ui_helpers import demo_app
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S

TIME_SCALE = 0.01


def _summary_with_report(wizard) -> bool:
    return wizard.state is S.SUMMARY and not wizard.report_writing and bool(wizard.report_path)


async def test_demo_master_down_from_dashboard_key_to_healthy_pool(tmp_path):
    demo, app = demo_app("master-down", tmp_path, time_scale=TIME_SCALE)
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.observation is not None and app.observation.findings, 20)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            assert not wizard.read_only
            # Host names such as "xen1" contain digits the app binds to its screens:
            # typed into the wizard they must stay in the wizard.
            keys = await drive_until(pilot, wizard, _summary_with_report, timeout=90)
            assert app.screen is wizard
            assert "healthy" in wizard.health, wizard.page.plain()
            assert keys < 60
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, RecoveryWizard), 5)
    finally:
        demo.stop(timeout=1.0)
    assert (tmp_path / "audit.jsonl").exists()


async def test_demo_read_only_wizard_shows_plan_and_runs_nothing(tmp_path):
    demo, app = demo_app("master-down", tmp_path, time_scale=TIME_SCALE, read_only=True)
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.observation is not None and app.observation.findings, 20)
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            assert wizard.read_only
            await pilot.press("enter")
            for _ in wizard.plan.steps:
                await pilot.press("enter", "f8")
                await pilot.pause(0.05)
                assert wizard.state is S.STEP_DETAIL
                assert "xe equivalent:" in wizard.page.plain()
                await pilot.press("down")
            started = time.monotonic()
            while time.monotonic() - started < 0.2:
                await pilot.pause(0.05)
    finally:
        demo.stop(timeout=1.0)
    audit = tmp_path / "audit.jsonl"
    assert not audit.exists() or "step-start" not in audit.read_text()
