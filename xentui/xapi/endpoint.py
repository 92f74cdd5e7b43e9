"""The abstract `XapiEndpoint` and the wire every endpoint speaks: HTTP and
XML-RPC over any connected byte stream (socket, SSL socket, paramiko Channel)
under ONE deadline for the whole reply and a cap on its size.

The concrete endpoints build on this module: local, TCP and TLS ones in
`xentui.xapi.transport`, the SSH one in `xentui.xapi.ssh` (which `transport`
opens, so both share this piece from below rather than import each other).

The call timeout is a deadline for the WHOLE reply, not for each read: a peer
that drips one byte a second, or streams forever, is given up on when the
call's time is up (`ReplyBudget` + `DeadlineStream`, shared with any other
protocol reader in this layer through `DeadlineStream` / `bounded_http_request`).
Every byte is counted, raw and after gzip decoding, against `max_reply_bytes`.
"""

from __future__ import annotations

import abc
import http.client
import io
import re
import socket
import time
import xmlrpc.client
import zlib
from typing import TYPE_CHECKING, Any, Callable, List, Optional, cast
from xml.parsers.expat import ExpatError

from xentui.xapi.errors import (
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    MalformedReply,
    ReplyTooLarge,
    XapiError,
)
from xentui.xapi.safe_text import one_line
from xentui.xapi.targets import DEFAULT_CONNECT_TIMEOUT

if TYPE_CHECKING:
    from xentui.xapi.pool_tls import PoolTrustSource

# A connector returns a connected, socket-like object (a socket, an SSL socket
# or a paramiko Channel) whose timeout is already the per-call timeout.
Connector = Callable[[float], Any]

# The largest reply we read, and so the memory a broken or hostile peer can
# make us hold: the XML-RPC parser keeps what it has read until the value
# ends, so an endless reply costs about this much before it is refused
# (peak RSS ~ cap + 23 MB; benchmarks/bench_hostile_peers.py). The largest
# real replies are full-pool event.from / VM.get_all_records answers: 16.6 MB
# for the simulator's `large` scenario (64 hosts - xapi's pool maximum -
# and 2,000 VMs, ~8 kB of reply per VM with its VBDs, VIFs and VDIs; a
# 16.6 MB event.from peaks at 58 MB RSS). 64 MB is 3.9x that: about 8,000
# VMs (snapshots and templates count as VMs) at the same density, more than
# any pool we know of, while an endless reply now peaks near 90 MB instead
# of 280 MB on a dom0 whose memory xapi needs. A pool that really is bigger
# gets ReplyTooLarge naming the cap, never a silently truncated view.
MAX_REPLY_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 64 * 1024
# The most one recv may return into a caller's buffer. A 6 MB reply read
# 64 KiB at a time takes ~90 trips through the interpreter lock, and the
# other threads of a look (reading state.db, logging into 63 members) may
# take it at every one of them. Up to 1 MiB a trip: what the socket holds.
_RECV_MAX = 1024 * 1024
_METHOD_RE = re.compile(rb"<methodName>([^<]{1,200})</methodName>")


def _method_name(request_body: Any) -> str:
    if isinstance(request_body, str):
        request_body = request_body.encode("utf-8", "replace")
    match = _METHOD_RE.search(request_body or b"")
    return match.group(1).decode("utf-8", "replace") if match else "xapi call"


def _is_paramiko_error(exc: BaseException) -> bool:
    # paramiko is imported lazily (only SSH targets need it); recognise its
    # exceptions by module so a dying SSH transport never leaks out raw.
    return type(exc).__module__.startswith("paramiko")


