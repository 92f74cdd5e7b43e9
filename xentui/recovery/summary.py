"""Plain-text and JSON renderings of findings and ground truth for the CLI.

Shared by `xentui status` and `xentui recover --plan`, so a finding reads
the same everywhere. Everything fits 80 columns.
"""

from __future__ import annotations

import textwrap
import time
from typing import Any, Dict, List, Optional, Sequence

from xentui.host.facts import GroundTruth, age_text
from xentui.recovery.findings import Finding, Severity
from xentui.recovery.peers import PeerView


def _wrap(text: str, indent: str) -> List[str]:
    return textwrap.wrap(text, width=78, initial_indent=indent, subsequent_indent=indent) or [indent]


def render_findings(findings: Sequence[Finding], *, verbose: bool = True) -> str:
    lines = ["Findings:"]
    if not findings:
        lines.append("  (none)")
    for f in findings:
        head = f"  {f.severity.label.upper():8} {f.code.value:19} "
        lines.extend(
            textwrap.wrap(f.summary, width=78, initial_indent=head, subsequent_indent=" " * len(head)) or [head]
        )
        if verbose and f.severity >= Severity.WARNING:
            lines.extend(_wrap(f.explanation, " " * 11))
            for e in f.evidence:
                lines.extend(_wrap("seen: " + e, " " * 11))
    return "\n".join(lines) + "\n"


def render_ground_truth(gt: Optional[GroundTruth], peers: Sequence[PeerView] = (), now: Optional[float] = None) -> str:
    now = time.time() if now is None else now
    if gt is None:
        return "Host files: not available over this connection\n"
    lines = ["This host without xapi:"]
    role = gt.pool_role
    if role.ok and role.value is not None:  # ok implies a value; said for the type checker
        text = role.value.role + (f" of {role.value.master_address}" if role.value.master_address else "")
        lines.append(f"  pool.conf:        {text}")
    else:
        lines.append(f"  pool.conf:        unreadable ({role.error})")
    link = gt.management_link
    if link.ok and link.value is not None:
        addrs = ", ".join(f"{a.address}/{a.prefixlen}" for a in link.value.ipv4) or "NO IPv4 ADDRESS"
        lines.append(f"  management:       {link.value.ifname} {link.value.operstate} {addrs}")
    else:
        lines.append(f"  management:       unknown ({link.error})")
    running = gt.xapi_running
    if running.ok:
        lines.append("  xapi process:     " + ("running" if running.value else "NOT running"))
    else:
        lines.append(f"  xapi process:     unknown ({running.error})")
    db = gt.state_db
    if db.ok:
        lines.append(f"  state.db:         {age_text(db.age(now))}")
    else:
        lines.append(f"  state.db:         unreadable ({db.error})")
    views = {v.host_name: v for v in peers}
    if gt.peers:
        lines.append("  other hosts:")
    for p in gt.peers:
        v = views.get(p.host_name)
        said = ""
        if v is not None and v.answers:
            said = (
                f", xapi says {v.role}"
                + (f" of {v.master_address}" if v.master_address else "")
                + (f" ({v.reason_code})" if v.reason_code else "")
            )
        elif v is not None and v.reach == "hung":
            said = ", xapi accepts but never answers (hung)"
        line = f"    {p.host_name:<16} {p.address:<16} port {p.port}: {p.outcome}"
        if said and len(line + said) > 78:
            lines.append(line + ",")
            lines.extend(_wrap(said.lstrip(", "), " " * 6))
        else:
            lines.append(line + said)
    return "\n".join(lines) + "\n"


def ground_truth_json(
    gt: Optional[GroundTruth], peers: Sequence[PeerView] = (), now: Optional[float] = None
) -> Optional[Dict[str, Any]]:
    if gt is None:
        return None
    now = time.time() if now is None else now
    role = gt.pool_role.value if gt.pool_role.ok else None
    link = gt.management_link.value if gt.management_link.ok else None
    return {
        "pool_conf": {"role": role.role, "master_address": role.master_address} if role else None,
        "management": (
            {"interface": link.ifname, "state": link.operstate, "mac": link.mac, "ipv4": [a.address for a in link.ipv4]}
            if link
            else None
        ),
        "xapi_running": gt.xapi_running.value if gt.xapi_running.ok else None,
        "state_db_age_seconds": round(gt.state_db.age(now), 1) if gt.state_db.ok else None,
        "probes": [
            {
                "host": p.host_name,
                "address": p.address,
                "port": p.port,
                "outcome": p.outcome,
                "seconds": round(p.seconds, 3),
            }
            for p in gt.peers
        ],
        "peers": [v.to_json() for v in peers],
    }
