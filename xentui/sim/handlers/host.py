"""host.*: emergency-mode queries, management interface, liveness and repair."""

from __future__ import annotations

from typing import Any

from xentui.sim import sm_locks
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import (
    as_bool,
    check_ref,
    forward_to_host,
    ha_enabled,
    is_host_alive,
    local_host_ref,
    make,
)
from xentui.sim.handlers.vm import reset_power_state
from xentui.sim.xapi_host import CallContext


def is_in_emergency_mode(ctx: CallContext) -> Any:
    return bool(ctx.proc.emergency)


def local_assert_healthy(ctx: CallContext) -> str:
    proc = ctx.proc
    if proc.role == "broken" or (proc.role == "slave" and proc.emergency):
        raise proc.emergency_error
    return ""


def emergency_ha_disable(ctx: CallContext, soft: Any = False) -> str:
    proc = ctx.proc
    soft = as_bool(soft)
    if not proc.ha_armed:
        if soft:
            return ""
        raise ApiError("HA_NOT_ENABLED")
    if soft:
        proc.ha_soft_disabled = True
    else:
        proc.ha_armed = False
    proc.world.notify()
    return ""


def local_management_reconfigure(ctx: CallContext, interface: Any) -> str:
    """xapi_host.ml local_management_reconfigure -> change_management_interface:
    NOT_IN_EMERGENCY_MODE outside emergency mode; otherwise Xapi_mgmt_iface.change
    writes MANAGEMENT_INTERFACE (and the address type) to the inventory WITHOUT
    checking the name exists, `run` re-creates only the HTTP listener, and no address
    is assigned (that is networkd's job). Then on_dom0_networking_change reaches for
    the database: on a member that is the master's, which an emergency-mode member
    never gets an answer from, so the call does not return while the member stays in
    emergency mode (it ends when the member rejoins or xapi restarts). On a master in
    emergency mode (HA start-up loop) the database engine is not started yet: the
    tail fails (the source does not say how exactly; we choose an INTERNAL_ERROR
    after the inventory was written)."""
    proc = ctx.proc
    if not proc.emergency:
        raise ApiError("NOT_IN_EMERGENCY_MODE")
    proc.management_interface = str(interface)
    proc.note(f"inventory MANAGEMENT_INTERFACE={interface!s} (no address assigned)")
    proc.rebind()
    proc.files_changed()
    proc.world.notify()
    if proc.is_master:
        raise ApiError("INTERNAL_ERROR", "missing table", "host", "")
    proc.wait_for_master_database(ctx.incarnation)
    return ""


def management_disable(ctx: CallContext) -> str:
    proc = ctx.proc
    if proc.ha_armed:
        raise ApiError("HA_IS_ENABLED")
    if not proc.is_master:
        raise ApiError("SLAVE_REQUIRES_MANAGEMENT_INTERFACE")
    proc.management_interface = ""
    if proc.db is not None:
        me = proc.host_ref_in(proc.db)
        for pif in proc.db.find("PIF", host=me, management=True):
            proc.db.set_field("PIF", pif, "management", False)
    proc.rebind()  # xapi now only listens on 127.0.0.1
    proc.files_changed()
    return ""


def get_management_interface(ctx: CallContext, host: Any) -> Any:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    pifs = db.find("PIF", host=host, management=True)
    if not pifs:
        raise ApiError("INTERNAL_ERROR", "Not_found")
    return pifs[0]


