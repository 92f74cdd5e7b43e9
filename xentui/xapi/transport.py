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
    reply over max_reply_bytes   -> ReplyTooLarge (a MalformedReply)

The call timeout is a deadline for the WHOLE reply, not for each read: a peer
that drips one byte a second, or streams forever, is given up on when the
call's time is up (`ReplyBudget` + `DeadlineStream` of `xentui.xapi.endpoint`, shared with any other
protocol reader in this layer through `DeadlineStream` / `bounded_http_request`).
Every byte is counted, raw and after gzip decoding, against `max_reply_bytes`.
Opening a stream has its own single deadline, also not per read: the TCP
connect and the whole TLS handshake together get the connect timeout, and the
handshake never outlasts the call timeout either (`connect_tls`). So one call
on a fresh stream ends within connect timeout + call timeout, whatever the
peer does.

xapi's own `Status: Failure` replies pass through untouched (the SDK turns them
into XenAPI.Failure); that is the session layer's business.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from typing import Any, Optional, Tuple

from xentui.xapi.endpoint import XapiEndpoint, connect_tcp
from xentui.xapi.errors import ConnectFailed, ConnectionRefused, XapiError
from xentui.xapi.pool_tls import PoolTrust, PoolTrustSource, not_read
from xentui.xapi.safe_text import one_line
from xentui.xapi.targets import DEFAULT_CONNECT_TIMEOUT, SimEndpoints, Target, load_sim_endpoints
from xentui.xapi.tls import fingerprint_matches, sha256_fingerprint
from xentui.xapi.tls_connect import (
    XAPI_HTTPS_PORT,
    TlsCertificateUntrusted,
    TlsHandshakeTimeout,
    checking_nothing,
    tls_handshake,
    wrap_pool_tls,
)

__all__ = ["XAPI_HTTPS_PORT", "TlsCertificateUntrusted", "TcpEndpoint", "UnixSocketEndpoint", "open_endpoint"]

