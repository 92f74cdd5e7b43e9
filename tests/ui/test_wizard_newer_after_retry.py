"""member-newer in the wizard after the member's 60 s retry (coordinator off,
the stored error no longer names HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR):
still the clear stop, and P still re-plans with the promotion's cost stated
(recovery/newer_member.py: the installed xapi against the coordinator's
recorded xapi_build, as xapi.ml attempt_host_status_check_with_coordinator)."""

from __future__ import annotations

from tests.recovery.test_newer_member_lasting import _past_the_retry
from tests.ui.test_wizard_fakes import SIZE, WizardHost, flat, wait_state, words
from tests.ui.test_wizard_sim import TIME_SCALE, open_recovery
from xentui.recovery.newer_member import NEWER_CODE
from xentui.sim.runner import Simulator
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S

ACTIONS = {"step-start", "step-end", "call", "attest-fenced", "check", "note"}


async def test_after_the_retry_the_wizard_still_stops_and_p_states_the_cost(tmp_path):
    sim = Simulator.start("member-newer", tmp_path / "sim", time_scale=TIME_SCALE)
    try:
        _past_the_retry(sim)
        observer, audit, executor, plan = open_recovery(sim, tmp_path / "audit.jsonl")
        try:
            assert plan.steps == () and plan.stop[-1] == "Nothing was changed."
            wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
            app = WizardHost(wizard)
            async with app.run_test(size=SIZE) as pilot:
                await wait_state(pilot, wizard, S.OVERVIEW)
                page = flat(words(wizard))
                assert NEWER_CODE in page and "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2" in page
                assert "P: promote the newer member instead. Not the fix" in page
                await pilot.press("p")
                await pilot.pause(0.05)
                ids = [s.id for s in wizard.plan.steps]
                assert ids[:2] == ["confirm-master-down:xen1", "promote:xen2"], ids
                assert "You chose to promote xen2" in flat(words(wizard))
                await pilot.press("escape", "escape", "escape")
            assert sim.proc("xen2").emergency and not sim.proc("xen2").is_master
            assert not ACTIONS & {r.kind for r in audit.records()}
        finally:
            observer.close()
    finally:
        sim.stop()
