"""`r` pressed before the other hosts have answered: the wizard re-builds its
plan by itself once their answers change what is found, as long as nothing has
happened in it yet (xentui/ui/wizard/auto_replan.py). Keys only, through the
whole app in demo mode (tls-verify-fail at xen2's console), to a pool verified
healthy through the real XenAPI SDK."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from tests.program.tls_ha_health import assert_pool_healthy, assert_tls_repaired
from tests.ui.test_wizard_fakes import drive_until, wait_for
from tests.ui.ui_helpers import demo_app
from xentui.recovery.observer import Observer
from xentui.ui.wizard import RecoveryWizard, auto_replan
from xentui.ui.wizard import WizardState as S

TIME_SCALE = 0.01


async def test_wizard_opened_before_the_peers_answered_replans_by_itself(tmp_path, monkeypatch):
    peers_may_answer = threading.Event()
    regather = Observer._regather

    def held(self, obs):
        # the follow loop's second look (the peers' answers) waits for the test's `r`
        peers_may_answer.wait(60)
        return regather(self, obs)

    monkeypatch.setattr(Observer, "_regather", held)
    demo, app = demo_app("tls-verify-fail", tmp_path, time_scale=TIME_SCALE)
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.observation is not None, 20)
            assert app.observation.this_host_name == "xen2"
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            assert not any(s.kind.startswith("tls-") for s in wizard.plan.steps), wizard.plan.steps
            assert any("has not been asked yet" in n for n in wizard.plan.notes), wizard.plan.notes
            peers_may_answer.set()
            await wait_for(pilot, lambda: any(s.id == "tls-disable:xen2" for s in wizard.plan.steps), 20)
            assert wizard.state is S.OVERVIEW
            assert "re-built" in wizard.replan_note
            assert [s.id for s in wizard.plan.steps][:3] == [
                "tls-disable:xen2",
                "tls-refresh-certificate:xen1",
                "tls-reenable:xen2",
            ]
            keys = await drive_until(
                pilot,
                wizard,
                lambda w: w.state is S.SUMMARY and not w.report_writing and bool(w.report_path),
                timeout=120,
            )
            assert "healthy" in wizard.health, wizard.page.plain()
            print(f"tls-verify-fail from xen2, r before the peers answered: {keys + 1} keystrokes")
        assert_pool_healthy(demo.sim, "xen1", {})
        assert_tls_repaired(demo.sim, "xen1")
    finally:
        peers_may_answer.set()
        demo.stop(timeout=1.0)


def _finding(code, host):
    return SimpleNamespace(code=SimpleNamespace(value=code), host=host)


def test_no_replan_once_anything_happened():
    """A step with a status, a choice, or another state than the overview: the
    plan stays as it is (the executor re-checks each step live anyway)."""
    old = SimpleNamespace(steps=[SimpleNamespace(id="a", kind="x", params={})], notes=(), stop=())
    new = SimpleNamespace(steps=[SimpleNamespace(id="b", kind="x", params={})], notes=(), stop=())
    obs = SimpleNamespace(findings=[_finding("TLS_VERIFY_FAILED", "xen2")], peer_views=(), peers_pending=False)

    def wizard(**changes):
        w = SimpleNamespace(
            state=S.OVERVIEW,
            choices={},
            attested=[],
            resume_info=SimpleNamespace(run_id=None),
            progress=SimpleNamespace(status=lambda _id: "pending"),
            steps=old.steps,
            plan=old,
            planned_findings=frozenset(),
        )
        for k, v in changes.items():
            setattr(w, k, v)
        return w

    def build(_obs, preferred_master=""):
        return new

    assert auto_replan.replan(wizard(), obs, build) is new
    assert auto_replan.replan(wizard(state=S.STEP_DETAIL), obs, build) is None
    assert auto_replan.replan(wizard(choices={"a": "x"}), obs, build) is None
    assert auto_replan.replan(wizard(progress=SimpleNamespace(status=lambda _id: "done")), obs, build) is None
    same = wizard(planned_findings=auto_replan.findings_signature(obs))
    assert auto_replan.replan(same, obs, build) is None
