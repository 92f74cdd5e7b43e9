"""pool.*: role changes and recovery (xapi-semantics.md §2, §3)."""

from __future__ import annotations

from typing import Any, List

from xentui.sim import pool_ops, resolver
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import (
    check_ref,
    ha_enabled,
    host_proc,
    host_proc_blocking,
    local_host_ref,
    make,
    the_pool,
)
from xentui.sim.handlers.host_internal import commit_on, propose_on
from xentui.sim.xapi_host import CallContext, XapiHost, internal_error_connection


def emergency_transition_to_master(ctx: CallContext) -> str:
    proc = ctx.proc
    if proc.ha_armed:
        raise ApiError("HA_IS_ENABLED")
    # Does not check the current role (the CLI does, unless --force).
    if not proc.is_master:
        proc.just_became_master = True
    proc.set_role("master")
    proc.light_fuse()
    return ""


def emergency_reset_master(ctx: CallContext, master_address: Any) -> str:
    proc = ctx.proc
    if proc.ha_armed:
        raise ApiError("HA_IS_ENABLED")
    # Helpers.gethostbyname: host names and IPv6 literals resolve too (resolver.py)
    address = resolver.resolve(ctx.world, str(master_address))
    if proc.role == "slave" and proc.master_address == address:
        return ""  # "We are already a slave of %s; nothing to do"
    proc.set_role("slave", address)
    proc.light_fuse()
    return ""


def recover_slaves(ctx: CallContext) -> Any:
    """Repoint every reachable member at us (not only emergency-mode ones)."""
    db = ctx.need_db()
    me = local_host_ref(ctx)
    # xapi_pool.ml: Db.Host.get_address of localhost (update_env wrote it at start-up)
    my_address = str(db.get_field("host", me, "address")) if me else ctx.master_proc.machine.address
    recovered: List[str] = []
    for ref in db.refs("host"):
        if ref == me:
            continue
        # A sequential loop of inter-host calls with no timeout: a hung host holds
        # this call (and every host after it) until it answers or the connection dies.
        target = host_proc_blocking(ctx, ref)
        if target is None or target.ha_armed:
            continue  # unreachable or HA-armed hosts are silently skipped
        if not (target.role == "slave" and target.master_address == my_address):
            target.set_role("slave", my_address)
            target.light_fuse()
        recovered.insert(0, ref)  # consed onto the result list, as xapi does
    return recovered


def is_slave(ctx: CallContext, host: Any) -> Any:
    return not ctx.proc.is_master


def designate_new_master(ctx: CallContext, host: Any) -> Any:
    """message_forwarding.ml designate_new_master: the pool-operation lock
    (DESIGNATE_NEW_MASTER_IN_PROGRESS while one runs), then do_op_on the target
    (HOST_OFFLINE if not live; CANNOT_CONTACT_HOST if the connection fails; it
    waits while the target is hung). On the target (xapi_pool.ml): nothing if it is
    the master already; HA_IS_ENABLED; Pool.sync_database; then
    Xapi_pool_transition.attempt_two_phase_commit_of_new_master."""
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    pool = the_pool(db)
    ops = dict(db.get_field("pool", pool, "current_operations") or {})
    if "designate_new_master" in ops.values():
        raise ApiError("DESIGNATE_NEW_MASTER_IN_PROGRESS")
    task = "OpaqueRef:designate-" + str(len(ops) + 1) + "-" + str(int(ctx.world.clock.now()))
    ops[task] = "designate_new_master"
    db.set_field("pool", pool, "current_operations", ops)
    try:
        return _designate_on_target(ctx, db, host)
    finally:
        if ctx.master is not None and ctx.master.db is db:
            current = dict(db.get_field("pool", pool, "current_operations") or {})
            current.pop(task, None)
            db.set_field("pool", pool, "current_operations", current)


