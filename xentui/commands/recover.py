"""`xentui recover [TARGET] --plan | --run --confirm-dead HOST ...`

--plan (the default) prints the ordered runbook for what is wrong now and
changes nothing. --run executes it non-interactively:

* every host named with --confirm-dead is the operator's attestation that it
  is powered off / fenced; the run refuses if any of them still answers (or
  still accepts connections), and refuses if the plan needs an attestation
  that was not given;
* for two masters, --keep-master HOST names the one to keep;
* with the master gone, --promote HOST names the member to promote (default:
  the one whose database copy is newest; another host's promotion runs at
  its own console);
* before its first step it records the workload (which VMs run where) in
  the audit log; it stops at the first step that fails or is refused, with
  the audit trail intact; running the same command again (within 12 hours)
  resumes that run, killed or not: the plan is re-built from the pool as it
  is plus the run's record, so VMs it reset and did not start yet are still
  started (behind the same --confirm-dead gate), and steps recorded as done
  are not repeated unless the pool still needs them;
* a --read-only run executes nothing and is never resumed as a real run;
* it exits 0 only after the pool has been verified healthy again, and
  healthy includes the workload: VMs that ran on the dead host when the
  recovery began and run nowhere now (not left down on purpose) are not.

Exit codes:
  0  pool verified healthy (for --plan: the plan was printed)
  1  a step failed (see the audit log; run again to resume)
  2  usage error (bad arguments or target)
  3  refused: missing or contradicted attestation (--confirm-dead), missing
     --keep-master, or a step's live precondition did not hold
  4  every step ran but the pool did not verify healthy in time (at once, without
     waiting, when all that is left is VMs the start-vms step tried and could not start)
  5  nothing could be observed (no xapi and no host files)
  6  stopped: xapi offers no fix xentui can run (e.g. a member newer than its
     coordinator: update the coordinator first); nothing was changed
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from typing import TYPE_CHECKING, AbstractSet, Any, List, Optional, Sequence

from xentui.recovery import audit as au
from xentui.recovery import open_run as shared_open_run
from xentui.recovery import peers as pv
from xentui.recovery import run_record
from xentui.recovery.audit import AuditLog
from xentui.recovery.diagnosis import with_run_record
from xentui.recovery.findings import Code, Severity
from xentui.recovery.ha_statefile import STAYS_OFF, lost_in_audit
from xentui.recovery.observation import Observation
from xentui.recovery.plan import Plan, Step
from xentui.recovery.report import FINDINGS
from xentui.recovery.situation import Situation
from xentui.xapi.safe_text import SafeStream

if TYPE_CHECKING:  # pragma: no cover
    from xentui.xapi.targets import Target

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NOT_HEALTHY = 4
EXIT_NO_OBSERVATION = 5
EXIT_STOPPED = 6

# An unfinished run is resumed only if it was active this recently; an older
# one belongs to another incident (its "done" steps must not be skipped now).
# status and the dashboard judge health with the same run (recovery.open_run).
RESUME_WINDOW = shared_open_run.RESUME_WINDOW


def configure(parser: argparse.ArgumentParser) -> None:
    from xentui.xapi.targets import add_target_arguments

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "Exit codes:" + (__doc__ or "").split("Exit codes:", 1)[-1]
    parser.add_argument(
        "target", nargs="?", default=None, help="local (default), [ssh://]user@host, https://host, sim:STATE_DIR[/HOST]"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--plan", action="store_true", help="print the runbook; change nothing (default)")
    mode.add_argument("--run", action="store_true", help="run the plan non-interactively")
    parser.add_argument("--json", action="store_true", help="--plan: print findings and plan as JSON")
    parser.add_argument(
        "--confirm-dead",
        metavar="HOST",
        action="append",
        default=[],
        help="attest that HOST is powered off / fenced (repeatable); required for promotion and for resetting its VMs",
    )
    parser.add_argument(
        "--keep-master", metavar="HOST", default="", help="with two masters: the one to keep (the other is demoted)"
    )
    parser.add_argument(
        "--promote",
        metavar="HOST",
        default="",
        help="master gone: the surviving member to promote (default: the one whose database copy is newest)",
    )
    parser.add_argument(
        "--prefer-master",
        metavar="HOST",
        default="",
        help="add a later step handing the master role to HOST once healthy",
    )
    parser.add_argument(
        "--later",
        action="store_true",
        help="--run: also run the 'later' steps that change the pool (re-enable HA, "
        "designate master); the database backup always runs",
    )
    parser.add_argument(
        "--promote-newer",
        action="store_true",
        help="a member newer than its coordinator: promote it (this host) instead of stopping; the "
        "coordinator must be powered off, and this member leads from its own database copy",
    )
    parser.add_argument("--read-only", action="store_true", help="--run: audit what would run, execute nothing")
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        default=None,
        help="audit log (default: $XENTUI_STATE_DIR or the user state dir /audit.jsonl)",
    )
    parser.add_argument(
        "--verify-timeout",
        metavar="S",
        type=float,
        default=120.0,
        help="--run: seconds to wait for the pool to verify healthy at the end (default 120)",
    )
    parser.add_argument(
        "--probe-timeout", metavar="S", type=float, default=1.0, help="seconds for each peer TCP probe (default 1)"
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help=argparse.SUPPRESS)
    add_target_arguments(parser)


def _password(target: Target) -> Optional[str]:
    from xentui.xapi.targets import password_from_env

    password = password_from_env(target)
    if password is None and target.kind in ("http", "https") and sys.stdin.isatty():
        password = getpass.getpass(f"xapi password for {target.xapi_user}@{target.host}: ")
    return password


def run(args: argparse.Namespace) -> int:
    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import target_from_args

    out = SafeStream(sys.stdout)  # plans and results quote peer text (names, xapi errors)
    err = SafeStream(sys.stderr)
    try:
        target = target_from_args(args, args.target)
        password = _password(target)
    except ValueError as exc:
        print(f"xentui recover: {exc}", file=sys.stderr)
        return EXIT_USAGE
    observer = Observer(
        target,
        password=password,
        call_timeout=target.call_timeout,
        connect_timeout=target.connect_timeout,
        probe_timeout=args.probe_timeout,
        read_only=bool(args.read_only or not args.run),
    )
    try:
        obs = observer.observe()
        if obs.snapshot is None and obs.ground_truth is None:
            print(
                f"xentui recover: cannot observe {target.label}: {obs.connection.state} {obs.connection.detail}",
                file=err,
            )
            return EXIT_NO_OBSERVATION
        unknown = _unknown_host_options(obs, args)
        if unknown:
            print(f"xentui recover: {unknown}", file=err)
            return EXIT_USAGE
        if not args.run:
            return _print_plan(obs, args, out)
        return _run_plan(observer, obs, args, out)
    except au.AuditLogError as exc:
        # A record that cannot be written stops the run before its next act.
        out.flush()
        print(f"xentui recover: {exc}", file=err)
        return EXIT_FAILED
    finally:
        observer.close()


def _unknown_host_options(obs: Observation, args: argparse.Namespace) -> str:
    """One line if --keep-master / --prefer-master / --promote names a host the pool does not have."""
    snap = obs.snapshot
    if snap is None:
        return ""
    names = sorted(h.name_label for h in snap.hosts.values())
    options = (
        ("--keep-master", args.keep_master),
        ("--prefer-master", args.prefer_master),
        ("--promote", args.promote),
    )
    for option, value in options:
        if value and snap.host_by_name(value) is None:
            return f"{option} {value}: no such host in the pool (hosts: {', '.join(names) or 'none'})"
    return ""


def _load_records(audit: AuditLog) -> List[au.AuditRecord]:
    """The audit log's records; damaged lines are named on stderr and skipped."""
    records = audit.records()
    note = audit.quarantine_note()
    if note:
        print(f"xentui recover: warning: {note}", file=sys.stderr)
    return records


