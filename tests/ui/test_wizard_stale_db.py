"""stale-db through the wizard, by keys alone: at the stale member's console the
wizard shows the choice (each member's copy, the fresh one to promote) and
stops at the promote step without changing anything; at the fresh member's
console the same keys an agreeing operator presses take the pool to healthy,
verified through the real XenAPI SDK."""

from __future__ import annotations

from tests.program.test_scenario_stale_db_cli import assert_stale_db_recovered
from tests.recovery.test_stale_db_choice import minutes_old
from tests.ui.test_wizard_fakes import SIZE, WizardHost, drive_until, flat, wait_state, words
from tests.ui.test_wizard_sim import keys_to_healthy_summary, open_at, sdk_session, summary_reached
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S


async def test_stale_member_shows_the_choice_and_stops_before_promoting(start_sim, tmp_path):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl")
    try:
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            page = flat(words(wizard))
            assert "Database copies of the surviving members: xen3: generation" in page, page
            assert 2 <= minutes_old(page, "(newest),") <= 4, page
            assert 15 <= minutes_old(page, "writes behind xen3),") <= 17, page
            await drive_until(pilot, wizard, lambda w: w.state is S.CHOOSE, timeout=60)
            page = flat(words(wizard))
            assert "> 1. xen3 (suggested)" in page and "2. xen2" in page, page
            assert "xen3 holds the newest copy of the pool database" in page, page
            await drive_until(pilot, wizard, lambda w: w.state is S.BLOCKED, timeout=60)
            assert wizard.step.id == "promote:xen3"
            page = flat(words(wizard))
            assert "cannot run now. Nothing was changed." in page, page
            assert "[FAIL] on-console:xen3" in page and "run xentui on xen3's console" in page, page
        for name in ("xen2", "xen3"):
            proc = sim.proc(name)
            assert proc.role == "slave" and proc.emergency, name
    finally:
        observer.close()


async def test_stale_db_recovered_by_keyboard_on_the_fresh_member(start_sim, tmp_path):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    observer, audit, executor, plan = open_at(sim, "xen3", tmp_path / "audit.jsonl")
    try:
        assert [s.id for s in plan.steps if s.kind == "promote"] == ["promote:xen3"]
        keys = await keys_to_healthy_summary(observer, plan, executor, audit, tmp_path / "reports")
        print(f"stale-db wizard keystrokes: {keys}")
        assert_stale_db_recovered(sim, "xen3")
    finally:
        observer.close()


async def test_the_operator_chooses_the_stale_member_and_is_told_what_is_lost(start_sim, tmp_path):
    """At xen2's console the operator picks xen2 at the promote step: the plan is
    re-built for it, its text says which writes are lost, and the recovery ends
    healthy with xen2 as master and new01 gone, as it said."""
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl")
    try:
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            await drive_until(pilot, wizard, lambda w: w.state is S.CHOOSE, timeout=60)
            await pilot.press("2", "enter")
            await drive_until(pilot, wizard, lambda w: w.state is S.CONFIRM, timeout=30)
            assert wizard.step.id == "promote:xen2"
            page = flat(words(wizard))
            assert "re-built for promoting xen2" in page, page
            assert "xen2's database copy lacks" in page and "writes xen3's has" in page, page
            await drive_until(pilot, wizard, summary_reached, timeout=120)
            assert "healthy" in wizard.health, words(wizard)
        session = sdk_session(sim, "xen2")
        try:
            api = session.xenapi
            assert api.host.get_name_label(api.pool.get_master(api.pool.get_all()[0])) == "xen2"
            assert api.VM.get_by_name_label("new01") == []  # only xen3's copy had it
            for name in ("web01", "db01", "app01"):
                assert api.VM.get_power_state(api.VM.get_by_name_label(name)[0]) == "Running", name
        finally:
            session.xenapi.session.logout()
        assert sim.world.double_starts == []
    finally:
        observer.close()
