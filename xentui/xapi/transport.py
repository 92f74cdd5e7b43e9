"""Ways to reach one xapi: local unix socket, plain TCP, TLS, SSH channels.

An `XapiEndpoint` knows how to open byte streams to one xapi; it hands out
`xmlrpc.client.Transport`s for the stock SDK:

    ep = open_endpoint(target)
    session = XenAPI.Session(ep.uri, transport=ep.make_xmlrpc_transport(10))

Every transport is new and private to one Session (ServerProxy is not
thread-safe), keeps its HTTP/1.1 connection alive between calls, and turns
socket/SSH trouble into the exceptions of `xentui.xapi.errors`:

    connect timed out            -> ConnectFailed("timeout")
    connect refused / no socket  -> ConnectionRefused
    no reply within call_timeout -> CallTimeout(method, seconds, where)
    reset / EOF mid-call         -> ConnectionLost
    SSH connection dead          -> ConnectionLost
    non-XML / HTTP error reply   -> MalformedReply

xapi's own `Status: Failure` replies pass through untouched (the SDK turns them
into XenAPI.Failure); that is the session layer's business.
"""

from __future__ import annotations

import abc
import http.client
import ipaddress
import re
import socket
import ssl
import xmlrpc.client
from typing import Any, Callable, Optional
from xml.parsers.expat import ExpatError

from xentui.xapi.errors import (
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    MalformedReply,
    XapiError,
)
from xentui.xapi.targets import DEFAULT_CONNECT_TIMEOUT, SimEndpoints, Target, load_sim_endpoints
from xentui.xapi.tls import fingerprint_matches, sha256_fingerprint

# A connector returns a connected, socket-like object (a socket, an SSL socket
# or a paramiko Channel) whose timeout is already the per-call timeout.
Connector = Callable[[float], Any]

XAPI_HTTP_PORT = 80
XAPI_HTTPS_PORT = 443
_METHOD_RE = re.compile(rb"<methodName>([^<]{1,200})</methodName>")


class TlsCertificateUntrusted(ConnectFailed):
    """The https certificate is not trusted by the system CAs, or does not
    match the pinned fingerprint. `fingerprint` is what the server presented;
    the user may pin it with --tls-fingerprint after checking it."""

    def __init__(self, where: str, fingerprint: str, detail: str) -> None:
        super().__init__("tls", f"{where}: TLS certificate {fingerprint} not trusted ({detail})")
        self.fingerprint = fingerprint


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _method_name(request_body: Any) -> str:
    if isinstance(request_body, str):
        request_body = request_body.encode("utf-8", "replace")
    match = _METHOD_RE.search(request_body or b"")
    return match.group(1).decode("utf-8", "replace") if match else "xapi call"


def _is_paramiko_error(exc: BaseException) -> bool:
    # paramiko is imported lazily (only SSH targets need it); recognise its
    # exceptions by module so a dying SSH transport never leaks out raw.
    return type(exc).__module__.startswith("paramiko")


