"""What `xentui status` shows, and how: the view of one observation (`StatusView`,
`view_from_observation`), its text (`render_status`) and its JSON (`status_json`),
and the exit code of its findings (`exit_code_for`).

Kept apart from the command (`xentui.commands.status`) so that the command can
start its xapi work before this module and the recovery layer are imported.
The rendering works on any object with the attributes of `StatusView` /
`recovery.observation.Observation` (`connection`, `snapshot`, `emergency`, ...),
so the recovery layer can extend the command with ground truth and findings.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from xentui.host.facts import GroundTruth, age_text
from xentui.recovery.findings import Finding, Severity
from xentui.recovery.observation import EmergencyState, Observation
from xentui.xapi.client import XapiClient
from xentui.xapi.error_table import Explanation, explain
from xentui.xapi.errors import XapiError
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.safe_text import printable as _p
from xentui.xapi.session_info import ConnectionInfo, SessionKind
from xentui.xapi.targets import Target

# The exit codes of the findings; the command adds its own (usage, no connection).
EXIT_OK = 0
EXIT_DEGRADED = 1
EXIT_CRITICAL = 2


@dataclass(frozen=True)
class StatusView:
    """What `render_status` shows. Attribute-compatible with Observation."""

    at: float
    connection: ConnectionInfo
    snapshot: Optional[PoolSnapshot] = None
    snapshot_source: str = ""
    snapshot_error: Optional[Explanation] = None  # why the pool could not be listed
    emergency: Optional[EmergencyState] = None
    this_host_ref: str = ""
    this_host_name: str = ""
    findings: Tuple[Finding, ...] = ()
    ground_truth: Optional[GroundTruth] = None
    # The pool as this host's state.db had it, when xapi could not list it.
    fallback_snapshot: Optional[PoolSnapshot] = None
    fallback_source: str = ""

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)


def exit_code_for(view: Any) -> int:
    """0 healthy, 1 degraded (worst = warning), 2 critical."""
    worst = max((f.severity for f in getattr(view, "findings", ())), default=Severity.OK)
    if worst >= Severity.CRITICAL:
        return EXIT_CRITICAL
    if worst >= Severity.WARNING:
        return EXIT_DEGRADED
    return EXIT_OK


# --- gathering ------------------------------------------------------------------


def _find_this_host(client: XapiClient, snapshot: PoolSnapshot, endpoint: Any, target: Target) -> str:
    """This host's ref: ask xapi (normal sessions), else match the address."""
    if client.session_kind in (SessionKind.PASSWORD, SessionKind.LOCAL_ROOT):
        try:
            ref = str(client.call("session.get_this_host", client.session_ref))
            if ref in snapshot.hosts:
                return ref
        except XapiError:
            pass
    address = getattr(endpoint, "address", "") or ""
    for ref, host in snapshot.hosts.items():
        if address and host.address == address:
            return ref
        if target.sim_host and host.name_label == target.sim_host:
            return ref
    return ""


def _unlisted_error(obs: Observation, call_timeout: float) -> Explanation:
    """Why xapi could not list the pool, for an observation without a live snapshot."""
    conn = obs.connection
    emergency = obs.emergency
    if emergency is not None and emergency.in_emergency:
        code = emergency.reason_code or "HOST_STILL_BOOTING"
        exp = explain(code, emergency.reason_params, in_emergency=True)
        return Explanation(
            title="xapi is in emergency mode",
            meaning=f"This host answers only emergency calls, so xapi cannot list the pool. Reason: "
            f"{exp.title} ({code}). {exp.meaning}",
            next_step=exp.next_step,
            code=code,
        )
    if conn.session_kind is not SessionKind.NONE and ("hang" in conn.detail or "timed" in conn.state):
        return Explanation(
            title="The pool could not be listed: timed out",
            meaning=f"xapi on this host answers, but pool-wide calls got no answer within {call_timeout:g} s: "
            "the pool database lives on the master, and the master does not answer (hung, or unreachable "
            "without this host noticing yet).",
            next_step="Check whether the master is alive. If it is really dead, fence it and promote "
            "this host with 'emergency transition to master'.",
            code="timeout",
        )
    if conn.session_kind is SessionKind.NONE:
        return Explanation(
            title="The pool could not be listed: no xapi session",
            meaning=conn.detail or f"xapi did not answer ({conn.state}).",
            next_step="See the findings below.",
            code=conn.state or "no-session",
        )
    return Explanation(
        title="The pool could not be listed",
        meaning=conn.detail or "event.from failed.",
        next_step="See the findings below.",
        code="event-from-failed",
    )


