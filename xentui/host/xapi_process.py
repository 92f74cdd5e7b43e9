"""Is this host's xapi running? The pid file plus a /proc check.

xapi writes its pid to /var/run/xapi.pid at start-up (xapi_main.ml) and the
file is not removed when it dies, so a pid alone proves nothing: the process
must still exist. The check is `test -d /proc/<pid>` run on the host (locally,
over SSH, or answered by the simulator), so it works the same everywhere.
In emergency mode xapi restarts itself every 1-3 minutes, so "not running" is
a moment, not a verdict: the fact carries the time it was observed.
"""

from __future__ import annotations

from typing import Callable

from .access import AccessError, FileMissing, HostAccess
from .facts import Fact

XAPI_PID_PATH = "/var/run/xapi.pid"


def parse_pid(data: bytes) -> int:
    text = data.decode("ascii", "replace").strip()
    pid = int(text)  # ValueError on garbage
    if pid <= 0:
        raise ValueError("pid %d is not a process" % pid)
    return pid


def check_xapi_running(access: HostAccess, now: Callable[[], float], timeout: float = 3.0) -> Fact[bool]:
    source = access.describe(XAPI_PID_PATH)
    try:
        data, _ = access.read_file(XAPI_PID_PATH, timeout)
    except FileMissing:
        return Fact(False, source + " (absent)", now())
    except AccessError as exc:
        return Fact(None, source, now(), error=str(exc))
    try:
        pid = parse_pid(data)
    except ValueError:
        return Fact(None, source, now(), error="pid file holds %r, not a pid" % data[:40])
    argv = ["test", "-d", "/proc/%d" % pid]
    try:
        rc, _, err = access.run(argv, timeout)
    except AccessError as exc:
        return Fact(None, "%s + /proc/%d" % (source, pid), now(), error=str(exc))
    if rc not in (0, 1):
        return Fact(None, "%s + /proc/%d" % (source, pid), now(),
                    error="test -d /proc/%d exited %d: %s" % (pid, rc, err.decode("utf-8", "replace").strip()))
    return Fact(rc == 0, "%s + /proc/%d" % (source, pid), now())
