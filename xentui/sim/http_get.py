"""The plain HTTP GET handlers a host's xapi serves next to the RPC paths
(httpd.GET_PATHS): today /rrd_updates (rrdd_proxy.ml get_rrd_updates_forwarder ->
xcp-rrdd's get_rrd_updates_handler; the export itself is in rrd.py)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from xentui.sim import rrd
from xentui.sim.errors import ApiError
from xentui.sim.host_protocol import HostView
from xentui.sim.httpd import HttpAnswer

_UNAUTHORISED = b"<html><body><h1>401 Unauthorised</h1></body></html>"


def serve(proc: HostView, path: str, params: List[Any], transport: str) -> HttpAnswer:
    """`params` = [query pairs, Accept header] (httpd.HostListeners._get)."""
    pairs, accept = (params + [[], ""])[:2]
    query: Dict[str, str] = {}
    vm_uuids: List[str] = []
    for key, value in pairs:
        query.setdefault(key, value)
        if key == "vm_uuid":
            vm_uuids.append(value)
    with proc.world.lock:  # (the dispatcher checked that this xapi is up)
        try:  # Xapi_http.with_context: no or bad session -> 401 (Http.Unauthorised)
            proc.check_session(query.get("session_id", ""), transport, proc.incarnation)
        except ApiError:
            return HttpAnswer(401, "Unauthorised", "text/html", _UNAUTHORISED)
        sources = rrd_sources(proc, query.get("host") == "true", vm_uuids or None)
        now = proc.clock.now()
    # rrdd_http_handler.ml client_prefers_json: a `json` parameter or an Accept header
    want_json = "json" in query or "application/json" in str(accept)
    try:
        ctype, body = rrd.export(sources, query, now, want_json)
    except rrd.RrdError as err:
        return HttpAnswer(
            err.status,
            err.reason,
            "text/html",
            f"<html><body><h1>{err.status} {err.reason}</h1>{err.detail}</body></html>".encode(),
        )
    return HttpAnswer(200, "OK", ctype, body)


def rrd_sources(proc: HostView, with_host: bool, vm_uuids: Optional[List[str]]) -> List[rrd.Source]:
    """This host's RRDs: its own (host=true) and its running domains' (rrdd is local;
    sizes come from the database copy this xapi holds, never a remote one)."""
    db = proc.db if proc.db is not None else proc.local_db
    out: List[rrd.Source] = []
    host_ref = proc.host_ref_in(db) if db is not None else None
    if with_host and db is not None and host_ref is not None:
        metrics = db.get_field("host", host_ref, "metrics")
        total = free = 0
        if db.exists("host_metrics", metrics):
            total = int(db.get_field("host_metrics", metrics, "memory_total"))
            free = int(db.get_field("host_metrics", metrics, "memory_free"))
        out.append(
            rrd.host_source(
                proc.machine.uuid,
                len(db.get_field("host", host_ref, "host_CPUs")),
                [n.device for n in proc.machine.nics],
                total,
                free,
            )
        )
    for uuid in sorted(proc.world.running_domains(proc.name)):
        if uuid == proc.machine.control_domain_uuid or (vm_uuids is not None and uuid not in vm_uuids):
            continue
        vcpus, size, vifs, vbds = 1, 0, [], []
        vm = None
        if db is not None:
            try:
                vm = db.by_uuid("VM", uuid)
            except ApiError:
                vm = None
        if vm is not None:
            vcpus = int(db.get_field("VM", vm, "VCPUs_at_startup")) or 1
            size = int(db.get_field("VM", vm, "memory_dynamic_max"))
            vifs = [str(db.get_field("VIF", v, "device")) for v in db.get_field("VM", vm, "VIFs")]
            vbds = [str(db.get_field("VBD", v, "device")) for v in db.get_field("VM", vm, "VBDs")]
        out.append(rrd.vm_source(uuid, vcpus, size, vifs, vbds))
    return out