class ReplyBudget:
    """The deadline and byte cap of ONE call (request sent + whole reply read).

    `start(seconds)` opens a new call; `remaining()` is the time left for the
    next read (raising socket.timeout once it is spent, exactly like a socket
    whose own timeout fired); `count(n)` adds received bytes and raises
    ReplyTooLarge beyond `max_bytes`."""

    def __init__(
        self, max_bytes: int = MAX_REPLY_BYTES, *, where: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes = int(max_bytes)
        self.where = where
        self.method = "xapi call"
        self.clock = clock
        self.seconds = 0.0
        self.deadline = float("inf")
        self.received = 0

    def start(self, seconds: float, method: str = "xapi call") -> None:
        self.seconds = float(seconds)
        self.deadline = self.clock() + self.seconds
        self.received = 0
        self.method = method

    def restart(self) -> None:
        """The same call again from now (after a connect, which has its own timeout)."""
        self.start(self.seconds, self.method)

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise socket.timeout(f"no complete reply within {self.seconds:g} s")
        return left

    def count(self, n: int) -> None:
        self.received += n
        if self.received > self.max_bytes:
            raise ReplyTooLarge(self.where, self.method, self.max_bytes)


class _DeadlineRaw(io.RawIOBase):
    """The read side of a DeadlineStream as a raw file (for makefile)."""

    def __init__(self, stream: "DeadlineStream") -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._stream._file_closed()

    def readinto(self, buffer: Any) -> int:
        return self._stream.recv_into(buffer)


class DeadlineStream:
    """A socket-like stream (socket, SSL socket, paramiko Channel) whose every
    send and receive waits at most until the budget's deadline, and whose
    received bytes count against the budget's cap. Reusable by any protocol
    reader of this layer (XML-RPC here; JSON-RPC, HTTP downloads):

        budget = ReplyBudget(max_bytes, where=endpoint.description)
        stream = DeadlineStream(endpoint.open_stream(timeout), budget)
        budget.start(timeout, "VM.get_all_records")
        ... stream.sendall(request); stream.recv(n) / stream.makefile("rb") ...
    """

    def __init__(self, stream: Any, budget: ReplyBudget) -> None:
        self._stream = stream
        self.budget = budget
        # Like socket.makefile: http.client closes the connection while its
        # response still reads the body ("Connection: close"), so the stream
        # really closes only when its last file is closed too.
        self._open_files = 0
        self._close_pending = False

    def _arm(self) -> None:
        self._stream.settimeout(self.budget.remaining())

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._stream.sendall(data)

    def send(self, data: bytes) -> int:
        self._arm()
        sent: int = self._stream.send(data)
        return sent

    def recv(self, size: int) -> bytes:
        self._arm()
        data: bytes = self._stream.recv(max(1, min(int(size), _READ_CHUNK)))
        self.budget.count(len(data))
        return data

    def recv_into(self, buffer: Any) -> int:
        view = memoryview(buffer)[:_RECV_MAX]
        if not hasattr(self._stream, "recv_into"):  # a paramiko Channel
            data = self.recv(len(view))
            view[: len(data)] = data
            return len(data)
        self._arm()
        n: int = self._stream.recv_into(view)
        self.budget.count(n)
        return n

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        if "w" in mode:
            raise ValueError("DeadlineStream files are read-only")
        self._open_files += 1
        return io.BufferedReader(_DeadlineRaw(self), _READ_CHUNK)

    def settimeout(self, timeout: Optional[float]) -> None:
        pass  # the budget decides; http.client may call this after connect

    def _file_closed(self) -> None:
        self._open_files -= 1
        if self._close_pending and self._open_files <= 0:
            self._stream.close()

    def close(self) -> None:
        if self._open_files > 0:
            self._close_pending = True
        else:
            self._stream.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _ConnectorHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection whose socket comes from a connector."""

    def __init__(self, host: str, connector: Connector, call_timeout: float, budget: ReplyBudget) -> None:
        super().__init__(host)
        self._connector = connector
        self._call_timeout = call_timeout
        self._budget = budget

    def connect(self) -> None:
        stream = self._connector(self._call_timeout)
        self._budget.restart()  # connecting had its own timeout
        self.sock = DeadlineStream(stream, self._budget)

    # http.client writes the headers and the body with two send()s. Through
    # any hop without TCP_NODELAY (sshd's own socket to xapi:80, for one)
    # Nagle + delayed ACK then stall the body ~40 ms. One write avoids that
    # at every hop and halves the SSH packets per call.
    _pending_body: Optional[bytes] = None

    def endheaders(self, message_body: Any = None, *, encode_chunked: bool = False) -> None:
        if isinstance(message_body, (bytes, bytearray)) and not encode_chunked:
            self._pending_body = bytes(message_body)
            try:
                super().endheaders()
            finally:
                self._pending_body = None
        else:
            super().endheaders(message_body, encode_chunked=encode_chunked)

    def send(self, data: Any) -> None:
        if self._pending_body is not None and isinstance(data, (bytes, bytearray)):
            data, self._pending_body = bytes(data) + self._pending_body, None
        super().send(data)


class XapiXmlRpcTransport(xmlrpc.client.Transport):
    """xmlrpc Transport over any connector, with typed errors, a deadline for
    each whole call and a cap on each reply's size."""

    # xapi never compresses; a gzip reply would only be a decompression bomb.
    accept_gzip_encoding = False

    def __init__(
        self, connector: Connector, *, call_timeout: float, where: str, max_reply_bytes: int = MAX_REPLY_BYTES
    ) -> None:
        super().__init__()
        self._connector = connector
        self.call_timeout = float(call_timeout)
        self.where = where
        self.budget = ReplyBudget(max_reply_bytes, where=where)

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection and host == self._connection[0]:
            return cast(http.client.HTTPConnection, self._connection[1])  # HTTP/1.1 keep-alive
        chost, self._extra_headers, _x509 = self.get_host_info(host)
        self._connection = host, _ConnectorHTTPConnection(chost, self._connector, self.call_timeout, self.budget)
        return self._connection[1]

    def parse_response(self, response: Any) -> Any:
        """xmlrpc's parse_response, counting the bytes fed to the parser
        (after any gzip decoding) against the cap."""
        parser, unmarshaller = self.getparser()
        decoder = None
        if response.getheader("Content-Encoding", "") == "gzip":
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        fed = 0
        while True:
            data = response.read(_READ_CHUNK)
            if not data:
                break
            pieces = [data]
            if decoder is not None:
                pieces = []
                pending = data
                while pending:
                    # Bounded output per step: a bomb never inflates at once.
                    pieces.append(decoder.decompress(pending, _READ_CHUNK))
                    pending = decoder.unconsumed_tail
                    if fed + sum(len(p) for p in pieces) > self.budget.max_bytes:
                        break
            for piece in pieces:
                fed += len(piece)
                if fed > self.budget.max_bytes:
                    raise ReplyTooLarge(self.where, self.budget.method, self.budget.max_bytes)
                parser.feed(piece)
        parser.close()
        return unmarshaller.close()

    def _has_open_connection(self, host: Any) -> bool:
        conn = self._connection[1] if self._connection and self._connection[0] == host else None
        return conn is not None and conn.sock is not None

    def request(self, host: Any, handler: str, request_body: Any, verbose: bool = False) -> Any:
        # Unlike xmlrpc.client, retry ONLY when a kept-alive connection turned
        # out to be stale before any reply: a fresh connection that dies may
        # have delivered a non-idempotent call (VM.start, emergency_transition...).
        for attempt in (0, 1):
            reused = self._has_open_connection(host)
            try:
                return self._request_once(host, handler, request_body, verbose)
            except _StaleConnection as stale:
                if attempt == 0 and reused:
                    continue
                raise ConnectionLost(
                    f"{self.where}: connection closed before the reply to {_method_name(request_body)}"
                ) from stale.__cause__
        raise AssertionError("unreachable")

    def _request_once(self, host: Any, handler: str, request_body: Any, verbose: bool) -> Any:
        method = _method_name(request_body)
        # The connector's connect keeps its own connect timeout; from the
        # first byte sent to the last byte read, the call has call_timeout.
        self.budget.start(self.call_timeout, method)
        try:
            return self.single_request(host, handler, request_body, verbose)
        except xmlrpc.client.Fault:
            raise
        except XapiError:
            self.close()  # e.g. ReplyTooLarge mid-body: the stream is unusable
            raise
        except socket.timeout:
            self.close()  # the reply may still come: never reuse this stream
            raise CallTimeout(method, self.call_timeout, self.where, self.budget.received) from None
        except ConnectionRefusedError as exc:
            self.close()
            raise ConnectionRefused(f"{self.where}: {exc}") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
            self.close()
            raise _StaleConnection() from exc
        except (http.client.IncompleteRead, ConnectionError, EOFError) as exc:
            self.close()
            raise ConnectionLost(f"{self.where}: connection lost during {method} ({exc!r})") from None
        except xmlrpc.client.ProtocolError as exc:
            self.close()
            raise MalformedReply(f"{self.where}: HTTP {exc.errcode} {one_line(exc.errmsg, 80)} for {method}") from None
        except (
            http.client.HTTPException,
            ExpatError,
            xmlrpc.client.ResponseError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
        ) as exc:
            self.close()
            raise MalformedReply(f"{self.where}: unreadable reply to {method}: {one_line(exc, 160)}") from None
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.where}: {exc}") from None
        except Exception as exc:
            if _is_paramiko_error(exc):
                self.close()
                raise ConnectionLost(f"{self.where}: SSH: {exc}") from None
            raise


