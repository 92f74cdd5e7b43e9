"""The method table and the generated per-class accessors.

xapi generates, for every class, get_all, get_all_records, get_record,
get_by_uuid, get_by_name_label (classes with a name), get_<field> for every
field, set_<field> for fields with `~qualifier:RW`, add_to_<map> /
remove_from_<map> for settable maps and add_<set> / remove_<set> for
settable sets (tags). Handlers take (ctx, *args) and only use `ctx.db`.

Wire names: both "VM.get_record" and "VM_get_record" reach the same method
(gen_server.ml matches `wire_name` and `alternative_wire_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from xentui.sim import db_filter
from xentui.sim.dom0_files import db_field_name
from xentui.sim.errors import ApiError
from xentui.sim.events import format_token, table_name
from xentui.sim.schema import CLASSES, ClassSchema, FieldSchema


@dataclass
class Method:
    name: str  # dot form: "VM.get_record"
    params: Tuple[str, ...]  # excluding the session
    takes_session: bool
    handler: Callable[..., Any]  # handler(ctx, *args)
    emergency: bool = False
    raw: bool = False  # reply without the Status envelope (system.listMethods)


class MethodTable:
    def __init__(self, methods: Iterable[Method] = ()) -> None:
        self._by_name: Dict[str, Method] = {}
        self._by_alt: Dict[str, Method] = {}
        for method in methods:
            self.register(method)

    def register(self, method: Method) -> None:
        """Add or replace a method (a later registration wins: handlers can
        override generated accessors)."""
        self._by_name[method.name] = method
        cls, dot, rest = method.name.partition(".")
        if dot:
            self._by_alt[cls + "_" + rest] = method

    def lookup(self, wire_name: str) -> Optional[Method]:
        """Accepts "class.method" and "class_method"."""
        method = self._by_name.get(wire_name)
        if method is None:
            method = self._by_alt.get(wire_name)
        return method

    def names(self) -> List[str]:
        return sorted(self._by_name)

    def __contains__(self, wire_name: str) -> bool:
        return self.lookup(wire_name) is not None

    def __len__(self) -> int:
        return len(self._by_name)


# --- generated accessors --------------------------------------------------------


def _class_methods(cs: ClassSchema) -> List[Method]:
    cls = cs.name
    out: List[Method] = []

    def add(name: str, params: Tuple[str, ...], handler: Callable[..., Any]) -> None:
        out.append(Method(name=f"{cls}.{name}", params=params, takes_session=True, handler=handler))

    add("get_all", (), lambda ctx: ctx.db.refs(cls))
    add("get_all_records", (), lambda ctx: ctx.db.records(cls))
    add("get_all_records_where", ("expr",), lambda ctx, expr: records_where(ctx.db, cs, expr))
    add("get_record", ("self",), lambda ctx, ref: ctx.db.get_record(cls, ref))
    add("get_by_uuid", ("uuid",), lambda ctx, uuid: ctx.db.by_uuid(cls, uuid))
    if cs.has_name_label:
        add("get_by_name_label", ("label",), lambda ctx, label: ctx.db.by_name_label(cls, label))

    for fs in cs.fields.values():
        out.extend(_field_methods(cls, fs))
    return out


def records_where(db: Any, cs: ClassSchema, expr: Any) -> Dict[str, Dict[str, Any]]:
    """<class>.get_all_records_where: xapi's filter (db_filter.py) over the database columns
    (`field "name__label"`, as state.db names them). A parse error or a column the class does
    not have fails the call (Db_filter.Expression_error / DBCache_NotFound reach the client as
    INTERNAL_ERROR)."""
    try:
        parsed = db_filter.parse(str(expr))
    except db_filter.FilterError as exc:
        raise ApiError("INTERNAL_ERROR", f"Db_filter.Expression_error({str(expr)!r}, {exc})") from None
    columns = {db_field_name(cs.name, name): name for name in cs.fields}
    for column in db_filter.fields_used(parsed):
        if column not in columns:
            raise ApiError("INTERNAL_ERROR", f'Db_exn.DBCache_NotFound("missing field", {column!r}, "")')
    records: Dict[str, Dict[str, Any]] = db.records(cs.name)
    return {ref: rec for ref, rec in records.items() if db_filter.evaluate(parsed, _column_text(rec, columns))}


def _column_text(rec: Mapping[str, Any], columns: Mapping[str, str]) -> Callable[[str], str]:
    """The filter's lookup for one record: a state.db column name -> the field as text."""
    return lambda column: db_filter.db_text(rec[columns[column]])


