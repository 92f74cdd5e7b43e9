"""Loading the pool model and keeping it current with event.from.

`load_snapshot` costs ONE call: `event.from(EVENT_CLASSES, "", t)` returns
every object of the subscribed classes as an `add` event plus the token to
continue from (xapi-semantics.md §4.3), instead of one get_all_records per
class (or worse, N+1 get_record calls). The disks of the guests that are not
running come as single objects (xentui.xapi.disks): two small calls more.

`SnapshotFollower` runs `event.from` with that token in a loop in its own
thread, applies the events to the immutable `PoolSnapshot` and hands every
new snapshot to `on_update` (from its thread: a UI must marshal it). After
xapi restarts (new session, refused connections) it reloads a full snapshot,
because the old token belongs to a process, and possibly a database, that is
gone.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional

from xentui.xapi import disks
from xentui.xapi.errors import (
    AuthenticationFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    MalformedReply,
    XapiError,
    XapiFailure,
)
from xentui.xapi.model import EVENT_CLASSES, SNAPSHOT_CLASSES, PoolSnapshot, lean_event_hook

log = logging.getLogger(__name__)

# Server-side wait of one event.from, in xapi's (possibly simulated) seconds.
DEFAULT_EVENT_TIMEOUT = 30.0

# Failures after which the token is worthless and a full reload is needed.
_RELOAD_CODES = frozenset({"SESSION_INVALID", "EVENTS_LOST", "EVENT_FROM_TOKEN_PARSE_FAILURE", "HANDLE_INVALID"})


def _check_reply(reply: Any) -> Mapping[str, Any]:
    if not isinstance(reply, Mapping) or "token" not in reply or not isinstance(reply.get("events", []), list):
        raise MalformedReply("event.from: reply is not {events, valid_ref_counts, token}")
    return reply


def load_snapshot(
    client: Any, timeout: Optional[float] = None, *, recover_within: float = 0.0, vms_later: bool = False
) -> PoolSnapshot:
    """The whole pool in one `event.from` call, plus the disks of the guests
    that are not running (xentui.xapi.disks: two small calls when there are
    any). Raises what `client.call` raises.

    `vms_later`: everything but the VMs (on a 2,000-VM pool a tenth of the
    bytes), a snapshot with `vms_pending`; `load_vms` completes it."""
    classes = [c for c in EVENT_CLASSES if not (vms_later and c == "vm")]
    reply = client.call(
        "event.from",
        classes,
        "",
        0.0,
        timeout=timeout,
        recover_within=recover_within,
        object_hook=lean_event_hook,
    )
    snapshot = PoolSnapshot.from_event_from(_check_reply(reply))
    if vms_later:
        return replace(snapshot, vms_pending=True)
    return disks.complete(client, snapshot, timeout, recover_within=recover_within)


def load_vms(client: Any, snapshot: PoolSnapshot, timeout: Optional[float] = None) -> PoolSnapshot:
    """`snapshot` (from `load_snapshot(vms_later=True)`) with its VMs and their
    disks. Keeps the first call's token: what changed between the two calls
    is reported again by the next event.from, which is harmless."""
    reply = _check_reply(client.call("event.from", ["vm"], "", 0.0, timeout=timeout, object_hook=lean_event_hook))
    complete = replace(snapshot.apply_events(reply.get("events") or []), vms_pending=False)
    return disks.complete(client, complete, timeout)


# The API class names of SNAPSHOT_CLASSES (xapi's method names are case-sensitive).
_API_CLASS = {
    "pif": "PIF",
    "pif_metrics": "PIF_metrics",
    "vm": "VM",
    "sr": "SR",
    "pbd": "PBD",
    "vdi": "VDI",
    "vbd": "VBD",
}


def load_snapshot_by_listing(client: Any, timeout: Optional[float] = None) -> PoolSnapshot:
    """The pool with one `get_all_records` per class. For a pool member reached over
    TCP with a slave-local session: it has no database of its own, so event.from
    fails there (xapi_event.ml reads the member's empty local database), while the
    listing calls go to the master's database (context.ml: Db_ref.Remote)."""
    records = {
        cls: client.call(f"{_API_CLASS.get(cls, cls)}.get_all_records", timeout=timeout) for cls in SNAPSHOT_CLASSES
    }
    # No object subscriptions without event.from: every disk is listed, the wanted ones kept.
    return disks.trimmed(PoolSnapshot.from_records(records))


class SnapshotFollower:
    """Follows the pool with event.from in a background thread.

    `on_update(snapshot)` is called from the follower's thread for the first
    full snapshot and after every batch of events. `on_error(exc)` (optional)
    is called for every failure; the follower keeps going (with capped
    exponential backoff) until `stop()`, except after an authentication
    failure, which ends it.

    `event_timeout` is what xapi waits server-side (simulated seconds against
    the simulator); `call_timeout` is our socket timeout for that call and
    must exceed the real duration of `event_timeout` (default:
    event_timeout + the client's call timeout).
    """

    def __init__(
        self,
        client: Any,
        on_update: Callable[[PoolSnapshot], None],
        *,
        on_error: Optional[Callable[[BaseException], None]] = None,
        initial: Optional[PoolSnapshot] = None,
        event_timeout: float = DEFAULT_EVENT_TIMEOUT,
        call_timeout: Optional[float] = None,
        snapshot_timeout: Optional[float] = None,
        backoff_initial: float = 0.1,
        backoff_cap: float = 5.0,
        name: str = "xapi-events",
    ) -> None:
        self.client = client
        self.on_update = on_update
        self.on_error = on_error
        self.event_timeout = float(event_timeout)
        base_timeout = float(getattr(client, "call_timeout", 10.0))
        self.call_timeout = float(call_timeout) if call_timeout is not None else self.event_timeout + base_timeout
        self.snapshot_timeout = snapshot_timeout
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.name = name
        self._snapshot = initial
        self._session_ref = getattr(client, "session_ref", "") if initial is not None else ""
        self._needs_reload = False
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.calls = 0  # event.from calls made (snapshot loads included)
        self.reloads = 0  # full snapshots loaded
        self.updates = 0  # on_update invocations
        self.last_error: Optional[BaseException] = None
        self.last_update_at: Optional[float] = None

    # -- control ----------------------------------------------------------------

    @property
    def snapshot(self) -> Optional[PoolSnapshot]:
        return self._snapshot

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> "SnapshotFollower":
        if self._thread is not None:
            raise RuntimeError("SnapshotFollower already started")
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, *, wait: bool = True, timeout: Optional[float] = None) -> bool:
        """Ask the loop to end. It checks between calls; a blocked event.from
        ends by its own timeout (`call_timeout`). Returns True once stopped."""
        self._stop.set()
        thread = self._thread
        if thread is None or not wait or thread is threading.current_thread():
            return thread is None or not thread.is_alive()
        thread.join(self.call_timeout + 1.0 if timeout is None else timeout)
        return not thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop ---------------------------------------------------------------

    def run(self) -> None:
        backoff = self.backoff_initial
        while not self._stop.is_set():
            try:
                if self._snapshot is None or self._needs_reload or self._session_changed():
                    self._reload()
                else:
                    self._follow_once()
                backoff = self.backoff_initial
            except AuthenticationFailed as exc:
                self._report(exc)
                return
            except XapiFailure as exc:
                if exc.code in _RELOAD_CODES:
                    self._needs_reload = True
                self._report(exc)
                backoff = self._pause(backoff)
            except (CallTimeout, ConnectionRefused, ConnectionLost, ConnectFailed, MalformedReply) as exc:
                # Refused / lost: xapi restarting or SSH reconnecting; the
                # next call logs in again if needed and we then reload.
                # Timeout: the peer hangs; keep the token and keep asking.
                if not isinstance(exc, CallTimeout):
                    self._needs_reload = True
                self._report(exc)
                backoff = self._pause(backoff)
            except XapiError as exc:
                self._report(exc)
                backoff = self._pause(backoff)

    def _session_changed(self) -> bool:
        ref = getattr(self.client, "session_ref", "")
        return bool(ref) and ref != self._session_ref

    def _reload(self) -> None:
        session_before = getattr(self.client, "session_ref", "")
        snapshot = load_snapshot(self.client, timeout=self.snapshot_timeout)
        self.calls += 1
        self.reloads += 1
        # If the client logged in again during the call, the snapshot is from
        # the new session already; remember the ref it now uses.
        self._session_ref = getattr(self.client, "session_ref", "") or session_before
        self._publish(snapshot)

    def _follow_once(self) -> None:
        assert self._snapshot is not None
        ref_before = getattr(self.client, "session_ref", "")
        reply = _check_reply(
            self.client.call(
                "event.from",
                disks.subscriptions(self._snapshot),
                self._snapshot.token,
                self.event_timeout,
                timeout=self.call_timeout,
                object_hook=lean_event_hook,
            )
        )
        self.calls += 1
        if getattr(self.client, "session_ref", "") != ref_before:
            # The client logged in again inside the call (xapi restarted):
            # the token may belong to a database that is gone. Reload.
            self._needs_reload = True
            return
        events = reply.get("events") or []
        token = str(reply.get("token", ""))
        if events:
            snapshot = self._snapshot.apply_events(events, token)
            if disks.touched(events):  # a guest stopped, or its disks changed: read the disks it now needs
                snapshot = disks.complete(self.client, snapshot, self.snapshot_timeout)
            else:
                snapshot = disks.trimmed(snapshot)
            self._publish(snapshot)
        else:
            self._snapshot = replace(self._snapshot, token=token)

    def _publish(self, snapshot: PoolSnapshot) -> None:
        self._snapshot = snapshot
        self._needs_reload = False
        self.last_error = None
        self.last_update_at = time.time()
        if self._stop.is_set():
            return
        self.updates += 1
        try:
            self.on_update(snapshot)
        except Exception:  # a broken callback must not kill live updates
            log.exception("on_update callback failed")

    def _report(self, exc: BaseException) -> None:
        self.last_error = exc
        log.debug("event.from loop: %s: %s", type(exc).__name__, exc)
        if self.on_error is not None and not self._stop.is_set():
            try:
                self.on_error(exc)
            except Exception:
                log.exception("on_error callback failed")

    def _pause(self, backoff: float) -> float:
        self._stop.wait(backoff)
        return min(backoff * 2, self.backoff_cap)