def management_reconfigure(ctx: CallContext, pif: Any) -> str:
    db = ctx.need_db()
    pif = check_ref(db, "PIF", pif)
    record = db.get_record("PIF", pif)
    host = record["host"]
    # message_forwarding.ml: do_op_on PIF.host first; then xapi_host.ml management_reconfigure
    # on that host: HA, then (managed PIFs) assert_usable_for_management (bond slave, IP
    # configuration), and only then "already the management PIF: no action"
    target = forward_to_host(ctx, host)
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    if record.get("managed", True):
        if record.get("bond_slave_of") not in (None, "", "OpaqueRef:NULL"):
            raise ApiError("CANNOT_PLUG_BOND_SLAVE", pif)
        if record.get("primary_address_type", "IPv4") == "IPv4" and record.get("ip_configuration_mode") == "None":
            raise ApiError("PIF_HAS_NO_NETWORK_CONFIGURATION", pif)
        if record.get("primary_address_type") == "IPv6" and record.get("ipv6_configuration_mode") == "None":
            raise ApiError("PIF_HAS_NO_V6_NETWORK_CONFIGURATION", pif)
    if record.get("management"):
        return ""
    if not any(n.mac.lower() == str(record.get("MAC", "")).lower() for n in target.machine.nics):
        raise ApiError("INTERNAL_ERROR", "Device for PIF %s not present" % pif)
    for other in db.find("PIF", host=host, management=True):
        db.set_field("PIF", other, "management", False)
    db.update("PIF", pif, management=True, currently_attached=True)
    network: Any = record.get("network")
    bridge = db.get_field("network", network, "bridge") if db.exists("network", network) else record["device"]
    target.management_interface = bridge or record["device"]
    # the PIF is plugged with its IP configuration: networkd now keeps the address there
    target.machine.ip_bridge = target.management_interface
    target.machine.configured_bridges.add(target.management_interface)
    target.machine.has_ip = True
    target.machine.ip_lost_with_nics = False
    target.rebind()
    target.files_changed()
    target.world.notify()
    return ""


def declare_dead(ctx: CallContext, host: Any) -> str:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    if host == local_host_ref(ctx) or is_host_alive(ctx, host):
        raise ApiError("HOST_IS_LIVE", host)
    for vm in db.find("VM", resident_on=host):
        if not db.get_field("VM", vm, "is_control_domain"):
            reset_power_state(ctx, vm)
    db.set_field("host", host, "enabled", False)
    sm_locks.clear_host(db, host)  # Xapi_hooks.host_post_declare_dead
    return ""


def _set_enabled(ctx: CallContext, host: Any, value: bool) -> str:
    """host.enable / host.disable: forwarded to the host (HOST_OFFLINE if it
    can't be reached), then the flag in the master's database."""
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    forward_to_host(ctx, host)
    db.set_field("host", host, "enabled", value)
    return ""


def enable(ctx: CallContext, host: Any) -> Any:
    """xapi_host.ml enable, on the host (forwarded): only when disabled,
    assert_safe_to_reenable -> Repository_helpers.assert_no_host_pending_mandatory_guidance
    refuses with HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY [host]."""
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    if not db.get_field("host", host, "enabled") and db.get_field("host", host, "pending_guidances"):
        forward_to_host(ctx, host)
        raise ApiError("HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", host)
    return _set_enabled(ctx, host, True)


def disable(ctx: CallContext, host: Any) -> Any:
    return _set_enabled(ctx, host, False)


def destroy(ctx: CallContext, host: Any) -> str:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    # xapi_host.ml destroy: precheck_destroy_declare_dead (HOST_IS_LIVE) first, then HA
    if host == local_host_ref(ctx) or is_host_alive(ctx, host):
        raise ApiError("HOST_IS_LIVE", host)
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    resident = [vm for vm in db.find("VM", resident_on=host) if not db.get_field("VM", vm, "is_control_domain")]
    if resident:
        raise ApiError("HOST_HAS_RESIDENT_VMS", host)
    sm_locks.clear_host(db, host)  # Xapi_hooks.host_post_declare_dead (reason dbdestroy)
    for vm in db.find("VM", resident_on=host):
        db.destroy("VM", vm)
    for cls in ("PBD", "PIF"):
        for ref in db.find(cls, host=host):
            if cls == "PIF":
                metrics = db.get_field("PIF", ref, "metrics")
                if db.exists("PIF_metrics", metrics):
                    db.destroy("PIF_metrics", metrics)
            db.destroy(cls, ref)
    metrics = db.get_field("host", host, "metrics")
    db.destroy("host", host)
    if db.exists("host_metrics", metrics):
        db.destroy("host_metrics", metrics)
    return ""


METHODS = [
    make("host.is_in_emergency_mode", (), is_in_emergency_mode),
    make("host.local_assert_healthy", (), local_assert_healthy),
    make("host.emergency_ha_disable", ("soft",), emergency_ha_disable),
    make("host.local_management_reconfigure", ("interface",), local_management_reconfigure),
    make("host.management_disable", (), management_disable),
    make("host.get_management_interface", ("host",), get_management_interface),
    make("host.management_reconfigure", ("pif",), management_reconfigure),
    make("host.declare_dead", ("host",), declare_dead),
    make("host.enable", ("host",), enable),
    make("host.disable", ("host",), disable),
    make("host.destroy", ("self",), destroy),
]
