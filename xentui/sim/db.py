"""The simulator's object store: one instance per xapi database.

A master's live database and each slave's backup copy are separate
`Database` objects (`clone()` makes the backup). Every write bumps
`generation`; each row remembers the generation it was created and last
modified at, and deleted rows leave a tombstone, which is exactly the
bookkeeping xapi's `event.from` reads (see events.py).

Reverse one-to-many sets (host.resident_VMs, SR.PBDs, ...) are computed from
an index of the pointing fields, and a change of a pointing field "touches"
both the old and the new owner, so both get a `mod` event, as in xapi.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from xentui.sim.allowed_ops import DEPENDENTS, DERIVED
from xentui.sim.errors import ApiError
from xentui.sim.events import event_from as _event_from
from xentui.sim.schema import CLASSES, NULL_REF, ClassSchema, FieldSchema, FieldTypeError, coerce

Wait = Callable[[threading.Condition, float], bool]

# Deleted rows are remembered so later event.from calls can report `del`;
# beyond this many per table the oldest are forgotten (xapi GCs them too).
MAX_TOMBSTONES = 20000


class _Row:
    __slots__ = ("fields", "created", "modified")

    def __init__(self, fields: Dict[str, Any], generation: int) -> None:
        self.fields = fields
        self.created = generation
        self.modified = generation


class _Tombstone:
    __slots__ = ("ref", "created", "deleted")

    def __init__(self, ref: str, created: int, deleted: int) -> None:
        self.ref = ref
        self.created = created
        self.deleted = deleted


class _Table:
    """One class's rows plus the recency order event.from walks backwards."""

    __slots__ = ("schema", "rows", "recency", "tombstones", "by_uuid", "containers")

    def __init__(self, schema: ClassSchema) -> None:
        self.schema = schema
        self.rows: Dict[str, _Row] = {}
        # ref -> None, ordered by row.modified ascending (move_to_end on every touch).
        self.recency: "OrderedDict[str, None]" = OrderedDict()
        self.tombstones: List[_Tombstone] = []
        self.by_uuid: Dict[str, str] = {}
        # Stored fields whose values are mutable containers (copied on read).
        self.containers: Tuple[str, ...] = tuple(
            f.name for f in schema.stored_fields if f.type in ("map", "string_set", "ref_set", "int_set")
        )

    def touch(self, ref: str, generation: int) -> None:
        row = self.rows.get(ref)
        if row is not None:
            row.modified = generation
            self.recency.move_to_end(ref)

    def recent(self, since: int) -> Iterator[Tuple[str, _Row]]:
        """Rows modified after `since`, newest first (stops early: O(changes))."""
        rows = self.rows
        for ref in reversed(self.recency):
            row = rows[ref]
            if row.modified <= since:
                return
            yield ref, row

    def deleted_since(self, since: int) -> Iterator[_Tombstone]:
        for tomb in reversed(self.tombstones):
            if tomb.deleted <= since:
                return
            yield tomb


def _new_ref() -> str:
    return "OpaqueRef:" + str(uuidlib.uuid4())


