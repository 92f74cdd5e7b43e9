"""xapi's JSON-RPC (`POST /jsonrpc`) for the big reads.

A full-pool `event.from` reply is megabytes. As XML-RPC, `xmlrpc.client`
parses it in pure Python with an object per element; as JSON, the C decoder
of the standard library does it several times faster and in less memory, and
an `object_hook` lets the caller turn each record into its compact form as
soon as it is decoded (see `xentui.xapi.model.lean_event_hook`), so the full
tree of dicts never exists at once. Xen Orchestra's client prefers JSON-RPC
for the same reason.

The request and reply follow xapi's api_server.ml / ocaml-rpc (JSON-RPC 2.0):

    {"jsonrpc": "2.0", "method": "event.from", "params": [session, ...], "id": 1}
    {"jsonrpc": "2.0", "result": ..., "id": 1}
    {"jsonrpc": "2.0", "error": {"code": -32000, "message": CODE, "data": [params]}, "id": 1}
    {"jsonrpc": "2.0", "error": [CODE, params...], "id": 0}       (dispatch failures)

Transport: one fresh stream per call through `bounded_http_request`, i.e.
the connection layer's own deadline for the whole reply and its size cap.
A xapi that does not serve /jsonrpc (HTTP 404/405/501, or an XML answer)
raises `JsonRpcUnavailable`; the client then stays with XML-RPC.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Dict, Optional, Sequence

from xentui.xapi.endpoint import HttpStatusError, bounded_http_request
from xentui.xapi.errors import MalformedReply, XapiError, XapiFailure
from xentui.xapi.safe_text import one_line

JSONRPC_PATH = "/jsonrpc"
# HTTP statuses by which a server says it has no /jsonrpc handler.
_UNSERVED = frozenset({404, 405, 501})

_ids = itertools.count(1)


class JsonRpcUnavailable(XapiError):
    """This xapi does not offer JSON-RPC (use XML-RPC)."""


def encode_call(method: str, params: Sequence[Any], request_id: int) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "method": method, "params": list(params), "id": request_id}, separators=(",", ":")
    ).encode("utf-8")


def decode_reply(
    body: bytes, method: str, where: str = "", object_hook: Optional[Callable[[Dict[str, Any]], Any]] = None
) -> Any:
    """The `result` of a JSON-RPC reply; XapiFailure for a xapi error,
    JsonRpcUnavailable for an XML answer, MalformedReply for anything else."""
    if body[:64].lstrip()[:1] == b"<":  # XML or HTML: this server has no JSON-RPC
        raise JsonRpcUnavailable(f"{where or 'xapi'}: /jsonrpc answered XML")
    try:
        doc = json.loads(body, object_hook=object_hook)
    except (ValueError, RecursionError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # ... or whatever a hook raises on a record of the wrong shape
        raise MalformedReply(
            f"{where or 'xapi'}: unreadable JSON-RPC reply to {method}: {one_line(exc, 120)}"
        ) from None
    if not isinstance(doc, dict):
        raise MalformedReply(f"{where or 'xapi'}: JSON-RPC reply to {method} is not an object")
    error = doc.get("error")
    if error is not None:
        raise XapiFailure(_error_details(error, method, where))
    if "result" not in doc:
        raise MalformedReply(f"{where or 'xapi'}: JSON-RPC reply to {method} has neither result nor error")
    return doc["result"]


def _error_details(error: Any, method: str, where: str) -> Sequence[str]:
    if isinstance(error, dict):
        data = error.get("data")
        params = data if isinstance(data, list) else ([] if data is None else [data])
        return [str(error.get("message", "INTERNAL_ERROR"))] + [str(p) for p in params]
    if isinstance(error, list) and error:
        return [str(e) for e in error]
    raise MalformedReply(f"{where or 'xapi'}: JSON-RPC error for {method} is not readable")


def call(
    endpoint: Any,
    method: str,
    params: Sequence[Any],
    *,
    timeout: float,
    object_hook: Optional[Callable[[Dict[str, Any]], Any]] = None,
) -> Any:
    """One JSON-RPC call on a fresh stream, under one deadline for the whole
    reply. Raises JsonRpcUnavailable, XapiFailure, and the transport's
    exceptions (CallTimeout, ConnectionRefused, ConnectionLost, ...)."""
    body = encode_call(method, params, next(_ids))
    try:
        reply = bounded_http_request(
            endpoint, JSONRPC_PATH, body, call_timeout=timeout, what=method, content_type="application/json"
        )
    except HttpStatusError as exc:
        if exc.status in _UNSERVED:
            raise JsonRpcUnavailable(str(exc)) from None
        raise
    return decode_reply(reply, method, getattr(endpoint, "description", ""), object_hook)
