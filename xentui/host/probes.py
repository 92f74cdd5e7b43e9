"""Short, concurrent TCP connect probes of the peers' xapi ports.

One non-blocking socket per peer, all in flight at once on one selector, each
with its own deadline: N probes take about as long as the slowest one, capped
at `timeout`, and no thread is left behind. Outcomes:

  open         the handshake completed (something listens: xapi or its stunnel)
  refused      RST: the host is up but nothing listens (xapi down, host booting)
  timeout      no answer at all (powered off, cable pulled, packets dropped)
  unreachable  the network said so (ICMP host/net unreachable, no route)
  error        anything else, e.g. an address that is not an IP literal

Only IP literals are probed: resolving a name could block beyond any timeout
during exactly the kind of outage this tool is for.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import time
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .facts import PeerProbe

XAPI_PORT = 80
HTTPS_PORT = 443  # xapi's stunnel
DEFAULT_PROBE_TIMEOUT = 1.0

PortFor = Callable[[str], int]

_REFUSED = {errno.ECONNREFUSED}
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}
_TIMEOUT = {errno.ETIMEDOUT}


@dataclass(frozen=True)
class Peer:
    """A host to probe: its name (for display) and address."""

    name: str
    address: str


def default_port_for(address: str) -> int:
    return XAPI_PORT


def classify_errno(code: int) -> str:
    """The outcome for a failed connect's errno."""
    if code in _REFUSED:
        return "refused"
    if code in _UNREACHABLE:
        return "unreachable"
    if code in _TIMEOUT:
        return "timeout"
    return "error"


@dataclass
class _Pending:
    index: int
    peer: Peer
    port: int
    sock: socket.socket
    started: float
    wall: float


def probe_peers(
    peers: Sequence[Peer],
    *,
    port_for: PortFor = default_port_for,
    timeout: float = DEFAULT_PROBE_TIMEOUT,
    now: Callable[[], float] = time.time,
    fallback_port: Optional[int] = None,
) -> Tuple[PeerProbe, ...]:
    """Probe every peer at once; results in the order of `peers`.

    `fallback_port` (a real pool: HTTPS_PORT) is probed at the same time and
    counts only where `port_for`'s port neither accepted nor refused: since
    XenServer 9 a host is https-only by default (xapi_globs.ml https_only;
    xapi_host.ml set_https_only closes port 80 in the firewall), so its port
    80 says "unreachable" or nothing while its stunnel on 443 accepts. Port
    80 stays the first question because it is xapi itself: a refusal there
    means xapi is down on a host that is up, while stunnel (a unit of its own,
    stunnel@xapi) may still accept on 443."""
    ports: List[Tuple[Peer, PortFor]] = [(peer, port_for) for peer in peers]
    if fallback_port is not None:
        fixed = fallback_port
        ports += [(peer, lambda _address: fixed) for peer in peers]
    probes = _probe_each(ports, timeout, now)
    if fallback_port is None:
        return probes
    return tuple(_either(first, second) for first, second in zip(probes[: len(peers)], probes[len(peers) :]))


def _either(xapi: PeerProbe, stunnel: PeerProbe) -> PeerProbe:
    """One peer's outcome from its xapi port and its stunnel port (see probe_peers)."""
    if xapi.outcome in ("open", "refused") or stunnel.outcome not in ("open", "refused"):
        return xapi
    closed = f"port {xapi.port} {xapi.outcome}" + (f" ({xapi.detail})" if xapi.detail else "")
    if stunnel.outcome == "open":
        return replace(stunnel, detail=f"{closed}: closed to the network (https-only), port {stunnel.port} accepts")
    return replace(stunnel, detail=f"{closed}, port {stunnel.port} refused ({stunnel.detail}): the host is up")


def _probe_each(
    ports: Sequence[Tuple[Peer, PortFor]], timeout: float, now: Callable[[], float]
) -> Tuple[PeerProbe, ...]:
    results: List[Optional[PeerProbe]] = [None] * len(ports)
    selector = selectors.DefaultSelector()
    pending: Dict[int, _Pending] = {}
    try:
        for index, (peer, port_of) in enumerate(ports):
            wall = now()
            started = time.monotonic()
            try:
                port = int(port_of(peer.address))
            except Exception as exc:  # noqa: BLE001 - a broken mapping must not stop the others
                results[index] = PeerProbe(
                    peer.name, peer.address, 0, "error", 0.0, wall, "no port for this address: %s" % exc
                )
                continue
            try:
                ip = ipaddress.ip_address(peer.address)
            except ValueError:
                results[index] = PeerProbe(peer.name, peer.address, port, "error", 0.0, wall, "not an IP address")
                continue
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((str(ip), port))
            if code in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                if code == 0:
                    sock.close()
                    results[index] = PeerProbe(peer.name, peer.address, port, "open", time.monotonic() - started, wall)
                    continue
                pending[sock.fileno()] = _Pending(index, peer, port, sock, started, wall)
                selector.register(sock, selectors.EVENT_WRITE)
            else:
                sock.close()
                results[index] = PeerProbe(
                    peer.name,
                    peer.address,
                    port,
                    classify_errno(code),
                    time.monotonic() - started,
                    wall,
                    errno.errorcode.get(code, str(code)),
                )
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                item = pending.pop(key.fd)
                selector.unregister(item.sock)
                code = item.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                item.sock.close()
                elapsed = time.monotonic() - item.started
                outcome = "open" if code == 0 else classify_errno(code)
                detail = "" if code == 0 else errno.errorcode.get(code, str(code))
                results[item.index] = PeerProbe(
                    item.peer.name, item.peer.address, item.port, outcome, elapsed, item.wall, detail
                )
        for item in pending.values():
            selector.unregister(item.sock)
            item.sock.close()
            results[item.index] = PeerProbe(
                item.peer.name,
                item.peer.address,
                item.port,
                "timeout",
                time.monotonic() - item.started,
                item.wall,
                "no answer within %.1f s" % timeout,
            )
        pending.clear()
    finally:
        for item in pending.values():
            item.sock.close()
        selector.close()
    return tuple(r for r in results if r is not None)
