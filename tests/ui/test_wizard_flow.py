"""The wizard driven by keys alone (Pilot, 80x25) against a scripted executor."""

from __future__ import annotations

import threading

import pytest

from tests.ui.test_wizard_fakes import (
    SIZE,
    Dashboard,
    FakeExecutor,
    FakeObserver,
    WizardHost,
    flat,
    make_step,
    master_down_plan,
    screen_text,
    wait_for,
    wait_state,
    words,
)
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import StepResult
from xentui.recovery.plan import Confirm, Plan
from xentui.ui.wizard import RecoveryWizard
from xentui.ui.wizard import WizardState as S


def make_wizard(tmp_path, plan=None, executor=None, read_only=False, audit=None):
    executor = executor or FakeExecutor()
    audit = audit or AuditLog(tmp_path / "audit.jsonl")
    wizard = RecoveryWizard(
        FakeObserver(),
        plan or master_down_plan(),
        executor,
        read_only=read_only,
        audit=audit,
        report_dir=tmp_path / "reports",
    )
    return wizard, executor


async def run_first_step(pilot, wizard):
    """OVERVIEW -> detail -> checks -> confirm (Enter) -> run -> RESULT."""
    await pilot.press("enter")
    await wait_state(pilot, wizard, S.STEP_DETAIL)
    await pilot.press("enter")
    await wait_state(pilot, wizard, S.CONFIRM)
    await pilot.press("enter")
    await wait_state(pilot, wizard, S.RESULT)


async def type_text(pilot, text):
    await pilot.press(*list(text))


async def test_master_down_plan_end_to_end_by_keys(tmp_path):
    wizard, executor = make_wizard(tmp_path)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        assert "Nothing has been changed yet" in words(wizard)
        await run_first_step(pilot, wizard)
        assert "DONE" in words(wizard) and "verified confirm-master-down" in words(wizard)
        assert "Promote xs02 to master" in words(wizard)  # the next step is named
        # Step 2: fence attestation, then the typed host name.
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.STEP_DETAIL)
        page = words(wizard)
        assert "xe pool-emergency-transition-to-master" in page and "CRITICAL" in page
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.ATTEST)
        await type_text(pilot, "xs01")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        assert executor.attested == ["xs01"]
        assert "[pass] pre:promote:xs02" in words(wizard)
        await type_text(pilot, "xs02")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        # Step 3: F8.
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.STEP_DETAIL)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await pilot.press("f8")
        await wait_state(pilot, wizard, S.RESULT)
        # The urgent phase is complete: the summary comes before the "later" steps.
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.SUMMARY)
        await wait_for(pilot, lambda: not wizard.report_writing)
        page = words(wizard)
        assert wizard.report_path, page
        assert "Incident report written to:" in page
        assert wizard.report_path.replace(" ", "") in "".join(page.split())  # long paths wrap
        report = open(wizard.report_path, encoding="utf-8").read()
        assert "guided recovery started in the wizard" in report  # the fake writes no step records
        assert "Back up the pool database" in page and "xe pool-dump-database" in page
        assert [r[0] for r in executor.ran] == ["confirm-master-down", "promote:xs02", "recover-members"]
        # Enter continues with the later step; its end shows the summary again.
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.STEP_DETAIL)
        assert wizard.step.id == "backup-db"
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.SUMMARY)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Dashboard))
        assert app.closed_with == {s.id: "done" for s in master_down_plan().steps}


# --- Esc at every state ----------------------------------------------------------
async def _to_overview(pilot, wizard, executor):
    pass


async def _to_step_detail(pilot, wizard, executor):
    await pilot.press("enter")


async def _to_precheck(pilot, wizard, executor):
    executor.check_hold["confirm-master-down"] = threading.Event()
    await pilot.press("enter", "enter")
    await wait_for(pilot, lambda: executor.checked)


async def _to_blocked(pilot, wizard, executor):
    executor.failing_checks["confirm-master-down"] = "xs01 still answers on 443"
    await pilot.press("enter", "enter")


async def _to_confirm(pilot, wizard, executor):
    await pilot.press("enter", "enter")


async def _to_running(pilot, wizard, executor):
    executor.hold["confirm-master-down"] = threading.Event()
    await pilot.press("enter", "enter")
    await wait_state(pilot, wizard, S.CONFIRM)
    await pilot.press("enter")
    await wait_for(pilot, lambda: executor.running.is_set() and wizard.events)


async def _to_result(pilot, wizard, executor):
    await run_first_step(pilot, wizard)