def _field_methods(cls: str, fs: FieldSchema) -> List[Method]:
    name = fs.name
    out = [Method(f"{cls}.get_{name}", ("self",), True, lambda ctx, ref: ctx.db.get_field(cls, ref, name))]
    if not fs.settable:
        return out

    def setter(ctx: Any, ref: str, value: Any) -> str:
        # The database coerces by field type (int64 from "123", ...) and
        # raises FIELD_TYPE_ERROR for values it cannot take.
        ctx.db.set_field(cls, ref, name, value)
        return ""

    out.append(Method(f"{cls}.set_{name}", ("self", "value"), True, setter))

    if fs.type == "map":

        def add_to(ctx: Any, ref: str, key: Any, value: Any) -> str:
            with ctx.db.lock:
                current = ctx.db.get_field(cls, ref, name)
                if str(key) in current:
                    raise ApiError("MAP_DUPLICATE_KEY", cls, name, ref, str(key))
                current[str(key)] = str(value)
                ctx.db.set_field(cls, ref, name, current)
            return ""

        def remove_from(ctx: Any, ref: str, key: Any) -> str:
            with ctx.db.lock:
                current = ctx.db.get_field(cls, ref, name)
                if str(key) in current:
                    del current[str(key)]
                    ctx.db.set_field(cls, ref, name, current)
                else:
                    ctx.db.get_record(cls, ref)  # HANDLE_INVALID for a bad ref
            return ""

        out.append(Method(f"{cls}.add_to_{name}", ("self", "key", "value"), True, add_to))
        out.append(Method(f"{cls}.remove_from_{name}", ("self", "key"), True, remove_from))
    elif fs.type in ("string_set", "ref_set"):

        def add_item(ctx: Any, ref: str, value: Any) -> str:
            with ctx.db.lock:
                current = ctx.db.get_field(cls, ref, name)
                if str(value) not in current:
                    current.append(str(value))
                    ctx.db.set_field(cls, ref, name, current)
            return ""

        def remove_item(ctx: Any, ref: str, value: Any) -> str:
            with ctx.db.lock:
                current = ctx.db.get_field(cls, ref, name)
                if str(value) in current:
                    current.remove(str(value))
                    ctx.db.set_field(cls, ref, name, current)
            return ""

        out.append(Method(f"{cls}.add_{name}", ("self", "value"), True, add_item))
        out.append(Method(f"{cls}.remove_{name}", ("self", "value"), True, remove_item))
    return out


def generated_methods(schema: Optional[Mapping[str, ClassSchema]] = None) -> List[Method]:
    """Accessors for every class of `schema` (default: schema.CLASSES)."""
    schema = CLASSES if schema is None else schema
    out: List[Method] = []
    for cs in schema.values():
        out.extend(_class_methods(cs))
    return out


# --- event and system methods ------------------------------------------------------

Wait = Callable[[Any, float], bool]


def event_methods(wait: Optional[Wait] = None) -> List[Method]:
    """event.from (and event.get_current_id / event.inject) over ctx.db.

    `wait(condition, simulated_seconds)` is the clock's scaled wait; if the
    context has a `wait` attribute, that wins (per-host clocks)."""

    def event_from(ctx: Any, classes: Any, token: Any, timeout: Any) -> Dict[str, Any]:
        batch: Dict[str, Any] = ctx.db.event_from(classes, token, timeout, getattr(ctx, "wait", None) or wait)
        return batch

    def get_current_id(ctx: Any) -> str:
        return str(ctx.db.generation)

    def inject(ctx: Any, klass: Any, ref: Any) -> str:
        cls = table_name(str(klass).lower()) or str(klass)
        if cls not in CLASSES or not ctx.db.exists(cls, ref):
            raise ApiError("HANDLE_INVALID", str(klass), str(ref))
        with ctx.db.lock:
            generation = ctx.db.generation
            ctx.db.touch(cls, ref)
        return format_token(generation)

    return [
        Method("event.from", ("classes", "token", "timeout"), True, event_from),
        Method("event.get_current_id", (), True, get_current_id),
        Method("event.inject", ("class", "ref"), True, inject),
    ]


def system_methods(table: MethodTable) -> List[Method]:
    """system.listMethods: no session, reply not wrapped in the envelope."""
    return [Method("system.listMethods", (), False, lambda ctx: table.names(), raw=True)]