# --- --plan ------------------------------------------------------------------------------


def _print_plan(obs: Observation, args: argparse.Namespace, out: SafeStream) -> int:
    audit = AuditLog(args.audit_log) if args.audit_log else AuditLog()
    records = _load_records(audit)
    run_id = shared_open_run.open_run_id(records)
    obs = with_run_record(obs, run_record.from_records(records, run_id))
    plan = _build(obs, args, records, run_id)
    if args.json:
        doc = {
            "at": obs.at,
            "this_host": obs.this_host_name,
            "connection": obs.connection.to_json(),
            "snapshot_source": obs.snapshot_source,
            "findings": [f.to_json() for f in obs.findings],
            "peers": [v.to_json() for v in obs.peer_views],
            "plan": plan.to_json(),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    out.write(render_plan(obs, plan))
    return EXIT_OK


def render_plan(obs: Observation, plan: Plan) -> str:
    lines: List[str] = []
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(obs.at))
    lines.append(f"Recovery plan from {obs.this_host_name or '?'} ({obs.connection.label}), {stamp}")
    lines.append(f"Pool database: {obs.snapshot_source or 'none'}; xapi here: {obs.connection.state}")
    lines.append("Nothing has been changed.")
    lines.append("")
    from xentui.recovery.summary import render_findings

    lines.extend(render_findings(obs.findings, verbose=False).rstrip("\n").splitlines())
    lines.append("")
    notes = list(plan.notes)
    gt = obs.ground_truth
    asked = {v.host_name for v in obs.peer_views if v.reach != pv.NOT_ASKED}
    unasked = [p.host_name for p in (gt.peers if gt is not None else ()) if p.answers and p.host_name not in asked]
    if unasked:
        notes.append(
            "Not asked which role they play (no xapi password given): "
            + ", ".join(unasked)
            + ". Their port is open, so they count as alive. Pass --password-env VAR to check."
        )
    for note in notes:
        lines.append(f"NOTE: {note}")
    if notes:
        lines.append("")
    if plan.stop:
        lines.append("xentui stops here:")
        lines.extend(f"  {line}" for line in plan.stop)
        return "\n".join(lines) + "\n"
    if not plan.steps:
        lines.append(
            "No recovery steps: nothing to do."
            if obs.worst < Severity.WARNING
            else "No automatic steps for these findings; see the explanations above."
        )
        return "\n".join(lines) + "\n"
    if plan.requires_fenced:
        lines.append(
            "To run it: xentui recover --run "
            + " ".join(f"--confirm-dead {h}" for h in plan.requires_fenced)
            + "   (only after making sure those hosts are powered off)"
        )
        lines.append("")
    n = 0
    for phase, title in (("now", "Steps now"), ("later", "Later (back to normal)")):
        steps = [s for s in plan.steps if s.phase == phase]
        if not steps:
            continue
        lines.append(f"{title}:")
        for s in steps:
            n += 1
            lines.append(f"{n:2}. {s.title}   [{s.id}, risk {s.risk}]")
            lines.append(f"    why:       {s.why}")
            lines.append(f"    changes:   {s.changes}")
            lines.append(f"    risk:      {s.risk_text}")
            for i, x in enumerate(s.xe):
                lines.append(f"    {'xe:' if i == 0 else '':10} {x}")
            if s.calls:
                lines.append(f"    calls:     {'; '.join(s.calls)}")
            for i, p in enumerate(s.preconditions):
                lines.append(f"    {'checks:' if i == 0 else '':10} {p.description}")
            lines.append(f"    verify:    {s.verify}")
            lines.append(f"    if it fails: {s.on_failure}")
            if s.requires_fenced:
                lines.append(f"    needs:     --confirm-dead {' --confirm-dead '.join(s.requires_fenced)}")
            if s.choice:
                lines.append(f"    choose:    --keep-master one of {', '.join(s.choice)}")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- --run ----------------------------------------------------------------------------------


