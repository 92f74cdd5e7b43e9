"""The simulator's HTTP/1.1 server: unix socket + TCP, keep-alive, errors, stop, hang."""

from __future__ import annotations

import errno
import http.client
import socket
import threading
import time
import xmlrpc.client

import pytest
import XenAPI

from tests.sim.sim_core_stack import CoreStack, UnixTransport, small_pool, wait_until, xml_call
from xentui.sim.httpd import HostListeners
from xentui.sim.methods import Method
from xentui.sim.wire import Reply


@pytest.fixture
def stack(tmp_path):
    with CoreStack(tmp_path) as s:
        small_pool(s.db)
        yield s


class _Reader:
    """Reads whole HTTP responses (by Content-Length) from one socket, keeping
    any bytes of the next response for the next read (pipelining)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def response(self, timeout: float = 3.0) -> bytes:
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                data, self.buf = self.buf, b""
                return data
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = int(
            next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buf = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]


def _raw_exchange(sock: socket.socket, request: bytes, timeout: float = 3.0) -> bytes:
    """Send one request and read one complete response."""
    sock.sendall(request)
    return _Reader(sock).response(timeout)


def _post(body: bytes, path: str = "/", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_sdk_over_tcp_and_unix_socket(stack):
    for session in (stack.tcp_session(), stack.unix_session()):
        hosts = session.xenapi.host.get_all()
        assert sorted(hosts) == sorted(stack.db.refs("host"))
        session.xenapi.session.logout()
    transports = [r.transport for r in stack.requests if r.method == "host.get_all"]
    assert transports == ["tcp", "unix"]
    peers = [r.peer for r in stack.requests if r.method == "host.get_all"]
    assert peers[0].startswith("127.0.0.1:") and peers[1] == "unix"


def test_rpc2_path_and_keep_alive_reuse(stack):
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        for path in ("/", "/RPC2", "/"):
            reply = _raw_exchange(sock, _post(xml_call("system.listMethods"), path))
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"Content-Type: text/xml" in reply and b"Connection: keep-alive" in reply
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix:
        unix.connect(str(stack.socket_path))
        for _ in range(2):
            assert _raw_exchange(unix, _post(xml_call("system.listMethods"))).startswith(b"HTTP/1.1 200")
    # Pipelined requests in one packet are answered in order.
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        sock.sendall(_post(xml_call("system.listMethods")) * 2)
        reader = _Reader(sock)
        first = reader.response()
        second = reader.response()
        assert first.startswith(b"HTTP/1.1 200") and second.startswith(b"HTTP/1.1 200")


def test_sdk_reuses_one_connection(stack):
    session = stack.tcp_session()
    for _ in range(5):
        session.xenapi.VM.get_all()
    live = [c for c in stack.listeners.live_connections() if c[0] == "tcp"]
    assert len(live) == 1


def test_tcp_nodelay_on_tcp_only(stack):
    tcp = stack.tcp_session()
    tcp.xenapi.pool.get_all()
    unix = stack.unix_session()
    unix.xenapi.pool.get_all()
    live = stack.listeners.live_connections()
    assert ("tcp", True) in [(t, nd) for t, _, nd in live]
    assert ("unix", False) in [(t, nd) for t, _, nd in live]


def test_connection_close_is_honoured(stack):
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        reply = _raw_exchange(sock, _post(xml_call("system.listMethods"), extra="Connection: close\r\n"))
        assert b"Connection: close" in reply
        sock.settimeout(2.0)
        assert sock.recv(10) == b""


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (_post(b"this is not XML"), 500),
        (_post(b"<methodCall><methodName>x</methodName><params><param>"), 500),
        (_post(b'{"method": "x"', "/jsonrpc"), 500),
        (_post(b"<methodCall/>", "/nowhere"), 404),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"PUT /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        (b"complete nonsense\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: banana\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
    ],
)
def test_malformed_requests_get_http_errors(stack, request_bytes, status):
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        reply = _raw_exchange(sock, request_bytes)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode()), reply[:80]
    assert b"<html>" in reply and len(reply) < 2000
    # The server is still fine afterwards.
    assert stack.tcp_session().xenapi.pool.get_all()


def test_expect_100_continue(stack):
    body = xml_call("system.listMethods")
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        sock.settimeout(2.0)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        assert _Reader(sock).response().startswith(b"HTTP/1.1 200 OK")


def test_options_answers_cors(stack):
    conn = http.client.HTTPConnection("127.0.0.1", stack.listeners.tcp_port, timeout=3)
    conn.request("OPTIONS", "/")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Access-Control-Allow-Origin") == "*"


def test_client_vanishing_mid_request_is_harmless(stack):
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n<method")
    assert wait_until(lambda: stack.listeners.connection_count() == 0)
    assert stack.tcp_session().xenapi.pool.get_all()


def test_stop_closes_everything_and_restart_reuses_the_port(stack):
    session = stack.tcp_session()
    session.xenapi.pool.get_all()
    port = stack.listeners.tcp_port
    stack.listeners.stop()
    assert not stack.listeners.running
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        session.xenapi.pool.get_all()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix, pytest.raises(OSError) as err:
        unix.connect(str(stack.socket_path))
    assert err.value.errno == errno.ECONNREFUSED
    stack.listeners.start()
    assert stack.listeners.tcp_port == port
    assert stack.tcp_session().xenapi.pool.get_all()
    assert stack.unix_session().xenapi.pool.get_all()


def test_stop_is_prompt_while_a_handler_blocks(tmp_path):
    release = threading.Event()
    entered = threading.Event()

    def blocking(ctx):
        entered.set()
        release.wait(5.0)
        return ""

    with CoreStack(tmp_path, extra=[Method("host.block", (), True, blocking)]) as stack:
        session = stack.tcp_session()
        errors = []

        def call():
            try:
                session.xenapi.host.block()
            except Exception as exc:  # noqa: BLE001 - any connection failure is the point
                errors.append(exc)

        thread = threading.Thread(target=call)
        thread.start()
        assert entered.wait(2.0)
        start = time.monotonic()
        stack.listeners.stop()
        assert time.monotonic() - start < 1.0
        thread.join(timeout=2.0)
        assert not thread.is_alive() and errors  # the client saw the connection drop
        release.set()


def test_hung_host_reads_but_never_answers(stack):
    stack.listeners.set_hung(True)
    conn = http.client.HTTPConnection("127.0.0.1", stack.listeners.tcp_port, timeout=0.3)
    conn.request("POST", "/", body=xml_call("system.listMethods"))
    with pytest.raises(socket.timeout):
        conn.getresponse()
    # Still accepting: a second client connects fine (and also gets nothing).
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port), timeout=1) as sock:
        sock.sendall(_post(xml_call("system.listMethods")))
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(10)
        stack.listeners.set_hung(False)
        sock.settimeout(2.0)
        assert sock.recv(10) == b""  # held requests are dropped, connection closed
    assert stack.tcp_session().xenapi.pool.get_all()


def test_stop_releases_hung_connections(stack):
    stack.listeners.set_hung(True)
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port), timeout=2) as sock:
        sock.sendall(_post(xml_call("system.listMethods")))
        time.sleep(0.05)
        start = time.monotonic()
        stack.listeners.stop()
        assert time.monotonic() - start < 1.0
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass


def test_handler_crash_is_internal_error(tmp_path):
    def boom(ctx):
        raise RuntimeError("kaput")

    with CoreStack(tmp_path, extra=[Method("host.boom", (), True, boom)]) as stack:
        with pytest.raises(XenAPI.Failure) as err:
            stack.tcp_session().xenapi.host.boom()
        assert err.value.details[0] == "INTERNAL_ERROR" and "kaput" in err.value.details[1]


def test_listeners_without_unix_socket(tmp_path):
    listeners = HostListeners("solo", None, "127.0.0.1", 0, lambda req: Reply(value=req.method))
    listeners.start()
    try:
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{listeners.tcp_port}/")
        assert proxy.some.call() == {"Status": "Success", "Value": "some.call"}
    finally:
        listeners.stop()


def test_unix_transport_helper_handles_paths_with_underscores(tmp_path):
    odd = tmp_path / "with_underscore"
    odd.mkdir()
    with CoreStack(odd) as stack:
        session = XenAPI.Session("http://localhost/", transport=UnixTransport(stack.socket_path))
        session.xenapi.login_with_password("root", "x")
        assert session.xenapi.pool.get_all() == []


def test_a_probe_that_says_nothing_costs_no_thread(stack):
    # A TCP probe (connect, close) waits in the accept loop and is dropped there:
    # 63 members probed at once must not start 63 threads in the one interpreter.
    served = []
    serve = stack.listeners._serve
    stack.listeners._serve = lambda conn: (served.append(conn), serve(conn))
    for _ in range(20):
        socket.create_connection(("127.0.0.1", stack.listeners.tcp_port), timeout=1).close()
    assert wait_until(lambda: stack.listeners.connection_count() == 0)
    assert served == []
    assert stack.tcp_session().xenapi.pool.get_all()
    assert len(served) == 1


def test_a_silent_client_is_counted_and_closed_on_stop(stack):
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port), timeout=2) as sock:
        assert wait_until(lambda: stack.listeners.connection_count() == 1)
        stack.listeners.stop()
        assert stack.listeners.connection_count() == 0
        try:
            assert sock.recv(10) == b""
        except ConnectionResetError:
            pass


def test_a_silent_client_is_dropped_after_the_idle_timeout(stack, monkeypatch):
    import xentui.sim.httpd as httpd

    monkeypatch.setattr(httpd, "IDLE_TIMEOUT", 0.2)
    with socket.create_connection(("127.0.0.1", stack.listeners.tcp_port), timeout=2) as sock:
        sock.settimeout(3.0)
        assert sock.recv(10) == b""  # closed by the server, not by us
    assert wait_until(lambda: stack.listeners.connection_count() == 0)


def test_serving_threads_are_reused(stack):
    # One connection after another: the thread that served the first serves the next
    # (a thread start waits for the interpreter lock the master's big replies hold).
    served_by = []
    handle = stack.listeners.handler

    def recording(request):
        served_by.append(threading.get_native_id())
        return handle(request)

    stack.listeners.handler = recording
    for _ in range(10):
        conn = http.client.HTTPConnection("127.0.0.1", stack.listeners.tcp_port, timeout=3)
        conn.request("POST", "/", body=xml_call("system.listMethods"), headers={"Connection": "close"})
        assert conn.getresponse().read()
        conn.close()
        assert wait_until(lambda: stack.listeners.connection_count() == 0)
    # (the thread that served one connection may not be back waiting when the next
    # arrives: two take turns; a thread per connection would make ten)
    assert len(served_by) == 10 and len(set(served_by)) <= 2


def test_idle_serving_threads_end_when_the_host_stops(stack):
    # An idle thread holds nothing of a stopped host: it ends at stop, not 30 s later.
    before = {t.ident for t in threading.enumerate()}
    for _ in range(3):
        assert stack.tcp_session().xenapi.pool.get_all()
    assert wait_until(lambda: stack.listeners.connection_count() == 0)
    mine = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("xapi-idle-")]
    assert mine
    stack.listeners.stop()
    assert wait_until(lambda: not any(t.is_alive() for t in mine), timeout=2.0)
