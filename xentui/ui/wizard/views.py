"""The words of each wizard state, as `Page`s (pure functions, no Textual).

Layout rule: what the operator needs to decide comes first (what will
change, how risky, the key to press); the long explanations come after and
scroll with PgUp/PgDn. The key-help line (xsconsole style "<F8> Run
<Esc> Back") is built here too, so the keys shown are the keys handled.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, List, Optional, Sequence

from xentui.ui.wizard.failure import describe_failure
from xentui.ui.wizard.machine import WizardState
from xentui.ui.wizard.page import Page, fit
from xentui.ui.wizard.progress import ChecklistRow, RecoveryProgress, ResumeInfo, summarize

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import StepResult
    from xentui.recovery.plan import Plan, Step
    from xentui.recovery.preconditions import CheckResult
    from xentui.recovery.step_context import Progress

S = WizardState

CONFIRM_WORDS = {
    "none": "Enter",
    "enter": "Enter",
    "f8": "F8",
    "typed-host-name": "the host's name, then Enter",
}


def _confirm_value(step: Step) -> str:
    confirm = getattr(step, "confirm", "enter")
    return getattr(confirm, "value", confirm)


def step_target(step: Step, choice: str = "") -> str:
    """The host name the operator types for a TYPED_HOST step: the host the
    operator chose when the step is a decision, else the step's target."""
    if choice and getattr(step, "choice", None):  # a decision step
        return choice
    return getattr(step, "target_host", "") or choice


def _clock(ts: Optional[float]) -> str:
    if not ts:
        return "?"
    return time.strftime("%H:%M:%S", time.localtime(ts))