def _healthy(obs: Observation) -> bool:
    return obs.worst < Severity.WARNING and any(f.code is Code.POOL_HEALTHY for f in obs.findings)


def _findings_record(audit: AuditLog, run_id: str, obs: Observation, label: str) -> None:
    audit.record(
        run_id,
        FINDINGS,
        host=obs.this_host_name,
        outcome=label,
        inputs={"findings": [f.to_json() for f in obs.findings]},
        detail=", ".join(f.code.value for f in obs.findings),
    )


def _refusal(out: SafeStream, audit: AuditLog, run_id: str, message: str) -> int:
    out.write(f"REFUSED: {message}\n")
    audit.record(run_id, au.RUN_END, outcome="refused", detail=message)
    return EXIT_REFUSED


def _run_plan(observer: Any, obs: Observation, args: argparse.Namespace, out: SafeStream) -> int:
    from xentui.recovery.executor import PlanExecutor, Progress

    audit = AuditLog(args.audit_log) if args.audit_log else AuditLog()
    records = _load_records(audit)
    open_run = shared_open_run.open_run_id(records) or None
    # A read-only run shows the open run's plan but is never that run: it
    # gets its own id (executes nothing, and is never resumed as a real run).
    plan_run = open_run or ""
    if args.read_only:
        open_run = None
    run_id = open_run or au.new_run_id()
    run_records = [r for r in records if r.run_id == run_id] if open_run else []
    progress = au.progress_from_audit(run_records)
    audit.record(
        run_id,
        au.RUN_START,
        host=obs.this_host_name,
        outcome="resumed" if open_run else "started",
        inputs={
            "target": observer.target.label,
            "confirm_dead": list(args.confirm_dead),
            "keep_master": args.keep_master,
            "promote": args.promote,
            "read_only": bool(args.read_only),
        },
        detail=f"xentui recover --run on {observer.target.label}",
    )
    if not args.read_only:
        # Before any step: which VMs ran where when the incident began, so a
        # resumed run knows them after declare_dead has reset them.
        run_record.record_baseline(audit, run_id, obs, run_records)
        plan_run = run_id
    obs = with_run_record(obs, _run_record(audit, plan_run))
    _findings_record(audit, run_id, obs, "start")
    out.write(f"Run {run_id}{' (resuming)' if open_run else ''}; audit log: {audit.path}\n")
    if open_run:
        done = [k for k, v in progress.items() if v in ("done", "skipped")]
        if done:
            out.write("Already done in this run: " + ", ".join(done) + "\n")
    for f in obs.findings:
        out.write(f"  {f.severity.label.upper():8} {f.code.value:20} {f.summary}\n")

    # The fence attestations: only for hosts the pool knows, and never for one that answers.
    sit = Situation(obs)
    for name in args.confirm_dead:
        host = sit.snap.host_by_name(name)
        if host is None:
            return _refusal(
                out,
                audit,
                run_id,
                f"--confirm-dead {name}: no such host in the pool "
                f"(hosts: {', '.join(sorted(h.name_label for h in sit.snap.hosts.values()))})",
            )
        if sit.is_this(host):
            return _refusal(out, audit, run_id, f"--confirm-dead {name}: that is this host")
        st = sit.state(host)
        if st.reach == pv.ANSWERS:
            return _refusal(
                out, audit, run_id, f"--confirm-dead {name}: {name} ANSWERS, it is not dead ({st.evidence})"
            )
        if st.reach == pv.HUNG:
            return _refusal(
                out,
                audit,
                run_id,
                f"--confirm-dead {name}: {name} still accepts connections "
                f"(xapi hung, machine on). Power it off through its BMC first ({st.evidence})",
            )

    executor = PlanExecutor(observer, audit, read_only=bool(args.read_only), time_scale=args.time_scale, run_id=run_id)
    executor.mark_completed(k for k, v in progress.items() if v in ("done", "skipped"))
    for name in args.confirm_dead:
        executor.attest_fenced(name)

    plan = _build(obs, args, audit.records(), plan_run)
    if plan.stop:
        # Nothing xentui can run fixes this (newer_member.py): say so and change nothing.
        out.write("STOPPED. xentui changes nothing here:\n")
        out.write("".join(f"  {line}\n" for line in plan.stop))
        audit.record(run_id, au.RUN_END, outcome="stopped", detail=" ".join(plan.stop))
        return EXIT_STOPPED
    if _healthy(obs) and not any(_wanted(s, args) for s in plan.steps):
        out.write("The pool is healthy: nothing to do.\n")
        audit.record(run_id, au.RUN_END, outcome="healthy", detail="already healthy")
        return EXIT_OK
    if any(s.kind == "keep-master" for s in plan.steps) and not args.keep_master:
        masters = next(s.choice for s in plan.steps if s.kind == "keep-master")
        return _refusal(
            out,
            audit,
            run_id,
            "two masters: " + ", ".join(masters) + ". Choose the one to keep with --keep-master HOST",
        )
    missing = [h for h in plan.requires_fenced if h not in executor.fenced]
    if missing:
        hints = []
        for h in missing:
            host = sit.snap.host_by_name(h)
            if host is not None and sit.state(host).reach == pv.HUNG:
                hints.append(f"{h} still accepts connections: power it off first")
        return _refusal(
            out,
            audit,
            run_id,
            "this plan resets or replaces "
            + ", ".join(missing)
            + "; attest each is powered off with "
            + " ".join(f"--confirm-dead {h}" for h in missing)
            + (" (" + "; ".join(hints) + ")" if hints else ""),
        )

    if getattr(args, "promote_newer", False):
        # The admin chose promotion over updating the coordinator (newer_member.py):
        # what it costs is said before the first step, and kept in the audit log.
        for note in plan.notes:
            out.write(f"NOTE: {note}\n")
            audit.record(run_id, au.NOTE, outcome="shown", detail=note)

    last_message = [""]

    def show(p: Progress) -> None:
        # One line per new message (countdowns tick in the UI, not here).
        if p.message != last_message[0]:
            last_message[0] = p.message
            suffix = f" {p.countdown:.0f} s" if p.countdown is not None and p.message.endswith(" in") else ""
            out.write(f"     ... {p.message}{suffix}\n")
            out.flush()

    executed = set()
    rounds = 0
    while True:
        rounds += 1
        todo = [s for s in plan.steps if _wanted(s, args) and s.id not in executed]
        if not todo:
            break
        step = todo[0]
        executed.add(step.id)
        if progress.get(step.id) in ("done", "skipped") and step.kind not in run_record.RERUN_WHEN_PLANNED:
            out.write(f"[=] {step.id}: already done in this run\n")
            continue
        out.write(f"[>] {step.title}  ({step.id})\n")
        result = executor.run(step, progress=show, choice=args.keep_master if step.kind == "keep-master" else "")
        mark = {"done": "ok", "skipped": "--", "read-only": "ro"}.get(result.status, "!!")
        out.write(f"[{mark}] {result.status}: {result.detail}\n")
        if result.verification and result.status == "done" and result.verification != result.detail:
            out.write(f"     verified: {result.verification}\n")
        if result.status == "refused":
            audit.record(run_id, au.RUN_END, outcome="refused", detail=f"{step.id}: {result.detail}")
            out.write(f"Stopped: {step.id} was refused. Audit log: {audit.path}\n")
            return EXIT_REFUSED
        if result.status == "failed":
            audit.record(run_id, au.RUN_END, outcome="failed", detail=f"{step.id}: {result.detail}")
            out.write(
                f"Stopped at {step.id}. Fix the cause, then run the same command again to resume.\n"
                f"Audit log: {audit.path}\n"
            )
            return EXIT_FAILED
        if step.kind in ("promote", "demote-master", "keep-master") and rounds < 50:
            # The pool changed shape: re-plan from a fresh look (the rest may differ).
            fresh = observer.observe()
            plan = _merge(plan, _build(fresh, args, audit.records(), plan_run), executed)
    if args.read_only:
        audit.record(run_id, au.RUN_END, outcome="read-only", detail="nothing executed")
        out.write("Read-only: nothing was executed.\n")
        return EXIT_OK
    # healthy or not, HA left off for a lost statefile is said last (ha_statefile.py);
    # audited before the run's end record
    stays_off = [note for note in plan.notes if note.startswith(STAYS_OFF)]
    for note in stays_off:
        audit.record(run_id, au.NOTE, outcome="shown", detail=note)
    code = _verify_healthy(observer, audit, run_id, args, out)
    for note in stays_off:
        out.write(f"NOTE: {note}\n")
    return code


