"""host.* emergency-list calls that are internal or rarely used by clients.

They are in Datamodel.emergency_calls, so they answer on an emergency-mode
host too, and are never forwarded. Signatures follow ocaml/idl/datamodel_host.ml;
behaviour follows ocaml/xapi/xapi_host.ml and xapi_ha.ml (two-phase commit).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import as_bool, make
from xentui.sim.xapi_host import CallContext, XapiHost

# What `xen-bugtool --capabilities` prints (System_status.get_capabilities); a
# realistic subset of the capability list.
SYSTEM_STATUS_CAPABILITIES = (
    '<?xml version="1.0" ?><system-status-capabilities>'
    '<capability content-type="text/plain" default-checked="yes" key="xenserver-logs" '
    'max-size="-1" max-time="-1" min-size="-1" min-time="-1" pii="maybe"/>'
    '<capability content-type="text/plain" default-checked="yes" key="xenserver-config" '
    'max-size="-1" max-time="-1" min-size="-1" min-time="-1" pii="maybe"/>'
    '<capability content-type="text/plain" default-checked="yes" key="xenserver-databases" '
    'max-size="-1" max-time="-1" min-size="-1" min-time="-1" pii="yes"/>'
    '<capability content-type="text/plain" default-checked="yes" key="network-status" '
    'max-size="-1" max-time="-1" min-size="-1" min-time="-1" pii="yes"/>'
    '<capability content-type="text/plain" default-checked="yes" key="system-logs" '
    'max-size="-1" max-time="-1" min-size="-1" min-time="-1" pii="maybe"/>'
    "</system-status-capabilities>"
)


def signal_networking_change(ctx: CallContext) -> str:
    """Xapi_mgmt_iface.on_dom0_networking_change: re-read the management address
    and rebind; the host record's address is refreshed when a DB is at hand."""
    proc = ctx.proc
    listening = proc.tcp_listeners is not None
    should_listen = bool(proc.machine.has_ip and proc.management_interface)
    if listening != should_listen:  # only when the address really changed (else keep connections)
        proc.rebind()
    if proc.is_master and proc.db is not None and proc.machine.has_ip:
        me = proc.host_ref_in(proc.db)
        if me is not None and proc.db.get_field("host", me, "address") != proc.machine.address:
            proc.db.set_field("host", me, "address", proc.machine.address)
    proc.files_changed()
    proc.world.notify()
    return ""


def ha_xapi_healthcheck(ctx: CallContext) -> Any:
    # "since we got here unharmed, all is well"
    return True


def get_system_status_capabilities(ctx: CallContext, host: Any) -> Any:
    return SYSTEM_STATUS_CAPABILITIES


def shutdown_agent(ctx: CallContext) -> str:
    """Xapi_fuse.light_fuse_and_dont_restart ~fuse_length:1.: xapi exits after 1 s
    and stays down (no watchdog restart)."""
    proc = ctx.proc
    proc.note("shutdown_agent: xapi will stop in 1 s and not restart")
    proc._after(1.0, lambda: proc.stop("shutdown_agent"), "shutdown-agent")
    return ""


# --- the two-phase commit of a new master (Xapi_ha) -------------------------------


def _abort(reason: str) -> ApiError:
    return ApiError("HA_ABORT_NEW_MASTER", reason)


def propose_on(proc: XapiHost, address: str, manual: Any) -> None:
    """Xapi_ha.propose_new_master on host `proc`: refuse a different proposal agreed
    less than 600 s ago; record (address, now) in memory."""
    address = str(address)
    as_bool(manual)
    now = proc.clock.now()
    proposed = getattr(proc, "proposed_master", None)
    if proposed is not None and proposed[0] != address:
        agreed, at = proposed
        diff = now - at
        if diff <= 600.0:
            when = datetime.fromtimestamp(int(at), tz=timezone.utc).strftime("%Y%m%dT%H:%M:%SZ")
            raise _abort("Already agreed to commit host address '%s' at %s ('%f' secs ago)" % (agreed, when, diff))
    proc.proposed_master = (address, now)