class _ConnectorHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection whose socket comes from a connector."""

    def __init__(self, host: str, connector: Connector, call_timeout: float) -> None:
        super().__init__(host)
        self._connector = connector
        self._call_timeout = call_timeout

    def connect(self) -> None:
        self.sock = self._connector(self._call_timeout)

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
    """xmlrpc Transport over any connector, with typed errors."""

    def __init__(self, connector: Connector, *, call_timeout: float, where: str) -> None:
        super().__init__()
        self._connector = connector
        self.call_timeout = float(call_timeout)
        self.where = where

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection and host == self._connection[0]:
            return self._connection[1]  # HTTP/1.1 keep-alive
        chost, self._extra_headers, _x509 = self.get_host_info(host)
        self._connection = host, _ConnectorHTTPConnection(chost, self._connector, self.call_timeout)
        return self._connection[1]

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
        try:
            return self.single_request(host, handler, request_body, verbose)
        except (XapiError, xmlrpc.client.Fault):
            raise
        except socket.timeout:
            self.close()  # the reply may still come: never reuse this stream
            raise CallTimeout(method, self.call_timeout, self.where) from None
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
            raise MalformedReply(f"{self.where}: HTTP {exc.errcode} {exc.errmsg} for {method}") from None
        except (http.client.HTTPException, ExpatError, xmlrpc.client.ResponseError, ValueError) as exc:
            self.close()
            raise MalformedReply(f"{self.where}: unreadable reply to {method}: {exc}") from None
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.where}: {exc}") from None
        except Exception as exc:
            if _is_paramiko_error(exc):
                self.close()
                raise ConnectionLost(f"{self.where}: SSH: {exc}") from None
            raise


class _StaleConnection(Exception):
    """Internal: the peer closed the stream before answering."""


class XapiEndpoint(abc.ABC):
    """One way to reach one xapi. Cheap to keep; `close()` frees SSH."""

    #: "local", "ssh-streamlocal", "ssh-tcp", "http" or "https"
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

    def __init__(self, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
        self.connect_timeout = float(connect_timeout)
        self.closed = False

    @abc.abstractmethod
    def open_stream(self, call_timeout: float) -> Any:
        """A new connected socket-like stream to xapi (timeout = call_timeout)."""

    def make_xmlrpc_transport(self, call_timeout: float) -> xmlrpc.client.Transport:
        """A NEW transport for one XenAPI.Session (never share between threads)."""
        return XapiXmlRpcTransport(self.open_stream, call_timeout=call_timeout, where=self.description)

    @abc.abstractmethod
    def for_address(self, address: str) -> "XapiEndpoint":
        """An endpoint for ANOTHER host of the pool, e.g. the master named by
        HOST_IS_SLAVE. The result must be closed; it never closes this one."""

    @property
    def ssh_client(self) -> Any:
        """The underlying paramiko.SSHClient, or None for non-SSH endpoints."""
        return None

    def reconnect(self) -> None:
        """Re-establish the underlying connection (SSH). No-op for stateless ones."""

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "XapiEndpoint":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


# --- local unix socket ------------------------------------------------------


def connect_unix(path: str, connect_timeout: float, call_timeout: float, where: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(connect_timeout)
    try:
        sock.connect(path)  # the exact path: no XenAPI.xapi_local() "_" mangling
    except FileNotFoundError:
        sock.close()
        raise ConnectionRefused(f"{where}: no socket (xapi not running?)") from None
    except ConnectionRefusedError:
        sock.close()
        raise ConnectionRefused(f"{where}: connection refused (xapi not running?)") from None
    except PermissionError:
        sock.close()
        raise ConnectFailed("unreachable", f"{where}: permission denied (xapi's socket needs root)") from None
    except socket.timeout:
        sock.close()
        raise ConnectFailed("timeout", f"{where}: no connection within {connect_timeout:g} s") from None
    except OSError as exc:
        sock.close()
        raise ConnectFailed("unreachable", f"{where}: {exc.strerror or exc}") from None
    sock.settimeout(call_timeout)
    return sock


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class _SimPeers:
    """Resolves pool addresses to simulator TCP ports (fresh endpoints.json read)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir

    def endpoint_for(self, address: str, connect_timeout: float) -> "XapiEndpoint":
        endpoints: SimEndpoints = load_sim_endpoints(self.state_dir)
        host = endpoints.find(address)
        if host is None or not host.port:
            raise ConnectFailed("unreachable", f"simulated pool has no host with address {address!r}")
        # The simulator binds each host's TCP listener on its (loopback)
        # management address; anything else is reached via 127.0.0.1.
        connect_to = host.address if _is_loopback(host.address) else "127.0.0.1"
        return TcpEndpoint(
            "http", connect_to, host.port, connect_timeout=connect_timeout,
            display=host.name, address=host.address, sim_peers=self,
        )


class UnixSocketEndpoint(XapiEndpoint):
    transport_name = "local"
    preauthenticated_root = True

    def __init__(self, path: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 sim_peers: Optional[_SimPeers] = None, label: str = "") -> None:
        super().__init__(connect_timeout)
        self.path = path
        self.uri = "http://localhost/"
        self.description = f"{label + ' ' if label else ''}local socket {path}"
        self._sim_peers = sim_peers

    def open_stream(self, call_timeout: float) -> socket.socket:
        return connect_unix(self.path, self.connect_timeout, call_timeout, self.description)

    def for_address(self, address: str) -> XapiEndpoint:
        if self._sim_peers is not None:
            return self._sim_peers.endpoint_for(address, self.connect_timeout)
        # A real dom0 reaches its peers like xapi itself does: TLS on 443.
        # Pool certificates are usually self-signed: the caller gets
        # TlsCertificateUntrusted with the fingerprint to pin.
        return TcpEndpoint("https", address, XAPI_HTTPS_PORT, connect_timeout=self.connect_timeout)


# --- TCP (http / https) -----------------------------------------------------


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


