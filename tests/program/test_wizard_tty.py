"""The INSTALLED `xentui --demo` in a real terminal (tmux, TERM=linux, 80x25):
open the recovery wizard with `r` and finish the master-down recovery by
keys alone, reading only the screen; then check that every byte drawn on the
way was a CP437 glyph and that the incident report named on screen exists.
Skipped only when tmux is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xentui.ui.profile import CP437

pytestmark = pytest.mark.tty

TMUX = shutil.which("tmux")
CSI = re.compile(r"\x1b\[([0-9;?<>=]*)([ -/]*)([@-~])")
OSC = re.compile(r"\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
OTHER_ESC = re.compile(r"\x1b[()][0-9A-Za-z]|\x1b[=>78cDEHMZ]")
STATE = re.compile(r"xentui recovery\s+\[([A-Z-]+)\]")


def _xentui() -> str:
    candidate = Path(sys.executable).parent / "xentui"
    return str(candidate) if candidate.exists() else (shutil.which("xentui") or "")


class Pane:
    def __init__(self) -> None:
        self.socket = f"xentui-wizard-{os.getpid()}-{int(time.monotonic() * 1000)}"

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10, check=check
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "w", check=False).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "w", *keys)

    def text(self, text: str) -> None:
        self.tmux("send-keys", "-t", "w", "-l", text)


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def next_keys(screen: str):
    """What an operator who accepts every step types next, read off the screen."""
    match = STATE.search(screen)
    state = match.group(1) if match else ""
    if state in ("OVERVIEW", "STEP-DETAIL"):
        return state, ["Enter"], ""
    if state == "ATTEST":
        name = re.search(r"Type (\S+) to state that it is powered off", screen)
        return state, (["Enter"] if not name else []), (name.group(1) if name else "")
    if state == "CONFIRM":
        name = re.search(r"To confirm, type (\S+) exactly", screen)
        if name:
            return state, [], name.group(1)
        return state, (["F8"] if "Press F8 to run" in screen else ["Enter"]), ""
    if state == "RESULT":
        assert " - FAILED" not in screen and " - REFUSED" not in screen, screen
        return state, ["Enter"], ""
    if state == "BLOCKED":
        raise AssertionError(screen)
    return state, [], ""  # PRECHECK / RUNNING / SUMMARY: wait


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_installed_demo_recovers_by_keys_in_a_linux_console(tmp_path):
    xentui = _xentui()
    assert xentui, "the xentui command is not installed (pip install -e .)"
    raw, rc_file = tmp_path / "raw.out", tmp_path / "rc"
    pane = Pane()
    env = f"TERM=linux XDG_CONFIG_HOME={tmp_path}/config XDG_STATE_HOME={tmp_path}/state XDG_DATA_HOME={tmp_path}/data"
    command = (
        f"{TMUX} -L {pane.socket} wait-for go; "
        f"exec env {env} sh -c '{xentui} --demo --time-scale 0.02; echo $? > {rc_file}'"
    )
    try:
        pane.tmux("new-session", "-d", "-s", "w", "-x", "80", "-y", "25", command)
        pane.tmux("pipe-pane", "-t", "w", "-o", f"cat >> {raw}")
        pane.tmux("wait-for", "-S", "go")
        assert wait_until(lambda: "Press r to start recovery" in pane.screen(), 30), pane.screen()
        pane.keys("r")
        assert wait_until(lambda: "[OVERVIEW]" in pane.screen(), 10), pane.screen()
        pressed, deadline = 1, time.monotonic() + 90
        sent = ["DASHBOARD: r"]
        while True:
            screen = pane.screen()
            if "Incident report:" in screen and "[SUMMARY]" in screen:
                break
            assert time.monotonic() < deadline, (sent, screen)
            state, keys, name = next_keys(screen)
            if not keys and not name:
                time.sleep(0.05)
                continue
            if name:
                pane.text(name)
                # The name must echo on the prompt line before Enter submits it.
                assert wait_until(lambda name=name: f"> {name}_" in pane.screen(), 10), (sent, pane.screen())
                pane.keys("Enter")
                pressed += len(name) + 1
                sent.append(f"{state}: {name} Enter")
            else:
                pane.keys(*keys)
                pressed += len(keys)
                sent.append(f"{state}: {' '.join(keys)}")
            # Every key sent moves the wizard on: wait for it before reading again.
            # (If it does not, the next round reads the screen and decides anew;
            # the deadline and the keystroke count below catch a real stall.)
            if not wait_until(lambda state=state: next_keys(pane.screen())[0] != state, 10):
                sent.append(f"STALLED in {state}: {pane.screen()!r}")
        assert "The pool is healthy." in screen, screen
        assert pressed <= 40, sent
        report = re.search(r"Incident report: (\S+\.md)", screen)
        assert report and Path(report.group(1)).exists(), screen
        assert "promote:xen2" in Path(report.group(1)).read_text(encoding="utf-8")
        lines = screen.rstrip("\n").split("\n")
        assert len(lines) <= 25 and max(len(line) for line in lines) <= 80
        print(f"recovered with {pressed} keystrokes")
        pane.keys("Escape")
        assert wait_until(lambda: "[SUMMARY]" not in pane.screen(), 10), pane.screen()
        pane.keys("q")
        assert wait_until(rc_file.exists, 10), pane.screen()
        assert rc_file.read_text().strip() == "0"
    finally:
        pane.tmux("kill-server", check=False)
    output = raw.read_bytes().decode("utf-8", errors="replace")
    text = OTHER_ESC.sub("", OSC.sub("", CSI.sub("", output)))
    not_cp437 = sorted({ch for ch in text if ch not in "\r\n\t\b\x07\x0e\x0f" and ch not in CP437})
    assert not not_cp437, "glyphs missing from the console font: " + " ".join(f"U+{ord(c):04X}" for c in not_cp437)
