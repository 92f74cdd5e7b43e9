"""HTTP/1.1 listeners (unix socket + TCP) for one simulated host's xapi.

One accept thread per `HostListeners` (a selector over both listening
sockets and a wake-up pipe) and one daemon thread per connection.
Connections are persistent (HTTP/1.1 keep-alive, Content-Length), because
the XenAPI SDK keeps them open. `stop()` closes the listeners and shuts
down every live connection, so clients see refused / reset connections at
once even while a handler is still blocked (SIM-POOL wakes the handler).
`set_hung(True)` models a wedged xapi: connections are accepted and requests
read, but nothing is answered until the host is un-hung, and then the held
connections are just closed.
"""

from __future__ import annotations

import logging
import os
import queue
import select
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from xentui.sim.errors import ApiError, WireError
from xentui.sim.wire import (
    Reply,
    decode_jsonrpc_request,
    decode_xmlrpc_request,
    encode_jsonrpc_response,
    encode_xmlrpc_response,
)

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
# An idle keep-alive connection is dropped after this long (real seconds), so
# forgotten clients cannot pin threads forever.
IDLE_TIMEOUT = 600.0
SEND_BUFFER_BYTES = 4 * 1024 * 1024
XMLRPC_PATHS = ("/", "/RPC2")
JSONRPC_PATHS = ("/jsonrpc",)
# Plain HTTP GET handlers xapi registers on the same port (xapi.ml's Http_svr table);
# the request reaches the handler as Request(method="GET <path>", params=[query pairs, accept]).
GET_PATHS = ("/rrd_updates",)


@dataclass
class HttpAnswer:
    """A handler's reply to a plain HTTP GET (sent as is, no RPC envelope)."""

    status: int
    reason: str
    content_type: str
    body: bytes


@dataclass
class Request:
    host: str
    transport: str  # "unix" | "tcp"
    peer: str
    method: str
    params: List[Any] = field(default_factory=list)
    protocol: str = "xmlrpc"  # "xmlrpc" | "jsonrpc"
    # Set by the listener: tells whether the client has gone away (closed its
    # end, e.g. after a client-side timeout) or the listener was stopped.
    closed_check: Optional[Callable[[], bool]] = field(default=None, repr=False, compare=False)

    def is_closed(self) -> bool:
        """True once the client closed the connection (a blocked handler can give up)."""
        return self.closed_check is not None and self.closed_check()


Handler = Callable[[Request], Reply]


class _HttpError(Exception):
    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.detail = detail or reason


class _Closed(Exception):
    """The peer went away (or we were stopped) while reading."""


@dataclass
class _HttpRequest:
    method: str
    path: str
    version: str
    headers: Dict[str, str]
    body: bytes
    query: str = ""

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


class _Connection:
    """Reads HTTP requests from one socket (buffered)."""

    def __init__(self, sock: socket.socket, transport: str, peer: str) -> None:
        self.sock = sock
        self.transport = transport
        self.peer = peer
        self._buf = b""

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (OSError, ValueError):
            raise _Closed() from None
        if not chunk:
            raise _Closed()
        self._buf += chunk

    def read_request(self) -> _HttpRequest:
        while b"\r\n\r\n" not in self._buf:
            if len(self._buf) > MAX_HEADER_BYTES:
                raise _HttpError(431, "Request Header Fields Too Large")
            if self._buf and not self._buf.lstrip(b"\r\n"):
                self._buf = b""  # tolerate stray CRLFs between requests
            self._fill()
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        try:
            lines = head.decode("latin-1").split("\r\n")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
            raise _HttpError(400, "Bad Request") from None
        while lines and not lines[0]:
            lines.pop(0)
        parts = lines[0].split() if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _HttpError(400, "Bad Request", "malformed request line")
        method, target, version = parts
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise _HttpError(400, "Bad Request", "malformed header")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _HttpError(411, "Length Required", "chunked bodies are not supported")
        length_text = headers.get("content-length", "0")
        try:
            length = int(length_text)
        except ValueError:
            raise _HttpError(400, "Bad Request", "bad Content-Length") from None
        if length < 0 or length > MAX_BODY_BYTES:
            raise _HttpError(413, "Payload Too Large")
        if headers.get("expect", "").lower() == "100-continue" and len(self._buf) < length:
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for this
        while len(self._buf) < length:
            self._fill()
        body, self._buf = self._buf[:length], self._buf[length:]
        path = target
        if "://" in path:  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        path, _, query = path.partition("?")
        return _HttpRequest(method=method, path=path or "/", version=version, headers=headers, body=body, query=query)

    def peer_closed(self) -> bool:
        """Has the peer closed (or reset) its end? Non-blocking; data the client
        already sent (a pipelined request) does not count as closed."""
        try:
            poller = select.poll()
            poller.register(self.sock, select.POLLIN | select.POLLHUP | select.POLLERR)
            events = poller.poll(0)
        except (OSError, ValueError):
            return True
        if not events:
            return False
        mask = events[0][1]
        if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            return True
        try:
            return self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except (OSError, ValueError):
            return False

    def shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:  # pragma: no cover
            pass