def _run_record(audit: AuditLog, run_id: str) -> run_record.RunRecord:
    return run_record.from_records(audit.records(), run_id) if run_id else run_record.RunRecord()


def _wanted(step: Step, args: argparse.Namespace) -> bool:
    return step.phase == "now" or args.later or step.risk == "none"


def ha_to_reenable(records: Sequence[au.AuditRecord]) -> bool:
    """HA was armed when a recovery started (HA_ARMED recorded) and no
    enable-ha step has succeeded since."""
    armed_at = max(
        (
            r.ts
            for r in records
            if r.kind == FINDINGS
            and any(
                # HA_ARMED_MISMATCH: the repair turns pool HA off (pool-ha-disable)
                f.get("code") in (Code.HA_ARMED.value, Code.HA_ARMED_MISMATCH.value)
                for f in r.inputs.get("findings") or []
            )
        ),
        default=None,
    )
    if armed_at is None:
        return False
    enabled_at = max(
        (
            r.ts
            for r in records
            if r.kind == au.STEP_END and r.step_id == "enable-ha" and r.outcome in ("done", "skipped")
        ),
        default=None,
    )
    return enabled_at is None or enabled_at < armed_at


def _build(obs: Observation, args: argparse.Namespace, records: Sequence[au.AuditRecord], run_id: str) -> Plan:
    """The plan for now. VMs reset earlier IN THIS RUN are still to be started
    (never those of older runs: an admin may have stopped them since); HA is
    re-enabled if any recovery found it armed and it was not re-enabled since."""
    from xentui.recovery.plan_builder import build

    return build(
        obs,
        keep_master=args.keep_master,
        preferred_master=args.prefer_master,
        reenable_ha=ha_to_reenable(records),
        ha_statefile_lost=lost_in_audit(records),
        run_record=run_record.from_records(records, run_id),
        promote_newer=bool(getattr(args, "promote_newer", False)),
        promote=args.promote,
    )