def _peer_certificate_fingerprint(host: str, port: int, connect_timeout: float, where: str) -> str:
    """Fetch the certificate without trusting it, only to show its fingerprint."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    sock = connect_tcp(host, port, connect_timeout, where)
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return sha256_fingerprint(tls.getpeercert(binary_form=True) or b"")
    except (OSError, ssl.SSLError):
        return "SHA256:?"
    finally:
        sock.close()


def connect_tls(host: str, port: int, connect_timeout: float, where: str,
                pinned_fingerprint: Optional[str]) -> ssl.SSLSocket:
    if pinned_fingerprint:
        # A pin replaces the CA check: xapi pool certificates are self-signed.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
    sock = connect_tcp(host, port, connect_timeout, where)
    try:
        tls = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        fingerprint = _peer_certificate_fingerprint(host, port, connect_timeout, where)
        raise TlsCertificateUntrusted(where, fingerprint, exc.verify_message or str(exc)) from None
    except socket.timeout:
        sock.close()
        raise ConnectFailed("timeout", f"{where}: TLS handshake took more than {connect_timeout:g} s") from None
    except (ssl.SSLError, OSError) as exc:
        sock.close()
        raise ConnectFailed("tls", f"{where}: TLS handshake failed: {exc}") from None
    if pinned_fingerprint:
        der = tls.getpeercert(binary_form=True) or b""
        if not fingerprint_matches(pinned_fingerprint, der):
            tls.close()
            raise TlsCertificateUntrusted(where, sha256_fingerprint(der), f"pinned {pinned_fingerprint}")
    return tls


class TcpEndpoint(XapiEndpoint):
    """xapi over plain TCP (http) or TLS (https)."""

    def __init__(self, scheme: str, host: str, port: int, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                 tls_fingerprint: Optional[str] = None, display: str = "", address: str = "",
                 sim_peers: Optional[_SimPeers] = None) -> None:
        super().__init__(connect_timeout)
        if scheme not in ("http", "https"):
            raise ValueError(f"unknown scheme {scheme!r}")
        self.scheme = scheme
        self.host = host
        self.port = int(port)
        self.tls_fingerprint = tls_fingerprint
        self.transport_name = scheme
        self.preauthenticated_root = False
        self.address = address or host
        self.uri = f"{scheme}://{_bracket(host)}:{self.port}/"
        self.description = f"xapi {display or _bracket(host)} at {scheme}://{_bracket(host)}:{self.port}"
        self._sim_peers = sim_peers

    def open_stream(self, call_timeout: float) -> Any:
        if self.scheme == "https":
            stream = connect_tls(self.host, self.port, self.connect_timeout, self.description, self.tls_fingerprint)
        else:
            stream = connect_tcp(self.host, self.port, self.connect_timeout, self.description)
        stream.settimeout(call_timeout)
        return stream

    def for_address(self, address: str) -> XapiEndpoint:
        if self._sim_peers is not None:
            return self._sim_peers.endpoint_for(address, self.connect_timeout)
        # Same scheme and port; a pinned certificate belongs to ONE host, so
        # the peer is checked against the system CAs (and its fingerprint shown).
        return TcpEndpoint(self.scheme, address, self.port, connect_timeout=self.connect_timeout)


# --- opening ----------------------------------------------------------------


def open_endpoint(target: Target, *, connect_timeout: Optional[float] = None,
                  accept_host_key: Optional[str] = None) -> XapiEndpoint:
    """An endpoint for `target`. Local and TCP endpoints connect lazily (per
    call); SSH connects now: TCP, host key check, authentication, and a probe
    of which channel kind the server allows.

    `accept_host_key`: an SSH host key fingerprint ("SHA256:...") the user has
    confirmed; if the server presents exactly that (unknown) key it is written
    to xentui's known_hosts. Anything else unknown raises HostKeyUnknown.
    """
    timeout = float(connect_timeout if connect_timeout is not None else target.connect_timeout)
    if target.kind == "local":
        return UnixSocketEndpoint(target.socket_path, connect_timeout=timeout)
    if target.kind == "sim":
        peers = _SimPeers(target.sim_state_dir or "")
        return UnixSocketEndpoint(target.socket_path, connect_timeout=timeout, sim_peers=peers,
                                  label=f"sim host {target.sim_host}:")
    if target.kind in ("http", "https"):
        default_port = XAPI_HTTPS_PORT if target.kind == "https" else XAPI_HTTP_PORT
        return TcpEndpoint(target.kind, target.host, target.port or default_port, connect_timeout=timeout,
                           tls_fingerprint=target.tls_fingerprint)
    if target.kind == "ssh":
        from xentui.xapi.ssh import open_ssh_endpoint  # paramiko only when needed

        return open_ssh_endpoint(target, connect_timeout=timeout, accept_host_key=accept_host_key)
    raise ValueError(f"unknown target kind {target.kind!r}")
