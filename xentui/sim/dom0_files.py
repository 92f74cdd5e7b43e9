"""Render the files a real dom0 has, in the formats xapi and the OS write them.

The simulator calls these pure functions to give every simulated host a root
directory that looks like a dom0's, so `xentui.host` reads simulated and real
hosts with the same code. Paths below are relative to a host's root (the
simulator's `HostEndpoint.root`; "/" on a real dom0):

    etc/xensource/pool.conf          `master`, `slave:<address>` or `broken`
                                     (xapi-aux/pool_role.ml `string_of`; no newline)
    etc/xensource-inventory          KEY='value' lines (xapi-inventory `string_of_table`)
    var/lib/xcp/state.db             xapi's XML database (database/db_xml.ml `To`)
    var/lib/xentui-sim/ip-addr.json  what `ip -j addr show dev <bridge>` prints; absent when the
                                     bridge does not exist. Simulator only: a real dom0 runs `ip`.
    var/lib/xentui-sim/xapi-core.version  the installed xapi's version, what `rpm -q --qf %{VERSION}
                                     xapi-core` prints. Simulator only: a real dom0 runs `rpm`.
    var/run/xapi.pid                 the pid of a real process named `xapi` while the simulated xapi
                                     runs (sim/xapi_pid.py); absent when it is stopped
    etc/xensource/xapi-ssl.pem       the TLS identity of xapi's HTTPS port: private key then
                                     self-signed certificate, mode 0400 (gencert: RSA 2048,
                                     SHA-256, CN = hostname, SAN = hostname and address)

Every write is atomic (temporary file in the same directory, then rename), so a
reader never sees half a file, as with xapi's own `write_string_to_file`.

state.db details that follow xapi (all checked in ocaml/database and ocaml/idl):
  * `<?xml ...?><database><manifest><pair key=.. value=../>...</manifest><table name=..>
    <row ref=.. __ctime=.. __mtime=.. (columns sorted by name)/>...</table>...</database>`,
    on one line, tables in name order, as Xmlm writes a StringMap-ordered tableset;
  * the reference is stored twice: the `ref` attribute and the `_ref` column;
  * fields inside a namespace are joined with `__` (`name__label`, `memory__static_max`,
    `API_version__major`), idl/escaping.ml `escape_id`;
  * sets are `('a' 'b')` and maps `(('k' 'v'))` s-expressions (libs/sexpr `string_of`:
    `\\` and `'` backslash-escaped), bools `true`/`false`, floats `%0.18g`, datetimes
    `YYYYMMDDTHH:MM:SSZ`;
  * every attribute value then goes through `Xml_spaces.protect`: space -> `%.`, tab -> `%t`,
    LF -> `%n`, CR -> `%r`, `%` -> `%%` (so `(('a' 'b'))` is stored as `(('a'%.'b'))`);
  * tables xapi never persists (session, task, message) are written empty.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

POOL_CONF = "etc/xensource/pool.conf"
INVENTORY = "etc/xensource-inventory"
STATE_DB = "var/lib/xcp/state.db"
STATE_DB_GENERATION = STATE_DB + ".generation"  # Parse_db_conf.generation_filename
IP_ADDR_JSON = "var/lib/xentui-sim/ip-addr.json"
XAPI_CORE_VERSION = "var/lib/xentui-sim/xapi-core.version"
XAPI_PID = "var/run/xapi.pid"
XAPI_SSL_PEM = "etc/xensource/xapi-ssl.pem"

# datamodel_common.ml (schema of the mirrored xapi)
SCHEMA_MAJOR_VSN = 5
SCHEMA_MINOR_VSN = 909

# Tables whose rows xapi never writes to disk (`~persist:PersistNothing`).
NON_PERSISTENT_TABLES = frozenset({"session", "task", "message", "event", "data_source", "user"})

# Tables a real state.db always has (xapi writes every table, even empty ones).
# Only the ones a recovery reader could care about; extra tables passed in are written too.
STANDARD_TABLES = (
    "Bond",
    "Certificate",
    "Cluster",
    "Cluster_host",
    "PBD",
    "PCI",
    "PGPU",
    "PIF",
    "PIF_metrics",
    "SM",
    "SR",
    "VBD",
    "VBD_metrics",
    "VDI",
    "VIF",
    "VIF_metrics",
    "VLAN",
    "VM",
    "VMPP",
    "VMSS",
    "VM_appliance",
    "VM_guest_metrics",
    "VM_metrics",
    "host",
    "host_cpu",
    "host_metrics",
    "message",
    "network",
    "pool",
    "session",
    "task",
    "tunnel",
)

# Namespaced fields (idl `namespace ~name:...`): the API joins them with "_", the
# database with "__". Class -> namespace prefixes; "name" applies to every class.
_NAMESPACES: Dict[str, Tuple[str, ...]] = {
    "host": ("memory", "API_version"),
    "host_metrics": ("memory",),
    "VM": ("memory", "VCPUs", "actions", "PV", "HVM"),
    "VM_metrics": ("memory", "VCPUs"),
    "PIF_metrics": ("io",),
    "VBD_metrics": ("io",),
    "VIF_metrics": ("io",),
    "VBD": ("qos",),
    "VIF": ("qos",),
}

# XML 1.0 forbids these characters outright; xapi truncates set/map strings at the
# first one (ensure_utf8_xml). We drop them so the file stays well-formed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# --- pool.conf ---------------------------------------------------------------


def render_pool_conf(role: str, master_address: str = "") -> str:
    """`master`, `slave:<address>` or `broken`, without a trailing newline."""
    if role == "master":
        return "master"
    if role == "slave":
        if not master_address:
            raise ValueError("a slave's pool.conf needs the master's address")
        return "slave:" + master_address
    if role == "broken":
        return "broken"
    raise ValueError("unknown pool role %r" % (role,))


# --- xensource-inventory -------------------------------------------------------

# The keys of a real XCP-ng 8.x inventory, in a plausible order; callers pass values.
INVENTORY_KEYS = (
    "PRIMARY_DISK",
    "PRODUCT_VERSION",
    "DOM0_VCPUS",
    "CONTROL_DOMAIN_UUID",
    "PRODUCT_BRAND",
    "DOM0_MEM",
    "PLATFORM_VERSION",
    "MANAGEMENT_ADDRESS_TYPE",
    "BUILD_NUMBER",
    "PARTITION_LAYOUT",
    "BRAND_CONSOLE",
    "INSTALLATION_DATE",
    "PLATFORM_NAME",
    "COMPANY_NAME_SHORT",
    "BACKUP_PARTITION",
    "PRODUCT_VERSION_TEXT",
    "PRODUCT_VERSION_TEXT_SHORT",
    "INSTALLATION_UUID",
    "MANAGEMENT_INTERFACE",
    "CURRENT_INTERFACES",
    "XEN_VERSION",
    "KERNEL_VERSION",
    "COMPANY_NAME",
)


def render_inventory(fields: Mapping[str, str]) -> str:
    """`KEY='value'` lines, as xapi's inventory writer (no quoting inside the value:
    the reader only strips one quote from each end, then trims whitespace)."""
    lines = []
    for key, value in fields.items():
        key, value = str(key), str(value)
        if not key or "=" in key or any(c in key + value for c in "\n\r"):
            raise ValueError("inventory key/value cannot hold '=' (key) or newlines: %r" % (key,))
        lines.append("%s='%s'\n" % (key, value))
    return "".join(lines)


# --- state.db -----------------------------------------------------------------


def db_field_name(cls: str, api_name: str) -> str:
    """The database column for an API field name (`name_label` -> `name__label`)."""
    for prefix in ("name",) + _NAMESPACES.get(cls, ()):
        if api_name.startswith(prefix + "_") and len(api_name) > len(prefix) + 1:
            return prefix + "__" + api_name[len(prefix) + 1 :]
    return api_name


def sexpr_string(text: str) -> str:
    """One quoted s-expression atom (libs/sexpr `string_of`)."""
    text = _XML_INVALID.sub("", text)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def marshal_set(items: Iterable[Any]) -> str:
    return "(" + " ".join(sexpr_string(_scalar(x)) for x in items) + ")"


def marshal_map(pairs: Mapping[Any, Any]) -> str:
    return (
        "(" + " ".join("(%s %s)" % (sexpr_string(_scalar(k)), sexpr_string(_scalar(v))) for k, v in pairs.items()) + ")"
    )


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y%m%dT%H:%M:%SZ")


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "%0.18g" % value
    if isinstance(value, datetime):
        return _datetime_text(value)
    inner = getattr(value, "value", None)  # xmlrpc.client.DateTime
    if isinstance(inner, str) and type(value).__name__ == "DateTime":
        return inner if inner.endswith("Z") else inner + "Z"
    return str(value)


def marshal_value(value: Any) -> str:
    """A field value as xapi stores it (before Xml_spaces.protect)."""
    if isinstance(value, Mapping):
        return marshal_map(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return marshal_set(items)
    return _XML_INVALID.sub("", _scalar(value))


def protect(text: str) -> str:
    """Xml_spaces.protect: whitespace and '%' become '%'-escapes."""
    return text.replace("%", "%%").replace(" ", "%.").replace("\t", "%t").replace("\n", "%n").replace("\r", "%r")


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _row_reference(cls: str, ref: str, record: Mapping[str, Any], generation: int) -> str:
    """The straightforward (slow) row renderer; `_row` must produce the same text."""
    columns: Dict[str, str] = {}
    for api_name, value in record.items():
        if api_name in ("ref", "_ref", "__ctime", "__mtime"):
            continue
        columns[db_field_name(cls, api_name)] = marshal_value(value)
    columns["_ref"] = ref
    ctime = record.get("__ctime", generation)
    mtime = record.get("__mtime", generation)
    attrs = [("ref", ref), ("__ctime", str(ctime)), ("__mtime", str(mtime))]
    attrs.extend(sorted(columns.items()))  # StringMap order
    return "<row %s/>" % " ".join('%s="%s"' % (k, _xml_attr(protect(v))) for k, v in attrs)


# --- fast state.db rendering -------------------------------------------------------
#
# A 64-host pool has ~8,500 persisted rows of up to ~90 columns. The reference
# renderer above costs ~0.3 ms a row; the functions below produce the same bytes
# with per-class column plans and one str.translate per string (no per-character
# Python work), and StateDbRenderer re-renders only rows whose generation changed.

# Xml_spaces.protect + XML attribute escaping + dropping XML-invalid characters, in one table.
_ATTR_TABLE: Dict[int, Optional[str]] = {
    ord("%"): "%%",
    ord(" "): "%.",
    ord("\t"): "%t",
    ord("\n"): "%n",
    ord("\r"): "%r",
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
}
for _c in list(range(0x00, 0x09)) + [0x0B, 0x0C] + list(range(0x0E, 0x20)) + [0xFFFE, 0xFFFF]:
    _ATTR_TABLE[_c] = None
# ... plus the s-expression escaping of set/map atoms (`\\` and `'`).
_ATOM_TABLE = dict(_ATTR_TABLE)
_ATOM_TABLE[ord("\\")] = "\\\\"
_ATOM_TABLE[ord("'")] = "\\'"
_ATTR_SPECIAL = re.compile('[%\\s&<>"\x00-\x1f\ufffe\uffff\ud800-\udfff]')
_ATOM_SPECIAL = re.compile("[%\\s&<>\"'\\\\\x00-\x1f\ufffe\uffff\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _attr_text(text: str) -> str:
    if _ATTR_SPECIAL.search(text) is None:
        return text
    text = text.translate(_ATTR_TABLE)
    return _SURROGATES.sub("", text) if _SURROGATES.search(text) else text


def _atom(value: Any) -> str:
    text = value if type(value) is str else _scalar(value)
    if _ATOM_SPECIAL.search(text) is not None:
        text = text.translate(_ATOM_TABLE)
        if _SURROGATES.search(text):
            text = _SURROGATES.sub("", text)
    return "'" + text + "'"


def _attr_value(value: Any) -> str:
    """marshal_value + protect + attribute escaping, for one column."""
    t = type(value)
    if t is str:
        return value if _ATTR_SPECIAL.search(value) is None else _attr_text(value)
    if t is bool:
        return "true" if value else "false"
    if t is int:
        return str(value)
    if t is list or t is tuple:
        if not value:
            return "()"
        return "(" + "%.".join([_atom(x) for x in value]) + ")"
    if t is dict:
        if not value:
            return "()"
        return "(" + "%.".join(["(" + _atom(k) + "%." + _atom(v) + ")" for k, v in value.items()]) + ")"
    if t is datetime:
        if value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(timezone.utc)
        return "%04d%02d%02dT%02d:%02d:%02dZ" % (
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
        )
    if value is None:
        return ""
    if isinstance(value, (set, frozenset)):
        return _attr_value(sorted(value))
    if isinstance(value, Mapping):
        return _attr_value(dict(value))
    if isinstance(value, (list, tuple)):
        return _attr_value(list(value))
    return _attr_text(_XML_INVALID.sub("", _scalar(value)))


_SKIP = frozenset(("ref", "_ref", "__ctime", "__mtime"))
# (class, field names) -> [(api name or None for _ref, ' column="')] in column order
_PLANS: Dict[Tuple[str, Tuple[str, ...]], Sequence[Tuple[Optional[str], str]]] = {}


def _plan(cls: str, names: Tuple[str, ...]) -> Sequence[Tuple[Optional[str], str]]:
    plan = _PLANS.get((cls, names))
    if plan is None:
        columns = {db_field_name(cls, n): n for n in names if n not in _SKIP}
        columns["_ref"] = None  # type: ignore[assignment]
        plan = [(columns[col], ' %s="' % _xml_attr(protect(col))) for col in sorted(columns)]
        if len(_PLANS) < 4096:
            _PLANS[(cls, names)] = plan
    return plan


def _row(
    cls: str,
    ref: str,
    record: Mapping[str, Any],
    generation: int,
    ctime: Optional[int] = None,
    mtime: Optional[int] = None,
) -> str:
    """One `<row .../>` (same text as `_row_reference`)."""
    if ctime is None:
        ctime = record.get("__ctime", generation)
    if mtime is None:
        mtime = record.get("__mtime", generation)
    ref_text = _attr_text(ref)
    parts = ['<row ref="', ref_text, '" __ctime="', _attr_text(str(ctime)), '" __mtime="', _attr_text(str(mtime)), '"']
    append = parts.append
    special = _ATTR_SPECIAL.search
    # The common scalar types are inlined: this loop runs ~350k times for a 64-host pool.
    for name, head in _plan(cls, tuple(record)):
        if name is None:
            append(head + ref_text + '"')
            continue
        value = record[name]
        t = type(value)
        if t is str:
            append(head + (value if special(value) is None else _attr_text(value)) + '"')
        elif t is bool:
            append(head + ('true"' if value else 'false"'))
        elif t is int:
            append(head + str(value) + '"')
        elif (t is list or t is dict) and not value:
            append(head + '()"')
        else:
            append(head + _attr_value(value) + '"')
    append("/>")
    return "".join(parts)


def _document(tables_rows: Mapping[str, Sequence[str]], present: Iterable[str], generation: int) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?><database><manifest>']
    for key, value in (
        ("schema_major_vsn", SCHEMA_MAJOR_VSN),
        ("schema_minor_vsn", SCHEMA_MINOR_VSN),
        ("generation_count", int(generation)),
    ):
        out.append('<pair key="%s" value="%d"/>' % (key, value))
    out.append("</manifest>")
    for name in sorted(set(STANDARD_TABLES) | set(present)):
        rows = tables_rows.get(name)
        if not rows or name in NON_PERSISTENT_TABLES:
            out.append('<table name="%s"/>' % _xml_attr(name))
            continue
        out.append('<table name="%s">' % _xml_attr(name))
        out.extend(rows)
        out.append("</table>")
    out.append("</database>")
    return "".join(out).encode("utf-8")


def render_state_db(tables: Mapping[str, Mapping[str, Mapping[str, Any]]], generation: int) -> bytes:
    """xapi's state.db for `{datamodel class: {ref: record}}` (API field names, Python values:
    str, bool, int, float, datetime, list/tuple/set for sets, dict for maps)."""
    rendered = {}
    for name, rows in tables.items():
        if rows and name not in NON_PERSISTENT_TABLES:
            rendered[name] = [_row(name, ref, rows[ref], generation) for ref in sorted(rows)]
    return _document(rendered, tables, generation)


class StateDbRenderer:
    """Renders successive versions of one database, re-rendering only changed rows.

    `render(rows, generation)` takes {class: [(ref, created, modified, record or None)]}:
    a None record means "unchanged since the generation `modified`, reuse the cached
    text" (see `wants`). Rows carry their own __ctime/__mtime like xapi's."""

    def __init__(self) -> None:
        self._cache: Dict[Tuple[str, str], Tuple[int, str]] = {}

    def copy(self) -> "StateDbRenderer":
        twin = StateDbRenderer()
        twin._cache = dict(self._cache)
        return twin

    def wants(self, cls: str, ref: str, modified: int) -> bool:
        """Does the row need its record (not cached at this generation)?"""
        hit = self._cache.get((cls, ref))
        return hit is None or hit[0] != modified

    def render(
        self, rows: Mapping[str, Sequence[Tuple[str, int, int, Optional[Mapping[str, Any]]]]], generation: int
    ) -> bytes:
        cache = self._cache
        fresh: Dict[Tuple[str, str], Tuple[int, str]] = {}
        rendered: Dict[str, List[str]] = {}
        for cls, entries in rows.items():
            if not entries or cls in NON_PERSISTENT_TABLES:
                continue
            texts = []
            for ref, created, modified, record in sorted(entries, key=lambda e: e[0]):
                hit = cache.get((cls, ref))
                if record is None and hit is not None and hit[0] == modified:
                    text = hit[1]
                elif record is None:
                    raise ValueError(f"no record for changed row {cls} {ref}")
                else:
                    text = _row(cls, ref, record, generation, created, modified)
                fresh[(cls, ref)] = (modified, text)
                texts.append(text)
            rendered[cls] = texts
        self._cache = fresh  # drops deleted rows
        return _document(rendered, rows, generation)


