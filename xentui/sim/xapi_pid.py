"""A real process named `xapi` for each running simulated xapi.

xentui decides "is xapi running here?" as xsconsole does (IsXAPIRunning): the
pid in /var/run/xapi.pid must name a live process whose executable is called
`xapi`. A simulator that wrote its own (Python) pid there would pass a check
real hosts fail, so every simulated xapi gets a stand-in process while it
runs: a copy of `cat` named `xapi` (44 KB, shared by every host of the
simulator), reading a pipe from the simulator. It exits when the simulated
xapi stops (we close the pipe) and also when the simulator dies without
cleaning up (the kernel closes the pipe; EOF ends `cat`), so a killed
simulator leaves no stray processes. Cost: one small process per running
host (64 for the `large` scenario, ~1.7 MB RSS each, mostly shared pages).

Faithful to xapi: xapi_main.ml writes /var/run/xapi.pid at start-up; every
(re)start is a new process (xapi.service Restart=on-failure) with a new pid;
xapi.service's ExecStopPost removes the file when xapi stops.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Optional

from xentui.sim import stand_in_elf

EXE_NAME = "xapi"
_STAND_IN = "cat"  # blocks on stdin until EOF; present on every Linux
_copy_lock = threading.Lock()


def stand_in_executable(directory: Path) -> Path:
    """`directory`/xapi: a copy (or hard link) of `cat`, made once."""
    target = Path(directory) / EXE_NAME
    with _copy_lock:
        if target.exists():
            return target
        source = shutil.which(_STAND_IN)
        if source is None and not stand_in_elf.supported():
            raise FileNotFoundError("no 'cat' executable to stand in for xapi")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{EXE_NAME}.{os.getpid()}.tmp")
        if source is None:  # no `cat` here (the dom0 file in an empty root): a tiny one of our own
            tmp.write_bytes(stand_in_elf.image())
        else:
            try:
                os.link(source, tmp)  # same file system: free
            except OSError:
                shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    return target


class XapiPidProcess:
    """The stand-in process of one simulated xapi incarnation."""

    def __init__(self, executable: Path) -> None:
        self._process: Optional[subprocess.Popen[bytes]] = subprocess.Popen(
            [str(executable)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()  # EOF: cat exits by itself
        except OSError:
            pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