def _this_ref_in(snapshot: PoolSnapshot, obs: Observation, client: Any, endpoint: Any, target: Target) -> str:
    uuid = obs.connection.this_host_uuid
    host = snapshot.host_by_uuid(uuid) if uuid else None
    if host is not None:
        return host.ref
    if obs.this_host_name:
        host = snapshot.host_by_name(obs.this_host_name)
        if host is not None:
            return host.ref
    if client is not None:
        return _find_this_host(client, snapshot, endpoint, target)
    return ""


def view_from_observation(
    obs: Observation, *, call_timeout: float, client: Any = None, endpoint: Any = None, target: Optional[Target] = None
) -> StatusView:
    """What `render_status` / `status_json` show, from one Observer observation."""
    live = obs.snapshot is not None and obs.snapshot_source.startswith("xapi")
    snapshot = obs.snapshot if live else None
    this_ref = ""
    if snapshot is not None and target is not None:
        this_ref = _this_ref_in(snapshot, obs, client, endpoint, target)
    this_name = obs.this_host_name
    if snapshot is not None and this_ref in snapshot.hosts:
        this_name = snapshot.hosts[this_ref].name_label
    return StatusView(
        at=obs.at,
        connection=obs.connection,
        snapshot=snapshot,
        snapshot_source=obs.snapshot_source if live else "",
        snapshot_error=None if live else _unlisted_error(obs, call_timeout),
        emergency=obs.emergency,
        this_host_ref=this_ref,
        this_host_name=this_name,
        findings=tuple(obs.findings),
        ground_truth=obs.ground_truth,
        fallback_snapshot=None if live else obs.snapshot,
        fallback_source="" if live else obs.snapshot_source,
    )


# --- rendering ------------------------------------------------------------------


def _wrap(text: str) -> List[str]:
    return textwrap.wrap(text, width=78, initial_indent="  ", subsequent_indent="  ") or [""]


def _yes_no(value: Optional[bool]) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _host_role(snapshot: PoolSnapshot, ref: str) -> str:
    pool = snapshot.pool
    return "master" if pool is not None and pool.master == ref else "member"


def _host_rows(snapshot: PoolSnapshot) -> List[Dict[str, Any]]:
    counts = snapshot.vm_count_by_host()
    rows = []
    hosts = sorted(
        snapshot.hosts.items(), key=lambda item: (_host_role(snapshot, item[0]) != "master", item[1].name_label)
    )
    for ref, host in hosts:
        rows.append(
            {
                "ref": ref,
                "uuid": host.uuid,
                "name": host.name_label,
                "role": _host_role(snapshot, ref),
                "address": host.address,
                "live": host.live,
                "enabled": host.enabled,
                "xapi_version": host.xapi_version,
                "product_version": host.product_version,
                "resident_vms": counts.get(ref, 0),
            }
        )
    return rows


def session_limits(view: Any) -> Tuple[str, ...]:
    """What the session cannot do, minus what does not apply here: the
    "on a slave ..." note is noise (and a contradiction) while xapi itself
    says this host is the master."""
    connection: ConnectionInfo = view.connection
    limits = tuple(connection.limits or connection.session_kind.limits)
    snapshot: Optional[PoolSnapshot] = getattr(view, "snapshot", None)
    this_ref = _this_host_ref(view)
    if snapshot is not None and snapshot.pool is not None and this_ref and snapshot.pool.master == this_ref:
        limits = tuple(limit for limit in limits if not limit.startswith("on a slave"))
    return limits


