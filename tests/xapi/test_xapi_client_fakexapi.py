"""A tiny scripted xapi for unit tests of the client and the follower.

It speaks xapi's real wire format (the simulator's HostListeners and wire
codec) over a unix socket and TCP, and implements just enough of xapi's
login rules (xapi-semantics.md §1.3-1.5) to exercise every branch of the
login strategy deterministically: emergency errors, HOST_IS_SLAVE,
SESSION_INVALID after a restart, refused connections, hangs. The full pool
behaviour is tested against the simulator in the other test modules.

Also holds a few tests of the fake itself (so a broken fake fails loudly).
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import XenAPI

from xentui.sim.errors import ApiError
from xentui.sim.httpd import HostListeners, Request
from xentui.sim.wire import I4, Reply
from xentui.xapi.transport import TcpEndpoint, UnixSocketEndpoint

EMERGENCY_CALLS = {
    "session.slave_local_login_with_password",
    "session.local_logout",
    "host.is_in_emergency_mode",
    "host.local_assert_healthy",
    "pool.emergency_transition_to_master",
    "pool.emergency_reset_master",
}


class FakeXapi:
    """One fake host's xapi. `role` is "master" or "slave"; `emergency` is
    None or (code, *params), the stored error."""

    def __init__(
        self,
        root: Path,
        *,
        name: str = "fake",
        role: str = "master",
        emergency: Optional[Tuple[str, ...]] = None,
        master_address: str = "10.0.0.1",
        password: str = "secret",
    ) -> None:
        self.name = name
        self.role = role
        self.emergency = emergency
        self.master_address = master_address
        self.password = password
        self.sessions: Dict[str, str] = {}  # ref -> "normal" | "local"
        self.calls: List[Tuple[str, str]] = []  # (method, transport)
        self.logins: List[Tuple[str, str, str]] = []  # (method, user, transport) - never passwords
        self.handlers: Dict[str, Callable[[List[Any]], Any]] = {}
        self.objects: Dict[str, Dict[str, dict]] = {}
        self._changes: List[Tuple[int, str, str, str]] = []  # (generation, cls, op, ref)
        self._generation = 0
        self._cond = threading.Condition()
        self.event_scale = 0.01  # real seconds per event.from timeout second
        self.socket_path = Path(root) / name / "xapi"
        self.listeners = HostListeners(name, self.socket_path, "127.0.0.1", 0, self.handle)
        self.listeners.start()

    # -- control ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.listeners.tcp_port

    def unix_endpoint(self, **kw: Any) -> UnixSocketEndpoint:
        return UnixSocketEndpoint(str(self.socket_path), connect_timeout=kw.pop("connect_timeout", 1.0), **kw)

    def tcp_endpoint(self, **kw: Any) -> TcpEndpoint:
        return TcpEndpoint("http", "127.0.0.1", self.port, connect_timeout=kw.pop("connect_timeout", 1.0), **kw)

    def stop(self) -> None:
        """xapi down: connections refused (sessions are lost)."""
        self.listeners.stop()
        self.sessions.clear()
        with self._cond:
            self._cond.notify_all()

    def start(self) -> None:
        self.listeners.start()

    def restart(self) -> None:
        self.stop()
        self.start()

    def hang(self, hung: bool = True) -> None:
        self.listeners.set_hung(hung)

    def methods_called(self) -> List[str]:
        return [m for m, _ in self.calls]

    # -- objects and events ---------------------------------------------------

    def add(self, cls: str, record: dict, ref: Optional[str] = None) -> str:
        ref = ref or f"OpaqueRef:{uuidlib.uuid4()}"
        record = dict(record)
        record.setdefault("uuid", str(uuidlib.uuid4()))
        with self._cond:
            self.objects.setdefault(cls, {})[ref] = record
            self._change(cls, "add", ref)
        return ref

    def modify(self, cls: str, ref: str, **fields: Any) -> None:
        with self._cond:
            self.objects[cls][ref].update(fields)
            self._change(cls, "mod", ref)

    def delete(self, cls: str, ref: str) -> None:
        with self._cond:
            del self.objects[cls][ref]
            self._change(cls, "del", ref)

    def _change(self, cls: str, op: str, ref: str) -> None:
        self._generation += 1
        self._changes.append((self._generation, cls, op, ref))
        self._cond.notify_all()

    def _token(self) -> str:
        return "%020d,%020d" % (self._generation, 0)

    def _event(self, cls: str, op: str, ref: str) -> dict:
        event = {"id": str(self._generation), "timestamp": "0.0", "class": cls, "operation": op, "ref": ref}
        if op != "del":
            event["snapshot"] = dict(self.objects[cls][ref])
        return event

    def _event_from(self, classes: List[str], token: str, timeout: float) -> dict:
        wanted = {c.lower() for c in classes}
        with self._cond:
            if token == "":
                events = [
                    self._event(cls, "add", ref) for cls, recs in self.objects.items() if cls in wanted for ref in recs
                ]
            else:
                try:
                    since = int(token.split(",")[0])
                except ValueError:
                    raise ApiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token) from None
                deadline_wait = float(timeout) * self.event_scale

                def pending() -> List[Tuple[int, str, str, str]]:
                    return [c for c in self._changes if c[0] > since and c[1] in wanted]

                if not pending() and self.listeners.running:
                    self._cond.wait(deadline_wait)
                latest: Dict[Tuple[str, str], str] = {}
                for _, cls, op, ref in pending():
                    latest[(cls, ref)] = op if op != "mod" or latest.get((cls, ref)) != "add" else "add"
                events = []
                for (cls, ref), op in latest.items():
                    if op != "del" and ref not in self.objects.get(cls, {}):
                        continue
                    events.append(self._event(cls, op, ref))
            counts = {cls: I4(len(recs)) for cls, recs in self.objects.items()}
            return {"events": events, "valid_ref_counts": counts, "token": self._token()}

    # -- dispatch (xapi-semantics.md §7.2, abridged) -----------------------------

    def handle(self, req: Request) -> Reply:
        try:
            return Reply(value=self._dispatch(req))
        except ApiError as err:
            return Reply(error=err)

    def _dispatch(self, req: Request) -> Any:
        method, params, transport = req.method, list(req.params), req.transport
        self.calls.append((method, transport))
        if self.emergency and method not in EMERGENCY_CALLS:
            raise ApiError(*self.emergency)
        if method == "session.login_with_password":
            self.logins.append((method, str(params[0]), transport))
            if transport != "unix":
                if self.role == "slave":
                    raise ApiError("HOST_IS_SLAVE", self.master_address)
                if params[1] != self.password:
                    raise ApiError("SESSION_AUTHENTICATION_FAILED", params[0], "Authentication failure")
            return self._new_session("normal")
        if method == "session.slave_local_login_with_password":
            self.logins.append((method, str(params[0]), transport))
            if transport != "unix" and (params[0] != "root" or params[1] != self.password):
                raise ApiError("SESSION_AUTHENTICATION_FAILED", params[0], "Authentication failure")
            return self._new_session("local")
        if method in ("session.logout", "session.local_logout"):
            self.sessions.pop(str(params[0]), None)
            return ""
        if not params or str(params[0]) not in self.sessions:
            raise ApiError("SESSION_INVALID", str(params[0]) if params else "")
        session_kind = self.sessions[str(params[0])]
        if transport != "unix" and self.role == "slave" and session_kind != "local":
            raise ApiError("HOST_IS_SLAVE", self.master_address)
        args = params[1:]
        if method in self.handlers:
            return self.handlers[method](args)
        if method == "host.is_in_emergency_mode":
            return bool(self.emergency)
        if method == "host.local_assert_healthy":
            return ""
        if method == "event.from":
            return self._event_from(args[0], args[1], args[2])
        if method == "session.get_this_host":
            return self.handlers.get("this_host", lambda a: "OpaqueRef:NULL")(args)
        raise ApiError("MESSAGE_METHOD_UNKNOWN", method)

    def _new_session(self, kind: str) -> str:
        ref = f"OpaqueRef:{uuidlib.uuid4()}"
        self.sessions[ref] = kind
        return ref


# --- tests of the fake itself ------------------------------------------------------


def test_fake_speaks_xapi_envelope_to_the_real_sdk(tmp_path):
    fake = FakeXapi(tmp_path)
    try:
        session = XenAPI.Session("http://127.0.0.1:%d/" % fake.port)
        session.login_with_password("root", "secret", "1.1", "test")
        assert fake.sessions
        reply = session.xenapi_request("event.from", (["pool"], "", 0.0))
        assert reply["events"] == [] and "token" in reply
        session.xenapi.session.logout()
        assert not fake.sessions
    finally:
        fake.stop()


def test_fake_refuses_normal_login_on_a_slave_over_tcp(tmp_path):
    fake = FakeXapi(tmp_path, role="slave", master_address="10.9.9.9")
    try:
        session = XenAPI.Session("http://127.0.0.1:%d/" % fake.port)
        try:
            session.login_with_password("root", "secret")
        except XenAPI.Failure as failure:
            assert failure.details == ["HOST_IS_SLAVE", "10.9.9.9"]
        else:
            raise AssertionError("expected HOST_IS_SLAVE")
    finally:
        fake.stop()