def _designate_on_target(ctx: CallContext, db: "Database", host: str) -> str:
    me = local_host_ref(ctx)
    if host == me:
        return ""  # Local.Pool.designate_new_master on the master: `if not (is_master ())`
    metrics = db.get_field("host", host, "metrics")
    if db.exists("host_metrics", metrics) and not db.get_field("host_metrics", metrics, "live"):
        raise ApiError("HOST_OFFLINE", host)
    target = host_proc_blocking(ctx, host)
    if target is None:
        raise ApiError("CANNOT_CONTACT_HOST", host)
    if target.emergency:
        raise target.emergency_error  # the forwarded call meets the target's emergency check
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    # Pool.sync_database: the master pushes its database to every member it can reach
    ctx.master_proc.push_backups()
    my_address = str(db.get_field("host", host, "address"))
    peers = [str(db.get_field("host", ref, "address")) for ref in db.refs("host")]
    peers = [a for a in peers if a != my_address]
    two_phase_commit(target, peers, my_address, manual=True)
    return ""


def two_phase_commit(target: Any, peer_addresses: Any, my_address: str, manual: bool) -> None:
    """Xapi_pool_transition.attempt_two_phase_commit_of_new_master, run by `target`.
    Phase 1: propose_new_master (an emergency call, slave_local login) to every peer
    and to itself; the first that fails aborts (abort_new_master to those done so
    far) and its raw error goes back to the caller (a connection failure as
    INTERNAL_ERROR). Then pool.conf says broken; phase 2: commit_new_master to every
    peer; if any fails the target restarts at once, broken (HOST_BROKEN); otherwise
    it becomes master and restarts when its connection to the old master dies."""
    incarnation = target.incarnation
    done: List[XapiHost] = []
    for address in list(peer_addresses) + [my_address]:
        reach = target.reach_blocking(address, incarnation)
        try:
            if not reach.ok:
                raise internal_error_connection(reach.describe(address))
            propose_on(reach.target, my_address, manual)
        except ApiError:
            for peer in done:
                peer.proposed_master = None
            raise
        done.append(reach.peer)
    target.set_role("broken")
    if target.between_commit_phases is not None:  # a test seam: faults between the phases
        target.between_commit_phases()
    failed = []
    for address in peer_addresses:
        reach = target.reach_blocking(address, incarnation)
        try:
            if not reach.ok:
                raise internal_error_connection(reach.describe(address))
            commit_on(reach.target, my_address)
        except ApiError as exc:
            target.note(f"commit_new_master to {address} failed: {exc.details}")
            failed.append(address)
    if failed:
        # Db_cache_impl.flush_and_exit: restart now, with pool.conf = broken
        target.note("some hosts failed to commit: restarting broken")
        target._after(0, lambda: target.restart(reason="two-phase commit failed"), "broken")
        return
    target.set_role("master")
    target.just_became_master = True
    # manual: restart when the connection to the old master dies (the old master's
    # fuse); a little later than the others.
    target._after(
        target.world.timings.fuse + target.world.timings.xapi_restart_gap,
        lambda: target.restart(reason="new master"),
        "designate",
    )


def disable_ha(ctx: CallContext) -> Any:
    db = ctx.need_db()
    # message_forwarding.ml disable_ha: with_pool_operation ha_disable (pool_ops.py)
    with pool_ops.pool_operation(db, the_pool(db), "ha_disable"):
        return _disable_ha(ctx, db)


def _disable_ha(ctx: CallContext, db: "Database") -> str:
    if not ha_enabled(db):
        raise ApiError("HA_NOT_ENABLED")
    for pool in db.refs("pool"):
        db.update("pool", pool, ha_enabled=False, ha_statefiles=[])
    for ref in db.refs("host"):
        proc = host_proc(ctx, ref)
        if proc is not None:
            proc.ha_armed = False
    ctx.proc.world.notify()
    return ""


def enable_ha(ctx: CallContext, heartbeat_srs: Any, configuration: Any) -> Any:
    """message_forwarding.ml enable_ha: the pool-operation lock (pool_ops.py: another
    blocking operation -> its *_IN_PROGRESS, HA on -> HA_IS_ENABLED); then xapi_ha.ml
    `enable`: HA_IS_ENABLED; REQUIRED_PIF_IS_UNPLUGGED [pifs] for disallow_unplug PIFs
    not attached; HOST_OFFLINE [host] for a host that is not live (and, here, one that
    does not answer); the statefile SR: the first of heartbeat_srs, whose check
    (xha_statefile.ml check_sr_can_host_statefile: a PBD on every host, all plugged ->
    SR_NO_PBDS [sr]; an SM that can generate a config -> SR_OPERATION_NOT_SUPPORTED [sr])
    raises as is, or with none given the first SR passing it, else
    CANNOT_CREATE_STATE_FILE; an existing statefile VDI there is reused
    (xha_statefile.ml find_or_create) and recorded in pool.ha_statefiles; then
    attach_statefiles: with the statefile unreachable, VDI_NOT_AVAILABLE [vdi ref]."""
    db = ctx.need_db()
    pool = the_pool(db)
    with pool_ops.pool_operation(db, pool, "ha_enable"):
        return _enable_ha(ctx, db, pool, [str(sr) for sr in (heartbeat_srs or [])])


