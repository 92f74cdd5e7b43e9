"""The Markdown incident report: timeline, findings, actions with xe equivalents.

Built from the audit log alone (plus, optionally, the current findings), so
it can be written after the fact on any machine that has the log.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from xentui.recovery import audit as au
from xentui.recovery.audit import AuditRecord, QuarantinedLine
from xentui.recovery.findings import Finding
from xentui.recovery.private_files import make_private_dir, write_private_file
from xentui.xapi.safe_text import multiline

FINDINGS = "findings"  # audit record kind holding a findings snapshot (inputs["findings"])


def _t(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + "Z"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(
    records: Iterable[AuditRecord],
    findings: Sequence[Finding],
    path: Union[str, "os.PathLike[str]"],
    quarantined: Sequence[QuarantinedLine] = (),
    stop: Sequence[str] = (),
) -> Path:
    """Write the report for `records` (+ the current `findings`) to `path`:
    0600 (it names hosts and what was done to them), written whole or not at
    all. OSError (NotRegularFile for a FIFO or directory) if it cannot be.
    `stop`: the plan's clear stop (Plan.stop), when it ended there."""
    path = Path(path)
    make_private_dir(path.parent)
    text = render_report(list(records), list(findings), quarantined=quarantined, stop=stop)
    return write_private_file(path, text.encode("utf-8"))


def _findings_table(items: List[Dict[str, Any]]) -> List[str]:
    if not items:
        return ["(none recorded)", ""]
    out = ["| severity | code | host | summary |", "|---|---|---|---|"]
    for f in items:
        out.append(
            f"| {_cell(f.get('severity', ''))} | {_cell(f.get('code', ''))} | {_cell(f.get('host', ''))} "
            f"| {_cell(f.get('summary', ''))} |"
        )
    out.append("")
    for f in items:
        ev = f.get("evidence") or []
        if ev:
            out.append(f"- **{f.get('code')}** {f.get('host', '')}: " + "; ".join(str(e) for e in ev))
    out.append("")
    return out


def _stop_section(records: Sequence[AuditRecord], stop: Sequence[str]) -> List[str]:
    """Where xentui stopped because xapi offers no fix it can run (e.g. a
    member newer than its coordinator): what it said, and that it changed nothing."""
    said = [str(line) for line in stop if str(line).strip()]
    if not said:  # `recover --run` records its stop as the run's end
        said = list(dict.fromkeys(r.detail for r in records if r.kind == au.RUN_END and r.outcome == "stopped"))
    if not said:
        return []
    out = ["## Stopped: xentui planned nothing that changes the pool", ""]
    out += [f"- {_cell(line)}" for line in said if line]
    out.append("")
    return out


def is_read_only_run(recs: Sequence[AuditRecord]) -> bool:
    """A run whose first run-start says read-only, or whose steps all only
    said what they would do: it executed nothing."""
    first = next((r for r in recs if r.kind == au.RUN_START), None)
    if first is not None:
        return bool(first.inputs.get("read_only"))
    steps = [r for r in recs if r.kind == au.STEP_END]
    return bool(steps) and all(r.outcome == "read-only" for r in steps)


def run_outcome(recs: Sequence[AuditRecord]) -> str:
    """The run's outcome: that of its last run-end, unless it was resumed
    after it and that invocation has not ended (interrupted again)."""
    unfinished = "unfinished (no run-end record: interrupted or still running)"
    last_end = next((r for r in reversed(recs) if r.kind == au.RUN_END), None)
    if last_end is None:
        return unfinished
    last_start = next((i for i in range(len(recs) - 1, -1, -1) if recs[i].kind == au.RUN_START), -1)
    if last_start > recs.index(last_end):
        return unfinished
    return last_end.outcome


