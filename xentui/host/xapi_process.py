"""Is this host's xapi running? The pid file, checked as xsconsole checks it.

xapi writes its pid to /run/xapi.pid (/var/run/xapi.pid on older hosts) at
start-up (xapi_main.ml) and the file is not removed when it dies, so a pid
alone proves nothing: xsconsole's IsXAPIRunning (XSConsoleData.py) counts it
only when /proc/<pid>/exe is an executable named `xapi`; a stale pid reused
by another process, or a pid with no process, means "not running". We run
`readlink /proc/<pid>/exe` on the host (locally, over SSH, or answered by the
simulator, whose pid file names a real process called `xapi`), so the check
is the same everywhere. When the link cannot be read (not root) but the
process exists, the answer is "unknown", never a guess.

In emergency mode xapi restarts itself every 1-3 minutes, so "not running" is
a moment, not a verdict: the fact carries the time it was observed. And a
live xapi connection outranks this file (recovery/rules.py).
"""

from __future__ import annotations

import posixpath
from typing import Callable, Optional, Tuple

from xentui.xapi.safe_text import one_line

from .access import AccessError, FileMissing, HostAccess
from .facts import Fact

XAPI_PID_PATH = "/var/run/xapi.pid"
# Where xsconsole looks, in its order (one file on hosts where /var/run -> /run).
XAPI_PID_PATHS = ("/run/xapi.pid", XAPI_PID_PATH)
XAPI_EXE_NAMES = ("xapi", "xapi (deleted)")  # "(deleted)": xapi upgraded, not yet restarted


def parse_pid(data: bytes) -> int:
    text = data.decode("ascii", "replace").strip()
    pid = int(text)  # ValueError on garbage
    if pid <= 0:
        raise ValueError("pid %d is not a process" % pid)
    return pid


def _read_pid_file(access: HostAccess, timeout: float) -> Tuple[Optional[bytes], str]:
    """(contents, source) of the first pid file present; (None, source) when none is."""
    source = access.describe(XAPI_PID_PATH)
    for path in XAPI_PID_PATHS:
        try:
            data, _ = access.read_file(path, timeout)
        except FileMissing:
            continue
        return data, access.describe(path)
    return None, source


def check_xapi_running(access: HostAccess, now: Callable[[], float], timeout: float = 3.0) -> Fact[bool]:
    try:
        data, source = _read_pid_file(access, timeout)
    except AccessError as exc:
        return Fact(None, access.describe(XAPI_PID_PATH), now(), error=one_line(exc))
    if data is None:
        return Fact(False, source + " (absent)", now())
    try:
        pid = parse_pid(data)
    except ValueError:
        return Fact(None, source, now(), error="pid file holds %s, not a pid" % one_line(repr(data[:40])))
    exe_link = "/proc/%d/exe" % pid
    where = "%s + %s" % (source, exe_link)
    try:
        rc, out, err = access.run(["readlink", exe_link], timeout)
    except AccessError as exc:
        return Fact(None, where, now(), error=one_line(exc))
    if rc == 0:
        exe = out.decode("utf-8", "replace").strip()
        name = posixpath.basename(exe)
        if name in XAPI_EXE_NAMES:
            return Fact(True, "%s -> %s" % (where, one_line(exe, 120)), now())
        return Fact(False, "%s -> %s (pid %d is not xapi: a stale pid file)" % (where, one_line(exe, 120), pid), now())
    # No link: either no such process (stale pid file) or we may not read it.
    try:
        rc, _, err2 = access.run(["test", "-d", "/proc/%d" % pid], timeout)
    except AccessError as exc:
        return Fact(None, where, now(), error=one_line(exc))
    if rc == 1:
        return Fact(False, "%s (no process %d: a stale pid file)" % (where, pid), now())
    detail = (err or err2).decode("utf-8", "replace").strip() or "exit code %d" % rc
    return Fact(None, where, now(), error="cannot tell what process %d is: %s" % (pid, one_line(detail, 160)))