def _this_host_ref(view: Any) -> str:
    ref = getattr(view, "this_host_ref", "") or ""
    snapshot = getattr(view, "snapshot", None)
    if not ref and snapshot is not None:
        name = getattr(view, "this_host_name", "")
        host = snapshot.host_by_name(name) if name else None
        ref = host.ref if host is not None else ""
    return ref


def status_json(view: Any) -> Dict[str, Any]:
    """One JSON object: connection, pool, this_host, hosts (+ emergency, snapshot_error)."""
    connection: ConnectionInfo = view.connection
    snapshot: Optional[PoolSnapshot] = getattr(view, "snapshot", None)
    emergency: Optional[EmergencyState] = getattr(view, "emergency", None)
    snapshot_error: Optional[Explanation] = getattr(view, "snapshot_error", None)
    pool_json = None
    hosts_json: List[Dict[str, Any]] = []
    this_ref = _this_host_ref(view)
    this_json: Dict[str, Any] = {"name": getattr(view, "this_host_name", "") or "", "ref": this_ref}
    if snapshot is not None:
        pool = snapshot.pool
        master = snapshot.master
        if pool is not None:
            pool_json = {
                "uuid": pool.uuid,
                "name": pool.name_label,
                "master": master.name_label if master else "",
                "master_ref": pool.master,
                "master_address": master.address if master else "",
                "ha_enabled": pool.ha_enabled,
            }
        hosts_json = _host_rows(snapshot)
        for row in hosts_json:
            if row["ref"] == this_ref:
                this_json = dict(row)
    if emergency is not None:
        this_json["in_emergency"] = emergency.in_emergency
        this_json["emergency_since"] = (
            {"at": emergency.since, "source": emergency.since_source} if emergency.since is not None else None
        )
        this_json["emergency_reason"] = (
            {
                "code": emergency.reason_code,
                "params": list(emergency.reason_params),
                "title": explain(emergency.reason_code, emergency.reason_params, in_emergency=True).title,
            }
            if emergency.reason_code
            else None
        )
    findings = tuple(getattr(view, "findings", ()) or ())
    result: Dict[str, Any] = {
        "findings": [
            {
                "code": f.code.value,
                "severity": f.severity.label,
                "host": f.host,
                "summary": f.summary,
                "evidence": list(f.evidence),
            }
            for f in findings
        ],
        "worst": max((f.severity for f in findings), default=Severity.OK).label,
        "host_files": _host_files_json(view),
        "connection": dict(connection.to_json(), limits=list(session_limits(view))),
        "pool": pool_json,
        "this_host": this_json,
        "hosts": hosts_json,
        "snapshot_source": getattr(view, "snapshot_source", "") or "",
        "snapshot_error": (
            {
                "code": snapshot_error.code,
                "title": snapshot_error.title,
                "meaning": snapshot_error.meaning,
                "next_step": snapshot_error.next_step,
            }
            if snapshot_error is not None
            else None
        ),
    }
    return result