# --- ip -j addr show -------------------------------------------------------------


def _ipv4_broadcast(address: str, prefixlen: int) -> str:
    import ipaddress

    net = ipaddress.ip_network("%s/%d" % (address, prefixlen), strict=False)
    return str(net.broadcast_address)


def link_flags(operstate: str, carrier: bool) -> List[str]:
    """The kernel's flags for an Ethernet bridge in that state."""
    if operstate == "DOWN" and carrier:  # administratively down
        return ["BROADCAST", "MULTICAST"]
    if not carrier:
        return ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]
    return ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]


def render_ip_addr_json(
    ifname: str,
    mac: str,
    operstate: str,
    addresses: Sequence[Tuple[str, str, int]],
    *,
    carrier: Optional[bool] = None,
    mtu: int = 1500,
    ifindex: int = 5,
) -> str:
    """Exactly what `ip -j addr show dev <ifname>` prints (one line plus newline).

    `addresses` are (family "inet"/"inet6", address, prefixlen). `carrier` defaults to
    "the link is up"; carrier=False gives the NO-CARRIER flags with operstate DOWN.
    """
    if carrier is None:
        carrier = operstate in ("UP", "UNKNOWN")
    if not carrier:
        operstate = "DOWN"
    addr_info = []
    for family, address, prefixlen in addresses:
        if family == "inet":
            addr_info.append(
                {
                    "family": "inet",
                    "local": address,
                    "prefixlen": int(prefixlen),
                    "broadcast": _ipv4_broadcast(address, int(prefixlen)),
                    "scope": "global",
                    "label": ifname,
                    "valid_life_time": 4294967295,
                    "preferred_life_time": 4294967295,
                }
            )
        elif family == "inet6":
            addr_info.append(
                {
                    "family": "inet6",
                    "local": address,
                    "prefixlen": int(prefixlen),
                    "scope": "link" if address.lower().startswith("fe80:") else "global",
                    "valid_life_time": 4294967295,
                    "preferred_life_time": 4294967295,
                }
            )
        else:
            raise ValueError("unknown address family %r" % (family,))
    doc = [
        {
            "ifindex": ifindex,
            "ifname": ifname,
            "flags": link_flags(operstate, carrier),
            "mtu": mtu,
            "qdisc": "noqueue",
            "operstate": operstate,
            "group": "default",
            "txqlen": 1000,
            "link_type": "ether",
            "address": mac.lower(),
            "broadcast": "ff:ff:ff:ff:ff:ff",
            "addr_info": addr_info,
        }
    ]
    return json.dumps(doc, separators=(",", ":")) + "\n"


