"""A control socket for a running simulator (`xentui sim ctl`).

Protocol: one JSON object per connection, one JSON answer:
  {"action": "power_off", "args": ["xen1"]} -> {"ok": true, "result": ...}
                                             | {"ok": false, "error": "..."}
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.runner import Simulator

CONTROL_SOCKET = "control.sock"

# action -> number of host arguments
ACTIONS: Dict[str, int] = {
    "power_off": 1,
    "power_on": 1,
    "hang": 1,
    "unhang": 1,
    "slow": 1,
    "unslow": 1,
    "partition": 2,
    "heal": 2,
    "restart_xapi": 1,
    "lose_management_ip": 1,
    "restore_management_ip": 1,
    "flush_management_ip": 1,
    "reboot": 1,
    "rename_interfaces": 1,
    "block_one_way": 2,
    "unblock_one_way": 2,
    "lose_statefile": 0,
    "restore_statefile": 0,
    "replace_nics": 1,
    "restore_nics": 1,
    "status": 0,
    "log": 0,
    "double_starts": 0,
}


class ControlError(Exception):
    pass


def run_action(sim: "Simulator", action: str, args: List[str]) -> Any:
    if action not in ACTIONS:
        raise ControlError(f"unknown action {action!r}")
    if len(args) != ACTIONS[action]:
        raise ControlError(f"{action} takes {ACTIONS[action]} host argument(s), got {len(args)}")
    for host in args:
        if host not in sim.world.machines:
            raise ControlError(f"unknown host {host!r} (hosts: {', '.join(sim.world.machines)})")
    if action == "status":
        return sim.status()
    if action == "log":
        return list(sim.world.log[-200:])
    if action == "double_starts":
        return [d.__dict__ for d in sim.world.double_starts]
    getattr(sim.faults, action)(*args)
    return "ok"


class ControlServer:
    def __init__(self, sim: "Simulator", path: Optional[Path] = None) -> None:
        self.sim = sim
        self.path = Path(path) if path is not None else sim.state_dir / CONTROL_SOCKET
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def start(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        sock.listen(16)
        sock.settimeout(0.2)  # so stop() is noticed; not a busy loop
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._sock is not None:
            self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    answer = self._answer(_read_all(conn))
                except (OSError, ValueError) as exc:
                    answer = {"ok": False, "error": f"bad request: {exc}"}
                try:
                    conn.sendall(json.dumps(answer).encode("utf-8") + b"\n")
                except OSError:
                    pass

    def _answer(self, data: bytes) -> Dict[str, Any]:
        request = json.loads(data.decode("utf-8"))
        try:
            result = run_action(self.sim, str(request.get("action")), [str(a) for a in request.get("args", [])])
        except ControlError as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "result": result}


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def send(state_dir: Path, action: str, args: List[str], timeout: float = 10.0) -> Dict[str, Any]:
    """Client side: raises OSError when no simulator listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(Path(state_dir) / CONTROL_SOCKET))
        sock.sendall(json.dumps({"action": action, "args": args}).encode("utf-8") + b"\n")
        reply: Dict[str, Any] = json.loads(_read_all(sock).decode("utf-8"))
        return reply
