"""Read xapi's XML database (/var/lib/xcp/state.db) without xapi.

The format (ocaml/database/db_xml.ml): `<database><manifest><pair key value/>...
</manifest><table name="VM"><row ref=".." __ctime=".." __mtime=".." _ref=".."
uuid=".." name__label=".." .../></table>...</database>`. Each attribute value
went through `Xml_spaces.protect` (space -> `%.` ...) and, for sets and maps,
an s-expression writer (`('a' 'b')`, `(('k' 'v'))`). Namespaced fields are
joined with `__` (`name__label`, `memory__static_max`); the API joins with `_`.

`parse_state_db` returns `{lower-case class: {ref: record}}` with API field
names and Python types (bool, int, float, list for sets, dict for maps;
references, enums and datetimes as strings), so
`xentui.xapi.model.PoolSnapshot.from_records()` accepts it. It streams the file
(iterparse) and tolerates unknown tables and fields; a field whose value does
not decode as its type keeps the raw string rather than failing the file.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import IO, AbstractSet, Any, Dict, List, Mapping, Optional, Tuple, Union

from .statedb_types import BOOKKEEPING, BOOL, FLOAT, INT, MAP, REVERSE_SETS, SET, field_kind

STATE_DB_PATH = "/var/lib/xcp/state.db"

Tables = Dict[str, Dict[str, Dict[str, Any]]]


class StateDbError(ValueError):
    """The file is not a readable xapi database."""


@dataclass(frozen=True)
class StateDb:
    """A parsed state.db: the manifest and the tables."""

    tables: Tables
    generation: int = 0
    schema_version: Tuple[int, int] = (0, 0)
    table_names: Tuple[str, ...] = field(default=())  # as in the file, original case


# --- value decoding -------------------------------------------------------------

_UNPROTECT = {".": " ", "t": "\t", "n": "\n", "r": "\r", "%": "%", "_": "  "}
_PROTECTED = re.compile(r"%([.tnr%_])")


def unprotect(text: str) -> str:
    """Inverse of xapi's Xml_spaces.protect (including the old `%_` = two spaces).

    Left to right, two characters at a time, like xapi's `map2_unlikely`: a `%`
    not followed by one of `. t n r % _` stays as it is."""
    if "%" not in text:
        return text
    return _PROTECTED.sub(lambda m: _UNPROTECT[m.group(1)], text)


class SExprError(ValueError):
    pass


def _unescape(raw: str) -> str:
    # libs/sexpr `unescape`: a backslash takes the next character literally; a
    # trailing lone backslash is kept.
    if "\\" not in raw:
        return raw
    out: List[str] = []
    escaped = False
    for c in raw:
        if c == "\\" and not escaped:
            escaped = True
            continue
        out.append(c)
        escaped = False
    if escaped:
        out.append("\\")
    return "".join(out)


# The tokens of libs/sexpr/sExprLexer.mll: blanks and `;...\n` comments are skipped;
# quoted strings ('...' or "...", backslash escapes); parentheses; bare symbols.
_TOKEN = re.compile(
    r"[ \t\r\n]+|;[^\n]*\n"
    r"|(?P<open>\()|(?P<close>\))"
    r"|'(?P<sq>(?:[^'\\]|\\.)*)'"
    r'|"(?P<dq>(?:[^"\\]|\\.)*)"'
    r'|(?P<sym>[^" \t\n()]+)',
    re.DOTALL,
)


def parse_sexpr(text: str) -> Any:
    """One s-expression as xapi's lexer reads it: nested lists of strings."""
    stack: List[List[Any]] = []
    result: Any = None
    done = False
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SExprError("unexpected character at %d" % pos)
        pos = m.end()
        kind = m.lastgroup
        if kind is None:
            continue  # blanks or a comment
        if done:
            raise SExprError("trailing text")
        if kind == "open":
            stack.append([])
            continue
        if kind == "close":
            if not stack:
                raise SExprError("unexpected ')'")
            value: Any = stack.pop()
        elif kind == "sq" or kind == "dq":
            value = _unescape(m.group(kind))
        else:
            value = m.group("sym")
        if stack:
            stack[-1].append(value)
        else:
            result, done = value, True
    if stack:
        raise SExprError("unclosed '('")
    if not done:
        raise SExprError("unexpected end")
    return result


# Fast paths for exactly what xapi's writer emits: `('a' 'b')` and `(('k' 'v') ...)`,
# single-quoted atoms, single spaces. Anything else goes through the general reader.
# The quoted atom as an "unrolled loop" (runs of plain characters between escapes):
# the same language as '(?:[^'\\]|\\.)*', 5-10x faster on the long ref sets of a
# 2,000-VM pool (no alternation per character).
_Q = r"'[^'\\]*(?:\\.[^'\\]*)*'"
_WRITTEN_SET = re.compile(r"\((?:%s(?: %s)*)?\)" % (_Q, _Q), re.DOTALL)
_WRITTEN_MAP = re.compile(r"\((?:\(%s %s\)(?: \(%s %s\))*)?\)" % (_Q, _Q, _Q, _Q), re.DOTALL)
_ATOM = re.compile(r"'([^'\\]*(?:\\.[^'\\]*)*)'", re.DOTALL)