class _ServeThreads:
    """The threads that serve connections, one connection at a time each,
    kept for a while when idle: a new connection mostly finds a thread
    waiting instead of starting one. With 64 hosts in one interpreter
    (`large`), each thread start waits its turn for the interpreter lock that
    the master's big replies hold; 63 members asked at once paid that 63
    times. Not concurrent.futures: its threads are joined at interpreter exit,
    and a thread here may sit in a client's idle keep-alive connection for
    IDLE_TIMEOUT (10 minutes)."""

    IDLE_EXIT = 30.0  # real seconds an idle thread waits for work before it ends

    def __init__(self, name: str) -> None:
        self._name = name
        self._work: "queue.SimpleQueue[Optional[Tuple[Callable[[_Connection], None], _Connection]]]" = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0

    def run(self, serve: Callable[[_Connection], None], conn: _Connection) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._work.put((serve, conn))
                return
        threading.Thread(target=self._loop, args=(serve, conn), daemon=True, name=self._name).start()

    def _loop(self, serve: Callable[[_Connection], None], conn: _Connection) -> None:
        me = threading.current_thread()
        work: Optional[Tuple[Callable[[_Connection], None], _Connection]] = (serve, conn)
        del serve, conn  # an idle thread must not keep a stopped host (and its pool) alive
        while work is not None:
            me.name = self._name  # named while serving: tests count the threads held by requests
            work[0](work[1])
            work = None
            me.name = self._name.replace("-conn-", "-idle-", 1)
            with self._lock:
                self._idle += 1
            try:
                work = self._work.get(timeout=self.IDLE_EXIT)
            except queue.Empty:
                with self._lock:
                    try:  # handed work between the timeout and the lock
                        work = self._work.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return

    def retire(self) -> None:
        """Let the idle threads end now (the host stopped)."""
        with self._lock:
            idle, self._idle = self._idle, 0
            for _ in range(idle):
                self._work.put(None)


def _response(
    status: int, reason: str, body: bytes, content_type: str, keep_alive: bool, extra: Tuple[Tuple[str, str], ...] = ()
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: " + ("keep-alive" if keep_alive else "close"),
    ]
    lines.extend(f"{k}: {v}" for k, v in extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _error_page(status: int, reason: str, detail: str) -> bytes:
    detail = detail.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:300]
    return (f"<html><body><h1>HTTP {status} {reason}</h1><p>{detail}</p></body></html>").encode("utf-8", "replace")


_CORS = (("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Headers", "X-Requested-With"))