def _merge(old: Plan, new: Plan, executed: AbstractSet[str]) -> Plan:
    """The new plan's steps, minus those already executed in this process."""
    steps = tuple(s for s in new.steps if s.id not in executed)
    return Plan(
        steps=steps,
        finding_codes=new.finding_codes,
        console_host=new.console_host,
        created_at=new.created_at,
        notes=new.notes,
    )


def _verify_healthy(observer: Any, audit: AuditLog, run_id: str, args: argparse.Namespace, out: SafeStream) -> int:
    deadline = time.monotonic() + max(1.0, args.verify_timeout)
    record = _run_record(audit, run_id)  # healthy includes the workload the run began with
    obs = with_run_record(observer.observe(), record)
    settled = ""
    while not _healthy(obs) and time.monotonic() < deadline:
        settled = settled_unhealthy(obs, audit.records(), run_id)
        if settled:
            break  # nothing will change it by waiting: say so now, not after --verify-timeout
        time.sleep(0.2)
        obs = with_run_record(observer.observe(), record)
    _findings_record(audit, run_id, obs, "end")
    if _healthy(obs):
        audit.record(run_id, au.RUN_END, outcome="healthy", detail="pool verified healthy")
        out.write("Pool verified healthy:\n")
        for f in obs.findings:
            out.write(f"  {f.severity.label.upper():8} {f.code.value:20} {f.summary}\n")
        return EXIT_OK
    codes = ", ".join(f.code.value for f in obs.findings if f.severity >= Severity.WARNING)
    audit.record(
        run_id, au.RUN_END, outcome="not-healthy", detail=codes + (f"; not waited for: {settled}" if settled else "")
    )
    if settled:
        out.write("The steps ran but the pool is NOT healthy, and waiting will not change it:\n")
    else:
        out.write("The steps ran but the pool is not healthy yet:\n")
    for f in obs.findings:
        out.write(f"  {f.severity.label.upper():8} {f.code.value:20} {f.summary}\n")
    if settled:
        out.write(
            f"{settled}\nNothing else starts them: fix the cause, then run the same command again "
            f"(or start them by hand). Audit log: {audit.path}\n"
        )
    return EXIT_NOT_HEALTHY


