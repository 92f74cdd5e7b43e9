"""`xentui status [TARGET] [--json]`: how we are connected and what the pool looks like.

Connects with the login strategy, lists the pool with one event.from and
prints the pool, this host and every host. When the pool cannot be listed
(emergency mode, hung master) it says so and why. Exit codes: 0 connected,
2 bad arguments, 3 could not connect (one clear line on stderr).

The rendering is split out (`render_status`, `status_json`) and works on any
object with the attributes of `StatusView` / `recovery.observation.Observation`
(`connection`, `snapshot`, `emergency`, ...), so the recovery layer can extend
the command with ground truth and findings.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from xentui.recovery.observation import EmergencyState
from xentui.xapi.client import XapiClient
from xentui.xapi.error_table import Explanation, explain, explain_exception
from xentui.xapi.errors import CallTimeout, XapiError, XapiFailure
from xentui.xapi.live import load_snapshot
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.session_info import ConnectionInfo, SessionKind
from xentui.xapi.targets import Target, add_target_arguments, password_from_env, target_from_args

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CANNOT_CONNECT = 3


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


def gather_status(client: XapiClient, endpoint: Any, target: Target) -> Tuple[StatusView, bool]:
    """Observe through a connected client. Returns the view and whether a
    call timed out (then no further forwarded call is worth waiting for)."""
    timed_out = False
    snapshot: Optional[PoolSnapshot] = None
    snapshot_error: Optional[Explanation] = None
    snapshot_source = ""
    in_emergency = client.in_emergency
    reason = client.emergency_reason

    # host.is_in_emergency_mode / local_assert_healthy are emergency calls:
    # answered by this host itself, even when the master is gone.
    try:
        in_emergency, reason = client.check_emergency()
    except CallTimeout:
        timed_out = True
    except XapiError:
        pass

    if in_emergency:
        code, params = reason if reason else ("HOST_STILL_BOOTING", ())
        exp = explain(code, params, in_emergency=True)
        snapshot_error = Explanation(
            title="xapi is in emergency mode",
            meaning=f"This host answers only emergency calls, so xapi cannot list the pool. Reason: "
            f"{exp.title} ({code}). {exp.meaning}",
            next_step=exp.next_step,
            code=code,
        )
    elif client.master_unresponsive:
        timed_out = True
        snapshot_error = Explanation(
            title="The pool could not be listed: timed out",
            meaning=f"xapi on this host answers, but a normal login got no answer within "
            f"{client.call_timeout:g} s: the pool database lives on the master, and the master does "
            "not answer (hung, or unreachable without this host noticing yet).",
            next_step="Check whether the master is alive. If it is really dead, fence it and promote "
            "this host with 'emergency transition to master'.",
            code="timeout",
        )
    elif not timed_out:
        try:
            snapshot = load_snapshot(client)
            snapshot_source = "xapi event.from"
        except CallTimeout as exc:
            timed_out = True
            exp = explain_exception(exc)
            snapshot_error = Explanation(
                title="The pool could not be listed: timed out",
                meaning=exp.meaning,
                next_step=exp.next_step,
                code="timeout",
            )
        except XapiError as exc:
            exp = explain_exception(exc, in_emergency=bool(in_emergency))
            snapshot_error = Explanation(
                title=f"The pool could not be listed: {exp.title}",
                meaning=exp.meaning,
                next_step=exp.next_step,
                code=exp.code,
            )
    else:
        snapshot_error = Explanation(
            title="The pool could not be listed: timed out",
            meaning="This host did not answer in time.",
            next_step="Check whether xapi on this host (or its master) hangs.",
            code="timeout",
        )

    this_ref = ""
    if snapshot is not None and not timed_out:
        this_ref = _find_this_host(client, snapshot, endpoint, target)
    this_name = ""
    if snapshot is not None and this_ref:
        this_name = snapshot.hosts[this_ref].name_label
    elif target.sim_host:
        this_name = target.sim_host

    emergency = EmergencyState(
        in_emergency=in_emergency,
        reason_code=reason[0] if reason else "",
        reason_params=tuple(reason[1]) if reason else (),
    )
    view = StatusView(
        at=time.time(),
        connection=client.connection_info(),
        snapshot=snapshot,
        snapshot_source=snapshot_source,
        snapshot_error=snapshot_error,
        emergency=emergency,
        this_host_ref=this_ref,
        this_host_name=this_name,
    )
    return view, timed_out


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
    hosts = sorted(snapshot.hosts.items(), key=lambda item: (_host_role(snapshot, item[0]) != "master", item[1].name_label))
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
        this_json["emergency_reason"] = (
            {"code": emergency.reason_code, "params": list(emergency.reason_params),
             "title": explain(emergency.reason_code, emergency.reason_params, in_emergency=True).title}
            if emergency.reason_code else None
        )
    result: Dict[str, Any] = {
        "connection": connection.to_json(),
        "pool": pool_json,
        "this_host": this_json,
        "hosts": hosts_json,
        "snapshot_source": getattr(view, "snapshot_source", "") or "",
        "snapshot_error": (
            {"code": snapshot_error.code, "title": snapshot_error.title, "meaning": snapshot_error.meaning,
             "next_step": snapshot_error.next_step}
            if snapshot_error is not None else None
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
    lines.append(f"Connected via: {connection.label} ({connection.transport})")
    lines.append(f"Session:       {connection.session_kind.value} ({connection.state})")
    if connection.master_address:
        lines.append(f"Master (from xapi): {connection.master_address}")
    for limit in connection.limits or connection.session_kind.limits:
        lines.append(f"  note: {limit}")

    this_ref = _this_host_ref(view)
    this_name = getattr(view, "this_host_name", "") or ""
    if emergency is not None and emergency.in_emergency:
        exp = explain(emergency.reason_code or "HOST_STILL_BOOTING", emergency.reason_params, in_emergency=True)
        lines.append(f"This host:     {this_name or '?'} is in EMERGENCY MODE: {exp.title}"
                     + (f" ({emergency.reason_code})" if emergency.reason_code else ""))
    lines.append("")

    if snapshot is None or snapshot.pool is None:
        if emergency is not None and emergency.in_emergency is False and this_name:
            lines.insert(len(lines) - 1, f"This host:     {this_name} (not in emergency mode)")
        if snapshot_error is not None:
            lines.append(snapshot_error.title)
            lines.extend(_wrap(snapshot_error.meaning))
            lines.extend(_wrap("Next step: " + snapshot_error.next_step))
        else:
            lines.append("The pool could not be listed.")
        return "\n".join(lines) + "\n"

    pool = snapshot.pool
    master = snapshot.master
    master_text = f"{master.name_label} ({master.address})" if master else pool.master
    lines.append(f"Pool:          {pool.name_label or pool.uuid}   master: {master_text}"
                 + ("   HA: on" if pool.ha_enabled else ""))
    if this_ref and this_ref in snapshot.hosts:
        host = snapshot.hosts[this_ref]
        lines.append(f"This host:     {host.name_label} ({_host_role(snapshot, this_ref)}, {host.address})")
    elif this_name and not (emergency is not None and emergency.in_emergency):
        lines.append(f"This host:     {this_name}")
    lines.append("")
    header = f"  {'HOST':<16} {'ROLE':<7} {'ADDRESS':<16} {'LIVE':<5} {'ENABLED':<8} {'XAPI':<10} {'VMS':>4}"
    lines.append(header)
    for row in _host_rows(snapshot):
        mark = "*" if row["ref"] == this_ref else " "
        lines.append(
            f"{mark} {row['name'][:16]:<16} {row['role']:<7} {row['address'][:16]:<16} "
            f"{_yes_no(row['live']):<5} {_yes_no(row['enabled']):<8} {row['xapi_version'][:10]:<10} "
            f"{row['resident_vms']:>4}"
        )
    if this_ref:
        lines.append("  (* = this host)")
    return "\n".join(lines) + "\n"


# --- the command ------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default=None,
                        help="where xapi is: local (default), [ssh://]root@host, https://host, sim:DIR/HOST")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_target_arguments(parser)


def _password(target: Target, endpoint: Any) -> Optional[str]:
    """--password-env, else a getpass prompt on a tty; never argv. None when
    the endpoint is pre-authenticated (unix socket / streamlocal as root)."""
    from_env = password_from_env(target)
    if from_env is not None:
        return from_env
    if getattr(endpoint, "preauthenticated_root", False):
        return None
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"xapi password for {target.xapi_user}@{target.label}: ")
    return None


def _fail(target_label: str, exc: BaseException) -> int:
    exp = explain_exception(exc)
    print(f"xentui status: cannot connect to {target_label}: {exp.title}: {exp.meaning}", file=sys.stderr)
    return EXIT_CANNOT_CONNECT


def run(args: argparse.Namespace) -> int:
    from xentui.xapi.transport import open_endpoint  # SSH (paramiko) only when used

    try:
        target = target_from_args(args, args.target)
    except ValueError as exc:
        print(f"xentui status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        endpoint = open_endpoint(target)
    except XapiError as exc:
        return _fail(target.label, exc)
    client = XapiClient(call_timeout=target.call_timeout)
    timed_out = False
    try:
        try:
            password = _password(target, endpoint)
        except ValueError as exc:
            print(f"xentui status: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if password is None and not getattr(endpoint, "preauthenticated_root", False):
            print(f"xentui status: cannot connect to {target.label}: a password is needed "
                  "(use --password-env VAR, or run on a terminal to be asked)", file=sys.stderr)
            return EXIT_CANNOT_CONNECT
        try:
            client.connect(endpoint, username=target.xapi_user, password=password,
                           label=target.label, target_text=target.raw or "local")
        except XapiFailure as exc:
            if exc.code == "HOST_IS_SLAVE" and exc.params:
                print(f"xentui status: cannot connect to {target.label}: this host is a pool member and "
                      f"refused a local login; its master is at {exc.params[0]}", file=sys.stderr)
                return EXIT_CANNOT_CONNECT
            return _fail(target.label, exc)
        except XapiError as exc:
            timed_out = isinstance(exc, CallTimeout)
            return _fail(target.label, exc)
        view, timed_out = gather_status(client, endpoint, target)
        if args.json:
            print(json.dumps(status_json(view), indent=2, sort_keys=True))
        else:
            sys.stdout.write(render_status(view))
        return EXIT_OK
    finally:
        # After a timeout, logging out would wait for the same hung peer.
        if client.endpoint is None:
            endpoint.close()
        client.close(logout=not timed_out)