# SM drivers without VDI_GENERATE_CONFIG / VDI_ATTACH_OFFLINE (ISO libraries, udev, ...)
_NO_STATEFILE_SM = frozenset({"iso", "udev", "dummy"})


def _check_statefile_sr(db: "Database", sr: str) -> None:
    pbds = db.get_field("SR", sr, "PBDs")
    if len({db.get_field("PBD", p, "host") for p in pbds}) < len(db.refs("host")):
        raise ApiError("SR_NO_PBDS", sr)  # some host lacks a PBD
    if not all(db.get_field("PBD", p, "currently_attached") for p in pbds):
        raise ApiError("SR_NO_PBDS", sr)
    if db.get_field("SR", sr, "type") in _NO_STATEFILE_SM or db.get_field("SR", sr, "content_type") == "iso":
        raise ApiError("SR_OPERATION_NOT_SUPPORTED", sr)


def _enable_ha(ctx: CallContext, db: "Database", pool: str, wanted: Any) -> str:
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    unplugged = [p for p in db.find("PIF", disallow_unplug=True, currently_attached=False)]
    if unplugged:
        raise ApiError("REQUIRED_PIF_IS_UNPLUGGED", *unplugged)
    procs = []
    for ref in db.refs("host"):
        metrics = db.get_field("host", ref, "metrics")
        live = db.exists("host_metrics", metrics) and bool(db.get_field("host_metrics", metrics, "live"))
        proc = host_proc(ctx, ref)
        if not live or proc is None:
            raise ApiError("HOST_OFFLINE", ref)
        procs.append(proc)
    for sr in wanted:
        if not db.exists("SR", sr):
            raise ApiError("HANDLE_INVALID", "SR", sr)
    if wanted:
        sr = wanted[0]
        _check_statefile_sr(db, sr)
    else:
        usable = []
        for candidate in db.refs("SR"):
            try:
                _check_statefile_sr(db, candidate)
            except ApiError:
                continue
            usable.append(candidate)
        if not usable:
            raise ApiError("CANNOT_CREATE_STATE_FILE")
        sr = usable[0]
    existing = [v for v in db.find("VDI", SR=sr, type="ha_statefile")]
    statefile = (
        existing[0]
        if existing
        else db.create(
            "VDI",
            SR=sr,
            name_label="Statefile for HA",
            name_description="Used for storage heartbeating",
            type="ha_statefile",
            sharable=True,
        )
    )
    # xapi_ha.ml enable records the statefile before it attaches it
    # (attach_statefiles); the attach of an unreachable statefile raises
    # VDI_NOT_AVAILABLE [its ref] (24.19; its uuid from 26.7), and nothing is
    # undone: HA stays off
    db.update("pool", pool, ha_statefiles=[statefile])
    if not ctx.world.statefile_ok:
        raise ApiError("VDI_NOT_AVAILABLE", statefile)
    db.update("pool", pool, ha_enabled=True)
    for proc in procs:
        proc.ha_armed = True
        proc.ha_soft_disabled = False
    ctx.proc.world.notify()
    return ""


def sync_database(ctx: CallContext) -> str:
    ctx.master_proc.push_backups()
    return ""


METHODS = [
    make("pool.emergency_transition_to_master", (), emergency_transition_to_master),
    make("pool.emergency_reset_master", ("master_address",), emergency_reset_master),
    make("pool.recover_slaves", (), recover_slaves),
    make("pool.is_slave", ("host",), is_slave),
    make("pool.designate_new_master", ("host",), designate_new_master),
    make("pool.disable_ha", (), disable_ha),
    make("pool.enable_ha", ("heartbeat_srs", "configuration"), enable_ha),
    make("pool.sync_database", (), sync_database),
]