class HttpStatusError(MalformedReply):
    """bounded_http_request: the server answered, but not with 200 (e.g. 404:
    this xapi does not serve the path). `status` is the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def bounded_http_request(
    endpoint: "XapiEndpoint",
    path: str,
    body: bytes,
    *,
    call_timeout: float,
    what: str,
    content_type: str = "application/json",
    http_method: str = "POST",
    max_reply_bytes: Optional[int] = None,
) -> bytes:
    """One HTTP request to `endpoint`'s xapi on a fresh stream; the reply
    body, read under ONE deadline (`call_timeout` from the first byte sent to
    the last byte read) and a byte cap (`max_reply_bytes`, default the
    endpoint's). For other protocol readers of this layer (JSON-RPC, HTTP
    handlers such as /export) that must not hand-roll their own timeouts.

    Raises CallTimeout (deadline spent: silent, dripping or endless peer),
    ReplyTooLarge, MalformedReply (not HTTP 200, or not HTTP at all: the
    status line is shown escaped), ConnectionLost, and whatever
    `endpoint.open_stream` raises (ConnectFailed and subclasses)."""
    where = endpoint.description
    budget = ReplyBudget(endpoint.max_reply_bytes if max_reply_bytes is None else max_reply_bytes, where=where)
    budget.start(call_timeout, what)
    host = re.sub(r"^[a-z]+://", "", endpoint.uri).rstrip("/") or "localhost"
    conn = _ConnectorHTTPConnection(host, endpoint.open_stream, call_timeout, budget)
    try:
        conn.request(
            http_method,
            path,
            body=body,
            headers={"Content-Type": content_type, "Connection": "close", "User-Agent": "xentui"},
        )
        response = conn.getresponse()
        if response.status != 200:
            raise HttpStatusError(
                f"{where}: HTTP {response.status} {one_line(response.reason, 80)} for {what}", response.status
            )
        if response.length is not None and response.length <= budget.max_bytes:
            # A declared length within the cap: ONE buffer (a 6 MB event.from
            # read in 64 KiB chunks and joined needs twice that, and leaves the
            # chunks' heap behind); the stream's budget still bounds every read.
            whole: bytes = response.read()
            return whole
        chunks: List[bytes] = []
        while True:
            chunk = response.read(_READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except XapiError:
        raise
    except socket.timeout:
        raise CallTimeout(what, call_timeout, where, budget.received) from None
    except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError, EOFError) as exc:
        raise ConnectionLost(f"{where}: connection lost during {what} ({type(exc).__name__})") from None
    except (http.client.HTTPException, ValueError) as exc:
        raise MalformedReply(f"{where}: unreadable reply to {what}: {one_line(exc, 160)}") from None
    except OSError as exc:
        raise ConnectionLost(f"{where}: {one_line(exc, 160)}") from None
    except Exception as exc:
        if _is_paramiko_error(exc):
            raise ConnectionLost(f"{where}: SSH: {one_line(exc, 160)}") from None
        raise
    finally:
        conn.close()


class _StaleConnection(Exception):
    """Internal: the peer closed the stream before answering."""


class XapiEndpoint(abc.ABC):
    """One way to reach one xapi. Cheap to keep; `close()` frees SSH."""

    #: "local", "ssh-streamlocal", "ssh-tcp", "ssh-tls" (another pool host through SSH), "http" or "https"
    transport_name: str = ""
    #: base URI for XenAPI.Session (only feeds the HTTP Host header)
    uri: str = "http://localhost/"
    #: human-readable, e.g. "local socket /var/lib/xcp/xapi"
    description: str = ""
    #: True when xapi treats us as root without a password (unix socket,
    #: or streamlocal as root): any login_with_password succeeds.
    preauthenticated_root: bool = False
    #: the host address this endpoint reaches ("" for the local host)
    address: str = ""
    #: the largest reply read from this xapi (ReplyTooLarge beyond)
    max_reply_bytes: int = MAX_REPLY_BYTES

    def __init__(self, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.connect_timeout = float(connect_timeout)
        self.closed = False

    @abc.abstractmethod
    def open_stream(self, call_timeout: float) -> Any:
        """A new connected socket-like stream to xapi (timeout = call_timeout)."""

    def make_xmlrpc_transport(self, call_timeout: float) -> xmlrpc.client.Transport:
        """A NEW transport for one XenAPI.Session (never share between threads)."""
        return XapiXmlRpcTransport(
            self.open_stream, call_timeout=call_timeout, where=self.description, max_reply_bytes=self.max_reply_bytes
        )

    @abc.abstractmethod
    def for_address(self, address: str) -> "XapiEndpoint":
        """An endpoint for ANOTHER host of the pool, e.g. the master named by
        HOST_IS_SLAVE. The result must be closed; it never closes this one."""

    @property
    def ssh_client(self) -> Any:
        """The underlying paramiko.SSHClient, or None for non-SSH endpoints."""
        return None

    def trust_peers_by(self, source: PoolTrustSource) -> None:  # noqa: B027 - a hook, see below
        """How this host checks the other hosts of its pool (pool_tls.py), for the
        endpoints for_address makes. Only a console on a pool host (local socket,
        SSH) has peers of its own; a direct https target keeps its CA or pin."""

    def reconnect(self) -> None:  # noqa: B027 - a hook: stateless endpoints have nothing to redo
        """Re-establish the underlying connection (SSH). No-op for stateless ones."""

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "XapiEndpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


# --- TCP, shared by the TCP/TLS endpoints, the SSH first hop and liveness probes --


def connect_tcp(host: str, port: int, connect_timeout: float, where: str) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except ConnectionRefusedError:
        raise ConnectionRefused(f"{where}: connection refused") from None
    except socket.gaierror as exc:
        raise ConnectFailed("dns", f"{where}: cannot resolve {host!r} ({exc.strerror})") from None
    except socket.timeout:
        raise ConnectFailed("timeout", f"{where}: no connection within {connect_timeout:g} s") from None
    except OSError as exc:  # EHOSTUNREACH, ENETUNREACH, ...
        raise ConnectFailed("unreachable", f"{where}: {exc.strerror or exc}") from None
    # http.client writes headers and body separately: without NODELAY, Nagle
    # plus delayed ACK cost ~40 ms per call.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def close_quietly(endpoint: Any) -> None:
    """Close an endpoint (or anything with close()) that is being given up on:
    a failure to close it changes nothing for the caller."""
    close = getattr(endpoint, "close", None)
    if close is not None:
        try:
            close()
        except (OSError, XapiError):
            pass