def settled_unhealthy(obs: Observation, records: Sequence[au.AuditRecord], run_id: str) -> str:
    """Why waiting for health is pointless, or ''.

    That is so when all that keeps the pool from healthy is VMs that ran on
    a dead host and run nowhere (VMS_NOT_RESTARTED), every one of them was
    in this run's last start-vms step, and that step ended and said why it
    did not start them: a Halted VM stays Halted unless someone starts it.
    (With HA enabled xapi itself may restart them: then we wait.)"""
    bad = [f for f in obs.findings if f.severity >= Severity.WARNING]
    if not bad or any(f.code is not Code.VMS_NOT_RESTARTED for f in bad):
        return ""
    pool = obs.snapshot.pool if obs.snapshot is not None else None
    if pool is None or pool.ha_enabled:
        return ""
    mine = [r for r in records if r.run_id == run_id and r.step_id == "start-vms"]
    start = next((r for r in reversed(mine) if r.kind == au.STEP_START), None)
    end = next((r for r in reversed(mine) if r.kind == au.STEP_END), None)
    if start is None or end is None or end.ts < start.ts or not end.detail:
        return ""
    params: Any = start.inputs.get("params") if isinstance(start.inputs.get("params"), dict) else {}
    tried = {u for u in str(params.get("vm_uuids", "")).split(",") if u}
    left = [u for f in bad for u in f.data.get("vm_uuids", "").split(",") if u]
    if not left or not set(left) <= tried:
        return ""
    names = ", ".join(n for f in bad for n in f.data.get("vm_names", "").split(",") if n)
    return f"Not running: {names}. The start-vms step tried them and ended {end.outcome}: {end.detail}"
