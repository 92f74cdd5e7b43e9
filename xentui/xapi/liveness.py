"""Is the pool master alive? A probe on its own connection, apart from event.from.

The `event.from` long poll cannot tell a dead master from a quiet pool until
its own timeout runs out (tens of seconds), and a normal call's timeout is
sized for slow pool-wide calls. This module asks the cheapest question xapi
answers on a FRESH connection with a short deadline for the whole reply:

* a TCP (or SSH direct-tcpip) connect: refused at once when xapi is not
  listening (powered off in the simulator, xapi stopped), or no connection
  within the deadline (a real machine that is off, a partition);
* one XML-RPC request, `system.isAlive:<uuid>` with the uuid as its only
  parameter: xapi's generated dispatcher echoes the parameter without a
  session check, a database read or a log line (ocaml/idl/ocaml_backend/
  gen_server.ml, the `| func ->` fallthrough of dispatch_call), the same
  request xapi sends itself to test a connection (ocaml/libs/http-lib/
  xmlrpc_client.ml check_reusable_inner). A call with a null session, e.g.
  `pool.get_all`, would log "Session check failed" on the master at every
  probe (ocaml/xapi/session_check.ml check). The reply's HTTP status line is
  written only after dispatch returned (api_server.ml callback ->
  Http_svr.response_fct), so an answer proves the HTTP server AND the
  dispatcher alive; a hung xapi accepts the connection and never answers.

`probe_once` classifies one attempt. `LivenessMonitor` runs probes every
`interval` seconds, each in its own short-lived thread so that a hung probe
does not delay the next one, and turns them into a verdict: the master is
declared down only after `misses` CONSECUTIVE failed probes (one slow answer
in a busy moment is not a dead master), and up again after one answer. A
probe path that never got an answer (a firewall, a master already dead when
we started) raises no alarm: it tells nothing, and the ordinary look at the
pool covers that case.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Optional

from xentui.xapi.errors import ConnectFailed, ConnectionRefused, XapiError
from xentui.xapi.tls_connect import TlsHandshakeTimeout

log = logging.getLogger(__name__)

# The defaults the UI uses; the help screen states them.
PROBE_INTERVAL = 1.0  # seconds between probe starts while the pool is healthy
PROBE_TIMEOUT = 2.0  # deadline for connect + whole reply of one probe
PROBE_MISSES = 2  # consecutive failed probes before the master is "not answering"

# Outcomes of one probe.
ANSWERS = "answers"
REFUSED = "refused"  # connection refused: nothing listens (xapi stopped, host off in the simulator)
TIMEOUT = "timeout"  # no connection within the deadline: off, crashed, cut off
HUNG = "hung"  # connection accepted, no reply within the deadline
UNREACHABLE = "unreachable"  # no route, or the peer closed without answering

_MAX_HEADER = 64 * 1024
IS_ALIVE = "system.isAlive"


@dataclass(frozen=True)
class ProbeResult:
    outcome: str
    seconds: float
    detail: str = ""

    @property
    def answers(self) -> bool:
        return self.outcome == ANSWERS


def request_body(token: str) -> bytes:
    """The XML-RPC call `system.isAlive:<token>(token)`, as xapi's own
    check_reusable_inner builds it (a uuid, which xapi's tracing expects)."""
    return (
        f"<?xml version='1.0'?>\n<methodCall><methodName>{IS_ALIVE}:{token}</methodName><params>"
        f"<param><value><string>{token}</string></value></param></params></methodCall>\n"
    ).encode("ascii")


def _request(host_header: str, token: str = "") -> bytes:
    body = request_body(token or str(uuid.uuid4()))
    return (
        b"POST / HTTP/1.1\r\nHost: "
        + host_header.encode("ascii", "replace")
        + b"\r\nContent-Type: text/xml\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def stream_opener(endpoint: Any) -> Callable[[float], Any]:
    """How the probe reaches `endpoint`: its own `open_stream`, or for TLS
    the endpoint's `unverified()` twin, which checks no certificate. The probe
    sends no secret and believes nothing in the reply but that an HTTP answer
    came, while pool certificates are self-signed and a member's bundle may
    lack the master's: a verification failure must not read as a dead master.
    (Every other call keeps the endpoint's verification.)"""
    unverified = getattr(endpoint, "unverified", None)
    if unverified is not None:
        twin = unverified()
        twin.connect_timeout = endpoint.connect_timeout  # the probe's deadline covers the connect too
        opener: Callable[[float], Any] = twin.open_stream
        return opener
    own: Callable[[float], Any] = endpoint.open_stream
    return own


def probe_once(
    open_stream: Callable[[float], Any],
    timeout: float,
    *,
    host_header: str = "localhost",
    clock: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    """One probe through `open_stream(timeout)` (an endpoint's `open_stream`,
    whose own connect deadline the caller set to `timeout`). Never raises."""
    started = clock()
    deadline = started + timeout
    try:
        stream = open_stream(timeout)
    except (socket.timeout, TlsHandshakeTimeout):  # connected, but the TLS handshake got no answer
        return ProbeResult(HUNG, clock() - started, "accepted the connection, no TLS handshake in time")
    except ConnectionRefused as exc:
        return ProbeResult(REFUSED, clock() - started, str(exc))
    except ConnectFailed as exc:
        outcome = TIMEOUT if exc.reason == "timeout" else UNREACHABLE
        return ProbeResult(outcome, clock() - started, str(exc))
    except (XapiError, OSError) as exc:
        return ProbeResult(UNREACHABLE, clock() - started, str(exc))
    try:
        return _ask(stream, host_header, deadline, started, clock)
    finally:
        try:
            stream.close()
        except (OSError, EOFError):
            pass


def _ask(stream: Any, host_header: str, deadline: float, started: float, clock: Callable[[], float]) -> ProbeResult:
    received = b""
    try:
        stream.settimeout(max(0.001, deadline - clock()))
        stream.sendall(_request(host_header))
        while b"\r\n\r\n" not in received and len(received) < _MAX_HEADER:
            remaining = deadline - clock()
            if remaining <= 0:
                raise socket.timeout()
            stream.settimeout(remaining)
            chunk = stream.recv(4096)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        return ProbeResult(HUNG, clock() - started, "accepted the connection, no answer in time")
    except (OSError, EOFError) as exc:
        return ProbeResult(UNREACHABLE, clock() - started, f"connection failed mid-probe: {exc}")
    except Exception as exc:  # noqa: BLE001 - a dying SSH channel raises paramiko's own errors
        if type(exc).__module__.startswith("paramiko"):
            return ProbeResult(UNREACHABLE, clock() - started, f"SSH: {exc}")
        raise
    if received.startswith(b"HTTP/"):
        return ProbeResult(ANSWERS, clock() - started)
    if not received:
        return ProbeResult(UNREACHABLE, clock() - started, "closed the connection without answering")
    return ProbeResult(UNREACHABLE, clock() - started, "answered something that is not HTTP")


@dataclass(frozen=True)
class Verdict:
    """What the monitor concludes. `down` only after `misses` consecutive failures."""

    down: bool
    outcome: str  # the latest probe's outcome
    misses: int  # consecutive failed probes so far
    threshold: int
    detail: str = ""
    since: Optional[float] = None  # wall-clock time of the first miss of the current run


class LivenessMonitor:
    """Probes one xapi every `interval` seconds on fresh connections.

    `probe()` performs one probe (e.g. `lambda: probe_once(ep.open_stream, t)`),
    `on_change(verdict)` is called (from a probe thread) whenever `down`
    flips. At most `max_in_flight` probes run at once, so a hung master costs
    a few threads, not one per interval. `wait` is the stop event's wait, so
    tests inject intervals rather than sleeping."""

    def __init__(
        self,
        probe: Callable[[], ProbeResult],
        on_change: Callable[[Verdict], None],
        *,
        interval: float = PROBE_INTERVAL,
        misses: int = PROBE_MISSES,
        max_in_flight: int = 3,
        now: Callable[[], float] = time.time,
        name: str = "xentui-liveness",
    ) -> None:
        if misses < 1:
            raise ValueError("misses must be >= 1")
        self._probe = probe
        self._on_change = on_change
        self.interval = float(interval)
        self.threshold = int(misses)
        self.max_in_flight = max(1, int(max_in_flight))
        self._now = now
        self.name = name
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._seq = itertools.count(1)
        self._last_seq = 0  # the newest probe whose result counted
        self._misses = 0
        self._since: Optional[float] = None
        self._ever_answered = False
        self._verdict = Verdict(False, ANSWERS, 0, self.threshold)
        self._thread: Optional[threading.Thread] = None
        self.probes_done = 0

    @property
    def verdict(self) -> Verdict:
        return self._verdict

    def start(self) -> "LivenessMonitor":
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop starting probes; probes in flight end by their own deadline."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._slots.acquire(timeout=self.interval):
                seq = next(self._seq)
                threading.Thread(target=self._one, args=(seq,), name=f"{self.name}-{seq}", daemon=True).start()
            self._stop.wait(self.interval)

    def _one(self, seq: int) -> None:
        try:
            result = self._probe()
        except Exception as exc:  # noqa: BLE001 - a probe bug must not end the monitor silently
            log.exception("liveness probe failed")
            result = ProbeResult(UNREACHABLE, 0.0, f"{type(exc).__name__}: {exc}")
        finally:
            self._slots.release()
        self.record(seq, result)

    def record(self, seq: int, result: ProbeResult) -> None:
        """Count one probe's result (public for tests that script outcomes)."""
        changed: Optional[Verdict] = None
        with self._lock:
            if seq <= self._last_seq or self._stop.is_set():
                return  # an older probe finished after a newer one: already superseded
            self._last_seq = seq
            self.probes_done += 1
            before = self._verdict
            if result.answers:
                self._misses, self._since = 0, None
                self._ever_answered = True
            else:
                self._misses += 1
                if self._since is None:
                    self._since = self._now() - result.seconds
            down = self._ever_answered and self._misses >= self.threshold
            self._verdict = Verdict(
                down, result.outcome, self._misses, self.threshold, result.detail, self._since if down else None
            )
            if down != before.down:
                changed = self._verdict
        if changed is not None:
            try:
                self._on_change(changed)
            except Exception:  # noqa: BLE001 - the callback's trouble is not the monitor's
                log.exception("liveness callback failed")
