"""Hostile or broken "xapi" peers for tests: tiny servers on 127.0.0.1 or a
unix socket that speak xapi's HTTP badly on purpose.

    peer = HostilePeer("drip", unix_path=tmp_path / "xapi").start()
    ...
    peer.stop()

Behaviours (each request is answered according to the behaviour and the
XML-RPC method name it carries):

  drip            a valid login reply, one byte every `drip_interval` seconds
  drip_handshake  (needs tls_context) accepts TCP, then sends its TLS handshake
                  one byte every `drip_interval` seconds; never answers a call
  endless         HTTP 200 without a length, then an XML string that never ends
  endless_headers a status line, then header lines forever
  silent          accepts, reads the request, never answers
  escape          every call fails with an ErrorDescription full of (XML-legal) escapes
  escape_status   HTTP 503 whose reason phrase and headers hold terminal escapes
  wrong_type      login "succeeds" with an int where the session ref belongs
  wrong_emergency a plausible session ref, then nonsense types for every call
  html            HTTP 200 text/html (a web server, not xapi)
  http500         HTTP 500 with an HTML body holding escapes
  bad_envelope    {"Status": "Failure"} without an ErrorDescription
  ssh_banner      an "SSH server" whose banner and first packet are terminal escapes
  bad_snapshot    a plausible login and emergency answer, then a pool listing of the wrong shape

The server's own pauses (drip) wait on a stop event, so `stop()` ends them at
once. Nothing here sleeps in a test: the peer is slow, the test is not.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import threading
import xmlrpc.client
from pathlib import Path
from typing import Any, List, Optional, Union

ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31m\u202e\r\n"
# What survives XML (ESC and BEL are not XML 1.0 characters): the 8-bit CSI,
# a bidi override, NEL, DEL, a newline and markup.
XML_ESCAPES = "\x9b2J\u202e\x85\x7f\n[b]"
SESSION_REF = "OpaqueRef:6f1b2c3d-0000-4000-8000-000000000001"
BEHAVIOURS = (
    "drip",
    "drip_handshake",
    "endless",
    "endless_headers",
    "silent",
    "escape",
    "escape_status",
    "wrong_type",
    "wrong_emergency",
    "html",
    "http500",
    "bad_envelope",
    "ssh_banner",
    "bad_snapshot",
)
_METHOD_RE = re.compile(rb"<methodName>([^<]{1,200})</methodName>")


def xmlrpc_reply(value: Any) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True, allow_none=True).encode("utf-8")


def http_reply(body: bytes, status: str = "200 OK", content_type: str = "text/xml", extra_headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra_headers}\r\n"
    return head.encode("latin-1", "replace") + body


def success(value: Any) -> bytes:
    return http_reply(xmlrpc_reply({"Status": "Success", "Value": value}))


class HostilePeer:
    """One listening socket (TCP on 127.0.0.1, or unix) with one behaviour."""

    def __init__(
        self,
        behaviour: str,
        *,
        unix_path: Union[str, Path, None] = None,
        tls_context: Optional[ssl.SSLContext] = None,
        drip_interval: float = 0.05,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        if behaviour == "drip_handshake" and tls_context is None:
            raise ValueError("drip_handshake needs a tls_context")
        self.behaviour = behaviour
        self.unix_path = str(unix_path) if unix_path is not None else None
        self.tls_context = tls_context
        self.drip_interval = drip_interval
        self.port = 0
        self.bytes_sent = 0
        self.methods: List[str] = []
        self._stop = threading.Event()
        self._listener: Optional[socket.socket] = None
        self._threads: List[threading.Thread] = []
        self._conns: List[socket.socket] = []
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> "HostilePeer":
        if self.unix_path:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.unix_path)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
        listener.listen(16)
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name=f"hostile-{self.behaviour}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            except OSError:
                pass
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "HostilePeer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self.behaviour == "drip_handshake":
                serve: Any = self._drip_handshake
            elif self.tls_context is not None:
                serve = self._serve
                try:
                    conn = self.tls_context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            else:
                serve = self._serve
            with self._lock:
                self._conns.append(conn)
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read_request(self, conn: socket.socket, buffered: bytes) -> Optional[tuple]:
        data = buffered
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
        body, leftover = rest[:length], rest[length:]
        found = _METHOD_RE.search(body)
        return (found.group(1).decode("ascii", "replace") if found else ""), leftover

    def _send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.bytes_sent += len(data)

    def _drip_handshake(self, conn: socket.socket) -> None:
        """A real server-side TLS handshake (through memory BIOs), whose every
        outgoing byte waits `drip_interval`: each read the client makes is
        quick, the whole handshake would take minutes."""
        assert self.tls_context is not None
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.tls_context.wrap_bio(incoming, outgoing, server_side=True)
        try:
            while not self._stop.is_set():
                try:
                    tls.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                for byte in outgoing.read():
                    self._send(conn, bytes([byte]))
                    if self._stop.wait(self.drip_interval):
                        return
                data = conn.recv(65536)
                if not data:
                    return
                incoming.write(data)
        except (OSError, ssl.SSLError):
            return  # the client gave up on us: that is the point
        finally:
            conn.close()

    def _serve(self, conn: socket.socket) -> None:
        buffered = b""
        if self.behaviour == "ssh_banner":
            try:
                self._send(conn, b"SSH-2.0-evil" + ESCAPES.encode()[:-2] + b"\r\n")
                self._send(conn, b"\x00\x00\x00\x2c\x06" + ESCAPES.encode() * 4)
                self._stop.wait(2)
            except OSError:
                pass
            conn.close()
            return
        try:
            while not self._stop.is_set():
                request = self._read_request(conn, buffered)
                if request is None:
                    return
                method, buffered = request
                self.methods.append(method)
                if not self._answer(conn, method):
                    return
        except (OSError, ssl.SSLError):
            return  # the client gave up on us: that is the point
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _answer(self, conn: socket.socket, method: str) -> bool:
        """Answer one request; False to drop the connection afterwards."""
        b = self.behaviour
        if b == "drip":
            for byte in success(SESSION_REF):
                self._send(conn, bytes([byte]))  # at once: the reply has begun
                if self._stop.wait(self.drip_interval):
                    return False
            return True
        if b == "endless":
            self._send(
                conn,
                b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"
                b"<?xml version='1.0'?><methodResponse><params><param><value><struct>"
                b"<member><name>Status</name><value>Success</value></member>"
                b"<member><name>Value</name><value><string>",
            )
            chunk = b"A" * 65536
            while not self._stop.is_set():
                self._send(conn, chunk)
            return False
        if b == "endless_headers":
            self._send(conn, b"HTTP/1.1 200 OK\r\n")
            while not self._stop.is_set():
                self._send(conn, b"X-Padding: " + b"x" * 1000 + b"\r\n")
            return False
        if b == "silent":
            self._stop.wait()
            return False
        if b == "escape":
            self._send(
                conn,
                http_reply(
                    xmlrpc_reply(
                        {
                            "Status": "Failure",
                            "ErrorDescription": [f"INTERNAL_ERROR{XML_ESCAPES}", f"[b]boom[/b]{XML_ESCAPES}"],
                        }
                    )
                ),
            )
            return True
        if b == "escape_status":
            self._send(
                conn,
                http_reply(
                    b"<html>" + ESCAPES.encode() + b"</html>",
                    status=f"503 Gone{ESCAPES[:-2]}",
                    content_type="text/html",
                    extra_headers=f"X-Evil: {ESCAPES[:-2]}\r\n",
                ),
            )
            return True
        if b == "wrong_type":
            self._send(conn, success(42))
            return True
        if b == "wrong_emergency":
            if "login" in method:
                self._send(conn, success(SESSION_REF))
            elif method.endswith("is_in_emergency_mode"):
                self._send(conn, success("yes"))
            else:
                self._send(conn, success(42))
            return True
        if b == "bad_snapshot":
            if "login" in method:
                self._send(conn, success(SESSION_REF))
            elif method.endswith("is_in_emergency_mode"):
                self._send(conn, success(False))
            else:
                self._send(conn, success(["not", "a", "pool"]))
            return True
        if b == "html":
            self._send(
                conn,
                http_reply(
                    b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>", content_type="text/html"
                ),
            )
            return True
        if b == "http500":
            self._send(
                conn,
                http_reply(
                    b"<html><body>" + ESCAPES.encode() + b"Internal error</body></html>",
                    status="500 Internal Server Error",
                    content_type="text/html",
                ),
            )
            return True
        if b == "bad_envelope":
            self._send(conn, http_reply(xmlrpc_reply({"Status": "Failure"})))
            return True
        raise AssertionError(b)
