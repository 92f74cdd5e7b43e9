"""A minimal xapi built only from the simulator's core (SIM-CORE's tests).

HostListeners + MethodTable + Database with a tiny dispatcher (lookup,
arity, session check, handler) — no pool semantics — so the wire, the HTTP
server, the store and event.from can be tested through the real XenAPI SDK.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import XenAPI

from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.httpd import HostListeners, Request
from xentui.sim.methods import Method, MethodTable, event_methods, generated_methods, system_methods
from xentui.sim.wire import Reply


class ScaledClock:
    """Simulated time running `1/time_scale` times faster than real time."""

    def __init__(self, time_scale: float = 0.01, start: float = 1_700_000_000.0) -> None:
        self.time_scale = time_scale
        self._start = start
        self._mono = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._mono) / self.time_scale

    def wait(self, cond: threading.Condition, sim_seconds: float) -> bool:
        return cond.wait(max(0.0, sim_seconds) * self.time_scale)


class Ctx:
    def __init__(self, db: Database, wait: Callable[[threading.Condition, float], bool]) -> None:
        self.db = db
        self.wait = wait
        self.host = "h0"
        self.session = None


class CoreStack:
    """One listening "host" serving one Database."""

    def __init__(self, tmp: Path, time_scale: float = 0.01, extra: Optional[List[Method]] = None) -> None:
        self.clock = ScaledClock(time_scale)
        self.db = Database(self.clock.now)
        self.table = MethodTable(generated_methods())
        for method in event_methods():
            self.table.register(method)
        for method in system_methods(self.table):
            self.table.register(method)
        for method in self._session_methods() + list(extra or ()):
            self.table.register(method)
        self.socket_path = tmp / "xapi.sock"
        self.listeners = HostListeners("h0", self.socket_path, "127.0.0.1", 0, self.handle)
        self.requests: List[Request] = []

    def _session_methods(self) -> List[Method]:
        def login(ctx: Ctx, uname: Any, pwd: Any, *rest: Any) -> str:
            return ctx.db.create("session", auth_user_name=str(uname), last_active=self.clock.now())

        def logout(ctx: Ctx) -> str:
            return ""

        return [
            Method("session.login_with_password", ("uname", "pwd", "version", "originator"), False, login),
            Method("session.logout", (), True, logout),
        ]

    def handle(self, request: Request) -> Reply:
        self.requests.append(request)
        method = self.table.lookup(request.method)
        if method is None:
            raise ApiError("MESSAGE_METHOD_UNKNOWN", request.method)
        params = list(request.params)
        given = len(params) - (1 if method.takes_session else 0)
        minimum = 2 if method.name == "session.login_with_password" else len(method.params)
        if given < minimum or given > len(method.params):
            raise ApiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method.name, str(len(method.params)), str(max(given, 0)))
        ctx = Ctx(self.db, self.clock.wait)
        if method.takes_session:
            session = params.pop(0)
            if not isinstance(session, str) or not self.db.exists("session", session):
                raise ApiError("SESSION_INVALID", str(session))
        return Reply(value=method.handler(ctx, *params), raw=method.raw)

    # --- lifecycle and clients ----------------------------------------------------------

    def __enter__(self) -> "CoreStack":
        self.listeners.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.db.close()
        self.listeners.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listeners.tcp_port}/"

    def tcp_session(self) -> XenAPI.Session:
        session = XenAPI.Session(self.url)
        session.xenapi.login_with_password("root", "secret", "1.0", "tests")
        return session

    def unix_session(self) -> XenAPI.Session:
        session = XenAPI.Session("http://localhost/", transport=UnixTransport(self.socket_path))
        session.xenapi.login_with_password("root", "secret", "1.0", "tests")
        return session


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc Transport to an arbitrary unix socket path (the SDK's
    xapi_local() turns every `_` of the host into `/`, so it cannot)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        super().__init__()
        self._socket_path = str(path)
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection and self._connection[0] == host:
            return self._connection[1]
        conn = _UnixHTTPConnection(self._socket_path, self._timeout)
        self._connection = (host, conn)
        return conn


def raw_post(
    port: int, body: bytes, path: str = "/", timeout: float = 5.0, method: str = "POST", content_type: str = "text/xml"
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=body, headers={"Content-Type": content_type})
    return conn.getresponse()


def xml_call(method: str, *params: Any) -> bytes:
    return xmlrpc.client.dumps(tuple(params), methodname=method, allow_none=True).encode()


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def small_pool(db: Database, hosts: int = 2, vms_per_host: int = 2) -> Dict[str, Any]:
    """A little pool: hosts with metrics, dom0, PIFs, a shared SR and VMs."""
    out: Dict[str, Any] = {"hosts": [], "vms": [], "pifs": []}
    net = db.create("network", name_label="Pool-wide network associated with eth0", bridge="xenbr0")
    sr = db.create("SR", name_label="shared", type="nfs", shared=True, content_type="user")
    for i in range(hosts):
        metrics = db.create("host_metrics", live=True, memory_total=64 << 30, memory_free=32 << 30)
        host = db.create(
            "host",
            name_label=f"h{i}",
            hostname=f"h{i}",
            address=f"127.0.0.{i + 2}",
            metrics=metrics,
            software_version={"product_version": "8.3.0"},
        )
        dom0 = db.create(
            "VM",
            name_label=f"Control domain on host: h{i}",
            is_control_domain=True,
            power_state="Running",
            resident_on=host,
            domid=0,
        )
        db.set_field("host", host, "control_domain", dom0)
        pm = db.create("PIF_metrics", carrier=True)
        pif = db.create(
            "PIF",
            device="eth0",
            host=host,
            network=net,
            management=True,
            metrics=pm,
            IP=f"127.0.0.{i + 2}",
            ip_configuration_mode="Static",
        )
        db.create("PBD", host=host, SR=sr, currently_attached=True)
        out["hosts"].append(host)
        out["pifs"].append(pif)
        for j in range(vms_per_host):
            vm = db.create(
                "VM",
                name_label=f"vm{i}-{j}",
                power_state="Running",
                resident_on=host,
                domid=j + 1,
                memory_static_max=1 << 30,
            )
            out["vms"].append(vm)
    out["pool"] = db.create("pool", name_label="pool", master=out["hosts"][0], default_SR=sr)
    out["sr"] = sr
    out["network"] = net
    return out
