"""xapi's wire encodings: XML-RPC (POST / and /RPC2) and JSON-RPC (/jsonrpc).

Follows ocaml-rpc (src/lib/xmlrpc.ml, jsonrpc.ml) as xapi uses it:

* every XML-RPC reply is a struct {Status: "Success", Value: v} or
  {Status: "Failure", ErrorDescription: [code, params...]}, never a <fault>;
  system.listMethods is the exception: its array comes back unwrapped;
* strings are bare `<value>text</value>` (no <string>), `> < & "` escaped
  and other control characters dropped; int64 is a decimal string; only I4
  (event.from's valid_ref_counts) becomes <i4>; floats are `%.16g` doubles;
  datetimes are `<dateTime.iso8601>YYYYMMDDTHH:MM:SSZ`; void is "";
* JSON-RPC: ints are JSON numbers, datetimes strings; errors are
  [code, params...] (1.0) or {"code": 1, "message": code, "data": [params]}
  (2.0, api_server.ml's translation).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

from xentui.sim.errors import ApiError, WireError

__all__ = [
    "I4",
    "Reply",
    "WireError",
    "decode_xmlrpc_request",
    "encode_xmlrpc_response",
    "decode_jsonrpc_request",
    "encode_jsonrpc_response",
    "encode_xml_value",
    "format_datetime",
]


class I4(int):
    """An int that is encoded as <i4> (xapi does this only for valid_ref_counts)."""

    def __repr__(self) -> str:
        return f"I4({int(self)})"


@dataclass
class Reply:
    value: Any = ""
    error: Optional[ApiError] = None
    raw: bool = False  # True: no Status/Value envelope (system.listMethods)
    # True: the error was raised outside xapi's dispatcher (emergency mode, invalid
    # UTF-8); /jsonrpc then answers in jsoncallback's fixed shape (see
    # encode_jsonrpc_response).
    raised: bool = False


# --- values --------------------------------------------------------------------

_NEEDS_ESCAPE = re.compile(r'[&<>"\x00-\x08\x0b\x0c\x0e-\x1f]')
_DROP_CONTROL = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_needs_escape = _NEEDS_ESCAPE.search


def _escape(text: str) -> str:
    if _needs_escape(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return text.translate(_DROP_CONTROL)


def format_datetime(value: datetime) -> str:
    """xapi's Date.to_rfc3339: `%04i%02i%02iT%02i:%02i:%02iZ`, always UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return "%04d%02d%02dT%02d:%02d:%02dZ" % (value.year, value.month, value.day, value.hour, value.minute, value.second)


def _encode(value: Any, out: List[str]) -> None:
    # Hot path (a 2,000-VM get_all_records is ~200k values): the common
    # scalar types are handled inline in the struct and array loops.
    t = type(value)
    if t is str:
        out.append("<value>" + (value if _needs_escape(value) is None else _escape(value)) + "</value>")
    elif t is dict:
        append = out.append
        append("<value><struct>")
        for key, item in value.items():
            name = _NAME_CACHE.get(key)
            if name is None:
                name = _member_name(key)
            it = type(item)
            if it is str:
                append(
                    name + "<value>" + (item if _needs_escape(item) is None else _escape(item)) + "</value></member>"
                )
            elif it is bool:
                append(
                    name
                    + (
                        "<value><boolean>1</boolean></value></member>"
                        if item
                        else "<value><boolean>0</boolean></value></member>"
                    )
                )
            elif it is int:
                append("%s<value>%d</value></member>" % (name, item))
            else:
                append(name)
                _encode(item, out)
                append("</member>")
        append("</struct></value>")
    elif t is list or t is tuple:
        append = out.append
        append("<value><array><data>")
        for item in value:
            if type(item) is str:
                append("<value>" + (item if _needs_escape(item) is None else _escape(item)) + "</value>")
            else:
                _encode(item, out)
        append("</data></array></value>")
    elif t is bool:
        out.append("<value><boolean>1</boolean></value>" if value else "<value><boolean>0</boolean></value>")
    elif t is int:
        out.append("<value>%d</value>" % value)
    elif t is I4:
        out.append("<value><i4>%d</i4></value>" % value)
    elif t is float:
        out.append("<value><double>" + _format_double(value) + "</double></value>")
    elif value is None:
        out.append("<value></value>")
    elif isinstance(value, datetime):
        out.append("<value><dateTime.iso8601>" + format_datetime(value) + "</dateTime.iso8601></value>")
    elif isinstance(value, bool):
        _encode(bool(value), out)
    elif isinstance(value, I4):
        out.append("<value><i4>%d</i4></value>" % int(value))
    elif isinstance(value, int):
        out.append("<value>%d</value>" % int(value))
    elif isinstance(value, float):
        _encode(float(value), out)
    elif isinstance(value, str):
        _encode(str(value), out)
    elif isinstance(value, dict):
        _encode(dict(value), out)
    elif isinstance(value, (list, tuple, set, frozenset)):
        _encode(list(value), out)
    elif isinstance(value, (bytes, bytearray)):
        out.append("<value><base64>" + base64.b64encode(bytes(value)).decode("ascii") + "</base64></value>")
    elif hasattr(value, "value") and hasattr(value, "timetuple"):  # xmlrpc.client.DateTime
        out.append("<value><dateTime.iso8601>" + _escape(str(value.value)) + "</dateTime.iso8601></value>")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} for XML-RPC")


