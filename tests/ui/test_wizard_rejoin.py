"""Issue 13 items 5 and 6 through the wizard, by keys alone, to a pool checked
healthy through the real XenAPI SDK (tests/program/rejoin_health.py).

The keystrokes each run takes are printed (pytest -s) for the issue's note."""

from __future__ import annotations

from tests.program.rejoin_health import assert_pool_healthy, host_iqns, running_vms
from tests.ui.test_wizard_fakes import SIZE, WizardHost, drive_until, flat, wait_state, words
from tests.ui.test_wizard_sim import (
    TIME_SCALE,
    assert_read_only_pages_fit,
    keep_the_other_master,
    open_at,
    summary_reached,
)
from xentui.sim.runner import Simulator
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S


def healthy_summary(wizard) -> bool:
    return summary_reached(wizard) and "healthy" in wizard.health


async def test_designate_dead_record_by_keyboard(tmp_path):
    sim = Simulator.start("designate-dead-record", tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        before = running_vms(sim, "xen2")
        observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl", preferred_master="xen3")
        later = [s.id for s in plan.later_steps]
        assert later.index("forget-host:xen1") < later.index("designate-master:xen3")
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            keys = 1 + await drive_until(pilot, wizard, summary_reached, timeout=120)
            # The summary offers the later steps: Enter goes on with them.
            assert "Enter continues with them" in flat(words(wizard)), words(wizard)
            await pilot.press("enter")
            keys += 1
            await drive_until(pilot, wizard, lambda w: w.step.id == "forget-host:xen1" and w.state is S.CONFIRM, 60)
            page = flat(words(wizard))
            assert "type xen1 exactly" in page and "xe host-forget uuid=" in page, page
            keys += await drive_until(
                pilot,
                wizard,
                lambda w: summary_reached(w) and w.progress.status("designate-master:xen3") == "done",
                120,
            )
            for step in plan.steps:
                assert wizard.progress.status(step.id) in ("done", "skipped"), (step.id, words(wizard))
        print(f"\ndesignate-dead-record: {keys} wizard keystrokes")
        assert_pool_healthy(sim, "xen3", ["xen2", "xen3"], before)
    finally:
        if observer is not None:
            observer.close()
        sim.stop()


async def test_rejoin_rebuilt_by_keyboard_from_the_master(tmp_path):
    sim = Simulator.start("rejoin-rebuilt", tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        before = running_vms(sim, "xen2")
        old_iqn = host_iqns(sim, "xen2")["xen1"]
        observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl")
        assert [s.kind for s in plan.now_steps if s.target_host == "xen1"] == [
            "forget-host",
            "pool-join",
            "restore-iqn",
        ]
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            keys = 1 + await drive_until(pilot, wizard, summary_reached, timeout=120)
            page = words(wizard)
            for step in plan.now_steps:
                assert wizard.progress.status(step.id) in ("done", "skipped"), (step.id, page)
            assert "healthy" in wizard.health, page
        print(f"\nrejoin-rebuilt: {keys} wizard keystrokes")
        uuids = assert_pool_healthy(sim, "xen2", ["xen1", "xen2", "xen3"], before)
        assert uuids["xen1"] == sim.world.procs["xen1"].machine.uuid
        assert host_iqns(sim, "xen2")["xen1"] == old_iqn
        assert sim.endpoints.root_password not in (tmp_path / "audit.jsonl").read_text()
    finally:
        if observer is not None:
            observer.close()
        sim.stop()


async def test_the_app_plans_the_preferred_master_it_was_started_with(tmp_path):
    """`xentui --prefer-master xen3`: the wizard the r key opens ends with the
    forget and the designate steps."""
    from tests.ui.test_ui_sim import SIZE as APP_SIZE
    from tests.ui.test_ui_sim import first_observation, observer_for
    from tests.ui.ui_helpers import wait_for
    from xentui.ui.app import XenTuiApp

    sim = Simulator.start("designate-dead-record", tmp_path / "sim", time_scale=TIME_SCALE)
    try:
        app = XenTuiApp(
            lambda: observer_for(sim, "xen2"),
            target_label="sim xen2",
            audit_path=tmp_path / "audit.jsonl",
            preferred_master="xen3",
            read_only=True,
        )
        async with app.run_test(size=APP_SIZE) as pilot:
            await first_observation(app, pilot)
            await pilot.press("r")
            assert await wait_for(pilot, lambda: type(app.screen).__name__ == "RecoveryWizard", timeout=5)
            ids = [s.id for s in app.screen.plan.steps]
            assert ids.index("forget-host:xen1") < ids.index("designate-master:xen3"), ids
    finally:
        sim.stop()


async def test_the_new_steps_render_read_only_at_80x24_in_cp437(tmp_path):
    """Each page of both plans fits the console, draws CP437 only and shows the
    step's xe commands; read-only runs nothing."""
    for scenario, prefer in (("designate-dead-record", "xen3"), ("rejoin-rebuilt", "")):
        sim = Simulator.start(scenario, tmp_path / scenario, time_scale=TIME_SCALE)
        observer = None
        try:
            audit_path = tmp_path / f"{scenario}.jsonl"
            observer, audit, executor, plan = open_at(sim, "xen2", audit_path, preferred_master=prefer)
            assert {"forget-host"} <= {s.kind for s in plan.steps}
            await assert_read_only_pages_fit(observer, plan, executor, audit)
            assert not audit_path.exists()
        finally:
            if observer is not None:
                observer.close()
            sim.stop()


def test_a_resumed_run_keeps_the_handover_it_was_planned_for(tmp_path):
    """The wizard re-plans an open run from the audit log (runlog._replan): the
    preferred master of the plan it was opened with stays planned."""
    from xentui.recovery.audit import RUN_START
    from xentui.ui.wizard.runlog import RunLog

    sim = Simulator.start("designate-dead-record", tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl", preferred_master="xen3")
        audit.record("run-1", RUN_START, outcome="started")
        runlog = RunLog(audit, executor, plan, read_only=False, observation=observer.observe)
        runlog.resume()
        assert runlog.plan is not plan  # re-planned from the audit log
        ids = [s.id for s in runlog.plan.steps]
        assert ids.index("forget-host:xen1") < ids.index("designate-master:xen3"), ids
    finally:
        if observer is not None:
            observer.close()
        sim.stop()


async def test_keeping_another_master_keeps_the_handover_it_was_planned_for(tmp_path):
    """`--prefer-master xen3` on a split brain: choosing to keep the master the
    plan did not suggest re-builds the plan, and the handover to xen3 stays in it."""
    sim = Simulator.start("split-brain", tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        observer, audit, executor, plan = open_at(sim, "xen2", tmp_path / "audit.jsonl", preferred_master="xen3")
        assert "designate-master:xen3" in [s.id for s in plan.steps]
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            _, other = await keep_the_other_master(pilot, wizard, plan)
            ids = [s.id for s in wizard.plan.steps]
            assert wizard.plan is not plan and f"keep-master:{other}" in ids, ids
            assert ids[-1] == "designate-master:xen3", ids
            assert wizard.runlog.plan is wizard.plan
    finally:
        if observer is not None:
            observer.close()
        sim.stop()


async def test_rejoin_rebuilt_from_the_rebuilt_hosts_console(tmp_path):
    """`xentui --demo rejoin-rebuilt` opens at the reinstalled xen1's console,
    a pool of its own that cannot know the pool it left. Keys only: r, the
    wizard's note and M; the connect screen waits for the master's address
    (in the demo: sim:DIR/<address>); the address and the pool's password are
    typed; r on the master plans and runs forget, TLS, pool.join on xen1 and
    its old IQN, to a pool verified healthy through the SDK."""
    from tests.ui.ui_helpers import demo_app, screen_text, wait_for

    demo, app = demo_app("rejoin-rebuilt", tmp_path, time_scale=TIME_SCALE)
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            assert await wait_for(pilot, lambda: app.observation is not None and app.observation.snapshot, 20)
            sim = demo.sim
            assert app.observation.this_host_name == "xen1"
            before = running_vms(sim, "xen2")
            old_iqn = host_iqns(sim, "xen2")["xen1"]
            master = next(h for h in sim.endpoints.hosts if h.name == "xen2")
            await pilot.press("r")
            assert await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            page = flat(words(wizard))
            assert "M: connect to the pool's master" in page, page
            assert "xentui root@<master-address>" in page and "pool.join" in page
            assert not [s for s in wizard.plan.steps if s.kind in ("forget-host", "pool-join")]
            keys = 2  # r, M
            await pilot.press("m")
            assert await wait_for(pilot, lambda: type(app.screen).__name__ == "ConnectScreen", 5)
            field = app.screen.query_one("#target")
            assert await wait_for(pilot, lambda: field.has_focus and field.value.startswith("sim:"), 5)
            assert "cannot know the pool it left" in screen_text(app)
            password = sim.endpoints.root_password
            await pilot.press(*master.address, "enter", *password, "enter")
            keys += len(master.address) + 1 + len(password) + 1
            assert await wait_for(
                pilot,
                lambda: (
                    app.observation is not None
                    and app.observation.this_host_name == "xen2"
                    and not app.observation.peers_pending
                    and "HOST_REBUILT" in {f.code.value for f in app.observation.findings}
                ),
                20,
            ), screen_text(app)
            assert password not in screen_text(app)
            await pilot.press("r")
            keys += 1
            assert await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            assert [s.kind for s in wizard.plan.now_steps if s.target_host == "xen1"] == [
                "forget-host",
                "pool-join",
                "restore-iqn",
            ]
            keys += await drive_until(pilot, wizard, healthy_summary, timeout=120)
        print(f"\nrejoin-rebuilt from xen1's console: {keys} keystrokes (address and password included)")
        uuids = assert_pool_healthy(sim, "xen2", ["xen1", "xen2", "xen3"], before)
        assert uuids["xen1"] == sim.world.procs["xen1"].machine.uuid
        assert host_iqns(sim, "xen2")["xen1"] == old_iqn
        assert password not in (tmp_path / "audit.jsonl").read_text()
    finally:
        demo.stop(timeout=1.0)


async def test_m_without_a_connect_screen_says_the_command(tmp_path):
    """A wizard hosted without the app's connect screen: M says how, runs nothing."""
    sim = Simulator.start("rejoin-rebuilt", tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        observer, audit, executor, plan = open_at(sim, "xen1", tmp_path / "audit.jsonl")
        assert "If it is a reinstalled former pool member" in " ".join(plan.notes)
        wizard = RecoveryWizard(observer, plan, executor, audit=audit, report_dir=tmp_path / "reports")
        app = WizardHost(wizard)
        async with app.run_test(size=SIZE) as pilot:
            await wait_state(pilot, wizard, S.OVERVIEW)
            assert "M: connect to the pool's master" in flat(words(wizard))
            await pilot.press("m")
            await pilot.pause(0.05)
            assert wizard.state is S.OVERVIEW
            assert "Run xentui with the pool's master as its target" in flat(words(wizard))
        assert not (tmp_path / "audit.jsonl").exists()
    finally:
        if observer is not None:
            observer.close()
        sim.stop()
