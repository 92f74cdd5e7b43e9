"""The wizard's text helpers: CP437-safe words, the checklist window, resume rules."""

from tests.ui.test_wizard_fakes import make_step, master_down_plan
from xentui.recovery.audit import AuditRecord
from xentui.recovery.executor import StepResult
from xentui.recovery.plan import Plan
from xentui.ui.wizard.page import Page, console_text, fit
from xentui.ui.wizard.progress import RecoveryProgress, progress_from_records
from xentui.ui.wizard.views import checklist_lines


def test_console_text_replaces_what_the_vt_font_lacks():
    text = console_text("refused \u2014 tcp probe: OpaqueRef:\u2026 \u2192 \u2713 done")
    assert text == "refused - tcp probe: OpaqueRef:... -> ? done"
    text.encode("cp437")


def test_page_wraps_to_the_console_width():
    page = Page()
    page.add("word " * 60)
    page.field("Why", "x" * 200)
    assert all(len(line) <= 76 for line, _ in page.lines)
    assert page.plain().startswith("word word")
    assert fit("a" * 100, 10) == "aaaaaaa..."


def _long_plan(n):
    return Plan(
        steps=tuple(make_step(f"s{i}", f"Step number {i}") for i in range(n)),
        finding_codes=(),
        console_host="xs02",
        created_at=0.0,
    )


def test_checklist_window_keeps_the_selected_row_visible():
    progress = RecoveryProgress(_long_plan(12))
    lines = checklist_lines(progress.rows(), selected=10, height=8)
    assert len(lines) == 8 and all(len(line) <= 78 for line in lines)
    assert any(line.startswith(">[ ] 11. Step number 10") for line in lines)
    assert lines[0].endswith("(up) ")
    assert checklist_lines(progress.rows(), selected=0, height=8)[-1].endswith("(more)")


def test_progress_marks_and_reasons():
    plan = master_down_plan()
    progress = RecoveryProgress(plan)
    assert [r.mark for r in progress.rows()] == ["[>]", "[ ]", "[ ]", "[ ]"]
    progress.record_result(StepResult("confirm-master-down", "done", "", 0, 1))
    progress.record_result(StepResult("promote:xs02", "refused", "fenced:xs01: not attested", 0, 1))
    rows = progress.rows()
    assert [r.mark for r in rows] == ["[x]", "[!]", "[ ]", "[ ]"]
    assert rows[1].status == "blocked" and rows[1].reason == "fenced:xs01: not attested"
    assert progress.current().id == "promote:xs02"
    progress.record_result(StepResult("promote:xs02", "done", "", 0, 1))
    progress.record_result(StepResult("recover-members", "skipped", "nothing to do", 0, 1))
    assert progress.phase_complete("now") and progress.current().id == "backup-db"
    assert progress.rows()[2].mark == "[-]"


def _rec(run, kind, step="", outcome="", ts=0.0, detail=""):
    return AuditRecord(ts=ts, run_id=run, kind=kind, step_id=step, outcome=outcome, detail=detail)


def test_resume_ignores_runs_that_ended_healthy_and_unmarked_records():
    plan = master_down_plan()
    done_yesterday = [
        _rec("a", "run-start", ts=1),
        _rec("a", "step-end", "confirm-master-down", "done", 2),
        _rec("a", "run-end", outcome="healthy", ts=3),
    ]
    progress, info = progress_from_records(plan, done_yesterday)
    assert not info.resumed and progress.status("confirm-master-down") == "pending"
    unmarked = [_rec("cli", "step-end", "confirm-master-down", "done", 2)]
    progress, info = progress_from_records(plan, unmarked)
    assert not info.resumed and progress.status("confirm-master-down") == "pending"


def test_resume_lists_steps_the_rebuilt_plan_no_longer_has():
    plan = Plan(steps=master_down_plan().steps[2:], finding_codes=(), console_host="xs02", created_at=0.0)
    records = [
        _rec("r", "run-start", ts=1),
        _rec("r", "step-start", "confirm-master-down", ts=2, detail="Confirm the master is down"),
        _rec("r", "step-end", "confirm-master-down", "done", 3),
        _rec("r", "step-start", "promote:xs02", ts=4, detail="Promote xs02 to master"),
    ]
    progress, info = progress_from_records(plan, records)
    assert info.resumed and info.run_id == "r"
    earlier = {e.step_id: (e.title, e.outcome) for e in info.earlier}
    assert earlier == {
        "confirm-master-down": ("Confirm the master is down", "done"),
        "promote:xs02": ("Promote xs02 to master", "interrupted"),
    }
    assert info.done_ids == ("confirm-master-down",)