def render_report(
    records: List[AuditRecord],
    findings: Sequence[Finding],
    generated_at: Optional[float] = None,
    quarantined: Sequence[QuarantinedLine] = (),
    stop: Sequence[str] = (),
) -> str:
    """`stop`: the lines of the plan's clear stop (Plan.stop) the recovery
    ended on; without it, the stops the audit log recorded (run-end "stopped")."""
    generated_at = time.time() if generated_at is None else generated_at
    lines: List[str] = ["# Pool incident report", ""]
    lines.append(f"Generated {_t(generated_at)} by xentui from {len(records)} audit record(s).")
    lines.append("")
    if quarantined:
        lines += ["## Damaged audit log lines (skipped)", ""]
        lines += [f"- {_cell(q.describe())}" for q in quarantined]
        lines.append("")
    if not records:
        lines += ["No recovery actions were recorded in the audit log.", ""]
    runs: Dict[str, List[AuditRecord]] = {}
    for rec in records:
        runs.setdefault(rec.run_id, []).append(rec)

    lines += ["## Summary", ""]
    totals = [0, 0, 0]  # real runs, step attempts, succeeded
    read_only_runs = 0
    for run_id, recs in runs.items():
        start = min(r.ts for r in recs)
        end = max(r.ts for r in recs)
        outcome = run_outcome(recs)
        steps = [r for r in recs if r.kind == au.STEP_END]
        done = sum(1 for r in steps if r.outcome in ("done", "skipped"))
        if is_read_only_run(recs):
            read_only_runs += 1
            lines.append(
                f"- Run `{run_id}`: {_t(start)} – {_t(end)}, read-only: nothing was executed "
                f"({len(steps)} step(s) shown), not counted in the totals."
            )
            continue
        totals[0] += 1
        totals[1] += len(steps)
        totals[2] += done
        lines.append(
            f"- Run `{run_id}`: {_t(start)} – {_t(end)}, {done}/{len(steps)} step attempt(s) "
            f"succeeded, outcome: **{outcome}**."
        )
        fenced = sorted({r.host for r in recs if r.kind == au.ATTEST})
        if fenced:
            lines.append(f"  - Operator attested as powered off / fenced: {', '.join(fenced)}.")
    if runs:
        lines.append(
            f"- Totals: {totals[0]} recovery run(s), {totals[2]}/{totals[1]} step attempt(s) succeeded"
            + (f"; {read_only_runs} read-only run(s) not counted." if read_only_runs else ".")
        )
    lines.append("")
    lines += _stop_section(records, stop)

    first_findings = next((r for r in records if r.kind == FINDINGS), None)
    if first_findings is not None:
        lines += [f"## Findings at the start ({_t(first_findings.ts)})", ""]
        lines += _findings_table(list(first_findings.inputs.get("findings") or []))
    baseline = next((r for r in records if r.kind == "baseline"), None)  # run_record.BASELINE
    if baseline is not None:
        down = set(baseline.inputs.get("down_hosts") or ())
        stranded = [v for v in baseline.inputs.get("vms") or () if isinstance(v, dict) and v.get("host") in down]
        if stranded:
            lines += [f"## Workload on hosts that did not answer at the start ({_t(baseline.ts)})", ""]
            lines += [
                f"- {_cell(v.get('name', ''))} ({_cell(v.get('uuid', ''))}): {_cell(v.get('power_state', ''))} "
                f"on {_cell(v.get('host', ''))}"
                for v in stranded
            ]
            lines.append("")
    last_findings = next((r for r in reversed(records) if r.kind == FINDINGS), None)
    if findings:
        lines += ["## Findings now", ""]
        lines += _findings_table([f.to_json() for f in findings])
    elif last_findings is not None and last_findings is not first_findings:
        lines += [f"## Findings at the end ({_t(last_findings.ts)})", ""]
        lines += _findings_table(list(last_findings.inputs.get("findings") or []))

    lines += ["## Actions", ""]
    starts: Dict[Tuple[str, str], AuditRecord] = {}
    interrupted: List[AuditRecord] = []
    n = 0
    for rec in records:
        if rec.kind == au.STEP_START:
            key = (rec.run_id, rec.step_id)
            if key in starts:
                interrupted.append(starts[key])  # started again without ever ending
            starts[key] = rec
        elif rec.kind == au.STEP_END:
            n += 1
            step_start = starts.pop((rec.run_id, rec.step_id), None)
            title = step_start.detail if step_start is not None else rec.step_id
            lines.append(f"### {n}. {title} — {rec.outcome}")
            lines.append("")
            lines.append(
                f"- Step `{rec.step_id}` on {rec.host or 'the pool'}, {_t(rec.ts)}, took {rec.duration:.1f} s."
            )
            if rec.detail:
                lines.append(f"- Result: {rec.detail}")
            verification = rec.inputs.get("verification") if isinstance(rec.inputs, dict) else ""
            if verification:
                lines.append(f"- Verified: {verification}")
            calls = [
                r
                for r in records
                if r.kind == "call"
                and r.run_id == rec.run_id
                and r.step_id == rec.step_id
                and (step_start is None or step_start.ts <= r.ts <= rec.ts)
            ]
            for c in calls:
                args = ", ".join(str(a) for a in c.inputs.get("args", []))
                lines.append(
                    f"- Call `{c.inputs.get('method', '')}({args})`: {c.outcome}"
                    + (f" — {c.detail}" if c.detail else "")
                )
            if rec.xe:
                lines.append("- xe equivalent:")
                lines.append("")
                lines.append("  ```")
                lines += [f"  {x}" for x in rec.xe]
                lines.append("  ```")
            lines.append("")
    interrupted.extend(starts.values())
    for step_start in sorted(interrupted, key=lambda r: r.ts):
        lines.append(
            f"- Step `{step_start.step_id}` (run `{step_start.run_id}`) started at {_t(step_start.ts)} "
            "and has no end record: the process stopped mid-step. Check its effect before re-running."
        )
    if n == 0 and not interrupted:
        lines += ["No step was executed.", ""]
    lines.append("")

    lines += ["## Timeline", "", "| time (UTC) | event | step | host | outcome | detail |", "|---|---|---|---|---|---|"]
    for rec in records:
        if rec.kind == FINDINGS:
            detail = ", ".join(f.get("code", "") for f in rec.inputs.get("findings") or [])
        else:
            detail = rec.detail
        if rec.kind == "call":
            detail = f"{rec.inputs.get('method', '')} {rec.detail}".strip()
        lines.append(
            f"| {_t(rec.ts)} | {_cell(rec.kind)} | {_cell(rec.step_id)} | {_cell(rec.host)} | "
            f"{_cell(rec.outcome)} | {_cell(detail[:200])} |"
        )
    lines.append("")
    # Records quote peer text (names, xapi errors): no raw control character
    # reaches whoever `cat`s the report or prints it on stdout.
    return multiline("\n".join(lines))