class HostListeners:
    """One host's xapi endpoints: a unix socket and a TCP port."""

    def __init__(
        self, host: str, socket_path: Optional[Path], tcp_address: Optional[str], tcp_port: int, handler: Handler
    ) -> None:
        self.host = host
        self.socket_path = Path(socket_path) if socket_path is not None else None
        self.tcp_address = tcp_address
        self.tcp_port = tcp_port
        self.handler = handler
        self.running = False
        self._lock = threading.Lock()
        self._hung = False
        self._hung_changed = threading.Condition(self._lock)
        # Real seconds every answer is held back (the 'slow' fault).
        self.reply_delay = 0.0
        self._stopping = False
        self._listeners: Dict[int, Tuple[socket.socket, str]] = {}
        self._connections: Dict[int, _Connection] = {}
        self._accept_thread: Optional[threading.Thread] = None
        self._workers = _ServeThreads(f"xapi-conn-{host}")
        self._wake_r: Optional[int] = None
        self._wake_w: Optional[int] = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Bind both endpoints. Port 0 picks a free port once; a restart binds
        the same port again (endpoints.json was written with it)."""
        with self._lock:
            if self.running:
                return
            self._stopping = False
            self._hung = False
        listeners = []
        try:
            if self.tcp_address:
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.tcp_address, self.tcp_port))
                tcp.listen(128)
                self.tcp_port = tcp.getsockname()[1]
                listeners.append((tcp, "tcp"))
            if self.socket_path is not None:
                self.socket_path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    self.socket_path.unlink()
                except FileNotFoundError:
                    pass
                uds = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                uds.bind(str(self.socket_path))
                uds.listen(128)
                listeners.append((uds, "unix"))
        except OSError:
            for sock, _ in listeners:
                sock.close()
            raise
        self._wake_r, self._wake_w = os.pipe()
        with self._lock:
            self._listeners = {sock.fileno(): (sock, kind) for sock, kind in listeners}
            self.running = True
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"xapi-accept-{self.host}", daemon=True)
        self._accept_thread.start()

    def stop(self) -> None:
        """Close the listeners and every live connection; returns promptly."""
        with self._lock:
            if not self.running:
                return
            self.running = False
            self._stopping = True
            self._hung_changed.notify_all()
            connections = list(self._connections.values())
            self._connections.clear()
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:  # pragma: no cover
                pass
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5.0)
            self._accept_thread = None
        self._workers.retire()
        for conn in connections:
            # shutdown() wakes a reader blocked in recv; the connection's
            # thread closes the descriptor itself (no fd-reuse races).
            conn.shutdown()
        for fd in (self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:  # pragma: no cover
                    pass
        self._wake_r = self._wake_w = None
        # The unix socket file stays, like a dead xapi's: connecting gives
        # ECONNREFUSED rather than "no such file".

    def set_hung(self, hung: bool) -> None:
        with self._lock:
            self._hung = hung
            self._hung_changed.notify_all()

    @property
    def hung(self) -> bool:
        return self._hung

    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def live_connections(self) -> List[Tuple[str, str, bool]]:
        """(transport, peer, TCP_NODELAY set) for every open connection."""
        with self._lock:
            conns = list(self._connections.values())
        out = []
        for conn in conns:
            nodelay = False
            if conn.transport == "tcp":
                try:
                    nodelay = bool(conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                except OSError:
                    continue
            out.append((conn.transport, conn.peer, nodelay))
        return out

    # --- accepting ---------------------------------------------------------------------

    def _accept_loop(self) -> None:
        sel = selectors.DefaultSelector()
        with self._lock:
            listeners = list(self._listeners.values())
        for sock, kind in listeners:
            sock.setblocking(False)
            sel.register(sock, selectors.EVENT_READ, kind)
        assert self._wake_r is not None
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        # Accepted connections wait here, without a thread, until their first
        # bytes arrive: a TCP probe (connect, close) then costs no thread.
        # All 64 hosts of `large` share one interpreter, so every thread start
        # there waits its turn for the lock the master's big replies hold.
        parked: Dict[int, Tuple[_Connection, float]] = {}
        try:
            while True:
                timeout = None
                if parked:
                    oldest = min(since for _, since in parked.values())
                    timeout = max(0.0, oldest + IDLE_TIMEOUT - time.monotonic())
                for key, _ in sel.select(timeout):
                    if key.data == "wake":
                        return
                    if isinstance(key.data, _Connection):
                        sel.unregister(key.fileobj)
                        parked.pop(id(key.data), None)
                        self._first_bytes(key.data)
                        continue
                    conn = self._accept_one(key.fileobj, key.data)  # type: ignore[arg-type]
                    if conn is not None:
                        parked[id(conn)] = (conn, time.monotonic())
                        sel.register(conn.sock, selectors.EVENT_READ, conn)
                for conn, since in list(parked.values()):
                    if time.monotonic() - since >= IDLE_TIMEOUT:  # a client that never spoke
                        sel.unregister(conn.sock)
                        del parked[id(conn)]
                        self._drop(conn)
        finally:
            sel.close()
            for sock, _ in listeners:
                sock.close()
            for conn, _ in parked.values():
                self._drop(conn)
            with self._lock:
                self._listeners = {}

    def _accept_one(self, listener: socket.socket, kind: str) -> Optional[_Connection]:
        try:
            sock, addr = listener.accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            log.debug("accept failed on %s: %s", self.host, exc)
            return None
        sock.setblocking(True)
        sock.settimeout(IDLE_TIMEOUT)
        # A 6 MB reply then leaves in one or two writes: between two writes
        # the sending thread must win the interpreter lock again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if kind == "tcp":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer = f"{addr[0]}:{addr[1]}"
        else:
            peer = "unix"
        conn = _Connection(sock, kind, peer)
        with self._lock:
            if self._stopping:
                sock.close()
                return None
            self._connections[id(conn)] = conn
        return conn

    def _first_bytes(self, conn: _Connection) -> None:
        """A parked connection became readable: serve it in its own thread,
        or drop it when the client closed without a word."""
        try:
            closed = conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError):
            closed = False
        except OSError:
            closed = True
        if closed:
            self._drop(conn)
            return
        self._workers.run(self._serve, conn)

    def _drop(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(id(conn), None)
        conn.shutdown()
        conn.close()

    # --- serving -----------------------------------------------------------------------

    def _serve(self, conn: _Connection) -> None:
        try:
            while True:
                try:
                    req = conn.read_request()
                except _Closed:
                    return
                except (socket.timeout, TimeoutError):
                    return
                except _HttpError as err:
                    conn.send(
                        _response(
                            err.status,
                            err.reason,
                            _error_page(err.status, err.reason, err.detail),
                            "text/html",
                            keep_alive=False,
                        )
                    )
                    return
                if self._hold_while_hung(conn) or self._hold_while_slow():
                    return
                data, keep_alive = self._answer(conn, req)
                if self._hold_while_hung(conn):
                    return
                with self._lock:
                    if self._stopping:
                        return
                if not conn.send(data) or not keep_alive:
                    return
        finally:
            with self._lock:
                self._connections.pop(id(conn), None)
            conn.shutdown()
            conn.close()

    # While hung, how often (real seconds) a held connection checks whether its
    # client gave up: a client that times out and closes frees its thread.
    HUNG_POLL = 0.2

    def _hold_while_hung(self, conn: Optional[_Connection] = None) -> bool:
        """Block while hung; True when the held request must be dropped."""
        with self._lock:
            if not self._hung:
                return self._stopping
            while self._hung and not self._stopping:
                self._hung_changed.wait(self.HUNG_POLL)
                if conn is not None and conn.peer_closed():
                    break
            return True

    def _hold_while_slow(self) -> bool:
        """Wait out the reply delay (woken by stop); True when stopping."""
        delay = self.reply_delay
        if delay <= 0:
            return False
        with self._lock:
            if not self._stopping:
                self._hung_changed.wait(delay)
            return self._stopping

    def _answer(self, conn: _Connection, req: _HttpRequest) -> Tuple[bytes, bool]:
        keep_alive = req.keep_alive
        if req.method == "OPTIONS":
            return _response(
                200, "OK", b"", "text/plain", keep_alive, _CORS + (("Allow", "POST, OPTIONS"),)
            ), keep_alive
        if req.method == "GET" and req.path in GET_PATHS:
            return self._get(conn, req)
        if req.path in XMLRPC_PATHS:
            protocol = "xmlrpc"
        elif req.path in JSONRPC_PATHS:
            protocol = "jsonrpc"
        else:
            return self._http_error(404, "Not Found", f"no handler for {req.path}")
        if req.method != "POST":
            return self._http_error(
                405, "Method Not Allowed", f"{req.method} {req.path}", (("Allow", "POST, OPTIONS"),)
            )
        try:
            if protocol == "xmlrpc":
                name, params = decode_xmlrpc_request(req.body)
                rid, version = None, ""
            else:
                name, params, rid, version = decode_jsonrpc_request(req.body)
        except WireError as err:
            return self._http_error(err.status, "Internal Server Error", str(err))
        reply = self._call(
            Request(
                host=self.host,
                transport=conn.transport,
                peer=conn.peer,
                method=name,
                params=params,
                protocol=protocol,
                closed_check=lambda: self._stopping or conn.peer_closed(),
            )
        )
        try:
            if protocol == "xmlrpc":
                body = encode_xmlrpc_response(reply)
                ctype = "text/xml"
            else:
                body = encode_jsonrpc_response(reply, rid, version)
                ctype = "application/json"
        except (TypeError, ValueError) as exc:
            log.exception("cannot encode the reply to %s", name)
            return self._http_error(500, "Internal Server Error", f"unencodable reply: {exc}")
        return _response(200, "OK", body, ctype, keep_alive, _CORS), keep_alive

    def _get(self, conn: _Connection, req: _HttpRequest) -> Tuple[bytes, bool]:
        from urllib.parse import parse_qsl

        query = parse_qsl(req.query, keep_blank_values=True)
        reply = self._call(
            Request(
                host=self.host,
                transport=conn.transport,
                peer=conn.peer,
                method="GET " + req.path,
                params=[query, req.headers.get("accept", "")],
                protocol="http",
                closed_check=lambda: self._stopping or conn.peer_closed(),
            )
        )
        answer = reply.value
        if reply.error is not None or not isinstance(answer, HttpAnswer):
            detail = " ".join([reply.error.code, *reply.error.params]) if reply.error else "no answer"
            return self._http_error(500, "Internal Server Error", detail)
        # rrdd_proxy.ml get_rrd_updates_forwarder sets req.close: one answer per connection
        return _response(answer.status, answer.reason, answer.body, answer.content_type, False, _CORS), False

    def _call(self, request: Request) -> Reply:
        try:
            reply = self.handler(request)
        except ApiError as err:
            return Reply(error=err)
        except Exception as exc:  # noqa: BLE001 - xapi answers INTERNAL_ERROR, never crashes
            log.exception("handler failed for %s", request.method)
            return Reply(error=ApiError("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"))
        if not isinstance(reply, Reply):
            return Reply(value=reply)
        return reply

    @staticmethod
    def _http_error(
        status: int, reason: str, detail: str, extra: Tuple[Tuple[str, str], ...] = ()
    ) -> Tuple[bytes, bool]:
        return _response(
            status, reason, _error_page(status, reason, detail), "text/html", keep_alive=False, extra=extra
        ), False