def commit_on(proc: XapiHost, address: str) -> None:
    """Xapi_ha.commit_new_master on host `proc`: only the agreed proposal; then
    become master or the new master's slave, and restart after the fuse."""
    address = str(address)
    proposed = getattr(proc, "proposed_master", None)
    if proposed is None:
        raise _abort("Received commit_new_master(%s) but never received a proposal" % address)
    if proposed[0] != address:
        raise _abort("Received commit_new_master(%s) but previously received proposal for %s" % (address, proposed[0]))
    if address == proc.machine.address:
        proc.set_role("master")  # Xapi_pool_transition.become_master
    else:
        proc.set_role("slave", address)  # become_another_masters_slave
    proc.light_fuse()


def propose_new_master(ctx: CallContext, address: Any, manual: Any) -> str:
    propose_on(ctx.proc, address, manual)
    return ""


def commit_new_master(ctx: CallContext, address: Any) -> str:
    commit_on(ctx.proc, address)
    return ""


def abort_new_master(ctx: CallContext, address: Any) -> str:
    ctx.proc.proposed_master = None
    return ""


# --- TLS / certificate / guidance emergency calls ----------------------------------


def _best_effort_host_update(ctx: CallContext, **fields: Any) -> bool:
    """Write this host's record if the master's database can be reached right now."""
    proc = ctx.proc
    if proc.is_master:
        master = proc if proc.db is not None else None
    else:
        reach = proc.world.reach(proc.name, proc.master_address)
        master = reach.peer if reach.ok and reach.peer.is_master and reach.peer.db is not None else None
        if master is not None and master.emergency:
            master = None
    # both branches pick a master only with a database
    db = master.db if master is not None else None
    if db is None:
        return False
    me = proc.host_ref_in(db)
    if me is None:
        return False
    db.update("host", me, **fields)
    return True


def emergency_reset_server_certificate(ctx: CallContext) -> str:
    # A new self-signed certificate; no database access in this call.
    ctx.proc.note("emergency_reset_server_certificate: new host certificate")
    return ""


def emergency_disable_tls_verification(ctx: CallContext) -> str:
    ctx.proc.tls_verification = False
    if not _best_effort_host_update(ctx, tls_verification_enabled=False):
        raise ApiError(
            "INTERNAL_ERROR",
            "TLS verification disabled successfully. Failed to contact the coordinator to update the database.",
        )
    return ""


def emergency_reenable_tls_verification(ctx: CallContext) -> str:
    """xapi_host.ml (24.19): verification on locally, then
    Db.Host.set_tls_verification_enabled with no `try` around it (unlike the
    disable): without the coordinator's database the call fails, after the
    local change. No pool-level precondition before 25.10 (XSI-1821)."""
    ctx.proc.tls_verification = True
    if not _best_effort_host_update(ctx, tls_verification_enabled=True):
        raise ApiError("INTERNAL_ERROR", "Master_connection.Cannot_connect_to_master")
    return ""


def emergency_clear_mandatory_guidance(ctx: CallContext) -> str:
    _best_effort_host_update(ctx, pending_guidances=[])
    return ""


METHODS = [
    make("host.signal_networking_change", (), signal_networking_change),
    make("host.ha_xapi_healthcheck", (), ha_xapi_healthcheck),
    make("host.get_system_status_capabilities", ("host",), get_system_status_capabilities),
    make("host.shutdown_agent", (), shutdown_agent),
    make("host.propose_new_master", ("address", "manual"), propose_new_master),
    make("host.commit_new_master", ("address",), commit_new_master),
    make("host.abort_new_master", ("address",), abort_new_master),
    make("host.emergency_reset_server_certificate", (), emergency_reset_server_certificate),
    make("host.emergency_disable_tls_verification", (), emergency_disable_tls_verification),
    make("host.emergency_reenable_tls_verification", (), emergency_reenable_tls_verification),
    make("host.emergency_clear_mandatory_guidance", (), emergency_clear_mandatory_guidance),
]
