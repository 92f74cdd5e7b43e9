#!/usr/bin/env python3
"""Keystrokes and wall time to a healthy pool: the recovery wizard vs typing xe by hand.

    .venv/bin/python benchmarks/bench_wizard.py [--scenario master-down] [--time-scale 0.05]

Wizard: the real app as `xentui --demo` starts it (simulator in-process,
80x25, keyboard only), from launch to the summary that reports a healthy
pool. The keys are pressed by a script that accepts every step (the same
operator the tests use), so the wall time has no human reading time in it.

By hand: the same recovery as xe commands typed on the survivor's console.
The commands are the plan's own `xe` equivalents for the steps the wizard
ran (with this pool's real UUIDs; a `<placeholder>` counts as a 36-character
UUID), plus the look-ups an admin needs to learn those UUIDs and the
emergency-mode checks of the seed article (recovery-playbook.md §1.2, §1.4,
seed-article.txt). A skipped step counts only its first (inspection)
command: by hand you still have to look to learn that nothing is needed.
Every command costs its characters plus Enter. Typing time is an estimate
at an assumed rate; the xapi waits (fuse, restarts) are the same for both.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the keyboard-only operator the tests use

TYPING_CHARS_PER_MIN = 200  # assumption for the estimate: a fair typist, on a console, under stress
UUID_LEN = 36


def hand_commands(plan, statuses, dead_host: str):
    """The xe command lines an admin types for the same recovery."""
    lines = ["xe host-is-in-emergency-mode"]  # seed article: is this host in emergency mode?
    lines.append("xe host-list")  # the dead host's UUID (for host-declare-dead)
    lines.append(f"xe vm-list resident-on=<uuid-of-{dead_host}> power-state=running params=uuid,name-label")
    lines.append("xe pool-list params=uuid")  # the pool's UUID (for pool-param-get)
    for step in plan.steps:
        if step.phase != "now":
            continue
        status = statuses.get(step.id, "pending")
        xe = [x for x in step.xe if x.strip() and not x.strip().startswith("#")]
        if status == "skipped":
            xe = xe[:1]
        elif status != "done":
            continue
        for line in xe:
            lines.append(line.split("   #", 1)[0].rstrip())
    lines.append("xe host-is-in-emergency-mode")  # seed article: now it must say false
    return lines


def command_keystrokes(line: str) -> int:
    typed = re.sub(r"<[^>]+>", "U" * UUID_LEN, line)
    return len(typed) + 1  # + Enter


def _shows(obs, code: str) -> bool:
    """The look is complete (every other host asked) and has finding `code`."""
    return not getattr(obs, "peers_pending", False) and any(f.code.value == code for f in obs.findings)


async def run_wizard(scenario: str, time_scale: float, workdir: Path, wait_finding: str = ""):
    from tests.ui.test_wizard_fakes import drive_until, wait_for
    from xentui.commands.ui import _demo_opener
    from xentui.ui.app import XenTuiApp
    from xentui.ui.demo import DemoControl
    from xentui.ui.wizard import RecoveryWizard
    from xentui.ui.wizard import WizardState as S

    launched = time.monotonic()
    demo = DemoControl(scenario, state_dir=workdir / "demo", time_scale=time_scale)
    app = XenTuiApp(
        _demo_opener(demo, read_only=False),
        target_label="DEMO",
        demo=demo,
        audit_path=workdir / "audit.jsonl",
        time_scale=time_scale,
    )
    try:
        async with app.run_test(size=(80, 25)) as pilot:
            await wait_for(pilot, lambda: app.observation is not None and app.observation.findings, 30)
            if wait_finding:  # a cause another host reports: press r once the full look names it
                await wait_for(pilot, lambda: _shows(app.observation, wait_finding), 30)
            sim_start = demo.sim.clock.now()
            dashboard_at = time.monotonic()
            await pilot.press("r")  # the key shown in the emergency banner
            await wait_for(pilot, lambda: isinstance(app.screen, RecoveryWizard), 10)
            wizard = app.screen
            keys = 1 + await drive_until(
                pilot,
                wizard,
                lambda w: w.state is S.SUMMARY and not w.report_writing and bool(w.report_path or w.report_error),
                timeout=600,
            )
            healthy_at = time.monotonic()
            sim_elapsed = demo.sim.clock.now() - sim_start
            statuses = {s.id: wizard.progress.status(s.id) for s in wizard.plan.steps}
            dead = [h for h in demo.host_names() if h != demo.console_host]
            return {
                "keys": keys,
                "wall": healthy_at - launched,
                "to_dashboard": dashboard_at - launched,
                "sim_elapsed": sim_elapsed,
                "healthy": "healthy" in wizard.health,
                "plan": wizard.plan,
                "statuses": statuses,
                "dead": dead[0] if dead else "?",
                "report": wizard.report_path,
            }
    finally:
        demo.stop(timeout=1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="master-down")
    parser.add_argument("--time-scale", type=float, default=0.05, help="the demo's default is 0.05")
    parser.add_argument(
        "--wait-finding",
        default="",
        metavar="CODE",
        help="press r only once this finding is shown (e.g. HA_ARMED_MISMATCH, reported by another host)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-wizard-") as tmp:
        result = asyncio.run(run_wizard(args.scenario, args.time_scale, Path(tmp), args.wait_finding))
    by_hand = hand_commands(result["plan"], result["statuses"], result["dead"])
    hand_keys = sum(command_keystrokes(c) for c in by_hand)
    rate = TYPING_CHARS_PER_MIN / 60.0
    print(
        f"Recovery of the demo's {args.scenario} (time_scale {args.time_scale}: xapi waits run "
        f"{1 / args.time_scale:.0f}x faster than on a real pool)"
    )
    print(f"  pool healthy at the end: {'yes' if result['healthy'] else 'NO'}")
    print()
    print(f"  {'':34}{'keystrokes':>11}{'wall time':>12}")
    print(
        f"  {'xentui wizard (launch -> healthy)':34}{result['keys']:>11}{result['wall']:>11.1f}s"
        f"   (measured; keys pressed by a script)"
    )
    print(
        f"  {'xe typed by hand':34}{hand_keys:>11}{hand_keys / rate:>11.0f}s"
        f"   (typing alone, est. at {TYPING_CHARS_PER_MIN} chars/min)"
    )
    print(f"  {'wizard keys typed at the same rate':34}{result['keys']:>11}{result['keys'] / rate:>11.0f}s")
    print()
    print(
        f"  launch -> dashboard: {result['to_dashboard']:.1f} s; simulated xapi time during the "
        f"recovery: {result['sim_elapsed']:.0f} s (the same waits apply by hand)"
    )
    print(f"  by hand: {len(by_hand)} commands ({hand_keys} keystrokes incl. Enter, UUIDs as 36 chars):")
    for line in by_hand:
        print(f"    {line}")
    return 0 if result["healthy"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