async def _to_attest(pilot, wizard, executor):
    await run_first_step(pilot, wizard)
    await pilot.press("enter", "enter")
    await wait_state(pilot, wizard, S.ATTEST)
    await type_text(pilot, "xs0")  # half-typed: Esc must drop it and record nothing


async def _to_typed_confirm(pilot, wizard, executor):
    await _to_attest(pilot, wizard, executor)
    await type_text(pilot, "1")
    await pilot.press("enter")
    await wait_state(pilot, wizard, S.CONFIRM)
    await type_text(pilot, "xs02")  # typed but not submitted


async def _to_choose(pilot, wizard, executor):
    await pilot.press("enter", "enter")


async def _to_summary(pilot, wizard, executor):
    await run_first_step(pilot, wizard)
    await pilot.press("enter")


ESC_CASES = {
    "overview": (_to_overview, S.OVERVIEW, S.CLOSED),
    "choose": (_to_choose, S.CHOOSE, S.STEP_DETAIL),
    "step-detail": (_to_step_detail, S.STEP_DETAIL, S.OVERVIEW),
    "precheck": (_to_precheck, S.PRECHECK, S.STEP_DETAIL),
    "blocked": (_to_blocked, S.BLOCKED, S.STEP_DETAIL),
    "confirm": (_to_confirm, S.CONFIRM, S.STEP_DETAIL),
    "confirm-typed": (_to_typed_confirm, S.CONFIRM, S.STEP_DETAIL),
    "attest": (_to_attest, S.ATTEST, S.STEP_DETAIL),
    "running": (_to_running, S.RUNNING, S.RESULT),
    "result": (_to_result, S.RESULT, S.OVERVIEW),
    "summary": (_to_summary, S.SUMMARY, S.CLOSED),
}


@pytest.mark.parametrize("case", sorted(ESC_CASES))
async def test_esc_backs_out_without_changing_anything(tmp_path, case):
    drive, at, back_to = ESC_CASES[case]
    plan = master_down_plan()
    if case == "summary":  # a plan whose only urgent step is the first one
        plan = Plan(steps=plan.steps[:1], finding_codes=(), console_host="xs02", created_at=0.0)
    if case == "choose":  # split brain: the operator decides which master to keep
        plan = Plan(
            steps=(
                make_step(
                    "keep-master",
                    "Keep one master",
                    confirm=Confirm.TYPED_HOST,
                    choice=("xs01", "xs02"),
                    target_host="xs02",
                ),
            ),
            finding_codes=("TWO_MASTERS",),
            console_host="xs02",
            created_at=0.0,
        )
    wizard, executor = make_wizard(tmp_path, plan=plan)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        await drive(pilot, wizard, executor)
        await wait_state(pilot, wizard, at)
        ran, attested = list(executor.ran), list(executor.attested)
        await pilot.press("escape")
        if back_to is S.CLOSED:
            await wait_for(pilot, lambda: isinstance(app.screen, Dashboard))
            assert wizard.machine.state is S.CLOSED
        else:
            await wait_state(pilot, wizard, back_to)
        if case == "running":
            # The call was already under way: Esc asks the executor to stop at
            # its next safe point and runs nothing more; the result says so.
            assert executor.cancel_seen.is_set()
            assert "cancelled by the operator" in words(wizard)
        assert executor.ran == ran
        assert executor.attested == attested
        if case in ("precheck",):
            executor.check_hold["confirm-master-down"].set()
            await pilot.pause(0.1)
            assert wizard.state is S.STEP_DETAIL  # the late answer is dropped
        assert wizard.typed == ""
        if case == "choose":
            assert wizard.choices == {}  # backing out of a decision leaves it undecided


# --- gates -------------------------------------------------------------------------
async def test_typed_host_name_must_match_exactly(tmp_path):
    wizard, executor = make_wizard(tmp_path)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await _to_attest(pilot, wizard, executor)
        await type_text(pilot, "2")  # "xs02" is not the host to fence (xs01)
        await pilot.press("enter")
        assert wizard.state is S.ATTEST
        assert "'xs02' is not 'xs01'" in words(wizard)
        assert executor.attested == []
        await type_text(pilot, "xs01")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        for wrong in ("xs01", "XS02", "xs02 ", "xs0"):
            await type_text(pilot, wrong)
            await pilot.press("enter")
            await pilot.pause(0.05)
            assert wizard.state is S.CONFIRM
            page = words(wizard)
            assert f"'{wrong}' does not match 'xs02'. Refused: nothing was run." in page
            assert "promote:xs02" not in [r[0] for r in executor.ran]
        await pilot.press("f8")  # F8 with nothing typed is refused as well
        assert "'(nothing)' does not match" in words(wizard)
        await type_text(pilot, "xs03")
        await pilot.press("backspace")
        await type_text(pilot, "2")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        assert executor.ran[-1] == ("promote:xs02", "")


