"""`xentui status [TARGET] [--json]`: how we are connected and what the pool looks like.

Built on the recovery Observer: one observation (login strategy, one
event.from, emergency state, the host's own files, peer probes and what the
other hosts' xapi say) and its findings. Prints the pool, this host, every
host, then the findings, most severe first. When xapi cannot list the pool
(emergency mode, hung master) it says why and shows what the host's own files
say (pool.conf, state.db with its age, the management interface), each
labelled with its source and age.

Health includes the workload: while a recovery run is open in the audit log
(the run `recover --run` would resume), VMs that ran on a dead host when it
began and run nowhere now are a critical finding (VMS_NOT_RESTARTED), judged
by `recovery.open_run` exactly as recover and the dashboard judge it.

Exit codes: 0 healthy (nothing worse than info), 1 degraded (worst finding is
a warning), 2 critical (also: bad arguments, as argparse does), 3 could not
connect to xapi (one clear line on stderr; the host's files are still shown
when they could be read).

This module is the command alone, and imports only the xapi layer: it opens
the endpoint, logs in and asks for the pool snapshot (xentui.xapi.head_start)
before the recovery layer and the rendering (`xentui.commands.status_view`)
are imported, so xapi builds its answer meanwhile.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from xentui.xapi.endpoint import close_quietly
from xentui.xapi.errors import XapiError
from xentui.xapi.head_start import SnapshotHeadStart
from xentui.xapi.safe_text import printable as _p
from xentui.xapi.targets import Target, add_target_arguments, password_from_env, target_from_args
from xentui.xapi.transport import open_endpoint

if TYPE_CHECKING:
    from xentui.recovery.open_run import OpenRunJudge

EXIT_USAGE = 2
EXIT_CANNOT_CONNECT = 3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        default=None,
        help="where xapi is: local (default), [ssh://]root@host, https://host, sim:DIR/HOST",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--audit-log",
        metavar="FILE",
        default=None,
        help="the recovery audit log whose open run's workload counts for health "
        "(default: $XENTUI_STATE_DIR or the user state dir /audit.jsonl)",
    )
    add_target_arguments(parser)


def _password(target: Target, endpoint: Any) -> Optional[str]:
    """--password-env, else a getpass prompt on a tty; never argv. None when
    the endpoint is pre-authenticated (unix socket / streamlocal as root)."""
    from_env = password_from_env(target)
    if from_env is not None:
        return from_env
    if getattr(endpoint, "preauthenticated_root", False):
        return None
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"xapi password for {target.xapi_user}@{target.label}: ")
    return None


def _fail(target_label: str, exc: BaseException) -> int:
    from xentui.xapi.error_table import explain_exception

    exp = explain_exception(exc)
    print(_p(f"xentui status: cannot connect to {target_label}: {exp.title}: {exp.meaning}"), file=sys.stderr)
    return EXIT_CANNOT_CONNECT


def _audit_log(args: argparse.Namespace) -> Optional[Path]:
    """The --audit-log to judge the workload with (None: the default log).
    ValueError (one line) for a named log that is missing."""
    path = getattr(args, "audit_log", None)
    if not path:
        return None
    if not os.path.lexists(path):
        raise ValueError(f"--audit-log {path}: no such file")
    return Path(path)


def _workload_judge(audit_log: Optional[Path]) -> OpenRunJudge:
    """Judges health with the open recovery run's workload, as recover and
    the dashboard do."""
    from xentui.recovery.open_run import OpenRunJudge

    return OpenRunJudge.for_default_log() if audit_log is None else OpenRunJudge(audit_log)


def run(args: argparse.Namespace) -> int:
    try:
        target = target_from_args(args, args.target)
        audit_log = _audit_log(args)
    except ValueError as exc:
        print(_p(f"xentui status: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    try:
        endpoint = open_endpoint(target, connect_timeout=target.connect_timeout)
    except XapiError as exc:
        return _fail(target.label, exc)
    try:
        password = _password(target, endpoint)
    except ValueError as exc:
        close_quietly(endpoint)
        print(f"xentui status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if password is None and not getattr(endpoint, "preauthenticated_root", False):
        close_quietly(endpoint)
        print(
            f"xentui status: cannot connect to {target.label}: a password is needed "
            "(use --password-env VAR, or run on a terminal to be asked)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_CONNECT
    # xapi's answer is the longest wait: ask for it now, load the rest meanwhile.
    head_start = SnapshotHeadStart.begin(
        endpoint,
        username=target.xapi_user or "root",
        password=password if password is not None else (target.published_password() or ""),
        call_timeout=target.call_timeout,
        label=target.label,
        target_text=target.raw or target.label,
    )
    return _observe_and_show(args, target, audit_log, password, head_start)


def _observe_and_show(
    args: argparse.Namespace,
    target: Target,
    audit_log: Optional[Path],
    password: Optional[str],
    head_start: SnapshotHeadStart,
) -> int:
    from xentui.commands.status_view import exit_code_for, render_status, status_json, view_from_observation
    from xentui.recovery.observer import Observer
    from xentui.xapi.session_info import SessionKind

    # Over http(s) we are not on a pool host: no host files, and the peers'
    # xapi ports are guesses (443, or the target's port), so only what this
    # xapi says is used. Local, SSH and simulator targets also ask the peers.
    observer = Observer(
        target,
        call_timeout=target.call_timeout,
        connect_timeout=target.connect_timeout,
        probe_timeout=min(1.0, target.call_timeout),
        ask_peers=target.kind not in ("http", "https"),
        head_start=head_start,
    )
    try:
        if password is not None:
            observer.set_password(password)
        judge = _workload_judge(audit_log)
        # VMs that ran on a dead host when an unfinished recovery began and run
        # nowhere now make the pool unhealthy (VMS_NOT_RESTARTED).
        obs = judge.apply(observer.observe())
        if judge.problem:
            print(_p(f"xentui status: warning: {judge.problem}"), file=sys.stderr)
        view = view_from_observation(
            obs, call_timeout=target.call_timeout, client=observer.client, endpoint=head_start.endpoint, target=target
        )
        connected = obs.connection.session_kind is not SessionKind.NONE
        if not connected and obs.ground_truth is None:
            # Nothing else to show: one clear line.
            print(_p(f"xentui status: cannot connect to {target.label}: {obs.connection.detail}"), file=sys.stderr)
            return EXIT_CANNOT_CONNECT
        if args.json:
            doc = status_json(view)
            doc["recovery_run"] = judge.record().run_id or None  # the open run judged with
            print(json.dumps(doc, indent=2, sort_keys=True))
        else:
            sys.stdout.write(render_status(view))
        if not connected:
            print(
                _p(f"xentui status: cannot connect to xapi on {target.label}: {obs.connection.detail}"), file=sys.stderr
            )
            return EXIT_CANNOT_CONNECT
        code = exit_code_for(view)
        if judge.unreadable and code == 0:
            # Never claim health that isn't there: an unreadable audit log may
            # hide an interrupted recovery whose VMs are still down.
            print(
                "xentui status: not reported healthy: the audit log could not be read, so VMs an "
                "interrupted recovery left down cannot be ruled out",
                file=sys.stderr,
            )
            code = 1
        return code
    finally:
        observer.close()