def render_status(view: Any) -> str:
    """The human-readable status (plain text, fits 80 columns where possible)."""
    connection: ConnectionInfo = view.connection
    snapshot: Optional[PoolSnapshot] = getattr(view, "snapshot", None)
    emergency: Optional[EmergencyState] = getattr(view, "emergency", None)
    snapshot_error: Optional[Explanation] = getattr(view, "snapshot_error", None)
    lines: List[str] = []
    lines.append(f"Connected via: {_p(connection.label)} ({connection.transport})")
    lines.append(f"Session:       {connection.session_kind.value} ({connection.state})")
    if connection.master_address:
        lines.append(f"Master (from xapi): {_p(connection.master_address)}")
    for limit in session_limits(view):
        lines.append(f"  note: {limit}")

    this_ref = _this_host_ref(view)
    this_name = getattr(view, "this_host_name", "") or ""
    if emergency is not None and emergency.in_emergency:
        exp = explain(emergency.reason_code or "HOST_STILL_BOOTING", emergency.reason_params, in_emergency=True)
        lines.append(
            f"This host:     {_p(this_name or '?')} is in EMERGENCY MODE: {_p(exp.title)}"
            + (f" ({_p(emergency.reason_code)})" if emergency.reason_code else "")
        )
        if emergency.since is not None:
            age = max(0.0, (getattr(view, "at", 0.0) or time.time()) - emergency.since)
            lines.append(
                f"               xapi (re)started into emergency mode at {_stamp(emergency.since)} "
                f"({age_text(age).replace(' old', ' ago')}; mtime of its pid file)"
            )
    lines.append("")

    if snapshot is None or snapshot.pool is None:
        if emergency is not None and emergency.in_emergency is False and this_name:
            lines.insert(len(lines) - 1, f"This host:     {_p(this_name)} (not in emergency mode)")
        if snapshot_error is not None:
            lines.append(_p(snapshot_error.title))
            lines.extend(_wrap(_p(snapshot_error.meaning)))
            lines.extend(_wrap("Next step: " + _p(snapshot_error.next_step)))
        else:
            lines.append("The pool could not be listed.")
        lines.extend(_host_files_lines(view))
        lines.extend(_findings_lines(view))
        return "\n".join(lines) + "\n"

    pool = snapshot.pool
    master = snapshot.master
    master_text = _p(f"{master.name_label} ({master.address})" if master else pool.master)
    lines.append(
        f"Pool:          {_p(pool.name_label or pool.uuid)}   master: {master_text}"
        + ("   HA: on" if pool.ha_enabled else "")
    )
    if this_ref and this_ref in snapshot.hosts:
        host = snapshot.hosts[this_ref]
        lines.append(f"This host:     {_p(host.name_label)} ({_host_role(snapshot, this_ref)}, {_p(host.address)})")
    elif this_name and not (emergency is not None and emergency.in_emergency):
        lines.append(f"This host:     {_p(this_name)}")
    lines.append("")
    header = f"  {'HOST':<16} {'ROLE':<7} {'ADDRESS':<16} {'LIVE':<5} {'ENABLED':<8} {'XAPI':<10} {'VMS':>4}"
    lines.append(header)
    for row in _host_rows(snapshot):
        mark = "*" if row["ref"] == this_ref else " "
        lines.append(
            f"{mark} {_p(row['name'])[:16]:<16} {row['role']:<7} {_p(row['address'])[:16]:<16} "
            f"{_yes_no(row['live']):<5} {_yes_no(row['enabled']):<8} {_p(row['xapi_version'])[:10]:<10} "
            f"{row['resident_vms']:>4}"
        )
    if this_ref:
        lines.append("  (* = this host)")
    lines.extend(_liveness_disagreements(view, snapshot))
    lines.extend(_findings_lines(view))
    return "\n".join(lines) + "\n"


def _liveness_disagreements(view: Any, snapshot: PoolSnapshot) -> List[str]:
    """LIVE is xapi's host_metrics.live, which lags (a powered-off old master
    stays "live" in the new master's database until the liveness timeout):
    where a fresh probe disagrees, say which source says what."""
    gt: Optional[GroundTruth] = getattr(view, "ground_truth", None)
    if gt is None:
        return []
    probes = {p.address: p for p in gt.peers}
    out = []
    for row in _host_rows(snapshot):
        probe = probes.get(row["address"])
        if row["live"] and probe is not None and not probe.answers:
            out.append(
                f"  note: LIVE is what xapi's record says; {_p(row['name'])}'s xapi port "
                f"{probe.outcome} to a tcp probe just now"
            )
    return out


def _stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _fact_label(fact: Any, now: float) -> str:
    return f"{_p(fact.source)}, as of {_stamp(fact.observed_at)}, {age_text(max(0.0, now - fact.observed_at))}"


