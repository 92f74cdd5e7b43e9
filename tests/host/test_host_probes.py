"""TCP probes against real loopback sockets: open, refused, and a deterministic
timeout (a listener whose accept queue is full drops further SYNs)."""

from __future__ import annotations

import errno
import socket
import time

import pytest

from xentui.host.probes import Peer, classify_errno, probe_peers


@pytest.fixture
def sockets():
    opened = []

    def listener(address, backlog=5):
        s = socket.socket()
        s.bind((address, 0))
        s.listen(backlog)
        opened.append(s)
        return s.getsockname()[1]

    def full_listener(address):
        # backlog 0 = one queued connection on Linux; fill it (never accepted) so the
        # kernel silently drops the next SYN: the probe sees no answer at all.
        port = listener(address, backlog=0)
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex((address, port))
            opened.append(c)
        time.sleep(0.05)
        return port

    def closed_port(address):
        s = socket.socket()
        s.bind((address, 0))
        port = s.getsockname()[1]
        s.close()
        return port

    yield listener, full_listener, closed_port
    for s in opened:
        s.close()


def test_open_refused_and_timeout_concurrently(sockets):
    listener, full_listener, closed_port = sockets
    ports = {
        "127.0.0.41": listener("127.0.0.41"),
        "127.0.0.42": closed_port("127.0.0.42"),
        "127.0.0.43": full_listener("127.0.0.43"),
        "127.0.0.44": full_listener("127.0.0.44"),
    }
    peers = [
        Peer("open", "127.0.0.41"),
        Peer("down", "127.0.0.42"),
        Peer("dead1", "127.0.0.43"),
        Peer("dead2", "127.0.0.44"),
    ]
    started = time.monotonic()
    results = probe_peers(peers, port_for=ports.__getitem__, timeout=0.3, now=lambda: 5.0)
    elapsed = time.monotonic() - started
    assert [r.outcome for r in results] == ["open", "refused", "timeout", "timeout"]
    assert [r.host_name for r in results] == ["open", "down", "dead1", "dead2"]
    assert results[0].answers and not results[1].answers
    assert results[1].detail == "ECONNREFUSED"
    assert all(r.port == ports[r.address] and r.probed_at == 5.0 for r in results)
    assert results[2].seconds >= 0.3 - 0.01
    assert elapsed < 0.3 * 2  # two timeouts in parallel, not one after the other


def test_default_port_is_xapi_80_and_names_are_not_resolved():
    results = probe_peers([Peer("named", "xcp-a.example")], timeout=0.2)
    assert results[0].outcome == "error" and results[0].port == 80
    assert "not an IP" in results[0].detail


def test_broken_port_mapping_affects_only_its_peer(sockets):
    listener, _, _ = sockets
    port = listener("127.0.0.45")
    results = probe_peers(
        [Peer("a", "127.0.0.46"), Peer("b", "127.0.0.45")], port_for={"127.0.0.45": port}.__getitem__, timeout=0.3
    )
    assert [r.outcome for r in results] == ["error", "open"]


def test_errno_classification():
    assert classify_errno(errno.ECONNREFUSED) == "refused"
    assert classify_errno(errno.EHOSTUNREACH) == "unreachable"
    assert classify_errno(errno.ENETUNREACH) == "unreachable"
    assert classify_errno(errno.ETIMEDOUT) == "timeout"
    assert classify_errno(errno.EACCES) == "error"


def test_no_peers():
    assert probe_peers([], timeout=0.1) == ()


def _probe(port, outcome, detail=""):
    from xentui.host.facts import PeerProbe

    return PeerProbe("xen9", "10.0.0.9", port, outcome, 0.01, 5.0, detail)


@pytest.mark.parametrize(
    "on_80, on_443, port, outcome",
    [
        ("open", "open", 80, "open"),  # xapi itself answers
        ("refused", "open", 80, "refused"),  # xapi down; its stunnel (a unit of its own) still accepts
        ("unreachable", "open", 443, "open"),  # https-only: 80 rejected by the firewall
        ("timeout", "open", 443, "open"),  # https-only with a dropping firewall
        ("unreachable", "refused", 443, "refused"),  # the host is up, nothing on either
        ("timeout", "timeout", 80, "timeout"),  # powered off
    ],
)
def test_port_443_counts_only_where_80_neither_accepts_nor_refuses(on_80, on_443, port, outcome):
    from xentui.host.probes import _either

    combined = _either(_probe(80, on_80, "EHOSTUNREACH" if on_80 == "unreachable" else ""), _probe(443, on_443))
    assert (combined.port, combined.outcome) == (port, outcome)
    if port == 443:
        assert f"port 80 {on_80}" in combined.detail


def test_an_https_only_host_is_open_through_its_stunnel_port(sockets):
    """Port 80 silent (a firewall dropping it), 443 listening: one probe, both
    ports at once, no longer than the timeout."""
    listener, full_listener, _ = sockets
    silent, stunnel = full_listener("127.0.0.46"), listener("127.0.0.46")
    started = time.monotonic()
    (result,) = probe_peers([Peer("xs9", "127.0.0.46")], port_for=lambda _a: silent, fallback_port=stunnel, timeout=0.3)
    assert (result.outcome, result.port) == ("open", stunnel) and "closed to the network" in result.detail
    assert time.monotonic() - started < 0.3 * 2
