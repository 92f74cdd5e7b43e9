"""TLS streams: the handshake under one deadline, and the way xapi's stunnel
client speaks to another host of its pool (SNI "pool", the pool bundle).
Shared by the direct transports (transport.py) and SSH (ssh.py)."""

from __future__ import annotations

import socket
import ssl
from typing import Optional

from xentui.xapi.errors import ConnectFailed
from xentui.xapi.pool_tls import POOL_SNI, PoolTrust
from xentui.xapi.safe_text import one_line
from xentui.xapi.tls import sha256_fingerprint

# xapi's stunnel (xapi_stunnel_server.ml: accept 443, connect to xapi on 80)
XAPI_HTTPS_PORT = 443


class TlsCertificateUntrusted(ConnectFailed):
    """The https certificate is not trusted by the system CAs, does not match
    the pinned fingerprint, or is not in this host's pool bundle. `fingerprint`
    is what the server presented; the user may pin it with --tls-fingerprint
    after checking it. `detail`: why it is not trusted."""

    def __init__(self, where: str, fingerprint: str, detail: str) -> None:
        super().__init__("tls", f"{where}: TLS certificate {fingerprint} not trusted ({detail})")
        self.fingerprint = fingerprint
        self.detail = detail


class TlsHandshakeTimeout(ConnectFailed):
    """TCP was accepted but the TLS handshake did not finish in time: something
    listens there and does not answer (a hung host, not a powered-off one).
    reason "timeout", as for any connect that runs out of time."""

    def __init__(self, where: str, seconds: float) -> None:
        super().__init__("timeout", f"{where}: TLS handshake not complete within {seconds:g} s")


def tls_handshake(context: ssl.SSLContext, sock: socket.socket, host: str, seconds: float) -> ssl.SSLSocket:
    """`sock` wrapped in TLS, the WHOLE handshake within `seconds`. Since
    Python 3.5 an SSL socket's timeout bounds the entire handshake, not each
    read (ssl docs, SSLSocket.do_handshake), so a peer that drips its
    handshake a byte at a time is given up on when `seconds` are spent.
    Raises socket.timeout, ssl.SSLError or OSError; `sock` is closed then."""
    if seconds <= 0:
        sock.close()
        raise socket.timeout("no time left for the TLS handshake")
    try:
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    except (ssl.SSLError, OSError):
        sock.close()
        raise
    try:
        tls.settimeout(seconds)
        tls.do_handshake()
    except BaseException:
        tls.close()
        raise
    return tls


def checking_nothing() -> ssl.SSLContext:
    """A client context that checks no certificate: for a pin or the pool
    bundle checked after the handshake, or for a question without secrets."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def wrap_pool_tls(
    sock: socket.socket, where: str, seconds: float, pool_trust: Optional[PoolTrust], limit: Optional[float] = None
) -> ssl.SSLSocket:
    """`sock` in TLS as xapi's stunnel client speaks it to another host of its
    pool: SNI "pool", and the certificate checked as this host checks its
    peers (`pool_trust`; pool_tls.py: in the bundle while verification is on).
    `pool_trust=None` checks nothing: only for a question that carries no
    secret. The whole handshake within `seconds` (`limit`: the deadline to
    name when it runs out, if another than `seconds`)."""
    try:
        tls = tls_handshake(checking_nothing(), sock, POOL_SNI, seconds)
    except socket.timeout:
        raise TlsHandshakeTimeout(where, limit or seconds) from None
    except (ssl.SSLError, OSError) as exc:
        raise ConnectFailed("tls", f"{where}: TLS handshake failed: {one_line(exc, 160)}") from None
    if pool_trust is not None:
        fingerprint = sha256_fingerprint(tls.getpeercert(binary_form=True) or b"")
        refusal = pool_trust.refusal(fingerprint)
        if refusal:
            tls.close()
            raise TlsCertificateUntrusted(where, fingerprint, refusal)
    return tls
