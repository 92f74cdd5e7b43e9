"""The simulator's wire encoding: exact XML/JSON shapes, as xapi writes them."""

from __future__ import annotations

import json
import re
import xmlrpc.client
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.sim.sim_core_stack import CoreStack, raw_post, small_pool, xml_call
from xentui.sim.errors import ApiError, WireError
from xentui.sim.wire import (
    I4,
    Reply,
    decode_jsonrpc_request,
    decode_xmlrpc_request,
    encode_jsonrpc_response,
    encode_xml_value,
    encode_xmlrpc_response,
)

HEAD = '<?xml version="1.0"?><methodResponse><params><param>'
TAIL = "</param></params></methodResponse>"


# --- encoding values -------------------------------------------------------------------


def test_strings_are_bare_values_without_string_tags():
    assert encode_xml_value("OpaqueRef:NULL") == "<value>OpaqueRef:NULL</value>"
    assert encode_xml_value("") == "<value></value>"


def test_strings_escape_markup_and_drop_control_characters():
    assert encode_xml_value('a<b>&"c') == "<value>a&lt;b&gt;&amp;&quot;c</value>"
    assert encode_xml_value("x\x00y\x07z\x1f") == "<value>xyz</value>"
    assert encode_xml_value("tab\tnl\ncr\r") == "<value>tab\tnl\ncr\r</value>"
    assert encode_xml_value("caf\u00e9 \u2603") == "<value>caf\u00e9 \u2603</value>"


def test_ints_are_decimal_strings_and_only_i4_is_typed():
    assert encode_xml_value(0) == "<value>0</value>"
    assert encode_xml_value(-1) == "<value>-1</value>"
    assert encode_xml_value(68719476736) == "<value>68719476736</value>"
    assert encode_xml_value(I4(7)) == "<value><i4>7</i4></value>"


def test_bool_double_datetime_void():
    assert encode_xml_value(True) == "<value><boolean>1</boolean></value>"
    assert encode_xml_value(False) == "<value><boolean>0</boolean></value>"
    assert encode_xml_value(0.5) == "<value><double>0.5</double></value>"
    assert encode_xml_value(1326210000.25) == "<value><double>1326210000.25</double></value>"
    assert encode_xml_value(1.0) == "<value><double>1</double></value>"  # %.16g
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert encode_xml_value(epoch) == "<value><dateTime.iso8601>19700101T00:00:00Z</dateTime.iso8601></value>"
    when = datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=timezone.utc)
    assert encode_xml_value(when) == "<value><dateTime.iso8601>20240102T03:04:05Z</dateTime.iso8601></value>"
    assert encode_xml_value(None) == "<value></value>"


def test_sets_and_maps():
    assert encode_xml_value(["a", 1]) == "<value><array><data><value>a</value><value>1</value></data></array></value>"
    assert encode_xml_value([]) == "<value><array><data></data></array></value>"
    assert encode_xml_value({"k": "v", 2: 3}) == (
        "<value><struct><member><name>k</name><value>v</value></member>"
        "<member><name>2</name><value>3</value></member></struct></value>"
    )


def test_success_failure_and_raw_envelopes():
    ok = encode_xmlrpc_response(Reply(value="")).decode()
    assert ok == (
        HEAD + "<value><struct><member><name>Status</name><value>Success</value></member>"
        "<member><name>Value</name><value></value></member></struct></value>" + TAIL
    )
    bad = encode_xmlrpc_response(Reply(error=ApiError("HANDLE_INVALID", "VM", "OpaqueRef:x"))).decode()
    assert bad == (
        HEAD + "<value><struct><member><name>Status</name><value>Failure</value></member>"
        "<member><name>ErrorDescription</name><value><array><data><value>HANDLE_INVALID</value>"
        "<value>VM</value><value>OpaqueRef:x</value></data></array></value></member>"
        "</struct></value>" + TAIL
    )
    assert "<fault>" not in bad
    raw = encode_xmlrpc_response(Reply(value=["a.b"], raw=True)).decode()
    assert raw == HEAD + "<value><array><data><value>a.b</value></data></array></value>" + TAIL


# --- decoding requests -------------------------------------------------------------------


