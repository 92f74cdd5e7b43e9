"""xapi's `event.from` over a simulator Database (ocaml/xapi/xapi_event.ml).

* Subscriptions: "*", "<class>" or "<class>/<ref>"; class names lower-cased.
* Token "%020d,%020d": the generation of the last change the caller saw and
  the message generation (messages live in the database here, so always 0).
  "" means "from the beginning", i.e. every object comes back as an `add`.
* For each subscribed object changed after the token: created after it ->
  one `add` (however often it was modified since); else modified -> one `mod`
  with the current snapshot; deleted (and created before it) -> one `del`.
  Deleting an object created after the token reports nothing.
* The reply lists adds, then mods, then dels: xapi conses dels, then mods,
  then adds onto the front of one list (`events_of` in from_inner), so on
  the wire the adds come first.
* The new token is the highest generation among the *matching* changes
  (unchanged when nothing matched), as in xapi.
* Blocks until something matching changes or the timeout (simulated seconds)
  expires; empty replies are suppressed while time remains.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Set, Sized, Tuple

from xentui.sim.errors import ApiError
from xentui.sim.schema import BY_LOWER, ClassSchema
from xentui.sim.wire import I4

Wait = Callable[[threading.Condition, float], bool]


# What event.from reads of a simulator Database (db.py), described here
# because db.py imports this module: naming Database would be an import cycle.
class EventRow(Protocol):
    @property
    def created(self) -> int: ...

    @property
    def modified(self) -> int: ...


class EventTombstone(Protocol):
    @property
    def ref(self) -> str: ...

    @property
    def created(self) -> int: ...

    @property
    def deleted(self) -> int: ...


class EventTable(Protocol):
    @property
    def schema(self) -> ClassSchema: ...

    @property
    def rows(self) -> Sized: ...

    def recent(self, since: int) -> Iterable[Tuple[str, EventRow]]: ...

    def deleted_since(self, since: int) -> Iterable[EventTombstone]: ...


class EventSource(Protocol):
    @property
    def now(self) -> Callable[[], float]: ...

    @property
    def event_batch_delay(self) -> float: ...

    @property
    def changed(self) -> threading.Condition: ...

    @property
    def closed(self) -> bool: ...

    def _iter_tables(self) -> Iterable[Tuple[str, EventTable]]: ...

    def _snapshot(self, table: Any, ref: str, row: Any) -> Dict[str, Any]: ...


# xapi: a non-finite timeout means 24 hours.
DEFAULT_TIMEOUT = 24 * 3600.0
_TOKEN = re.compile(r"^(-?[0-9]+),(-?[0-9]+)$")


class Subscription:
    """The parsed `classes` argument: everything, whole classes, or single objects."""

    def __init__(self, specs: Sequence[Any]) -> None:
        self.all = False
        self.classes: Set[str] = set()
        self.objects: Dict[str, Set[str]] = {}
        for spec in specs:
            if not isinstance(spec, str):
                raise ApiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", str(spec))
            if spec == "*":
                self.all = True
                continue
            cls, sep, ref = spec.partition("/")
            if not cls:
                raise ApiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", spec)
            cls = cls.lower()
            if sep:
                self.objects.setdefault(cls, set()).add(ref)
            else:
                self.classes.add(cls)

    def table_matches(self, lower: str) -> bool:
        return self.all or lower in self.classes or lower in self.objects

    def object_filter(self, lower: str) -> Optional[Set[str]]:
        """None: every object of the table matches; else the matching refs."""
        if self.all or lower in self.classes:
            return None
        return self.objects.get(lower, set())


def parse_token(token: Any) -> Tuple[int, int]:
    if not isinstance(token, str):
        raise ApiError("EVENT_FROM_TOKEN_PARSE_FAILURE", str(token))
    if token == "":
        return 0, 0
    m = _TOKEN.match(token)
    if m is None:
        raise ApiError("EVENT_FROM_TOKEN_PARSE_FAILURE", token)
    return int(m.group(1)), int(m.group(2))


def format_token(generation: int, message_generation: int = 0) -> str:
    return "%020d,%020d" % (generation, message_generation)


def _default_wait(cond: threading.Condition, seconds: float) -> bool:
    return cond.wait(seconds)


# (class, ref, snapshot, generation) of a create or mod; (class, ref, generation) of a delete
_Change = Tuple[str, str, Any, int]
_Delete = Tuple[str, str, int]


def _collect(
    db: EventSource, subs: Subscription, since: int
) -> Tuple[List[_Change], List[_Change], List[_Delete], int]:
    """One pass over the changes after `since` (caller holds the lock)."""
    creates: List[_Change] = []
    mods: List[_Change] = []
    deletes: List[_Delete] = []
    last = since
    for name, table in db._iter_tables():
        if not table.schema.gen_events:
            continue
        lower = name.lower()
        if not subs.table_matches(lower):
            continue
        only = subs.object_filter(lower)
        changed = []
        for ref, row in table.recent(since):
            if only is not None and ref not in only:
                continue
            changed.append((ref, row))
        # recent() walks newest first; report oldest change first.
        for ref, row in reversed(changed):
            if row.modified > last:
                last = row.modified
            snapshot = db._snapshot(table, ref, row)
            if row.created > since:
                creates.append((lower, ref, snapshot, row.created))
            else:
                mods.append((lower, ref, snapshot, row.modified))
        gone = []
        for tomb in table.deleted_since(since):
            if only is not None and tomb.ref not in only:
                continue
            gone.append(tomb)
        for tomb in reversed(gone):
            if tomb.deleted > last:
                last = tomb.deleted
            if tomb.created <= since:
                deletes.append((lower, tomb.ref, tomb.deleted))
    return creates, mods, deletes, last


def _event(lower: str, op: str, ref: str, generation: int, snapshot: Any = None) -> Dict[str, Any]:
    ev: Dict[str, Any] = {"id": str(generation), "timestamp": "0.0", "class": lower, "operation": op, "ref": ref}
    if snapshot is not None:
        ev["snapshot"] = snapshot
    return ev


def event_from(
    db: EventSource, classes: Sequence[Any], token: Any, timeout: Any, wait: Optional[Wait] = None
) -> Dict[str, Any]:
    if not isinstance(classes, (list, tuple)):
        raise ApiError("EVENT_SUBSCRIPTION_PARSE_FAILURE", str(classes))
    subs = Subscription(classes)
    since, message_generation = parse_token(token)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ApiError("FIELD_TYPE_ERROR", "timeout") from None
    if not math.isfinite(timeout):
        timeout = DEFAULT_TIMEOUT
    wait = wait or _default_wait

    with db.changed:
        deadline = db.now() + timeout
        waited = False
        while True:
            if waited and db.event_batch_delay > 0 and not db.closed:
                # Let a burst of changes land before collecting (xapi batches 50 ms).
                batch_end = min(deadline, db.now() + db.event_batch_delay)
                while not db.closed and db.now() < batch_end:
                    wait(db.changed, batch_end - db.now())
            creates, mods, deletes, last = _collect(db, subs, since)
            remaining = deadline - db.now()
            if creates or mods or deletes or remaining <= 0 or db.closed:
                break
            # Nothing matched: carry on from the newest matching change we saw.
            since = last
            wait(db.changed, remaining)
            waited = True
        events: List[Dict[str, Any]] = []
        events.extend(_event(c, "add", r, g, s) for c, r, s, g in creates)
        events.extend(_event(c, "mod", r, g, s) for c, r, s, g in mods)
        events.extend(_event(c, "del", r, g) for c, r, g in deletes)
        counts = {name.lower(): I4(len(table.rows)) for name, table in db._iter_tables()}
    return {"events": events, "valid_ref_counts": counts, "token": format_token(last, message_generation)}


def table_name(lower: str) -> Optional[str]:
    """The datamodel class for a lower-case event class name ("vm" -> "VM")."""
    return BY_LOWER.get(lower)
