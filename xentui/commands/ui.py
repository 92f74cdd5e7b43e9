"""`xentui [TARGET] [--demo [SCENARIO]] [--read-only] [--basic] ...`: the console UI.

Textual is imported only inside `run()`, so `xentui --help` and the other
sub-commands stay cheap. On exit the terminal is restored by Textual first;
then, if a thread is still stuck in a call to a hung host, the process ends
with `os._exit` instead of waiting for it (nothing is left to flush).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.observer import Observer

DEFAULT_DEMO_SCENARIO = "master-down"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="local (default), [ssh://]user@host[:port], https://host, sim:STATE_DIR/HOST",
    )
    parser.add_argument(
        "--demo",
        nargs="?",
        const=DEFAULT_DEMO_SCENARIO,
        metavar="SCENARIO",
        help=f"run against the built-in simulator (default scenario: {DEFAULT_DEMO_SCENARIO})",
    )
    parser.add_argument("--read-only", action="store_true", help="hide every action that changes anything")
    parser.add_argument(
        "--basic",
        action="store_true",
        help="Linux-console profile: 8 colours, CP437 glyphs only (automatic on TERM=linux)",
    )
    parser.add_argument(
        "--time-scale", type=float, default=None, metavar="F", help="demo: simulated-to-real time factor (default 0.05)"
    )
    parser.add_argument("--config", metavar="FILE", help="config.toml (default: the user config dir)")
    parser.add_argument("--audit-log", metavar="FILE", help="audit log (default: the user state dir)")
    parser.add_argument(
        "--prefer-master",
        metavar="HOST",
        default="",
        help="the wizard's plan ends with handing the master role to HOST (dead records forgotten first)",
    )
    try:
        from xentui.xapi.targets import add_target_arguments
    except ImportError:  # the connection layer is optional for --help
        return
    add_target_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from xentui.ui.config import load_config
    from xentui.ui.profile import detect_profile

    profile = detect_profile(basic_flag=bool(args.basic))
    if profile.basic and "TEXTUAL_COLOR_SYSTEM" not in os.environ:
        # 16 colours, as the Linux console has; set before Textual is imported.
        os.environ["TEXTUAL_COLOR_SYSTEM"] = "standard"
    config = load_config(Path(args.config) if args.config else None)
    for problem in config.problems:
        print(f"xentui: config: {problem}", file=sys.stderr)
    audit_path = Path(args.audit_log) if args.audit_log else None

    demo = None
    if args.demo:
        if args.target:
            print("xentui: give either TARGET or --demo, not both", file=sys.stderr)
            return 2
        from xentui.sim import scenarios
        from xentui.ui.demo import DEFAULT_TIME_SCALE, DemoControl

        known = scenarios.available()
        if args.demo not in known:
            print(
                f"xentui: unknown demo scenario {args.demo!r}; choose one of: " + ", ".join(sorted(known)),
                file=sys.stderr,
            )
            return 2

        time_scale = args.time_scale if args.time_scale else DEFAULT_TIME_SCALE
        demo = DemoControl(args.demo, time_scale=time_scale)
        opener = _demo_opener(demo, read_only=args.read_only)
        label = "DEMO"
        if audit_path is None:
            audit_path = demo.state_dir / "audit.jsonl"
    else:
        time_scale = 1.0
        try:
            from xentui.xapi.targets import password_from_env, target_from_args

            target = target_from_args(args, args.target)
            password = password_from_env(target)
        except ValueError as exc:
            print(f"xentui: {exc}", file=sys.stderr)
            return 2
        opener = _observer_opener(target, password, read_only=args.read_only)
        label = target.label

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "xentui: the console UI needs a terminal; `xentui status` prints a one-shot report instead", file=sys.stderr
        )
        if demo is not None:
            demo.stop()
        return 2

    from xentui.ui.app import XenTuiApp

    app = XenTuiApp(
        opener,
        target_label=label,
        profile=profile,
        read_only=args.read_only,
        demo=demo,
        config=config,
        audit_path=audit_path,
        time_scale=time_scale,
        connect_overrides=_connect_overrides(args),
        preferred_master=args.prefer_master,
    )
    started = time.monotonic()
    try:
        result = app.run(mouse=False)
    finally:
        if demo is not None:
            demo.stop(timeout=1.0)
    rc = result if isinstance(result, int) else (app.return_code or 0)
    if profile.basic and sys.stdout.isatty():
        # The Linux console has no alternate screen: don't leave the last frame behind.
        sys.stdout.write("\x1b[0m\x1b[2J\x1b[H")
    sys.stdout.write(f"xentui: {label} closed after {time.monotonic() - started:.0f} s.\n")
    sys.stdout.flush()
    _exit_now_if_stuck(rc)
    return rc


def _connect_overrides(args: argparse.Namespace) -> Dict[str, Any]:
    """The shared connection options, for targets typed on the connect screen."""
    overrides: Dict[str, Any] = {}
    for option, field_name in (
        ("identity", "identity"),
        ("known_hosts", "known_hosts"),
        ("ssh_config", "ssh_config"),
        ("user", "xapi_user"),
    ):
        value = getattr(args, option, None)
        if value:
            overrides[field_name] = str(Path(value).expanduser()) if option != "user" else value
    for option in ("connect_timeout", "call_timeout"):
        value = getattr(args, option, None)
        if value:
            overrides[option] = value
    return overrides


def _observer_opener(target: Any, password: Optional[str], *, read_only: bool) -> Callable[[], "Observer"]:
    def open_observer() -> "Observer":
        from xentui.recovery.observer import Observer

        return Observer(target, password=password, read_only=read_only)

    return open_observer


def _demo_opener(demo: Any, *, read_only: bool) -> Callable[[], "Observer"]:
    def open_demo() -> "Observer":
        from xentui.recovery.observer import Observer
        from xentui.xapi.targets import parse_target

        demo.start()
        target = parse_target(demo.target)
        password = target.sim_endpoints().root_password or None
        return Observer(
            target,
            password=password,
            read_only=read_only,
            demo=True,
            call_timeout=2.0,
            connect_timeout=1.0,
            probe_timeout=0.5,
        )

    return open_demo


def _exit_now_if_stuck(rc: int) -> None:
    """Threads stuck in calls to a hung host must not keep the process alive."""
    stuck = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if stuck:
        sys.stderr.flush()
        os._exit(rc)