def _call(params_xml: str, name: str = "VM.get_record") -> bytes:
    return (
        f"<?xml version='1.0'?><methodCall><methodName>{name}</methodName><params>{params_xml}</params></methodCall>"
    ).encode()


def test_decode_request_value_types():
    name, params = decode_xmlrpc_request(
        _call(
            "<param><value>bare</value></param>"
            "<param><value><string>typed</string></value></param>"
            "<param><value><int>1</int></value></param>"
            "<param><value><i4>-2</i4></value></param>"
            "<param><value><i8>68719476736</i8></value></param>"
            "<param><value><boolean>1</boolean></value></param>"
            "<param><value><double>2.5</double></value></param>"
            "<param><value><dateTime.iso8601>20240102T03:04:05Z</dateTime.iso8601></value></param>"
            "<param><value><array><data><value>x</value></data></array></value></param>"
            "<param><value><struct><member><name>k</name><value><int>3</int></value></member></struct></value></param>"
            "<param><value><nil/></value></param>"
            "<param><value/></param>"
            "<param><value><string/></value></param>"
            "<param><value>\n  <int>4</int>\n</value></param>"
        )
    )
    assert name == "VM.get_record"
    assert params == [
        "bare",
        "typed",
        1,
        -2,
        68719476736,
        True,
        2.5,
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        ["x"],
        {"k": 3},
        None,
        "",
        "",
        4,
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<methodCall><methodName>x</methodName><params>",  # truncated
        b"<methodResponse/>",  # wrong root
        b"<methodCall><params/></methodCall>",  # no name
        _call("<param><value><int>twelve</int></value></param>"),
        _call("<param><value><bogus>1</bogus></value></param>"),
        _call("<param><notvalue/></param>"),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>&a;</methodName></methodCall>',
    ],
)
def test_decode_rejects_garbage(body):
    with pytest.raises(WireError):
        decode_xmlrpc_request(body)


# --- round trips (hypothesis) -------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0x20, blacklist_characters="\x7f\ufffe\uffff"),
    max_size=20,
)
_times = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=timezone.utc)
)
_scalars = st.one_of(
    _text, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), _times
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=12,
)