# --- checklist ------------------------------------------------------------------
def checklist_lines(rows: Sequence[ChecklistRow], selected: int, height: int, width: int = 78) -> List[str]:
    """At most `height` rows, scrolled so that `selected` is visible."""
    if not rows:
        return ["  (the plan has no steps: nothing to do)"]
    start = 0
    if len(rows) > height:
        start = min(max(0, selected - height // 2), len(rows) - height)
    out = []
    for row in rows[start : start + height]:
        cursor = ">" if row.index == selected else " "
        later = " (later)" if row.phase == "later" and row.status != "done" else ""
        head = f"{cursor}{row.mark} {row.index + 1:>2}. "
        body = row.title + later
        if row.reason and row.status in ("blocked", "failed", "skipped", "interrupted"):
            body = f"{body} - {row.status}: {row.reason}"
        out.append(head + fit(body, width - len(head)))
    if start > 0:
        out[0] = out[0][:-6].ljust(width - 6) + " (up) "  # more above
    if start + height < len(rows):
        out[-1] = out[-1][: width - 8].ljust(width - 8) + " (more)"
    return out


# --- overview -------------------------------------------------------------------
def overview_page(
    plan: Plan, progress: RecoveryProgress, selected: int, resume: ResumeInfo, read_only: bool, note: str = ""
) -> Page:
    page = Page()
    steps = list(plan.steps)
    now = [s for s in steps if getattr(s, "phase", "now") == "now"]
    later = [s for s in steps if getattr(s, "phase", "now") == "later"]
    page.add(
        f"Recovery plan for {plan.console_host or 'this host'}: {len(now)} step(s) now, "
        f"{len(later)} to return to normal later.",
        "bold",
    )
    if read_only:
        page.add("READ-ONLY: this shows the plan and the xe commands; nothing will be executed.", "bold")
    _stop_lines(page, plan)
    if promotion_offered(plan) and not read_only:
        page.add(
            "P: promote the newer member instead. Not the fix: the plan then shows the promotion's steps "
            "and what they cost, and each still asks for your confirmation.",
            "bold",
        )
    if master_address_offered(plan):
        page.add(
            "M: connect to the pool's master (type its address): a reinstalled host is joined back "
            "from the master's side.",
            "bold",
        )
    if resume.error:
        page.add(f"The audit log could not be read ({resume.error}): progress starts from the plan.")
    if resume.damaged:
        page.add(f"Warning: {resume.damaged}.")
    if resume.resumed:
        since = _clock(resume.since)
        earlier = resume.earlier
        counts = summarize(progress.status(s.id) for s in steps)
        page.add(f"Resumed from the audit log (recovery started {since}). This plan: {counts}.", "bold")
        for item in earlier:
            if item.outcome == "done":
                page.add(f"[x] done earlier ({_clock(item.ts)}): {item.title}", indent=2)
            else:
                page.add(
                    f"[?] interrupted ({_clock(item.ts)}): {item.title} - the pool as it is now "
                    "no longer needs it, so it took effect",
                    indent=2,
                )
    elif not any(progress.status(s.id) in ("done", "skipped") for s in steps):
        page.add("Nothing has been changed yet. Each step is explained and confirmed before it runs.")
    if note:
        page.add(note)
    for plan_note in getattr(plan, "notes", ()) or ():
        page.add(f"Note: {plan_note}", indent=0)
    if steps:
        step = steps[selected]
        page.blank()
        page.add(f"Step {selected + 1}: {step.title}", "bold")
        status = progress.status(step.id)
        reason = progress.reason(step.id)
        current = progress.current()
        if status == "pending" and current is not None and current.id == step.id:
            status = "current: the next step to run"
        page.field("Status", status + (f" - {reason}" if reason else ""))
        page.field("Risk", f"{step.risk}" + (f" - {step.risk_text}" if step.risk_text else ""))
        page.field("Why", step.why)
    current = progress.current()
    if current is None and steps:
        page.blank()
        page.add("Every step is done or skipped.", "bold")
    return page


def promotion_offered(plan: Plan) -> bool:
    """The stop offers promoting a newer member (newer_member.stop_lines), which the admin may choose."""
    return any("--promote-newer" in line for line in getattr(plan, "stop", ()) or ())


def master_address_offered(plan: Plan) -> bool:
    """A reinstalled host's plan (plan_rejoin.standalone_notes): M asks for the master's address."""
    from xentui.recovery.plan_rejoin import asks_for_master

    return asks_for_master(getattr(plan, "notes", ()) or ())


def _stop_lines(page: Page, plan: Plan) -> None:
    """A clear stop (Plan.stop): xapi offers no fix xentui can run; nothing changes."""
    stop = getattr(plan, "stop", ()) or ()
    if stop:
        page.add("xentui stops here: it cannot fix this, and changes nothing.", "bold reverse")
        for line in stop:
            page.add(line, indent=2)


# --- one step -------------------------------------------------------------------
def detail_page(
    step: Step,
    index: int,
    total: int,
    progress: RecoveryProgress,
    *,
    is_current: bool,
    read_only: bool,
    choice: str = "",
    attested: Sequence[str] = (),
) -> Page:
    page = Page()
    later = " (later: return to normal)" if getattr(step, "phase", "now") == "later" else ""
    page.add(f"Step {index + 1} of {total}: {step.title}{later}", "bold")
    status = progress.status(step.id)
    reason = progress.reason(step.id)
    if status != "pending" or reason:
        page.field("Status", status + (f" - {reason}" if reason else ""))
    page.field(
        "Risk",
        f"{step.risk.upper()}" + (f" - {step.risk_text}" if step.risk_text else ""),
        "bold" if step.risk in ("high", "critical") else "",
    )
    page.field("Why", step.why)
    page.field("Changes", step.changes)
    page.add("xe equivalent:")
    for line in step.xe or ("(no xe command: xentui only reads here)",):
        page.add(line, indent=2)
    if step.preconditions:
        page.add("Checked live right before it runs:")
        for pre in step.preconditions:
            page.add(f"- {pre.description}", indent=2)
    if getattr(step, "choice", ()):
        page.field("You choose", " or ".join(step.choice) + (f" (chosen: {choice})" if choice else ""))
    fenced = getattr(step, "requires_fenced", ())
    if fenced:
        todo = [h for h in fenced if h not in attested]
        page.field("Needs your word", "powered off / fenced: " + ", ".join(fenced) + ("" if todo else " (stated)"))
    page.field("Verified by", step.verify)
    page.field("If it fails", step.on_failure)
    return page


def detail_prompt(
    step: Step, progress: RecoveryProgress, *, is_current: bool, read_only: bool, error: str = ""
) -> Page:
    page = Page()
    status = progress.status(step.id)
    if read_only:
        page.add("READ-ONLY: nothing will be executed. Up/Down shows the other steps.", "bold")
    elif status in ("done", "skipped"):
        page.add(f"This step is {status}. Up/Down shows the other steps.", "bold")
    elif not is_current:
        page.add("This step comes later: finish the current step first (Up/Down to browse).", "bold")
    else:
        how = CONFIRM_WORDS.get(_confirm_value(step), "Enter")
        page.add(f"Enter: run the live checks. Confirmation afterwards: {how}.", "bold")
    if error:
        page.add(error, "bold reverse")
    return page


def choose_page(step: Step, cursor: int) -> Page:
    page = Page()
    page.add(f"{step.title}: your decision", "bold")
    page.add(step.why)
    page.blank()
    suggested = getattr(step, "target_host", "")
    for i, option in enumerate(step.choice):
        mark = ">" if i == cursor else " "
        hint = "  (suggested)" if option == suggested else ""
        page.add(f"{mark} {i + 1}. {option}{hint}", "reverse" if i == cursor else "")
    page.blank()
    page.add("Nothing changes when you choose: the step is still checked and confirmed before it runs.")
    return page


def attest_page(step: Step, host: str) -> Page:
    page = Page()
    page.add(f"Before '{step.title}': is {host} powered off or fenced?", "bold")
    page.add(
        f"xentui cannot tell a dead host from one that is cut off but still running VMs. If {host} "
        "still runs VMs, this step can start them twice and corrupt their disks. Power it off "
        "(BMC / iLO / iDRAC, or pull its power) or otherwise fence it first."
    )
    page.add("Nothing in the pool changes when you state it; the statement is audited.")
    return page


def attest_prompt(host: str, typed: str, error: str) -> Page:
    """Always on screen (not scrolled): the line the operator types into."""
    page = Page()
    page.add(f"Type {host} to state that it is powered off / fenced: > {typed}_", "bold")
    if error:
        page.add(error, "bold reverse")
    return page


def checks_lines(page: Page, checks: Sequence[CheckResult]) -> None:
    for check in checks:
        mark = "[pass]" if check.ok else "[FAIL]"
        page.add(f"{mark} {check.precondition_id}: {check.detail}", "" if check.ok else "bold", indent=0)


def precheck_page(step: Step) -> Page:
    page = Page()
    page.add(f"{step.title}: checking live...", "bold")
    page.add("The preconditions are being checked against the pool now. Nothing is changed by a check.")
    for pre in step.preconditions:
        page.add(f"[ .. ] {pre.description}")
    return page


def blocked_page(step: Step, checks: Sequence[CheckResult], error: str) -> Page:
    page = Page()
    page.add(f"{step.title}: cannot run now. Nothing was changed.", "bold")
    if error:
        page.add(error)
    checks_lines(page, checks)
    page.blank()
    if getattr(step, "on_failure", ""):
        page.field("What to try", step.on_failure)
    page.add("Fix what the failed check says, then press R to check again.")
    return page


def confirm_page(step: Step, checks: Sequence[CheckResult], *, choice: str, note: str = "") -> Page:
    page = Page()
    page.add(f"About to run: {step.title}", "bold")
    if choice:
        page.field("Your choice", choice)
    if note:
        page.add(note)
    page.add("Live checks, just now:")
    checks_lines(page, checks)
    page.field(
        "Risk",
        f"{step.risk.upper()}" + (f" - {step.risk_text}" if step.risk_text else ""),
        "bold" if step.risk in ("high", "critical") else "",
    )
    page.field("Changes", step.changes)
    page.add("xe equivalent:")
    for line in step.xe or ("(none)",):
        page.add(line, indent=2)
    return page


def confirm_prompt(step: Step, *, choice: str, typed: str, error: str) -> Page:
    """Always on screen (not scrolled): how to run this step, and what was typed."""
    page = Page()
    confirm = _confirm_value(step)
    if confirm == "typed-host-name":
        target = step_target(step, choice)
        page.add(f"To confirm, type {target} exactly, then Enter: > {typed}_", "bold")
    elif confirm == "f8":
        page.add("Press F8 to run this step. Esc backs out; nothing has been changed.", "bold")
    else:
        page.add("Press Enter to run this step. Esc backs out; nothing has been changed.", "bold")
    if error:
        page.add(error, "bold reverse")
    return page


def running_page(step: Step, events: Sequence[Progress], started: float, cancel_requested: bool) -> Page:
    page = Page()
    page.add(f"Running: {step.title}", "bold")
    page.add(f"Started {_clock(started)}. The screen stays live; the line below counts.")
    page.blank()
    for event in list(events)[-8:]:
        page.add(f"- {event.message}", indent=0)
    if cancel_requested:
        page.blank()
        page.add(
            "Cancel requested: the step stops at its next safe point. What was already sent to "
            "xapi cannot be unsent; the result below will say what happened.",
            "bold",
        )
    return page


def result_page(
    step: Step, result: StepResult, next_step: Optional[Step], *, index: int, total: int, in_emergency: bool = False
) -> Page:
    page = Page()
    status = result.status
    page.add(f"Step {index + 1} of {total}: {step.title} - {status.upper()}", "bold")
    took = max(0.0, (result.finished_at or 0) - (result.started_at or 0))
    if status == "done":
        page.add(f"Done in {took:.1f} s.")
        if result.detail:
            page.add(result.detail)
        page.field("Verified", result.verification or "(no verification reported)")
    elif status == "read-only":
        page.add("Read-only: nothing was executed.")
    elif status == "skipped":
        page.add("Not needed, so nothing was changed:")
        page.add(result.detail or "(no reason given)", indent=2)
    else:
        text = describe_failure(step, result, in_emergency=in_emergency)
        page.add(text.headline, "bold")
        page.add("What went wrong:")
        page.add(text.meaning, indent=2)
        if result.verification:
            page.field("Verification", result.verification)
        page.add("What to try:")
        for hint in text.try_next:
            page.add(f"- {hint}", indent=2)
    return page


def result_prompt(result: StepResult, next_step: Optional[Step], *, summary_next: bool) -> Page:
    page = Page()
    if result.status in ("failed", "refused"):
        page.add("R: check again and retry.  Esc: back to the plan; nothing more changes.", "bold")
    if summary_next or next_step is None:
        page.add("Enter: the summary and the incident report.", "bold")
    else:
        page.add(f"Enter: next step - {next_step.title}", "bold")
    return page


def summary_prompt(*, report_path: str, report_error: str, writing: bool, healthy: Optional[bool]) -> Page:
    """The report's path stays on screen however long the summary is."""
    page = Page()
    if healthy is not None:
        page.add("The pool is healthy." if healthy else "The pool is NOT healthy yet: see below.", "bold")
    if writing:
        page.add("Writing the incident report...")
    elif report_path:
        page.add(f"Incident report: {report_path}", "bold")
    elif report_error:
        page.add(f"The incident report could not be written: {report_error}", "bold reverse")
    return page


def summary_page(
    plan: Plan, progress: RecoveryProgress, *, report_path: str, report_error: str, health: Sequence[str], writing: bool
) -> Page:
    page = Page()
    steps = list(plan.steps)
    now_done = progress.phase_complete("now")
    page.add("Recovery summary" + (": the urgent steps are complete." if now_done else "."), "bold")
    _stop_lines(page, plan)
    page.add(summarize(progress.status(s.id) for s in steps) or "no steps")
    for i, step in enumerate(steps):
        st = progress.status(step.id)
        reason = progress.reason(step.id)
        page.add(f"{i + 1:>2}. {st:<8} {step.title}" + (f" - {reason}" if reason else ""), indent=1)
    if health:
        page.blank()
        page.add("The pool now:", "bold")
        for line in health:
            page.add(line, indent=2)
    page.blank()
    if writing:
        page.add("Writing the incident report...")
    elif report_path:
        page.add("Incident report written to:", "bold")
        page.add(report_path, "bold", indent=2)
    elif report_error:
        page.add(f"The incident report could not be written: {report_error}", "bold")
    later = [
        s
        for s in plan.steps
        if getattr(s, "phase", "now") == "later" and progress.status(s.id) not in ("done", "skipped")
    ]
    if later:
        page.blank()
        page.add("To do later, to return to normal (Enter continues with them):", "bold")
        for step in later:
            page.add(f"- {step.title}", indent=2)
            for line in step.xe:
                page.add(line, indent=4)
    return page


# --- key help -------------------------------------------------------------------
def key_help(
    state: WizardState,
    *,
    read_only: bool,
    confirm: str = "",
    can_run: bool = False,
    has_later: bool = False,
    can_retry: bool = False,
) -> str:
    if state is S.OVERVIEW:
        return "<Up/Down> Select  <Enter> Review step  <Esc> Back"
    if state is S.STEP_DETAIL:
        run = "  <Enter> Check+continue" if can_run and not read_only else ""
        return f"<Up/Down> Step{run}  <PgUp/PgDn> Scroll  <Esc> Back"
    if state is S.CHOOSE:
        return "<Up/Down> Select  <Enter> Choose  <Esc> Back"
    if state is S.ATTEST:
        return "Type the name  <Enter> State it  <Esc> Back"
    if state is S.PRECHECK:
        return "Checking...  <Esc> Back"
    if state is S.BLOCKED:
        return "<R> Check again  <PgUp/PgDn> Scroll  <Esc> Back"
    if state is S.CONFIRM:
        if confirm == "f8":
            return "<F8> Run this step  <PgUp/PgDn> Scroll  <Esc> Back, change nothing"
        if confirm == "typed-host-name":
            return "Type the host name  <Enter> Run  <Esc> Back, change nothing"
        return "<Enter> Run this step  <PgUp/PgDn> Scroll  <Esc> Back, change nothing"
    if state is S.RUNNING:
        return "Running...  <Esc> Ask to stop at the next safe point"
    if state is S.RESULT:
        retry = "  <R> Retry" if can_retry else ""
        return f"<Enter> Next{retry}  <PgUp/PgDn> Scroll  <Esc> Plan"
    if state is S.SUMMARY:
        more = "<Enter> Later steps  " if has_later else ""
        return f"{more}<PgUp/PgDn> Scroll  <Esc> Close"
    return ""