# --- writing ------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file in the same directory and rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, str(path))
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_host_files(
    root: Path,
    *,
    pool_conf: str,
    inventory: Mapping[str, str],
    state_db_tables: Optional[Mapping[str, Mapping[str, Mapping[str, Any]]]] = None,
    db_generation: int = 0,
    link: Optional[Mapping[str, Any]] = None,
    nics: Sequence[Mapping[str, Any]] = (),
    xapi_version: str = "",
) -> None:
    """Write a host's dom0 files under `root`.

    `pool_conf` is the file's text (use `render_pool_conf`); `inventory` the KEY -> value
    fields; `state_db_tables` the database to write (None leaves an existing state.db
    alone, as a host whose xapi is down keeps its last copy); `link` the keyword arguments
    of `render_ip_addr_json` (ifname, mac, operstate, addresses[, carrier, mtu, ifindex]),
    or None when the management bridge does not exist; `nics` the same for the physical
    NICs (what `ip -j link show` lists besides the bridge). No link and no NIC: the JSON
    file is removed. `xapi_version`: the installed xapi's (left alone when empty).
    """
    root = Path(root)
    if not (root / XAPI_SSL_PEM).exists():  # gencert runs once, at first boot
        addresses = [entry[1] for entry in (link or {}).get("addresses", ()) if len(entry) >= 2]
        write_atomic(root / XAPI_SSL_PEM, render_xapi_ssl_pem(root.name, addresses), mode=0o400)
    write_atomic(root / POOL_CONF, pool_conf.encode("utf-8"))
    write_atomic(root / INVENTORY, render_inventory(inventory).encode("utf-8"))
    if xapi_version:
        write_atomic(root / XAPI_CORE_VERSION, xapi_version.encode("ascii", "replace") + b"\n")
    if state_db_tables is not None:
        write_atomic(root / STATE_DB, render_state_db(state_db_tables, db_generation), mode=0o600)
        write_atomic(root / STATE_DB_GENERATION, str(db_generation).encode("ascii"), mode=0o600)
    ip_path = root / IP_ADDR_JSON
    entries = ([link] if link is not None else []) + list(nics)
    if not entries:
        try:
            ip_path.unlink()
        except FileNotFoundError:
            pass
    else:
        doc = []
        for entry in entries:
            doc.extend(json.loads(render_ip_addr_json(**entry)))
        write_atomic(ip_path, (json.dumps(doc, separators=(",", ":")) + "\n").encode("utf-8"))


# --- xapi-ssl.pem ---------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _simulator_rsa_key() -> "RSAPrivateKey":
    """One RSA 2048 key for every simulated host of this process: generating one per host
    costs ~65 ms each (4 s for the 64-host scenario); the certificates still differ per host."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def render_xapi_ssl_pem(hostname: str, addresses: Sequence[str] = ()) -> bytes:
    """What gencert writes: the PEM private key followed by the self-signed certificate."""
    import datetime as _dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _simulator_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    alt: List[x509.GeneralName] = [x509.DNSName(hostname)]
    for address in addresses:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            continue
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)