def _as_client_sees(value):
    """What a client gets from our reply: int64 arrive as decimal strings."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, float):  # xapi prints %.16g, which may lose the 17th digit
        return float(format(value, ".16g"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y%m%dT%H:%M:%SZ")
    if isinstance(value, list):
        return [_as_client_sees(v) for v in value]
    return {k: _as_client_sees(v) for k, v in value.items()}


@settings(max_examples=150, deadline=None)
@given(_values)
def test_reply_roundtrip_through_python_xmlrpc_client(value):
    body = encode_xmlrpc_response(Reply(value=value))
    (decoded,), _ = xmlrpc.client.loads(body)
    assert decoded["Status"] == "Success"
    got = decoded["Value"]

    # The SDK hands out xmlrpc.client.DateTime; compare its text.
    def norm(v):
        if isinstance(v, xmlrpc.client.DateTime):
            return v.value
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    assert norm(got) == _as_client_sees(value)


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, max_size=4))
def test_request_roundtrip_from_python_xmlrpc_client(params):
    def fits(v):  # xmlrpc.client refuses ints beyond 32 bits
        if isinstance(v, bool):
            return True
        if isinstance(v, int):
            return -(2**31) <= v < 2**31
        if isinstance(v, list):
            return all(fits(x) for x in v)
        if isinstance(v, dict):
            return all(fits(x) for x in v.values())
        return True

    if not fits(params):
        return
    body = xmlrpc.client.dumps(tuple(params), methodname="x.y", allow_none=True).encode()
    name, got = decode_xmlrpc_request(body)
    assert name == "x.y"
    assert got == [v for v in params]


@settings(max_examples=100, deadline=None)
@given(_text)
def test_strings_with_control_characters_lose_only_those(text):
    noisy = "\x01" + text + "\x0b"
    body = encode_xmlrpc_response(Reply(value=noisy))
    (decoded,), _ = xmlrpc.client.loads(body)
    assert decoded["Value"] == text


# --- JSON-RPC ----------------------------------------------------------------------------


def test_jsonrpc_decode_versions_and_errors():
    assert decode_jsonrpc_request(b'{"method":"VM.get_all","params":["s"],"id":1}') == ("VM.get_all", ["s"], 1, "1.0")
    assert decode_jsonrpc_request(b'{"jsonrpc":"2.0","method":"m","id":"a"}') == ("m", [], "a", "2.0")
    assert decode_jsonrpc_request(b'{"jsonrpc":"2.0","method":"m","params":{"k":1},"id":2}') == (
        "m",
        [{"k": 1}],
        2,
        "2.0",
    )
    for bad in (
        b"{",
        b"[]",
        b'{"params":[],"id":1}',
        b'{"method":"m","id":1}',
        b'{"method":"m","params":[]}',
        b'{"jsonrpc":"3.0","method":"m","params":[],"id":1}',
        b'{"method":"m","params":[],"id":1.5}',
        b'{"method":"m","params":"x","id":1}',
    ):
        with pytest.raises(WireError):
            decode_jsonrpc_request(bad)


def test_jsonrpc_encode_v1_and_v2():
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    ok1 = json.loads(encode_jsonrpc_response(Reply(value={"n": 5, "t": when, "c": I4(2)}), 7, "1.0"))
    assert ok1 == {"result": {"n": 5, "t": "20240102T03:04:05Z", "c": 2}, "error": None, "id": 7}
    err = ApiError("HANDLE_INVALID", "VM", "OpaqueRef:x")
    assert json.loads(encode_jsonrpc_response(Reply(error=err), 7, "1.0")) == {
        "result": None,
        "error": ["HANDLE_INVALID", "VM", "OpaqueRef:x"],
        "id": 7,
    }
    assert json.loads(encode_jsonrpc_response(Reply(value=[1]), "x", "2.0")) == {
        "jsonrpc": "2.0",
        "result": [1],
        "id": "x",
    }
    assert json.loads(encode_jsonrpc_response(Reply(error=err), "x", "2.0")) == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]},
        "id": "x",
    }


# --- the wire through the server ----------------------------------------------------------


@pytest.fixture
def stack(tmp_path):
    with CoreStack(tmp_path) as s:
        small_pool(s.db)
        yield s


def _login(stack) -> str:
    return stack.tcp_session()._session


def test_raw_get_record_shape(stack):
    session = _login(stack)
    host = stack.db.refs("host")[0]
    resp = raw_post(stack.listeners.tcp_port, xml_call("host.get_record", session, host))
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/xml"
    body = resp.read().decode()
    assert body.startswith(HEAD + "<value><struct><member><name>Status</name><value>Success</value>")
    assert "<string>" not in body and "<int>" not in body and "<i4>" not in body
    assert "<member><name>API_version_major</name><value>2</value></member>" in body
    assert "<member><name>enabled</name><value><boolean>1</boolean></value></member>" in body
    assert (
        "<member><name>last_software_update</name><value><dateTime.iso8601>19700101T00:00:00Z"
        "</dateTime.iso8601></value></member>"
    ) in body
    assert "<member><name>suspend_image_sr</name><value>OpaqueRef:NULL</value></member>" in body
    assert "<member><name>virtual_hardware_platform_versions</name><value><array><data><value>0</value>" in body


def test_raw_event_from_has_i4_counts_and_token(stack):
    session = _login(stack)
    resp = raw_post(stack.listeners.tcp_port, xml_call("event.from", session, ["host"], "", 1.0))
    body = resp.read().decode()
    assert "<member><name>host</name><value><i4>2</i4></value></member>" in body
    assert "<member><name>vm</name><value><i4>6</i4></value></member>" in body
    assert "<member><name>timestamp</name><value>0.0</value></member>" in body
    (result,), _ = xmlrpc.client.loads(body.encode())
    token = result["Value"]["token"]
    assert re.fullmatch(r"\d{20},0{20}", token)
    assert 0 < int(token.split(",")[0]) <= stack.db.generation


def test_raw_list_methods_is_unwrapped(stack):
    resp = raw_post(stack.listeners.tcp_port, xml_call("system.listMethods"))
    body = resp.read().decode()
    assert body.startswith(HEAD + "<value><array><data><value>")
    assert "Status" not in body
    (names,), _ = xmlrpc.client.loads(body.encode())
    assert "VM.get_record" in names and "event.from" in names


def test_sdk_list_methods(stack):
    names = stack.tcp_session().system.listMethods()
    assert "host.get_all_records" in names and "VM.set_name_label" in names


def test_underscore_method_names(stack):
    session = _login(stack)
    resp = raw_post(stack.listeners.tcp_port, xml_call("VM_get_all", session))
    (result,), _ = xmlrpc.client.loads(resp.read())
    assert result["Status"] == "Success" and len(result["Value"]) == 6
    # The SDK idiom for the Python keyword:
    assert stack.tcp_session().xenapi.event_from(["pool"], "", 0.0)["events"][0]["class"] == "pool"


def test_failures_are_envelopes_not_faults(stack):
    session = _login(stack)
    cases = [
        (xml_call("VM.no_such_call", session), ["MESSAGE_METHOD_UNKNOWN", "VM.no_such_call"]),
        (xml_call("VM.get_record", session), ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "0"]),
        (xml_call("VM.get_record", session, "OpaqueRef:nope"), ["HANDLE_INVALID", "VM", "OpaqueRef:nope"]),
        (xml_call("VM.get_by_uuid", session, "nope"), ["UUID_INVALID", "VM", "nope"]),
        (xml_call("VM.get_all", "OpaqueRef:stale"), ["SESSION_INVALID", "OpaqueRef:stale"]),
        (xml_call("event.from", session, ["vm"], "garbage", 1.0), ["EVENT_FROM_TOKEN_PARSE_FAILURE", "garbage"]),
    ]
    for body, details in cases:
        resp = raw_post(stack.listeners.tcp_port, body)
        assert resp.status == 200
        (result,), _ = xmlrpc.client.loads(resp.read())
        assert result == {"Status": "Failure", "ErrorDescription": details}


def test_int64_params_accept_strings_and_ints(stack):
    session = _login(stack)
    vm = stack.db.refs("VM")[0]
    for sent, stored in (("7", 7), (8, 8)):
        body = _call(
            f"<param><value>{session}</value></param><param><value>{vm}</value></param>"
            + (
                f"<param><value>{sent}</value></param>"
                if isinstance(sent, str)
                else f"<param><value><i8>{sent}</i8></value></param>"
            ),
            name="VM.set_user_version",
        )
        (result,), _ = xmlrpc.client.loads(raw_post(stack.listeners.tcp_port, body).read())
        assert result == {"Status": "Success", "Value": ""}
        assert stack.db.get_field("VM", vm, "user_version") == stored


def test_jsonrpc_endpoint_v1_and_v2(stack):
    session = _login(stack)
    host = stack.db.refs("host")[0]
    port = stack.listeners.tcp_port
    v1 = json.dumps({"method": "host.get_record", "params": [session, host], "id": 1}).encode()
    resp = raw_post(port, v1, path="/jsonrpc", content_type="application/json")
    assert resp.getheader("Content-Type") == "application/json"
    doc = json.loads(resp.read())
    assert doc["error"] is None and doc["id"] == 1
    assert doc["result"]["API_version_major"] == 2  # a JSON number, not a string
    assert doc["result"]["enabled"] is True
    assert doc["result"]["last_software_update"] == "19700101T00:00:00Z"
    v2 = json.dumps(
        {"jsonrpc": "2.0", "method": "VM.get_record", "params": [session, "OpaqueRef:x"], "id": "q"}
    ).encode()
    doc = json.loads(raw_post(port, v2, path="/jsonrpc").read())
    assert doc == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HANDLE_INVALID", "data": ["VM", "OpaqueRef:x"]},
        "id": "q",
    }
    v1_err = json.dumps({"method": "VM.get_all", "params": ["OpaqueRef:bad"], "id": 3}).encode()
    assert json.loads(raw_post(port, v1_err, path="/jsonrpc").read()) == {
        "result": None,
        "error": ["SESSION_INVALID", "OpaqueRef:bad"],
        "id": 3,
    }
    resp = raw_post(port, b'{"method": "VM.get_all"', path="/jsonrpc")
    assert resp.status == 500
