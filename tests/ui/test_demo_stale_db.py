"""`xentui --demo stale-db`, keys only: the demo opens at the stale member's
console (xen2), the dashboard says to promote xen3; the connect screen (5)
goes to xen3's console, where r and the wizard take the pool to healthy."""

from __future__ import annotations

from tests.program.test_scenario_stale_db_cli import assert_stale_db_recovered
from tests.ui.test_wizard_fakes import drive_until, wait_for
from tests.ui.ui_helpers import demo_app
from xentui.recovery.findings import Code
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S

TIME_SCALE = 0.01


def _choice(app):
    obs = app.observation
    found = [f for f in obs.findings if f.code is Code.STALE_DB_CHOICE] if obs is not None else []
    return found[0] if found else None


async def test_demo_stale_db_walks_to_the_fresh_member_and_recovers(tmp_path):
    demo, app = demo_app("stale-db", tmp_path, time_scale=TIME_SCALE)
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: _choice(app) is not None, 20)
            assert app.observation.this_host_name == "xen2"
            assert _choice(app).summary.startswith("Promote xen3: newest database copy")
            await pilot.press("5")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConnectScreen", 5)
            table = app.screen.query_one("#targets")
            for _ in range(10):
                if table.current_key() == "demo-host:xen3":
                    break
                await pilot.press("down")
            assert table.current_key() == "demo-host:xen3"
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: (
                    app.observation is not None
                    and app.observation.this_host_name == "xen3"
                    and _choice(app) is not None
                    and "(this host)" in _choice(app).summary
                ),
                20,
            )
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            assert [s.id for s in wizard.plan.steps if s.kind == "promote"] == ["promote:xen3"]
            await drive_until(
                pilot,
                wizard,
                lambda w: w.state is S.SUMMARY and not w.report_writing and bool(w.report_path),
                timeout=120,
            )
            assert "healthy" in wizard.health, wizard.page.plain()
        assert_stale_db_recovered(demo.sim, "xen3")
    finally:
        demo.stop(timeout=1.0)