class Database:
    """Thread-safe store of xapi objects with xapi's event bookkeeping."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.generation: int = 0
        # event.from's delay between a wake-up and collecting (xapi's
        # event_from_delay "between"), in simulated seconds; batches bursts.
        self.event_batch_delay: float = 0.05
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._closed = False
        self._tables: Dict[str, _Table] = {name: _Table(s) for name, s in CLASSES.items()}
        # (owner class, owner field) -> owner ref -> {pointing ref: None}
        self._reverse: Dict[Tuple[str, str], Dict[str, Dict[str, None]]] = {}
        # pointing class -> [(pointing field, owner class, owner field)]
        self._pointers: Dict[str, List[Tuple[str, str, str]]] = {}
        for owner in CLASSES.values():
            for fs in owner.computed_fields:
                src_cls, src_field = fs.reverse_of  # type: ignore[misc]
                self._reverse[(owner.name, fs.name)] = {}
                self._pointers.setdefault(src_cls, []).append((src_field, owner.name, fs.name))

    # --- helpers -------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """The database lock, for callers that need several operations to be atomic."""
        return self._lock

    def _table(self, cls: str) -> _Table:
        try:
            return self._tables[cls]
        except KeyError:
            raise ValueError(f"unknown class {cls!r}") from None

    def _row(self, cls: str, ref: str) -> _Row:
        row = self._table(cls).rows.get(ref)
        if row is None:
            raise ApiError("HANDLE_INVALID", cls, ref)
        return row

    def _field(self, table: _Table, name: str) -> FieldSchema:
        fs = table.schema.fields.get(name)
        if fs is None:
            raise ValueError(f"{table.schema.name} has no field {name!r}")
        return fs

    def _coerce(self, table: _Table, name: str, value: Any) -> Any:
        fs = self._field(table, name)
        if fs.computed:
            raise ValueError(f"{table.schema.name}.{name} is computed from {fs.reverse_of[0]}.{fs.reverse_of[1]}")  # type: ignore[index]
        try:
            return coerce(fs, value)
        except FieldTypeError:
            raise ApiError("FIELD_TYPE_ERROR", name) from None

    def _bump(self) -> int:
        self.generation += 1
        return self.generation

    def _link(
        self, cls: str, ref: str, fields: Dict[str, Any], generation: int, old: Optional[Dict[str, Any]] = None
    ) -> None:
        """Update the reverse index for the pointing fields of one row.

        `old` is the row's previous values (None for a new row); `fields`
        holds the new values of the fields being written ({} on destroy)."""
        for src_field, owner_cls, owner_field in self._pointers.get(cls, ()):
            if old is not None and src_field not in fields and fields:
                continue
            before = old.get(src_field, NULL_REF) if old is not None else NULL_REF
            after = fields.get(src_field, NULL_REF) if fields else NULL_REF
            if before == after:
                continue
            index = self._reverse[(owner_cls, owner_field)]
            owner_table = self._tables[owner_cls]
            if before != NULL_REF:
                members = index.get(before)
                if members is not None:
                    members.pop(ref, None)
                    if not members:
                        del index[before]
                owner_table.touch(before, generation)
            if after != NULL_REF:
                index.setdefault(after, {})[ref] = None
                owner_table.touch(after, generation)

    def _notify(self) -> None:
        self.changed.notify_all()

    def _rederive(self, cls: str, ref: str, generation: int) -> None:
        """Recompute a row's allowed_operations (allowed_ops.py) within the current write:
        same generation, and a `mod` only when the answer changed."""
        spec = DERIVED.get(cls)
        table = self._tables.get(cls)
        row = table.rows.get(ref) if table is not None else None
        if spec is None or row is None or table is None:  # no row without a table
            return
        ops = spec[1](self, ref, row.fields)
        if ops != row.fields.get("allowed_operations"):
            row.fields = {**row.fields, "allowed_operations": ops}  # replaced, never mutated
            table.touch(ref, generation)

    def _after_write(
        self,
        cls: str,
        ref: str,
        changed: Iterable[str],
        generation: int,
        old: Optional[Dict[str, Any]],
        new: Optional[Dict[str, Any]],
    ) -> None:
        spec = DERIVED.get(cls)
        if spec is not None and new is not None and (old is None or not spec[0].isdisjoint(changed)):
            self._rederive(cls, ref, generation)
        dep = DEPENDENTS.get(cls)
        if dep is not None and (old is None or new is None or not dep[0].isdisjoint(changed)):
            owners = {(old or {}).get(dep[1], NULL_REF), (new or {}).get(dep[1], NULL_REF)}
            for owner in owners - {NULL_REF}:
                self._rederive(dep[2], owner, generation)

    def _snapshot(self, table: _Table, ref: str, row: _Row) -> Dict[str, Any]:
        rec = dict(row.fields)
        for name in table.containers:
            value = rec[name]
            rec[name] = dict(value) if isinstance(value, dict) else list(value)
        for fs in table.schema.computed_fields:
            members = self._reverse[(table.schema.name, fs.name)].get(ref)
            rec[fs.name] = list(members) if members else []
        return rec

    # --- writes --------------------------------------------------------------

    def create(self, cls: str, ref: Optional[str] = None, **fields: Any) -> str:
        """Create an object; fills defaults, a uuid4 and an OpaqueRef unless given."""
        with self._lock:
            table = self._table(cls)
            values: Dict[str, Any] = {}
            for fs in table.schema.stored_fields:
                values[fs.name] = fs.fresh_default()
            for name, value in fields.items():
                values[name] = self._coerce(table, name, value)
            if not values.get("uuid"):
                values["uuid"] = str(uuidlib.uuid4())
            ref = ref or _new_ref()
            if ref in table.rows:
                raise ApiError("UNIQUENESS_CONSTRAINT_VIOLATION", cls, "_ref", ref)
            if values["uuid"] in table.by_uuid:
                raise ApiError("UNIQUENESS_CONSTRAINT_VIOLATION", cls, "uuid", values["uuid"])
            generation = self._bump()
            table.rows[ref] = _Row(values, generation)
            table.recency[ref] = None
            table.by_uuid[values["uuid"]] = ref
            self._link(cls, ref, values, generation, old=None)
            self._after_write(cls, ref, values, generation, old=None, new=values)
            self._notify()
            return ref

    def update(self, cls: str, ref: str, **fields: Any) -> None:
        """Write several fields at once: one generation, one `mod`."""
        if not fields:
            return
        with self._lock:
            table = self._table(cls)
            row = self._row(cls, ref)
            values = {name: self._coerce(table, name, value) for name, value in fields.items()}
            new_uuid = values.get("uuid")
            if new_uuid is not None and new_uuid != row.fields["uuid"]:
                if new_uuid in table.by_uuid:
                    raise ApiError("UNIQUENESS_CONSTRAINT_VIOLATION", cls, "uuid", new_uuid)
                del table.by_uuid[row.fields["uuid"]]
                table.by_uuid[new_uuid] = ref
            generation = self._bump()
            old = row.fields
            self._link(cls, ref, values, generation, old=old)
            row.fields = {**old, **values}
            table.touch(ref, generation)
            self._after_write(cls, ref, values, generation, old=old, new=row.fields)
            self._notify()

    def set_field(self, cls: str, ref: str, field: str, value: Any) -> None:
        self.update(cls, ref, **{field: value})

    def touch(self, cls: str, ref: str) -> None:
        """Produce a `mod` event without changing anything (xapi's event.inject)."""
        with self._lock:
            table = self._table(cls)
            self._row(cls, ref)
            table.touch(ref, self._bump())
            self._notify()

    def destroy(self, cls: str, ref: str) -> None:
        with self._lock:
            table = self._table(cls)
            row = self._row(cls, ref)
            generation = self._bump()
            self._link(cls, ref, {}, generation, old=row.fields)
            del table.rows[ref]
            del table.recency[ref]
            uuid: Any = row.fields.get("uuid")
            table.by_uuid.pop(uuid, None)
            table.tombstones.append(_Tombstone(ref, row.created, generation))
            if len(table.tombstones) > MAX_TOMBSTONES:
                del table.tombstones[: len(table.tombstones) - MAX_TOMBSTONES]
            self._after_write(cls, ref, (), generation, old=row.fields, new=None)
            self._notify()

    # --- reads ---------------------------------------------------------------

    def exists(self, cls: str, ref: str) -> bool:
        with self._lock:
            return ref in self._table(cls).rows

    def get_record(self, cls: str, ref: str) -> Dict[str, Any]:
        with self._lock:
            table = self._table(cls)
            return self._snapshot(table, ref, self._row(cls, ref))

    def get_field(self, cls: str, ref: str, field: str) -> Any:
        with self._lock:
            table = self._table(cls)
            row = self._row(cls, ref)
            fs = self._field(table, field)
            if fs.computed:
                members = self._reverse[(cls, field)].get(ref)
                return list(members) if members else []
            value = row.fields[field]
            if isinstance(value, dict):
                return dict(value)
            if isinstance(value, list):
                return list(value)
            return value

    def refs(self, cls: str) -> List[str]:
        with self._lock:
            return list(self._table(cls).rows)

    def records(self, cls: str) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            table = self._table(cls)
            return {ref: self._snapshot(table, ref, row) for ref, row in table.rows.items()}

    def find(self, cls: str, **equal: Any) -> List[str]:
        """Refs whose fields equal all of `equal` (stored fields only)."""
        with self._lock:
            table = self._table(cls)
            for name in equal:
                self._field(table, name)
            return [ref for ref, row in table.rows.items() if all(row.fields.get(k) == v for k, v in equal.items())]

    def by_uuid(self, cls: str, uuid: str) -> str:
        with self._lock:
            ref = self._table(cls).by_uuid.get(uuid)
            if ref is None:
                raise ApiError("UUID_INVALID", cls, uuid)
            return ref

    def by_name_label(self, cls: str, name: str) -> List[str]:
        with self._lock:
            return [ref for ref, row in self._table(cls).rows.items() if row.fields.get("name_label") == name]

    def count(self, cls: str) -> int:
        with self._lock:
            return len(self._table(cls).rows)

    def tables(self) -> Dict[str, Dict[str, Dict[str, Any]]]:
        """Every class's full records (computed sets included), e.g. for state.db."""
        with self._lock:
            return {cls: self.records(cls) for cls in self._tables}

    def persisted_rows(
        self, wants: Optional[Callable[[str, str, int], bool]] = None, skip: Iterable[str] = ()
    ) -> Dict[str, List[Tuple[str, int, int, Optional[Dict[str, Any]]]]]:
        """Rows for a state.db flush: {class: [(ref, created, modified, record or None)]}.

        The record (a shallow copy with the computed sets) is only built when
        `wants(class, ref, modified)` says so (None: always), so an incremental
        flush holds the lock for O(rows) cheap work, not for copying every record.
        Stored containers are never mutated in place (writes replace them), so
        sharing them with the renderer thread is safe."""
        skipped = frozenset(skip)
        out: Dict[str, List[Tuple[str, int, int, Optional[Dict[str, Any]]]]] = {}
        with self._lock:
            for name, table in self._tables.items():
                if name in skipped:
                    out[name] = []
                    continue
                computed = [(fs.name, self._reverse[(name, fs.name)]) for fs in table.schema.computed_fields]
                entries: List[Tuple[str, int, int, Optional[Dict[str, Any]]]] = []
                for ref, row in table.rows.items():
                    if wants is None or wants(name, ref, row.modified):
                        rec = dict(row.fields)
                        for fname, index in computed:
                            members = index.get(ref)
                            rec[fname] = list(members) if members else []
                        entries.append((ref, row.created, row.modified, rec))
                    else:
                        entries.append((ref, row.created, row.modified, None))
                out[name] = entries
        return out

    def clone(self) -> "Database":
        """A deep copy (a slave's backup of the master's database)."""
        with self._lock:
            copy = Database(self.now)
            copy.generation = self.generation
            copy.event_batch_delay = self.event_batch_delay
            for name, table in self._tables.items():
                dst = copy._tables[name]
                for ref in table.recency:
                    row = table.rows[ref]
                    fields = dict(row.fields)
                    for cname in table.containers:
                        value = fields[cname]
                        fields[cname] = dict(value) if isinstance(value, dict) else list(value)
                    new = _Row(fields, row.created)
                    new.modified = row.modified
                    dst.rows[ref] = new
                    dst.recency[ref] = None
                dst.by_uuid = dict(table.by_uuid)
                dst.tombstones = [_Tombstone(t.ref, t.created, t.deleted) for t in table.tombstones]
            copy._reverse = {
                key: {owner: dict(members) for owner, members in index.items()} for key, index in self._reverse.items()
            }
            return copy

    # --- event.from ----------------------------------------------------------

    def event_from(self, classes: List[str], token: str, timeout: float, wait: Optional[Wait] = None) -> Dict[str, Any]:
        """xapi's event.from; see events.py. `timeout` is in simulated seconds."""
        return _event_from(self, classes, token, timeout, wait)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every blocked event.from (they return at once from now on)."""
        with self._lock:
            self._closed = True
            self._notify()

    # --- internal access for events.py ---------------------------------------

    def _iter_tables(self) -> Iterable[Tuple[str, _Table]]:
        return self._tables.items()
