"""GET /rrd_updates: the host's performance archives in rrdtool's xport format.

Sources (xen-api HEAD): xapi's rrdd_proxy.ml `get_rrd_updates_forwarder` (session
checked by Xapi_http.with_context, `start` required: 400 otherwise), xcp-rrdd's
rrdd_http_handler.ml `get_rrd_updates_handler` (query: start, interval, cf,
host=true, vm_uuid=..., sr_uuid=..., json), rrdd_monitor.ml `create_rras`
(step 5 s; AVERAGE only unless use_min_max, which is off by default:
120x1, 120x12, 168x720, 366x17280 steps), rrd.ml `find_best_rras` and
rrd_updates.ml `create_multi` / `xml_of` / `json_of_t`.

Each host serves only its own RRDs (rrdd is local): the host's and those of the
VMs whose domains run there. Values are deterministic functions of the uuid
and the time (the simulator does not model load); memory figures come from the
database.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple
from xml.sax.saxutils import escape

STEP = 5
# (rows, pdp count) per archive, rrdd_shared.ml timescales
TIMESCALES: Tuple[Tuple[int, int], ...] = ((120, 1), (120, 12), (168, 720), (366, 17280))


class RrdError(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass
class Source:
    """One RRD: a legend prefix ("host:<uuid>:") and data sources name -> value(t)."""

    prefix: str
    names: Tuple[str, ...]
    value: Callable[[str, int], float]


def _wave(key: str, t: int, low: float, high: float) -> float:
    digest = hashlib.blake2s(key.encode(), digest_size=4).digest()
    phase = int.from_bytes(digest, "big") / 2**32 * 2 * math.pi
    return low + (high - low) * (0.5 + 0.5 * math.sin(t / 600.0 + phase))


def f_to_s(value: float) -> str:
    """Rrd_utils.f_to_s."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0.0"
    return "%0.15g" % value


def host_source(uuid: str, cpus: int, nics: Sequence[str], memory_total: int, memory_free: int) -> Source:
    names = (
        ["cpu%d" % i for i in range(cpus)]
        + ["cpu_avg", "loadavg", "memory_total_kib", "memory_free_kib", "xapi_memory_usage_kib"]
        + [f"pif_{n}_{d}" for n in nics for d in ("rx", "tx")]
    )

    def value(name: str, t: int) -> float:
        if name == "memory_total_kib":
            return float(memory_total // 1024)
        if name == "memory_free_kib":
            return float(memory_free // 1024)
        if name == "xapi_memory_usage_kib":
            return 180000.0
        if name.startswith("pif_"):
            return round(_wave(uuid + name, t, 1e3, 5e6))
        if name == "loadavg":
            return _wave(uuid + name, t, 0.1, 2.0)
        return _wave(uuid + name, t, 0.01, 0.6)

    return Source(f"host:{uuid}:", tuple(names), value)


def vm_source(uuid: str, vcpus: int, memory: int, vifs: Sequence[str], vbds: Sequence[str]) -> Source:
    names = (
        ["cpu%d" % i for i in range(vcpus)]
        + ["memory", "memory_target", "memory_internal_free"]
        + [f"vif_{d}_{x}" for d in vifs for x in ("rx", "tx")]
        + [f"vbd_{d}_{x}" for d in vbds for x in ("read", "write")]
    )

    def value(name: str, t: int) -> float:
        if name in ("memory", "memory_target"):
            return float(memory)
        if name == "memory_internal_free":
            return float(memory // 1024 // 3)
        if name.startswith(("vif_", "vbd_")):
            return round(_wave(uuid + name, t, 0, 2e6))
        return _wave(uuid + name, t, 0.0, 0.9)

    return Source(f"vm:{uuid}:", tuple(names), value)


def export(sources: List[Source], query: Dict[str, str], now: float, want_json: bool) -> Tuple[str, bytes]:
    """The reply body and its content type."""
    if "start" not in query:
        raise RrdError(400, "Bad Request", "get_rrd_updates: missing the 'start' parameter")
    try:
        start = int(query["start"])
        interval = int(query.get("interval") or 0)
    except ValueError:
        raise RrdError(500, "Internal Server Error", 'Failure("int_of_string")') from None
    cf = (query.get("cf") or "").upper()
    if cf and cf not in ("AVERAGE", "MIN", "MAX", "LAST"):
        cf = ""  # Rrd.cf_type_of_string fails: the handler treats it as no filter
    if not sources or (cf and cf != "AVERAGE"):
        # create_multi: no RRD, or no archive of that consolidation function (use_min_max off)
        raise RrdError(500, "Internal Server Error", "Rrd.No_RRA_Available")
    last_updated = int(now)
    last_pdp = STEP * (last_updated // STEP)
    if start < 0:
        start += last_updated
    pdp_interval = interval // STEP

    def contains(t: int, rows: int, pdp: int) -> bool:
        return pdp >= pdp_interval and t > last_pdp - STEP * rows * pdp

    chosen: Optional[Tuple[int, int]] = next((ts for ts in TIMESCALES if contains(start, *ts)), None)
    if chosen is None:  # find_best_rras: the coarsest archive, from its oldest row
        rows, pdp = TIMESCALES[-1]
        newstart = 1 + last_pdp - STEP * rows * pdp
        chosen = next((ts for ts in TIMESCALES if contains(newstart, *ts)), None)
        if chosen is None:
            raise RrdError(500, "Internal Server Error", "Rrd.No_RRA_Available")
    rows, pdp = chosen
    step = STEP * pdp
    last_cdp = step * (last_updated // step)
    first_cdp = step * (start // step) + step
    legend = [f"AVERAGE:{s.prefix}{n}" for s in sources for n in s.names]
    data: List[Tuple[int, List[float]]] = []
    for i in range(rows):
        t = last_cdp - i * step
        if t < start:
            break
        data.append((t, [s.value(n, t) for s in sources for n in s.names]))
    if want_json:
        doc = {
            "meta": {
                "start": first_cdp,
                "step": step,
                "end": last_cdp,
                "rows": len(data),
                "columns": len(legend),
                "legend": legend,
            },
            "data": [{"t": t, "values": [f_to_s(v) for v in vs]} for t, vs in data],
        }
        return "application/json", json.dumps(doc, separators=(",", ":")).encode()
    parts = [
        "<xport><meta><start>%d</start><step>%d</step><end>%d</end><rows>%d</rows><columns>%d</columns>"
        "<legend>" % (first_cdp, step, last_cdp, len(data), len(legend))
    ]
    parts.extend("<entry>%s</entry>" % escape(e) for e in legend)
    parts.append("</legend></meta><data>")
    for t, vs in data:
        parts.append("<row><t>%d</t>%s</row>" % (t, "".join("<v>%s</v>" % f_to_s(v) for v in vs)))
    parts.append("</data></xport>")
    return "text/xml", "".join(parts).encode()