async def test_f8_step_refuses_enter(tmp_path):
    plan = Plan(
        steps=(make_step("recover-members", "Point the members at xs02", confirm=Confirm.F8),),
        finding_codes=(),
        console_host="xs02",
        created_at=0.0,
    )
    wizard, executor = make_wizard(tmp_path, plan=plan)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        assert "Press F8 to run this step" in words(wizard)
        assert "<F8> Run this step" in str(app.screen.query_one("#wizard-keys").render())
        await pilot.press("enter", "y", "space")
        await pilot.pause(0.05)
        assert wizard.state is S.CONFIRM and executor.ran == []
        assert "needs F8" in words(wizard)
        await pilot.press("f8")
        await wait_state(pilot, wizard, S.RESULT)
        assert executor.ran == [("recover-members", "")]


async def test_failed_check_blocks_the_step_until_it_passes(tmp_path):
    wizard, executor = make_wizard(tmp_path)
    executor.failing_checks["confirm-master-down"] = "xs01 still answers on TCP 443"
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "enter")
        await wait_state(pilot, wizard, S.BLOCKED)
        page = words(wizard)
        assert "cannot run now. Nothing was changed." in page
        assert "[FAIL] pre:confirm-master-down: xs01 still answers on TCP 443" in page
        checklist = str(app.screen.query_one("#wizard-checklist").render())
        assert "[!]  1. Confirm the master is down - blocked: xs01 still answers" in checklist
        await pilot.press("f8", "enter")  # nothing runs from BLOCKED; Enter re-checks
        await wait_state(pilot, wizard, S.BLOCKED)
        assert executor.ran == [] and executor.checked == ["confirm-master-down"] * 2
        del executor.failing_checks["confirm-master-down"]
        await pilot.press("r")
        await wait_state(pilot, wizard, S.CONFIRM)
        assert "[pass]" in words(wizard)


async def test_read_only_shows_plan_and_xe_but_never_checks_or_runs(tmp_path):
    wizard, executor = make_wizard(tmp_path, read_only=True)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        assert "READ-ONLY" in words(wizard)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.STEP_DETAIL)
        seen = []
        for _ in master_down_plan().steps:
            page = words(wizard)
            seen.append(wizard.step.id)
            assert "xe equivalent:" in page and wizard.step.xe[0] in page
            assert "READ-ONLY: nothing will be executed" in page
            await pilot.press("enter", "f8", "y")
            await pilot.pause(0.05)
            assert wizard.state is S.STEP_DETAIL
            await pilot.press("down")
        assert seen == [s.id for s in master_down_plan().steps]
        assert executor.checked == [] and executor.ran == [] and executor.attested == []
        assert "Enter" not in str(app.screen.query_one("#wizard-keys").render())


async def test_failure_is_explained_in_plain_words(tmp_path):
    from xentui.xapi.error_table import explain

    wizard, executor = make_wizard(tmp_path)
    executor.results["confirm-master-down"] = StepResult("confirm-master-down", "failed", "HA_IS_ENABLED", 1.0, 2.0)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await run_first_step(pilot, wizard)
        page = words(wizard)
        assert "FAILED" in page
        assert "xapi said HA_IS_ENABLED" in page and explain("HA_IS_ENABLED").title in page
        assert "on failure of Confirm the master is down: try the other thing" in page
        checklist = str(app.screen.query_one("#wizard-checklist").render())
        assert "[!]  1. Confirm the master is down - failed: HA_IS_ENABLED" in checklist
        # Retry goes through the live checks again, then runs.
        executor.results.clear()
        await pilot.press("r")
        await wait_state(pilot, wizard, S.CONFIRM)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        assert "DONE" in words(wizard)


async def test_an_exception_from_the_executor_becomes_a_failed_step(tmp_path):
    from xentui.xapi.errors import ConnectionLost

    wizard, executor = make_wizard(tmp_path)
    executor.raises["confirm-master-down"] = ConnectionLost("socket closed")
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await run_first_step(pilot, wizard)
        page = words(wizard)
        assert "FAILED" in page and "Connection lost" in page
        assert wizard.progress.status("confirm-master-down") == "failed"


