"""What the screens show, computed from one Observation (no Textual here).

Every screen renders these plain values; all the judgement (which host is
this one, is the master answering, where does the management IP come from
and how old is it) lives here, where it is unit-tested without a terminal.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Tuple, TypeVar

from xentui.host.facts import Fact, GroundTruth, PeerProbe
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.observation import Observation
from xentui.xapi.error_table import stunnel_verify_reason
from xentui.xapi.model import PIF, Host, PoolSnapshot

if TYPE_CHECKING:
    from xentui.recovery.audit import AuditRecord
    from xentui.recovery.peers import PeerView

# xapi's stored emergency errors (xapi-semantics.md §1.2) in plain words.
REASON_WORDS: Dict[str, str] = {
    "HOST_STILL_BOOTING": "xapi is still starting and has not reached its master yet",
    "HOST_HAS_NO_MANAGEMENT_IP": "this host has no management IP address, so it cannot reach its master",
    "HOST_ITS_OWN_SLAVE": "pool.conf points this host at itself as master",
    "HOST_MASTER_CANNOT_TALK_BACK": "the master answers but cannot connect back to this host",
    "HOST_UNKNOWN_TO_MASTER": "the master does not know this host (or rejects the pool secret)",
    "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR": "this host's xapi is newer than the master's",
    "INTERNAL_ERROR": "the master could not be reached",
    "HOST_BROKEN": "pool.conf says 'broken': a master change failed half way",
    "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED": "HA is on for the pool but disarmed on this host",
    "HA_HOST_CANNOT_ACCESS_STATEFILE": "HA is armed and this host cannot reach the HA statefile",
    "HA_HEARTBEAT_DAEMON_STARTUP_FAILED": "the HA heartbeat daemon failed to start",
    "CANNOT_CONTACT_HOST": "the master could not be contacted",
    "HOST_IS_SLAVE": "this host is a pool member; the master must be asked",
}

R = TypeVar("R")


def per_observation(fn: Callable[[Observation], R]) -> Callable[[Observation], R]:
    """Remember the result for the last Observation (by identity). Screens ask
    for the same rows many times per observation (every keypress re-renders
    the context pane); with 2,000 VMs recomputing them each time is visible."""
    slot: Dict[str, Tuple[Observation, R]] = {}

    @functools.wraps(fn)
    def wrapper(obs: Observation) -> R:
        cached = slot.get("last")
        if cached is not None and cached[0] is obs:
            return cached[1]
        result = fn(obs)
        slot["last"] = (obs, result)
        return result

    return wrapper


LIVE_SOURCE_PREFIX = "xapi"
DEAD_STATES = ("down", "no answer", "refused", "unreachable", "hung")


def reason_in_words(code: str, params: Tuple[str, ...] = ()) -> str:
    if not code:
        return ""
    words = REASON_WORDS.get(code, code.replace("_", " ").lower())
    tls_reason = stunnel_verify_reason(params) if code == "INTERNAL_ERROR" else ""
    if tls_reason:
        return f"certificate verification failed (TLS): stunnel says {tls_reason!r}"
    if code == "INTERNAL_ERROR" and params:
        return f"{words} ({params[0]})"
    return words


def format_age(seconds: Optional[float]) -> str:
    """'just now', '45 s', '4 min', '3 h 5 min', '2 d' — stable, no ticking seconds past a minute."""
    if seconds is None:
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d"


def ago(seconds: Optional[float]) -> str:
    text = format_age(seconds)
    return text if text in ("just now", "?") else text + " ago"


def format_clock(ts: Optional[float]) -> str:
    if not ts:
        return "?"
    return time.strftime("%H:%M", time.localtime(ts))


# --- identity ------------------------------------------------------------------


def snapshot_is_live(obs: Observation) -> bool:
    return obs.snapshot is not None and obs.snapshot_source.startswith(LIVE_SOURCE_PREFIX)


@per_observation
def this_host(obs: Observation) -> Optional[Host]:
    snap = obs.snapshot
    if snap is None:
        return None
    if obs.connection.this_host_uuid:
        host = snap.host_by_uuid(obs.connection.this_host_uuid)
        if host is not None:
            return host
    gt = obs.ground_truth
    inventory = gt.inventory.value if gt is not None and gt.inventory.ok else None
    if inventory is not None:
        host = snap.host_by_uuid(inventory.installation_uuid)
        if host is not None:
            return host
    if obs.this_host_name:
        return snap.host_by_name(obs.this_host_name)
    return None


def this_host_name(obs: Observation) -> str:
    host = this_host(obs)
    return obs.this_host_name or (host.name_label if host else "") or "this host"


def pool_role(obs: Observation) -> Tuple[str, str]:
    """(role, master address) of this host, from pool.conf when we have it."""
    gt = obs.ground_truth
    role = gt.pool_role.value if gt is not None and gt.pool_role.ok else None
    if role is not None:
        return role.role, role.master_address
    snap = obs.snapshot
    host = this_host(obs)
    if snap is not None and host is not None and snap.pool is not None:
        if snap.pool.master == host.ref:
            return "master", ""
        master = snap.master
        return "slave", master.address if master else obs.connection.master_address
    if obs.connection.master_address:
        return "slave", obs.connection.master_address
    return "unknown", ""


def role_word(role: str) -> str:
    return {"master": "master", "slave": "member", "broken": "BROKEN"}.get(role, "role ?")


def pool_name(obs: Observation) -> str:
    snap = obs.snapshot
    if snap is not None and snap.pool is not None:
        return snap.pool.name_label or "(unnamed pool)"
    return "pool ?"


# --- top bar -----------------------------------------------------------------------


@dataclass(frozen=True)
class TopBar:
    product: str
    pool: str
    host: str
    role: str
    clock: str
    marker: str  # "local" | "ssh root@host" | "DEMO"
    read_only: bool
    demo: bool


def top_bar(obs: Observation, now: float, *, read_only: bool = False, demo: bool = False) -> TopBar:
    role, _ = pool_role(obs)
    marker = "DEMO" if (demo or obs.connection.demo) else (obs.connection.label or obs.connection.transport)
    return TopBar(
        product="xentui",
        pool=pool_name(obs),
        host=this_host_name(obs),
        role=role_word(role),
        clock=format_clock(now),
        marker=marker,
        read_only=read_only or obs.connection.read_only,
        demo=demo or obs.connection.demo,
    )


# --- emergency banner ------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    level: str  # "ok" | "info" | "warning" | "emergency"
    title: str
    lines: Tuple[str, ...] = ()
    key_hint: str = ""


def _find(obs: Observation, code: Code) -> Optional[Finding]:
    return next((f for f in obs.findings if f.code == code), None)


def master_identity(obs: Observation) -> Tuple[str, str]:
    """(name, address) of the master this host believes in."""
    role, address = pool_role(obs)
    name = ""
    snap = obs.snapshot
    if snap is not None:
        master = snap.master
        if master is not None:
            name = master.name_label
            address = address or master.address
            if role == "slave" and address and master.address != address:
                # pool.conf wins for the address; look the name up by it.
                by_addr = next((h for h in snap.hosts.values() if h.address == address), None)
                name = by_addr.name_label if by_addr else name
    finding = _find(obs, Code.MASTER_UNREACHABLE)
    if finding is not None:
        name = finding.data.get("master_name") or finding.host or name
        address = finding.data.get("master_address") or finding.data.get("address") or address
    return name or "master ?", address or obs.connection.master_address or "?"


@dataclass(frozen=True)
class RecoveryInProgress:
    """A recovery the audit log says was started and not finished (an admin
    whose SSH session dropped must see at once where things stand)."""

    run_id: str
    done: int  # steps done or skipped in that run
    total: int  # steps the run planned (plus any it recorded beyond them)


def recovery_in_progress(records: Iterable[AuditRecord]) -> Optional[RecoveryInProgress]:
    """The open recovery run in these audit records, if any (same rule as the
    wizard's resume: `open_run_id`)."""
    # Imported here: the wizard package pulls in Textual, this module must not.
    from xentui.recovery.audit import RUN_START, progress_from_audit
    from xentui.ui.wizard.progress import open_run_id

    records = list(records)
    run_id = open_run_id(records)
    if run_id is None:
        return None
    run = [r for r in records if r.run_id == run_id]
    planned = []
    for rec in run:
        steps = rec.inputs.get("steps") if rec.kind == RUN_START and isinstance(rec.inputs, dict) else None
        for step_id in steps or ():
            if isinstance(step_id, str) and step_id not in planned:
                planned.append(step_id)
    statuses = progress_from_audit(run)
    planned.extend(step_id for step_id in statuses if step_id not in planned)
    done = sum(1 for step_id in planned if statuses.get(step_id) in ("done", "skipped"))
    return RecoveryInProgress(run_id, done, len(planned))


def recovery_hint(recovery: RecoveryInProgress, recover_key: str = "r", read_only: bool = False) -> str:
    action = "see it" if read_only else "continue"
    return f"Recovery in progress (step {recovery.done} of {recovery.total} done) - press {recover_key} to {action}"


def banner(
    obs: Observation,
    now: float,
    *,
    recover_key: str = "r",
    read_only: bool = False,
    first_seen: Optional[float] = None,
    width: int = 76,
    recovery: Optional[RecoveryInProgress] = None,
) -> Banner:
    """The emergency indicator. `first_seen` is when this run first saw the
    trouble, used when neither xapi nor diagnosis can date it. With an open
    `recovery` run the key hint says how far it got, whatever the pool's state."""
    shown = _pool_banner(obs, now, recover_key=recover_key, read_only=read_only, first_seen=first_seen, width=width)
    if recovery is None:
        return shown
    hint = recovery_hint(recovery, recover_key, read_only)
    if shown.level == "ok":
        # The pool looks healthy but the wizard never saw it so: say so, not "OK".
        return Banner("warning", hint, (), "")
    return Banner(shown.level, shown.title, shown.lines, hint)


def _pool_banner(
    obs: Observation, now: float, *, recover_key: str, read_only: bool, first_seen: Optional[float], width: int
) -> Banner:
    emergency = obs.emergency
    in_emergency = bool(emergency and emergency.in_emergency)
    unreachable = _find(obs, Code.MASTER_UNREACHABLE)
    two_masters = _find(obs, Code.TWO_MASTERS)
    xapi_down = _find(obs, Code.XAPI_DOWN)
    role, _ = pool_role(obs)
    action = "show the recovery plan" if read_only else "start recovery"
    hint = f"Press {recover_key} to {action}"
    if in_emergency or unreachable is not None:
        name, address = master_identity(obs)
        since = (emergency.since if emergency and emergency.since else None) or _since_from(unreachable)
        if since:
            since_text = f"since {format_clock(since)} ({ago(now - since)})"
        elif first_seen:
            since_text = f"noticed {format_clock(first_seen)} ({ago(now - first_seen)})"
        else:
            since_text = "since: unknown"
        if unreachable is not None:
            title = f"{'EMERGENCY MODE' if in_emergency else 'POOL MASTER NOT ANSWERING'}: master {name} is unreachable"
            lines = [_fit(f"Master {name} at {address} does not answer - {since_text}", width)]
        else:
            title = f"EMERGENCY MODE: this host is cut off from master {name}"
            lines = [_fit(f"Master {name} at {address} answers; this host is in emergency mode {since_text}", width)]
        if emergency and emergency.reason_code:
            lines.append(_fit("xapi says: " + reason_in_words(emergency.reason_code, emergency.reason_params), width))
        elif unreachable is not None:
            lines.append(_fit(unreachable.summary, width))
        if not in_emergency and emergency is not None and emergency.in_emergency is False:
            lines.append("xapi is not in emergency mode yet: pool-wide calls hang until it is.")
        return Banner("emergency", title, tuple(lines), hint)
    if two_masters is not None:
        return Banner("emergency", "TWO MASTERS IN ONE POOL", (two_masters.summary,), hint)
    if xapi_down is not None:
        return Banner("emergency", "XAPI IS NOT RUNNING ON THIS HOST", (xapi_down.summary,), hint)
    worst = obs.worst
    if worst >= Severity.WARNING:
        top = next(f for f in obs.findings if f.severity == worst)
        return Banner("warning", f"Pool needs attention: {top.summary}", (), hint)
    if obs.connection.state not in ("connected", "emergency"):
        return Banner("warning", f"Connection: {obs.connection.state} {obs.connection.detail}".strip(), (), "")
    if obs.snapshot is not None and obs.snapshot.vms_pending:
        # The first look of a big pool is drawn before its VM records arrive: no "healthy" before them.
        return Banner("info", f"Master {master_identity(obs)[0]} answers; reading the VMs", (), "")
    if getattr(obs, "peers_pending", False):
        # Two masters are found only by asking the other hosts: no "healthy" before that.
        return Banner(
            "info", f"Master {master_identity(obs)[0]} answers; asking the other hosts who their master is", (), ""
        )
    return Banner("ok", f"Pool healthy - master {master_identity(obs)[0]} answers ({role_word(role)} view)", (), "")


def _fit(text: str, width: int = 76) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _since_from(finding: Optional[Finding]) -> Optional[float]:
    if finding is None:
        return None
    try:
        return float(finding.data.get("since", ""))
    except ValueError:
        return None


# --- host list --------------------------------------------------------------------


@dataclass(frozen=True)
class HostRow:
    key: str  # host uuid (stable row key)
    name: str
    role: str  # "master" | "member"
    address: str
    state: str  # "live" | "down" | "unreachable" | "answers" | "?"
    state_source: str  # "xapi" | "probe" | "state.db" | ""
    enabled: str  # "yes" | "no" | "?"
    emergency: str  # "YES" | "no" | "?"
    xapi_version: str
    vm_count: int
    is_this_host: bool
    is_master: bool


def _probe_for(gt: Optional[GroundTruth], host: Host) -> Optional[PeerProbe]:
    if gt is None:
        return None
    for probe in gt.peers:
        if probe.host_name == host.name_label or (host.address and probe.address == host.address):
            return probe
    return None


def _peer_view_for(obs: Observation, host: Host) -> Optional[PeerView]:
    view: PeerView
    for view in getattr(obs, "peer_views", ()) or ():
        if view.host_name == host.name_label or (host.address and view.address == host.address):
            return view
    return None


# PeerView.reach -> the word the host list shows
REACH_WORDS = {
    "answers": "answers",
    "hung": "hung",
    "refused": "refused",
    "timeout": "no answer",
    "unreachable": "unreachable",
}

PROBE_WORDS = {
    "open": "answers",
    "refused": "refused",
    "timeout": "no answer",
    "unreachable": "unreachable",
    "error": "error",
}


@per_observation
def host_rows(obs: Observation) -> Tuple[HostRow, ...]:
    snap = obs.snapshot
    if snap is None:
        return ()
    me = this_host(obs)
    live = snapshot_is_live(obs)
    master = snap.master
    counts = snap.vm_count_by_host()
    rows = []
    for ref, host in snap.hosts.items():
        probe = _probe_for(obs.ground_truth, host)
        is_me = me is not None and host.ref == me.ref
        state, source = _host_state(obs, host, probe, live, is_me)
        emergency = "?"
        view = None if is_me else _peer_view_for(obs, host)
        if is_me and obs.emergency is not None and obs.emergency.in_emergency is not None:
            emergency = "YES" if obs.emergency.in_emergency else "no"
        elif view is not None and view.answers:
            emergency = "YES" if view.role == "emergency" else "no"
        elif live:
            emergency = "no" if host.live else "?"
        rows.append(
            HostRow(
                key=host.uuid or ref,
                name=host.name_label,
                role="master" if master is not None and master.ref == ref else "member",
                address=host.address,
                state=state,
                state_source=source,
                enabled="yes" if host.enabled else "no",
                emergency=emergency,
                xapi_version=host.xapi_version,
                vm_count=counts.get(ref, 0),
                is_this_host=is_me,
                is_master=master is not None and master.ref == ref,
            )
        )
    rows.sort(key=lambda r: (not r.is_master, r.name))
    return tuple(rows)


def _host_state(obs: Observation, host: Host, probe: Optional[PeerProbe], live: bool, is_me: bool) -> Tuple[str, str]:
    view = None if is_me else _peer_view_for(obs, host)
    # xapi's host_metrics.live lags the truth by the liveness timeout (and a
    # powered-off old master stays "live" in the new master's database for
    # a while): a fresh probe that failed wins, and the row says who says what.
    lagging = "; xapi's record still says live" if live and host.live else ""
    if view is not None and view.reach in REACH_WORDS and not (lagging and view.answers):
        return REACH_WORDS[view.reach], "xapi probe" + lagging
    if probe is not None and not probe.answers and not is_me:
        return PROBE_WORDS.get(probe.outcome, probe.outcome), "probe" + lagging
    if live and host.live is not None:
        return ("live" if host.live else "down"), "xapi"
    if probe is not None:
        return PROBE_WORDS.get(probe.outcome, probe.outcome), "probe"
    if is_me:
        return "this host", ""
    if host.live is not None:
        return ("live" if host.live else "down"), "state.db"
    return "?", ""


def host_details(obs: Observation, host_key: str, now: float) -> Tuple[Tuple[str, str], ...]:
    """Label/value rows for the context pane of one host."""
    snap = obs.snapshot
    if snap is None:
        return (("Hosts", "xapi could not list the pool"),)
    host = next((h for h in snap.hosts.values() if (h.uuid or h.ref) == host_key), None)
    if host is None:
        return (("Host", "no longer in the pool"),)
    row = next((r for r in host_rows(obs) if r.key == host_key), None)
    rows = [("Name", host.name_label), ("Address", host.address or "-")]
    if row is not None:
        rows.append(("Role", row.role + (" (this host)" if row.is_this_host else "")))
        state = row.state + (f" ({row.state_source})" if row.state_source else "")
        rows.append(("State", state))
        rows.append(("Enabled", row.enabled))
        rows.append(("Emergency", row.emergency))
        rows.append(("VMs", str(row.vm_count)))
    probe = _probe_for(obs.ground_truth, host)
    if probe is not None:
        rows.append(
            (
                "Probe",
                f"{probe.address}:{probe.port} {PROBE_WORDS.get(probe.outcome, probe.outcome)}, "
                f"{ago(now - probe.probed_at)}",
            )
        )
    view = _peer_view_for(obs, host)
    if view is not None:
        said = view.role + (f" of {view.master_address}" if view.master_address else "")
        if view.reason_code:
            said += f" ({reason_in_words(view.reason_code, view.reason_params)})"
        rows.append(
            (
                "Its xapi",
                f"{REACH_WORDS.get(view.reach, view.reach)}: {said}"
                if view.answers
                else REACH_WORDS.get(view.reach, view.reach),
            )
        )
    rows.append(("xapi", host.xapi_version or "?"))
    if host.product_version:
        rows.append(("Version", host.product_version))
    if host.metrics is not None and host.metrics.memory_total:
        free = host.metrics.memory_free / 2**30
        total = host.metrics.memory_total / 2**30
        rows.append(("Memory", f"{free:.0f} of {total:.0f} GiB free"))
    mpif = snap.management_pif(host.ref)
    if mpif is not None:
        rows.append(("Mgmt PIF", f"{mpif.device} {mpif.ip or 'no IP'}"))
    rows.append(("UUID", host.uuid))
    for finding in obs.findings:
        if finding.host == host.name_label:
            rows.append((finding.severity.label.upper(), finding.summary))
    if not snapshot_is_live(obs) and obs.snapshot_source:
        rows.append(("Data", obs.snapshot_source))
    return tuple(rows)


# --- management interface --------------------------------------------------------------


@dataclass(frozen=True)
class Management:
    rows: Tuple[Tuple[str, str], ...]
    source: str  # where the values came from, with age
    ok: bool  # False when there is no management IP


def _fact_age(fact: Fact[Any], now: float) -> str:
    return format_age(fact.age(now))


def management(obs: Observation, now: float) -> Management:
    """This host's management interface: from xapi when it answers, else from
    the host's own files and live addresses, each labelled with its source."""
    snap = obs.snapshot
    me = this_host(obs)
    gt = obs.ground_truth
    if snapshot_is_live(obs) and snap is not None and me is not None:
        pif = snap.management_pif(me.ref)
        if pif is not None:
            return _management_from_pif(snap, pif, me, f"xapi, {ago(now - obs.at)}", gt, now)
    if gt is not None:
        return _management_from_ground_truth(obs, gt, me, now)
    if snap is not None and me is not None:
        pif = snap.management_pif(me.ref)
        if pif is not None:
            return _management_from_pif(snap, pif, me, obs.snapshot_source or "database", None, now)
    return Management((("Interface", "unknown: neither xapi nor the host's files answered"),), "no source", False)


def _management_from_pif(
    snap: PoolSnapshot, pif: PIF, host: Host, source: str, gt: Optional[GroundTruth], now: float
) -> Management:
    network = snap.network_of(pif)
    mode = pif.ip_configuration_mode or "?"
    carrier = "?" if pif.carrier is None else ("yes" if pif.carrier else "NO")
    ip = pif.ip or host.address
    rows = [
        ("Device", pif.device + (f" VLAN {pif.vlan}" if pif.vlan >= 0 else "")),
        ("Bridge", network.bridge if network else "?"),
        ("Mode", mode),
        ("IP address", ip or "NONE"),
        ("Netmask", pif.netmask or "-"),
        ("Gateway", pif.gateway or "-"),
        ("DNS", pif.dns or "-"),
        ("MAC", pif.mac or "-"),
        ("Carrier", carrier),
    ]
    return Management(tuple(rows), source, bool(ip))


def _management_from_ground_truth(obs: Observation, gt: GroundTruth, me: Optional[Host], now: float) -> Management:
    rows = []
    sources = []
    bridge = ""
    if gt.inventory.ok and gt.inventory.value is not None:
        bridge = gt.inventory.value.management_interface
        sources.append(f"inventory {_fact_age(gt.inventory, now)}")
    # The database copy (state.db) knows the PIF's configuration.
    pif = None
    snap = obs.snapshot
    if snap is not None and me is not None:
        pif = snap.management_pif(me.ref)
        if pif is None and bridge:
            pif = next(
                (
                    p
                    for p in snap.pifs_of(me.ref)
                    if (net := snap.network_of(p) or None) is not None and net.bridge == bridge
                ),
                None,
            )
    link = gt.management_link.value if gt.management_link.ok else None
    addresses = link.ipv4 if link is not None else ()
    if pif is not None:
        rows.append(("Device", pif.device + (f" VLAN {pif.vlan}" if pif.vlan >= 0 else "")))
    rows.append(("Bridge", bridge or (link.ifname if link else "") or "none configured"))
    if pif is not None:
        rows.append(("Mode", pif.ip_configuration_mode or "?"))
    if addresses:
        first = addresses[0]
        rows.append(("IP address", first.address))
        rows.append(("Netmask", _netmask(first.prefixlen)))
    else:
        rows.append(("IP address", "NONE (no address on the bridge)" if link is not None else "unknown"))
        if pif is not None and pif.ip:
            rows.append(("Configured", f"{pif.ip} (database)"))
    if pif is not None:
        rows.append(("Gateway", pif.gateway or "-"))
        rows.append(("DNS", pif.dns or "-"))
    rows.append(("MAC", (link.mac if link else "") or (pif.mac if pif else "") or "-"))
    if link is not None:
        rows.append(("Carrier", ("yes" if link.carrier else "NO") + f", link {link.operstate}"))
        sources.append(f"ip addr {_fact_age(gt.management_link, now)}")
    elif gt.management_link.error:
        rows.append(("Link", gt.management_link.error))
    if pif is not None and obs.snapshot_source:
        sources.append(obs.snapshot_source)
    source = "host files: " + ", ".join(sources) if sources else "host files"
    return Management(tuple(rows), source, bool(addresses))


def _netmask(prefixlen: int) -> str:
    if not 0 <= prefixlen <= 32:
        return "?"
    bits = (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF
    return ".".join(str((bits >> shift) & 0xFF) for shift in (24, 16, 8, 0)) + f" (/{prefixlen})"


# --- findings, VMs, PIFs -----------------------------------------------------------------


@per_observation
def sorted_findings(obs: Observation) -> Tuple[Finding, ...]:
    return tuple(sorted(obs.findings, key=lambda f: (-int(f.severity), f.host, f.code.value)))


SEVERITY_MARK = {Severity.CRITICAL: "CRIT", Severity.WARNING: "WARN", Severity.INFO: "info", Severity.OK: " ok "}


@dataclass(frozen=True)
class VmRow:
    key: str
    name: str
    power_state: str
    host: str
    on_dead_host: bool
    memory_gib: float
    vcpus: int


@per_observation
def dead_host_refs(obs: Observation) -> Tuple[str, ...]:
    snap = obs.snapshot
    if snap is None:
        return ()
    dead = set()
    rows = {r.key: r for r in host_rows(obs)}
    for ref, host in snap.hosts.items():
        row = rows.get(host.uuid or ref)
        if row is not None and row.state in DEAD_STATES:
            dead.add(ref)
    return tuple(sorted(dead))


@per_observation
def vm_rows(obs: Observation) -> Tuple[VmRow, ...]:
    snap = obs.snapshot
    if snap is None:
        return ()
    hosts = snap.hosts
    dead = set(dead_host_refs(obs))
    rows = []
    for vm in snap.guest_vms():
        host = hosts.get(vm.resident_on)
        rows.append(
            VmRow(
                key=vm.uuid or vm.ref,
                name=vm.name_label,
                power_state=vm.power_state,
                host=host.name_label if host else "-",
                on_dead_host=vm.resident_on in dead and vm.power_state != "Halted",
                memory_gib=vm.memory_static_max / 2**30,
                vcpus=vm.vcpus_max,
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class PifRow:
    key: str
    host: str
    device: str
    network: str
    mode: str
    ip: str
    management: bool
    attached: bool
    carrier: str
    stale: bool


@per_observation
def stale_pif_keys(obs: Observation) -> Tuple[str, ...]:
    keys = []
    for finding in obs.findings:
        if finding.code != Code.STALE_PIF:
            continue
        for field_name in ("pif_uuids", "pif_uuid", "pif", "uuid"):
            if finding.data.get(field_name):
                keys.extend(finding.data[field_name].split(","))
        if finding.data.get("device"):
            keys.extend(f"{finding.host}/{d}" for d in finding.data["device"].split(","))
        if finding.data.get("devices"):
            keys.extend(f"{finding.host}/{d}" for d in finding.data["devices"].split(","))
    return tuple(k.strip() for k in keys if k.strip())


@per_observation
def pif_rows(obs: Observation) -> Tuple[PifRow, ...]:
    snap = obs.snapshot
    if snap is None:
        return ()
    stale = set(stale_pif_keys(obs))
    hosts = snap.hosts
    rows = []
    for pif in snap.pifs.values():
        host = hosts.get(pif.host)
        host_name = host.name_label if host else "?"
        network = snap.network_of(pif)
        rows.append(
            PifRow(
                key=pif.uuid or pif.ref,
                host=host_name,
                device=pif.device + (f".{pif.vlan}" if pif.vlan >= 0 else ""),
                network=(network.bridge or network.name_label) if network else "-",
                mode=pif.ip_configuration_mode,
                ip=pif.ip,
                management=pif.management,
                attached=pif.currently_attached,
                carrier="?" if pif.carrier is None else ("yes" if pif.carrier else "no"),
                stale=pif.uuid in stale or f"{host_name}/{pif.device}" in stale,
            )
        )
    rows.sort(key=lambda r: (r.host, r.device))
    return tuple(rows)


def matches_filter(text: str, *fields: str) -> bool:
    needle = text.strip().lower()
    return not needle or any(needle in (f or "").lower() for f in fields)
