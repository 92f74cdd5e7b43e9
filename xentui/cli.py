"""The `xentui` entry point.

`xentui [TARGET] [options]` starts the console UI; `xentui --demo [SCENARIO]`
starts it against the built-in simulator; `xentui COMMAND ...` runs one of the
sub-commands below. Each sub-command lives in its own module exposing
`configure(parser)` and `run(args) -> int`, imported only when used so that
`xentui status` never pays for importing Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from xentui import __version__

# name -> (module, one-line help)
COMMANDS = {
    "status": ("xentui.commands.status", "show the pool, this host and what is wrong"),
    "recover": ("xentui.commands.recover", "print or run the recovery plan"),
    "report": ("xentui.commands.report", "write the incident report from the audit log"),
    "sim": ("xentui.sim.cli", "run and control the xapi pool simulator"),
}


def _command_parser(name: str) -> argparse.ArgumentParser:
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"xentui {name}", description=help_text)
    module.configure(parser)
    parser.set_defaults(_run=module.run)
    return parser


def _ui_parser() -> argparse.ArgumentParser:
    from xentui.commands import ui as ui_command

    parser = argparse.ArgumentParser(
        prog="xentui",
        description="Console UI that gets a XenServer / XCP-ng pool working again after its master dies.",
        epilog="commands: " + "; ".join(f"{n}: {h}" for n, (_, h) in COMMANDS.items()),
    )
    parser.add_argument("--version", action="version", version=f"xentui {__version__}")
    ui_command.configure(parser)
    parser.set_defaults(_run=ui_command.run)
    return parser


def _prepare_runtime() -> Optional[str]:
    """The dom0 realities (identity, CA paths, locale, leftovers): None, or the one line to show."""
    from xentui import runtime_env

    try:
        runtime_env.prepare()
    except runtime_env.EnvironmentProblem as exc:
        return str(exc)
    return None


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        # Before the runtime checks: it must answer on any host, even a broken one.
        print(f"xentui {__version__}")
        return 0
    if argv and argv[0] in COMMANDS:
        parser = _command_parser(argv[0])
        args = parser.parse_args(argv[1:])
    else:
        parser = _ui_parser()
        args = parser.parse_args(argv)
    problem = _prepare_runtime()
    if problem:
        print(f"xentui: {problem}", file=sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