def decode_set(text: str) -> List[str]:
    if _WRITTEN_SET.fullmatch(text):
        return [_unescape(a) for a in _ATOM.findall(text)]
    value = parse_sexpr(text)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SExprError("not a set")
    return value


def decode_map(text: str) -> Dict[str, str]:
    if _WRITTEN_MAP.fullmatch(text):
        atoms = [_unescape(a) for a in _ATOM.findall(text)]
        return dict(zip(atoms[0::2], atoms[1::2]))
    value = parse_sexpr(text)
    if not isinstance(value, list):
        raise SExprError("not a map")
    pairs: Dict[str, str] = {}
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise SExprError("not a map entry")
        pairs[item[0]] = item[1]
    return pairs


def decode_value(kind: str, text: str) -> Any:
    """A stored string as its field's type; the raw string when it does not decode."""
    try:
        if kind == BOOL:
            if text in ("true", "false"):
                return text == "true"
            return text
        if kind == INT:
            return int(text)
        if kind == FLOAT:
            return float(text)
        if kind == SET:
            return decode_set(text)
        if kind == MAP:
            return decode_map(text)
    except (ValueError, SExprError):
        return text
    return text


def api_field_name(db_name: str) -> str:
    """`name__label` -> `name_label` (the database joins namespaces with `__`)."""
    return db_name.replace("__", "_") if "__" in db_name else db_name


# --- the file ----------------------------------------------------------------------


def _decode_row(
    cls: str,
    attrs: Mapping[str, str],
    wanted: Optional[AbstractSet[str]] = None,
    names: Optional[Dict[str, str]] = None,
) -> Tuple[str, Dict[str, Any]]:
    """`names` memoizes db name -> API name ("" = not wanted) across the rows of a table."""
    ref = attrs.get("ref") or attrs.get("_ref") or ""
    record: Dict[str, Any] = {}
    for db_name, raw in attrs.items():
        name = names.get(db_name) if names is not None else None
        if name is None:
            name = "" if db_name in BOOKKEEPING else api_field_name(db_name)
            if wanted is not None and name not in wanted:
                name = ""
            if names is not None:
                names[db_name] = name
        if not name:
            continue
        record[name] = decode_value(field_kind(cls, name), unprotect(raw))
    return ref, record


def _regenerate_reverse_sets(tables: Tables) -> None:
    for (owner_cls, set_field), (ptr_cls, ptr_field) in REVERSE_SETS:
        owners = tables.get(owner_cls)
        pointers = tables.get(ptr_cls)
        if owners is None or pointers is None:
            continue  # keep what the file says when the pointing table is absent
        found: Dict[str, List[str]] = {ref: [] for ref in owners}
        for ref, rec in pointers.items():
            target = rec.get(ptr_field)
            if isinstance(target, str) and target in found:
                found[target].append(ref)
        for ref, rec in owners.items():
            rec[set_field] = found[ref]


def parse_state_db(source: Union[bytes, IO[bytes]], keep: Optional[Mapping[str, AbstractSet[str]]] = None) -> StateDb:
    """Parse a whole state.db (bytes or a binary file object). Raises StateDbError.

    `keep` ({class: API field names}) decodes only those tables and fields:
    a 2,000-VM database has ~400,000 values, of which a pool view needs a
    tenth (rows of other tables are skipped undecoded)."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    tables: Tables = {}
    names: List[str] = []
    manifest: Dict[str, str] = {}
    current: Optional[Dict[str, Dict[str, Any]]] = None
    current_cls = ""
    row_names: Dict[str, Dict[str, str]] = {}
    stack: List[ET.Element] = []
    seen_database = False
    try:
        for event, elem in ET.iterparse(stream, events=("start", "end")):
            if event == "start":
                stack.append(elem)
                if elem.tag == "database":
                    seen_database = True
                elif elem.tag == "table":
                    name = elem.get("name", "")
                    names.append(name)
                    current_cls = name.lower()
                    current = tables.setdefault(current_cls, {}) if keep is None or current_cls in keep else None
                continue
            stack.pop()
            if elem.tag == "row" and current is not None:
                ref, record = _decode_row(
                    current_cls,
                    elem.attrib,
                    None if keep is None else keep[current_cls],
                    row_names.setdefault(current_cls, {}),
                )
                if ref:
                    current[ref] = record
            elif elem.tag == "pair":
                manifest[elem.get("key", "")] = elem.get("value", "")
            elif elem.tag == "table":
                current = None
            # Drop finished elements so memory stays flat however big the file is.
            # iterparse builds ahead of the events we see, so the parent may already
            # hold later siblings: removing them all is safe, as their pending events
            # keep them alive until we read their attributes.
            if stack:
                del stack[-1][:]
    except ET.ParseError as exc:
        raise StateDbError("state.db is not well-formed XML: %s" % exc) from None
    if not seen_database:
        raise StateDbError("state.db has no <database> element")
    _regenerate_reverse_sets(tables)
    return StateDb(
        tables=tables,
        generation=_int(manifest.get("generation_count")),
        schema_version=(_int(manifest.get("schema_major_vsn")), _int(manifest.get("schema_minor_vsn"))),
        table_names=tuple(names),
    )


def _int(text: Optional[str]) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def parse_state_db_tables(source: Union[bytes, IO[bytes]]) -> Tables:
    """Just the `{class: {ref: record}}` tables."""
    return parse_state_db(source).tables
