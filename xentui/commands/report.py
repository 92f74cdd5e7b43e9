"""`xentui report [--since TIME] [-o FILE] [--audit-log FILE]`: the Markdown incident report.

Built from the audit log alone (timeline, findings recorded at the start and
end of each run, every action with its xe equivalent). TIME is ISO 8601
(2026-11-25T03:00, UTC unless an offset is given), a POSIX timestamp, or a
relative age like 30m / 2h / 1d. Exit codes: 0 written, 1 the log could not be read or the
report not written, 2 usage error (a missing --audit-log file included).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from xentui.recovery.audit import AuditLog, AuditLogError
from xentui.recovery.private_files import os_error_reason
from xentui.recovery.report import render_report, write_report

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def parse_since(text: str, now: Optional[float] = None) -> float:
    text = text.strip()
    now = time.time() if now is None else now
    m = _AGE.match(text)
    if m:
        return now - float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: use ISO 8601 (2026-11-25T03:00), a POSIX time, or 30m/2h/1d") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="TIME", help="only records from TIME on (ISO 8601, POSIX, or 30m/2h/1d ago)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report here (default: stdout)")
    parser.add_argument("--audit-log", metavar="FILE", help="audit log to read (default: the user state dir)")


def run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"xentui report: {exc}", file=sys.stderr)
        return 2
    if args.audit_log and not Path(args.audit_log).exists():
        # A mistyped path must not produce an empty "nothing happened" report.
        print(f"xentui report: --audit-log {args.audit_log}: no such file", file=sys.stderr)
        return 2
    audit = AuditLog(Path(args.audit_log)) if args.audit_log else AuditLog()
    try:
        records = audit.records(since=since)
    except AuditLogError as exc:
        print(f"xentui report: {exc}", file=sys.stderr)
        return 1
    quarantined = audit.quarantined
    if quarantined:
        print(f"xentui report: warning: {audit.quarantine_note()}", file=sys.stderr)
    if args.output:
        try:
            path = write_report(records, (), args.output, quarantined=quarantined)
        except OSError as exc:
            print(f"xentui report: cannot write {args.output}: {os_error_reason(exc)}", file=sys.stderr)
            return 1
        print(f"Report written to {path} ({len(records)} audit records from {audit.path})")
    else:
        sys.stdout.write(render_report(records, (), quarantined=quarantined))
    return 0
