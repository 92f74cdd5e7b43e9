"""The simulator's own fixtures, shared by every layer (registered in tests/conftest.py):
a simulated pool per test, and real XenAPI SDK sessions into it.

def test_x(start_sim, unix_session):
    sim = start_sim("master-down")              # Simulator, stopped at teardown
    s = unix_session(sim.endpoints.host("xen2").socket)
    s.slave_local_login_with_password("root", sim.endpoints.root_password)
"""

from __future__ import annotations

import http.client
import socket
import time
import xmlrpc.client
from pathlib import Path
from typing import Callable, List

import pytest
import XenAPI

from xentui.sim.runner import Simulator


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """xmlrpc over an AF_UNIX stream socket at an arbitrary path (xapi_local() cannot
    express paths containing '_')."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__()
        self.unix_path = path
        self.timeout = timeout

    def make_connection(self, host):
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        self._connection = host, UnixHTTPConnection(self.unix_path, self.timeout)
        return self._connection[1]


class TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float = 5.0) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def make_unix_session(path: str, timeout: float = 5.0) -> XenAPI.Session:
    return XenAPI.Session("http://localhost/", transport=UnixTransport(str(path), timeout))


def make_tcp_session(address: str, port: int, timeout: float = 5.0) -> XenAPI.Session:
    return XenAPI.Session(f"http://{address}:{port}/", transport=TimeoutTransport(timeout))


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02, what: str = ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` real seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out waiting for {what or predicate}" + (f" (last error {last_exc!r})" if last_exc else "")
    )


def failure(call, *args):
    """The error details xapi answers `call(*args)` with (it must fail)."""
    with pytest.raises(XenAPI.Failure) as info:
        call(*args)
    return info.value.details


def login(sim, name: str) -> XenAPI.Session:
    """A pool session (TCP, root's password) on host `name` of the simulator."""
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def local(sim, name: str) -> XenAPI.Session:
    """An emergency-mode session on `name`'s own unix socket (slave_local_login)."""
    s = make_unix_session(sim.endpoints.host(name).socket)
    s.slave_local_login_with_password("root", "ignored on the unix socket")
    return s


def differ_for_join(sim, host: str, change: str) -> None:
    """Make `host` fail one of xapi_pool.ml pre_join_checks against the pool:
    "vlan" (its management PIF on VLAN 42), "xapi" (another xapi version) or
    "schema" (another database schema)."""
    with sim.world.lock:
        db = sim.proc(host).db
        me = db.refs("host")[0]
        version = dict(db.get_field("host", me, "software_version"))
        if change == "vlan":
            db.set_field("PIF", db.find("PIF", host=me, management=True)[0], "VLAN", 42)
        elif change == "xapi":
            version["xapi"] = "24.39"
        else:
            version["db_schema"] = "5.786"
        db.set_field("host", me, "software_version", version)


@pytest.fixture
def start_sim(tmp_path: Path):
    """start_sim(scenario, time_scale=0.01, **kw) -> Simulator (state dir under tmp_path)."""
    started: List[Simulator] = []

    def start(scenario: str, time_scale: float = 0.01, **kwargs) -> Simulator:
        state_dir = tmp_path / f"sim{len(started)}"
        sim = Simulator.start(scenario, state_dir, time_scale=time_scale, **kwargs)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def unix_session():
    sessions: List[XenAPI.Session] = []

    def make(path: str, timeout: float = 5.0) -> XenAPI.Session:
        session = make_unix_session(path, timeout)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        try:
            session.transport.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def tcp_session():
    sessions: List[XenAPI.Session] = []

    def make(address: str, port: int, timeout: float = 5.0) -> XenAPI.Session:
        session = make_tcp_session(address, port, timeout)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        try:
            session.transport.close()
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def sim(start_sim):
    """Alias of `start_sim`: sim("master-down") -> Simulator."""
    return start_sim


@pytest.fixture
def master_down(start_sim) -> Simulator:
    """The master-down scenario, running (the wizard's tests in tests/ui and tests/program)."""
    return start_sim("master-down")