def _host_files_json(view: Any) -> Optional[Dict[str, Any]]:
    """What the host's own files say (None when they could not be read, e.g. an http target)."""
    gt: Optional[GroundTruth] = getattr(view, "ground_truth", None)
    if gt is None:
        return None
    now = getattr(view, "at", 0.0) or time.time()

    def fact_json(fact: Any, value: Any) -> Dict[str, Any]:
        return {
            "source": fact.source,
            "as_of": fact.observed_at,
            "age_s": round(max(0.0, now - fact.observed_at), 1),
            "error": fact.error or None,
            "value": value if fact.ok else None,
        }

    role = gt.pool_role.value if gt.pool_role.ok else None
    inv = gt.inventory.value if gt.inventory.ok else None
    link = gt.management_link.value if gt.management_link.ok else None
    fallback: Optional[PoolSnapshot] = getattr(view, "fallback_snapshot", None)
    hosts = _host_rows(fallback) if fallback is not None else []
    for row in hosts:
        row.pop("live", None)  # state.db's host_metrics.live is as stale as the file: not shown
    return {
        "pool_conf": fact_json(
            gt.pool_role, {"role": role.role, "master_address": role.master_address} if role else None
        ),
        "management_interface": fact_json(
            gt.management_link,
            {
                "interface": link.ifname,
                "operstate": link.operstate,
                "carrier": link.carrier,
                "ipv4": [f"{a.address}/{a.prefixlen}" for a in link.ipv4],
            }
            if link
            else None,
        ),
        "inventory_management_interface": inv.management_interface if inv else None,
        "state_db": fact_json(gt.state_db, {"hosts": hosts} if gt.state_db.ok else None),
        "xapi_running": fact_json(gt.xapi_running, gt.xapi_running.value),
        "pool_shown_from": getattr(view, "fallback_source", "") or None,
    }


def _host_files_lines(view: Any) -> List[str]:
    """The host's own files, when xapi could not list the pool."""
    gt: Optional[GroundTruth] = getattr(view, "ground_truth", None)
    if gt is None:
        return []
    now = getattr(view, "at", 0.0) or time.time()
    lines = ["", "What this host's own files say:"]
    role = gt.pool_role.value if gt.pool_role.ok else None  # Fact.ok: the value is there
    if role is not None:
        text = role.role + (f", master at {_p(role.master_address)}" if role.master_address else "")
        lines.append(f"  Role:       {text}   ({_fact_label(gt.pool_role, now)})")
    else:
        lines.append(f"  Role:       unknown ({_p(gt.pool_role.source)}: {_p(gt.pool_role.error)})")
    link = gt.management_link.value if gt.management_link.ok else None
    if link is not None:
        addrs = ", ".join(f"{a.address}/{a.prefixlen}" for a in link.ipv4) or "NO IPv4 ADDRESS"
        lines.append(_p(f"  Management: {link.ifname} {addrs}, link {link.operstate}   ({gt.management_link.source})"))
    else:
        inventory = gt.inventory.value if gt.inventory.ok else None
        iface = inventory.management_interface if inventory is not None else ""
        lines.append(
            _p(f"  Management: {iface or '?'} unknown ({gt.management_link.source}: {gt.management_link.error})")
        )
    fallback: Optional[PoolSnapshot] = getattr(view, "fallback_snapshot", None)
    if gt.state_db.ok and fallback is not None:
        lines.append(f"  Hosts ({_fact_label(gt.state_db, now)}):")
        this_name = getattr(view, "this_host_name", "") or ""
        for row in _host_rows(fallback):
            mark = "*" if row["name"] == this_name else " "
            lines.append(
                f"  {mark} {_p(row['name'])[:16]:<16} {row['role']:<7} {_p(row['address'])[:16]:<16} "
                f"{_p(row['xapi_version'])[:10]:<10} {row['resident_vms']:>4} VMs"
            )
    elif not gt.state_db.ok:
        lines.append(f"  Hosts:      unknown ({_p(gt.state_db.source)}: {_p(gt.state_db.error)})")
    return lines


def _findings_lines(view: Any) -> List[str]:
    findings = sorted(getattr(view, "findings", ()) or (), key=lambda f: -int(f.severity))
    if not findings:
        return []
    worst = findings[0].severity
    lines = ["", f"Findings (worst: {worst.label}):"]
    for f in findings:
        where = f" [{_p(f.host)}]" if f.host else ""
        lines.append(f"  {f.severity.label.upper():<8} {f.code.value}{where}: {_p(f.summary)}")
        for item in f.evidence:
            lines.extend(textwrap.wrap(_p(item), width=78, initial_indent="      - ", subsequent_indent="        "))
    return lines


# --- the command ------------------------------------------------------------------