async def test_choice_step_asks_then_types_the_chosen_host(tmp_path):
    plan = Plan(
        steps=(
            make_step(
                "keep-master",
                "Keep one master",
                confirm=Confirm.TYPED_HOST,
                risk="critical",
                choice=("xs02", "xs01"),
                target_host="xs01",
            ),
        ),
        finding_codes=("TWO_MASTERS",),
        console_host="xs02",
        created_at=0.0,
    )
    wizard, executor = make_wizard(tmp_path, plan=plan)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "enter")
        await wait_state(pilot, wizard, S.CHOOSE)
        page = words(wizard)
        assert "  1. xs02" in page and "> 2. xs01  (suggested)" in page  # the cursor starts there
        await pilot.press("up", "enter")  # the operator keeps the other one
        await wait_state(pilot, wizard, S.CONFIRM)
        assert "Your choice: xs02" in words(wizard)
        await type_text(pilot, "xs01")
        await pilot.press("enter")
        assert "does not match 'xs02'" in words(wizard)
        await type_text(pilot, "xs02")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        assert executor.ran == [("keep-master", "xs02")]


async def test_resume_from_the_audit_log(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    # An old, finished incident must not count.
    audit.record("old", "run-start", ts=10.0)
    audit.record("old", "step-end", step_id="recover-members", outcome="done", ts=11.0)
    audit.record("old", "run-end", outcome="healthy", ts=12.0)
    # Today's: step 1 done, the process died during step 2.
    audit.record("r1", "run-start", ts=100.0)
    audit.record("r1", "step-start", step_id="confirm-master-down", ts=101.0)
    audit.record("r1", "step-end", step_id="confirm-master-down", outcome="done", ts=102.0)
    audit.record("r1", "step-start", step_id="promote:xs02", ts=103.0)
    wizard, executor = make_wizard(tmp_path, audit=audit)
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        page = flat(words(wizard))
        assert "Resumed from the audit log" in page and "1 done, 1 interrupted" in page
        checklist = str(app.screen.query_one("#wizard-checklist").render())
        assert "[x]  1. Confirm the master is down" in checklist
        assert ">[?]  2. Promote xs02 to master - interrupted" in checklist
        assert "[ ]  3. Point the members at xs02" in checklist
        assert wizard.step.id == "promote:xs02"
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.STEP_DETAIL)
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.ATTEST)  # continues where it stopped, gates intact
        await type_text(pilot, "xs01")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await type_text(pilot, "xs02")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        assert [r[0] for r in executor.ran] == ["promote:xs02"]


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
async def test_every_state_fits_the_console_in_cp437(tmp_path, size):
    wizard, executor = make_wizard(tmp_path)
    executor.hold["promote:xs02"] = threading.Event()
    app = WizardHost(wizard)
    seen = {}

    async def snap():
        await pilot.pause(0.05)
        text = screen_text(app)
        seen[wizard.state] = text
        lines = text.split("\n")
        assert len(lines) == size[1] and all(len(line) <= 80 for line in lines)
        text.encode("cp437")  # raises on any glyph the Linux VT font lacks

    async with app.run_test(size=size) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        await snap()
        await pilot.press("enter")
        await snap()
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await snap()
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.RESULT)
        await snap()
        await pilot.press("enter", "enter")
        await wait_state(pilot, wizard, S.ATTEST)
        await snap()
        await type_text(pilot, "xs01")
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await snap()
        await type_text(pilot, "xs02")
        await pilot.press("enter")
        await wait_for(pilot, lambda: executor.running.is_set() and len(wizard.events) >= 2)
        await snap()
        assert "| xapi restarting: 10 s" in seen[S.RUNNING]
        executor.hold["promote:xs02"].set()
        await wait_state(pilot, wizard, S.RESULT)
    assert set(seen) >= {S.OVERVIEW, S.STEP_DETAIL, S.CONFIRM, S.RESULT, S.ATTEST, S.RUNNING}


async def test_digits_typed_in_the_wizard_never_reach_the_app(tmp_path):
    wizard, executor = make_wizard(tmp_path)
    executor.hold["promote:xs02"] = threading.Event()
    app = WizardHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await wait_state(pilot, wizard, S.OVERVIEW)
        await pilot.press("1", "question_mark")
        assert app.ones == 0  # a digit never leaves the wizard (host names have them)
        await _to_attest(pilot, wizard, executor)
        await type_text(pilot, "1")  # part of a host name: stays in the wizard
        assert app.ones == 0 and wizard.typed == "xs01"
        await pilot.press("enter")
        await wait_state(pilot, wizard, S.CONFIRM)
        await type_text(pilot, "xs02")
        await pilot.press("enter")
        await wait_for(pilot, lambda: executor.running.is_set())
        await pilot.press("1")  # while a step runs nothing may take the screen away
        assert app.ones == 0 and wizard.state is S.RUNNING
        executor.hold["promote:xs02"].set()
        await wait_state(pilot, wizard, S.RESULT)