# "<member><name>key</name>" per struct key; keys repeat (field names), so
# they are cached, up to a bound (map keys can be arbitrary).
_NAME_CACHE: Dict[Any, str] = {}
_NAME_CACHE_MAX = 20000


def _member_name(key: Any) -> str:
    text = key if type(key) is str else str(key)
    name = "<member><name>" + _escape(text) + "</name>"
    if len(_NAME_CACHE) < _NAME_CACHE_MAX:
        _NAME_CACHE[key] = name
    return name


def _format_double(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, ".16g")


def encode_xml_value(value: Any) -> str:
    """One `<value>...</value>` as xapi writes it."""
    out: List[str] = []
    _encode(value, out)
    return "".join(out)


_HEAD = '<?xml version="1.0"?><methodResponse><params><param>'
_TAIL = "</param></params></methodResponse>"


def encode_xmlrpc_response(result: Reply) -> bytes:
    out: List[str] = [_HEAD]
    if result.error is not None:
        out.append(
            "<value><struct><member><name>Status</name><value>Failure</value></member>"
            "<member><name>ErrorDescription</name>"
        )
        _encode(list(result.error.details), out)
        out.append("</member></struct></value>")
    elif result.raw:
        _encode(result.value, out)
    else:
        out.append(
            "<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>"
        )
        _encode(result.value, out)
        out.append("</member></struct></value>")
    out.append(_TAIL)
    return "".join(out).encode("utf-8", "replace")


# --- XML-RPC requests ------------------------------------------------------------


