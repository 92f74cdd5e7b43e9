"""A small fake xapi for transport tests: XML-RPC over HTTP/1.1 keep-alive on
a unix socket and/or 127.0.0.1 TCP, answering in xapi's envelope
({"Status": "Success", "Value": ...} / {"Status": "Failure", "ErrorDescription": [...]}).

Besides a few real methods it has test hooks:
  test.sleep(session, seconds)  answers after `seconds` (CallTimeout tests)
  test.hangup(session)          closes the connection without answering
  test.echo(session, value)     returns value
  test.peer(session)            "unix" or "tcp": which listener served the call

Also `SilentListener`: accepts connections and never answers.
"""

from __future__ import annotations

import http.server
import os
import socket
import socketserver
import threading
import time
import uuid
import xmlrpc.client
from pathlib import Path
from typing import Any, List, Optional

ROOT_PASSWORD = "xenroot"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like xapi
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.fake.requests += 1
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception:  # garbage in -> HTTP 500, as xapi does
            self._send(500, b"<html><body>bad request</body></html>", "text/html")
            return
        if method == "test.hangup":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if method == "test.garbage":
            self._send(200, b"this is not xml", "text/xml")
            return
        result = self.server.fake.dispatch(method, list(params), self.server.kind)
        payload = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True).encode("utf-8")
        self._send(200, payload, "text/xml")
        if method == "test.reply_then_drop":
            # like an idle keep-alive timeout: the NEXT call finds a dead stream
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)

    def setup(self) -> None:
        super().setup()
        self.server.fake.connections += 1
        self.server.fake.live.append(self.connection)

    def _send(self, status: int, payload: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _QuietErrors:
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or vanish mid-reply are what the tests are
        # about; anything else is still printed.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)  # type: ignore[misc]


class _Server(_QuietErrors, socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    kind = "tcp"
    fake: "FakeXapi"


class _TcpHandler(_Handler):
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _UnixServer(_QuietErrors, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    kind = "unix"
    fake: "FakeXapi"


class _UnixHandler(_Handler):
    # BaseHTTPRequestHandler wants a client address tuple for logging
    def setup(self) -> None:
        self.client_address = ("unix", 0)
        super().setup()


class FakeXapi:
    """Start with `FakeXapi(unix_path=..., tcp=True).start()`; stop with `.stop()`."""

    def __init__(
        self,
        unix_path: Optional[os.PathLike] = None,
        tcp: bool = True,
        host_address: str = "192.0.2.10",
        tls_context: Any = None,
    ) -> None:
        self.unix_path = Path(unix_path) if unix_path else None
        self.want_tcp = tcp
        self.host_address = host_address
        self.sessions: dict = {}
        self.requests = 0
        self.connections = 0
        self.live: List[socket.socket] = []  # accepted streams, closed by stop()
        self.tcp_port = 0
        self._servers: List[socketserver.BaseServer] = []
        self._threads: List[threading.Thread] = []
        self.host_ref = "OpaqueRef:" + str(uuid.uuid4())
        self.tls_context = tls_context  # ssl.SSLContext: serve https on the TCP port

    def start(self) -> "FakeXapi":
        if self.unix_path is not None:
            self.unix_path.parent.mkdir(parents=True, exist_ok=True)
            if self.unix_path.exists():
                self.unix_path.unlink()
            server = _UnixServer(str(self.unix_path), _UnixHandler)
            server.fake = self
            self._serve(server)
        if self.want_tcp:
            server = _Server(("127.0.0.1", 0), _TcpHandler)
            server.fake = self
            if self.tls_context is not None:
                server.socket = self.tls_context.wrap_socket(server.socket, server_side=True)
            self.tcp_port = server.server_address[1]
            self._serve(server)
        return self

    def _serve(self, server: socketserver.BaseServer) -> None:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for conn in self.live:
            try:
                conn.shutdown(socket.SHUT_RDWR)  # like a dying xapi: clients see EOF
            except OSError:
                pass
        self.live = []
        for thread in self._threads:
            thread.join(timeout=2)
        self._servers, self._threads = [], []
        if self.unix_path is not None and self.unix_path.exists():
            self.unix_path.unlink()

    def __enter__(self) -> "FakeXapi":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- xapi semantics (just enough) ---------------------------------------
    @staticmethod
    def _ok(value: Any) -> dict:
        return {"Status": "Success", "Value": value}

    @staticmethod
    def _fail(*details: str) -> dict:
        return {"Status": "Failure", "ErrorDescription": list(details)}

    def dispatch(self, method: str, params: list, kind: str) -> Any:
        if method in ("session.login_with_password", "session.slave_local_login_with_password"):
            user, password = (params + ["", ""])[:2]
            if kind != "unix" and not (user == "root" and password == ROOT_PASSWORD):
                return self._fail("SESSION_AUTHENTICATION_FAILED", str(user), "Authentication failure")
            ref = "OpaqueRef:" + str(uuid.uuid4())
            self.sessions[ref] = kind
            return self._ok(ref)
        if method == "system.listMethods":
            return ["session.login_with_password", "host.get_all"]
        session = params[0] if params else None
        if session not in self.sessions:
            return self._fail("SESSION_INVALID", str(session))
        args = params[1:]
        if method == "session.logout":
            self.sessions.pop(session, None)
            return self._ok("")
        if method == "host.get_all":
            return self._ok([self.host_ref])
        if method == "host.get_address":
            return self._ok(self.host_address)
        if method == "pool.get_all":
            return self._ok(["OpaqueRef:pool0"])
        if method == "test.sleep":
            time.sleep(float(args[0]))
            return self._ok("slept")
        if method == "test.reply_then_drop":
            return self._ok("bye")
        if method == "test.echo":
            return self._ok(args[0])
        if method == "test.peer":
            return self._ok(kind)
        return self._fail("MESSAGE_METHOD_UNKNOWN", method)


class SilentListener:
    """Accepts connections (TCP on 127.0.0.1, or a unix socket) and never
    answers: the signature of a hung xapi."""

    def __init__(self, unix_path: Optional[os.PathLike] = None) -> None:
        self.unix_path = Path(unix_path) if unix_path else None
        if self.unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(self.unix_path))
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = 0 if self.unix_path else self.sock.getsockname()[1]
        self._held: List[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for conn in self._held:
            conn.close()
        self.sock.close()
        if self.unix_path is not None and self.unix_path.exists():
            self.unix_path.unlink()


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def refused_tcp_port() -> int:
    """A loopback port with (almost certainly) no listener."""
    return free_tcp_port()
