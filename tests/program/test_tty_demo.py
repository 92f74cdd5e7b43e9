"""The INSTALLED `xentui --demo` in a real terminal: tmux, TERM=linux, 80x25.

Reads the screen (capture-pane), checks the emergency banner and the
management IP, records every byte the app wrote (pipe-pane) and checks that
only glyphs the Linux console font (CP437) has were drawn and only SGR codes
0..49 were used (the VT has 8 background colours), then presses q and checks
the process is gone with exit status 0. Skipped only when tmux is absent.
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


def installed_xentui() -> str:
    candidate = Path(sys.executable).parent / "xentui"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("xentui")
    if not found:
        pytest.fail("the xentui command is not installed (pip install -e .)")
    return found


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.socket = f"xentui-test-{os.getpid()}-{int(time.monotonic() * 1000)}"
        self.tmp = tmp

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [TMUX, "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10, check=check
        )

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo", check=False).stdout

    def kill(self) -> None:
        self.run("kill-server", check=False)


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_installed_demo_in_a_linux_console_at_80x25(tmp_path):
    xentui = installed_xentui()
    raw = tmp_path / "raw.out"
    rc_file = tmp_path / "rc"
    pid_file = tmp_path / "pid"
    tmux = Tmux(tmp_path)
    env = f"TERM=linux XDG_CONFIG_HOME={tmp_path}/config XDG_STATE_HOME={tmp_path}/state XDG_DATA_HOME={tmp_path}/data"
    # The pane waits for a signal so that pipe-pane is recording before the first byte.
    command = (
        f"{TMUX} -L {tmux.socket} wait-for go; echo $$ > {pid_file}; "
        f"exec env {env} sh -c '{xentui} --demo; echo $? > {rc_file}'"
    )
    try:
        tmux.run("new-session", "-d", "-s", "demo", "-x", "80", "-y", "25", command)
        tmux.run("pipe-pane", "-t", "demo", "-o", f"cat >> {raw}")
        tmux.run("wait-for", "-S", "go")

        assert wait_until(lambda: "EMERGENCY MODE" in tmux.capture(), timeout=30), tmux.capture()
        assert wait_until(lambda: "127.0.0.12" in tmux.capture(), timeout=10), tmux.capture()
        screen = tmux.capture()
        assert "DEMO" in screen and "Press r to start recovery" in screen
        assert "Mgmt interface of xen2" in screen and "IP address  127.0.0.12" in screen
        assert "xen1" in screen and "Findings" in screen
        lines = screen.rstrip("\n").split("\n")
        assert len(lines) <= 25 and max(len(line) for line in lines) <= 80

        # Walk a few screens by keyboard so their glyphs are recorded too.
        for key, needle in (
            ("2", "Virtual machines"),
            ("3", "Network interfaces"),
            ("?", "Help - xentui keys"),
            ("Escape", "Network interfaces"),
            ("d", "DEMO: inject"),
            ("Escape", "Network"),
            ("1", "EMERGENCY MODE"),
        ):
            tmux.run("send-keys", "-t", "demo", key)
            assert wait_until(lambda needle=needle: needle in tmux.capture(), timeout=10), (key, tmux.capture())

        pid = int(pid_file.read_text().strip())
        started = time.monotonic()
        tmux.run("send-keys", "-t", "demo", "q")
        assert wait_until(rc_file.exists, timeout=5), tmux.capture()
        quit_seconds = time.monotonic() - started
        assert rc_file.read_text().strip() == "0"
        assert wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=5)
        print(f"q -> process gone in {quit_seconds:.2f} s")
    finally:
        tmux.kill()

    output = raw.read_bytes().decode("utf-8", errors="replace")
    assert len(output) > 1000
    sgr_codes = set()
    for params, _inter, final in CSI.findall(output):
        if final == "m" and not params.startswith(("?", "<", ">", "=")):
            for part in params.split(";"):
                sgr_codes.add(int(part) if part else 0)
    bad_sgr = sorted(c for c in sgr_codes if not 0 <= c <= 49)
    assert not bad_sgr, f"SGR codes the Linux console cannot show: {bad_sgr}"
    text = OTHER_ESC.sub("", OSC.sub("", CSI.sub("", output)))
    drawn = {ch for ch in text if ch not in "\r\n\t\b\x07\x0e\x0f"}
    not_cp437 = sorted(ch for ch in drawn if ch not in CP437)
    assert not not_cp437, "glyphs missing from the console font: " + " ".join(f"U+{ord(c):04X}" for c in not_cp437)