XAPI_HTTP_PORT = 80


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


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
    """Resolves pool addresses to simulator TCP ports (endpoints.json as it is now)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        # The last parse, by the file's (inode, size, mtime): the simulator replaces
        # the file atomically when a port changes, and asking 63 peers must not
        # parse it 63 times.
        self._parsed: Optional[Tuple[Tuple[int, int, int], SimEndpoints]] = None

    def _endpoints(self) -> SimEndpoints:
        try:
            st = os.stat(os.path.join(self.state_dir, "endpoints.json"))
            key: Optional[Tuple[int, int, int]] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            key = None  # load_sim_endpoints says what is wrong
        parsed = self._parsed
        if key is not None and parsed is not None and parsed[0] == key:
            return parsed[1]
        endpoints = load_sim_endpoints(self.state_dir)
        if key is not None:
            self._parsed = (key, endpoints)
        return endpoints

    def endpoint_for(self, address: str, connect_timeout: float) -> "XapiEndpoint":
        endpoints: SimEndpoints = self._endpoints()
        host = endpoints.find(address)
        if host is None or not host.port:
            raise ConnectFailed("unreachable", f"simulated pool has no host with address {address!r}")
        # The simulator binds each host's TCP listener on its (loopback)
        # management address; anything else is reached via 127.0.0.1.
        connect_to = host.address if _is_loopback(host.address) else "127.0.0.1"
        return TcpEndpoint(
            "http",
            connect_to,
            host.port,
            connect_timeout=connect_timeout,
            display=host.name,
            address=host.address,
            sim_peers=self,
        )


class UnixSocketEndpoint(XapiEndpoint):
    transport_name = "local"
    preauthenticated_root = True

    def __init__(
        self,
        path: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        sim_peers: Optional[_SimPeers] = None,
        label: str = "",
        peer_port: int = XAPI_HTTPS_PORT,
    ) -> None:
        super().__init__(connect_timeout)
        self.path = path
        self.uri = "http://localhost/"
        self.description = f"{label + ' ' if label else ''}local socket {path}"
        self._sim_peers = sim_peers
        self.peer_port = peer_port
        self.pool_trust: PoolTrustSource = not_read

    def trust_peers_by(self, source: PoolTrustSource) -> None:
        self.pool_trust = source

    def open_stream(self, call_timeout: float) -> socket.socket:
        return connect_unix(self.path, self.connect_timeout, call_timeout, self.description)

    def for_address(self, address: str) -> XapiEndpoint:
        if self._sim_peers is not None:
            return self._sim_peers.endpoint_for(address, self.connect_timeout)
        # A dom0 reaches its peers the way xapi itself does: TLS on 443, SNI
        # "pool", the certificate checked as this host's xapi checks it
        # (pool_tls.py). Pool certificates are self-signed: the system CAs trust none.
        return TcpEndpoint(
            "https", address, self.peer_port, connect_timeout=self.connect_timeout, pool_trust=self.pool_trust
        )


# --- TCP (http / https) -----------------------------------------------------


def _peer_certificate_fingerprint(host: str, port: int, deadline: float, where: str) -> str:
    """Fetch the certificate without trusting it, only to show its fingerprint
    (within what is left of the connect deadline)."""
    try:
        sock = connect_tcp(host, port, max(0.001, deadline - time.monotonic()), where)
        with tls_handshake(checking_nothing(), sock, host, deadline - time.monotonic()) as tls:
            return sha256_fingerprint(tls.getpeercert(binary_form=True) or b"")
    except (XapiError, OSError, ssl.SSLError):
        return "SHA256:?"


def connect_tls(
    host: str,
    port: int,
    connect_timeout: float,
    where: str,
    pinned_fingerprint: Optional[str],
    call_timeout: Optional[float] = None,
    *,
    pool_trust: Optional[PoolTrust] = None,
    verify: bool = True,
) -> ssl.SSLSocket:
    """A TLS stream to host:port. Connecting has ONE deadline, not one per
    read: the TCP connect and the whole TLS handshake together get
    `connect_timeout`, and the handshake (the first exchange of the call that
    opens the stream) never outlasts `call_timeout` either. A peer that
    accepts TCP and then drips its handshake is given up on at that deadline
    (ConnectFailed "timeout").

    The certificate is checked against the system CAs, or against a pinned
    fingerprint, or (`pool_trust`: another host of this host's pool) as xapi
    checks it (wrap_pool_tls). `verify=False` checks nothing: only for a
    question that carries no secret and believes nothing but the answer."""
    deadline = time.monotonic() + connect_timeout
    sock = connect_tcp(host, port, connect_timeout, where)
    seconds, limit = deadline - time.monotonic(), connect_timeout
    if call_timeout is not None and call_timeout < seconds:
        seconds, limit = call_timeout, call_timeout
    if pool_trust is not None:
        return wrap_pool_tls(sock, where, seconds, pool_trust, limit)
    # A pin replaces the CA check: pool certificates are self-signed.
    context = checking_nothing() if pinned_fingerprint or not verify else ssl.create_default_context()
    try:
        tls = tls_handshake(context, sock, host, seconds)
    except ssl.SSLCertVerificationError as exc:
        fingerprint = _peer_certificate_fingerprint(host, port, deadline, where)
        raise TlsCertificateUntrusted(where, fingerprint, one_line(exc.verify_message or exc, 160)) from None
    except socket.timeout:
        raise TlsHandshakeTimeout(where, limit) from None
    except (ssl.SSLError, OSError) as exc:
        raise ConnectFailed("tls", f"{where}: TLS handshake failed: {one_line(exc, 160)}") from None
    if pinned_fingerprint:
        der = tls.getpeercert(binary_form=True) or b""
        if not fingerprint_matches(pinned_fingerprint, der):
            tls.close()
            raise TlsCertificateUntrusted(where, sha256_fingerprint(der), f"pinned {pinned_fingerprint}")
    return tls


class TcpEndpoint(XapiEndpoint):
    """xapi over plain TCP (http) or TLS (https)."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        tls_fingerprint: Optional[str] = None,
        display: str = "",
        address: str = "",
        sim_peers: Optional[_SimPeers] = None,
        pool_trust: Optional[PoolTrustSource] = None,
        verify: bool = True,
    ) -> None:
        super().__init__(connect_timeout)
        if scheme not in ("http", "https"):
            raise ValueError(f"unknown scheme {scheme!r}")
        self.scheme = scheme
        self.host = host
        self.port = int(port)
        self.tls_fingerprint = tls_fingerprint
        # https to another host of this pool: checked as this host's xapi checks its peers
        # (pool_tls.py; asked again for every stream).
        self.pool_trust = pool_trust
        # False: no certificate check at all (unverified(), for questions without secrets).
        self.verify = verify
        self.transport_name = scheme
        self.preauthenticated_root = False
        self.address = address or host
        self.uri = f"{scheme}://{_bracket(host)}:{self.port}/"
        self.description = f"xapi {display or _bracket(host)} at {scheme}://{_bracket(host)}:{self.port}"
        self._sim_peers = sim_peers

    def open_stream(self, call_timeout: float) -> Any:
        stream: socket.socket  # an ssl.SSLSocket for https
        if self.scheme == "https":
            stream = connect_tls(
                self.host,
                self.port,
                self.connect_timeout,
                self.description,
                self.tls_fingerprint,
                call_timeout=call_timeout,
                pool_trust=self.pool_trust() if self.pool_trust is not None and self.verify else None,
                verify=self.verify,
            )
        else:
            stream = connect_tcp(self.host, self.port, self.connect_timeout, self.description)
        stream.settimeout(call_timeout)
        return stream

    def unverified(self) -> "TcpEndpoint":
        """This endpoint without any certificate check, for a question that
        sends no secret (a peer whose certificate this host cannot vouch for)."""
        return TcpEndpoint(
            self.scheme, self.host, self.port, connect_timeout=self.connect_timeout, address=self.address, verify=False
        )

    def for_address(self, address: str) -> XapiEndpoint:
        if self._sim_peers is not None:
            return self._sim_peers.endpoint_for(address, self.connect_timeout)
        # Same scheme and port; a pinned certificate belongs to ONE host, so
        # the peer is checked against the system CAs (and its fingerprint shown),
        # unless this is a dom0's peer: then the next one is checked the same way.
        return TcpEndpoint(
            self.scheme, address, self.port, connect_timeout=self.connect_timeout, pool_trust=self.pool_trust
        )


# --- opening ----------------------------------------------------------------


def open_endpoint(
    target: Target, *, connect_timeout: Optional[float] = None, accept_host_key: Optional[str] = None
) -> XapiEndpoint:
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
        return UnixSocketEndpoint(
            target.socket_path, connect_timeout=timeout, sim_peers=peers, label=f"sim host {target.sim_host}:"
        )
    if target.kind in ("http", "https"):
        default_port = XAPI_HTTPS_PORT if target.kind == "https" else XAPI_HTTP_PORT
        return TcpEndpoint(
            target.kind,
            target.host,
            target.port or default_port,
            connect_timeout=timeout,
            tls_fingerprint=target.tls_fingerprint,
        )
    if target.kind == "ssh":
        from xentui.xapi.ssh import open_ssh_endpoint  # paramiko only when needed

        return open_ssh_endpoint(target, connect_timeout=timeout, accept_host_key=accept_host_key)
    raise ValueError(f"unknown target kind {target.kind!r}")