def _parse_datetime(text: str) -> Any:
    for fmt in ("%Y%m%dT%H:%M:%SZ", "%Y%m%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return text  # the parameter's declared type decides, as in ocaml-rpc


def _decode_typed(elem: ET.Element) -> Any:
    tag = elem.tag
    text = elem.text or ""
    if tag in ("int", "i4", "i8"):
        try:
            return int(text.strip())
        except ValueError:
            raise WireError(f"bad <{tag}> value {text!r}") from None
    if tag == "string":
        return text
    if tag == "boolean":
        return text.strip() == "1"
    if tag == "double":
        try:
            return float(text.strip())
        except ValueError:
            raise WireError(f"bad <double> value {text!r}") from None
    if tag == "dateTime.iso8601":
        return _parse_datetime(text.strip())
    if tag == "array":
        children = list(elem)
        if not children:
            return []
        if len(children) != 1 or children[0].tag != "data":
            raise WireError("<array> without <data>")
        return [_decode_value(v) for v in children[0]]
    if tag == "struct":
        out: Dict[str, Any] = {}
        for member in elem:
            if member.tag != "member":
                raise WireError(f"<{member.tag}> in <struct>")
            name = member.find("name")
            value = member.find("value")
            if name is None or value is None:
                raise WireError("<member> without <name> or <value>")
            out[name.text or ""] = _decode_value(value)
        return out
    if tag == "nil":
        return None
    if tag == "base64":
        try:
            return base64.b64decode(text.strip(), validate=False)
        except (binascii.Error, ValueError):
            raise WireError("bad <base64>") from None
    raise WireError(f"unknown value type <{tag}>")


def _decode_value(elem: ET.Element) -> Any:
    if elem.tag != "value":
        raise WireError(f"expected <value>, got <{elem.tag}>")
    children = list(elem)
    if not children:
        return elem.text or ""
    if len(children) > 1:
        raise WireError("several types in one <value>")
    if elem.text and elem.text.strip():
        raise WireError("text and a type in one <value>")
    return _decode_typed(children[0])


def decode_xmlrpc_request(body: bytes) -> Tuple[str, List[Any]]:
    """(method name, params) of a methodCall; WireError for anything malformed."""
    if b"<!ENTITY" in body:
        raise WireError("entity declarations are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise WireError(f"malformed XML: {exc}") from None
    if root.tag != "methodCall":
        raise WireError(f"expected <methodCall>, got <{root.tag}>")
    name_elem = root.find("methodName")
    if name_elem is None or not (name_elem.text or "").strip():
        raise WireError("missing <methodName>")
    params: List[Any] = []
    params_elem = root.find("params")
    if params_elem is not None:
        for param in params_elem:
            if param.tag != "param":
                raise WireError(f"<{param.tag}> in <params>")
            values = list(param)
            if len(values) != 1:
                raise WireError("<param> must hold one <value>")
            params.append(_decode_value(values[0]))
    return (name_elem.text or "").strip(), params  # not empty: checked above


# --- JSON-RPC --------------------------------------------------------------------


def decode_jsonrpc_request(body: bytes) -> Tuple[str, List[Any], Any, str]:
    """(method, params, id, "1.0"|"2.0") following ocaml-rpc's
    version_id_and_call_of_string: an id is required (int or string)."""
    # Yojson does not validate UTF-8 inside string literals: invalid bytes reach
    # xapi's dispatcher (which answers INVALID_VALUE), so they are kept here as
    # surrogate escapes. A lone \uDCxx escape also decodes (to invalid UTF-8); a
    # high surrogate without its low half is a parse error in Yojson.
    try:
        text = body.decode("utf-8", "surrogateescape")
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    if "\\u" in text and _has_lone_high_surrogate(doc):
        raise WireError("malformed JSON: missing escape sequence representing low surrogate")
    if not isinstance(doc, dict):
        raise WireError("request is not a JSON object")
    method = doc.get("method")
    if not isinstance(method, str):
        raise WireError("Invalid field 'method' in request body")
    if "jsonrpc" not in doc:
        version = "1.0"
    elif doc["jsonrpc"] == "2.0":
        version = "2.0"
    else:
        raise WireError("Invalid field 'jsonrpc' in request body")
    params = doc.get("params")
    if version == "1.0":
        if not isinstance(params, list):
            raise WireError("Invalid field 'params' in request body")
    else:
        if params is None:
            params = []
        elif isinstance(params, dict):
            params = [params]
        elif not isinstance(params, list):
            raise WireError("Invalid field 'params' in request body")
    rid = doc.get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, (int, str)):
        raise WireError("Invalid field 'id' in request body")
    return method, params, rid, version


def _has_lone_high_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDBFF for c in value)
    if isinstance(value, dict):
        return any(_has_lone_high_surrogate(k) or _has_lone_high_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_high_surrogate(v) for v in value)
    return False


def _raw_utf8(text: str) -> bytes:
    """UTF-8 bytes of a reply that may echo invalid input (INVALID_VALUE's text):
    surrogate escapes go back to the original bytes, other lone surrogates are
    written the way Yojson's utf8_of_code writes them."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        out = bytearray()
        for ch in text:
            code = ord(ch)
            if 0xDC80 <= code <= 0xDCFF:
                out.append(code - 0xDC00)
            else:
                out += ch.encode("utf-8", "surrogatepass")
        return bytes(out)


# api_server_common.ml: error_code_lit = 1L
JSONRPC_ERROR_CODE = 1


def _json_default(value: Any) -> Any:
    """json.dumps hook for what it cannot encode natively."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} for JSON-RPC")


def encode_jsonrpc_response(result: Reply, id: Any, version: str) -> bytes:
    # The C encoder does the walk (ints, I4, floats, bools, strings, maps,
    # lists); `_json_default` only sees datetimes and the odd set. Void (a
    # top-level None) is "" as in XML-RPC.
    value = "" if result.value is None else result.value
    if result.raised and result.error is not None:
        # api_server.ml jsoncallback: `Jsonrpc.string_of_response ~version:V2
        # (Rpc.failure (Enum (err :: params)))` with ocaml-rpc's default id (Int 0).
        doc: Dict[str, Any] = {"jsonrpc": "2.0", "error": list(result.error.details), "id": 0}
        return _raw_utf8(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))
    if version == "2.0":
        if result.error is None:
            doc = {"jsonrpc": "2.0", "result": value, "id": id}
        else:
            doc = {
                "jsonrpc": "2.0",
                "error": {"code": JSONRPC_ERROR_CODE, "message": result.error.code, "data": list(result.error.params)},
                "id": id,
            }
    else:
        if result.error is None:
            doc = {"result": value, "error": None, "id": id}
        else:
            doc = {"result": None, "error": list(result.error.details), "id": id}
    return _raw_utf8(json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=_json_default))
