"""pool.*: role changes and recovery (xapi-semantics.md §2, §3)."""

from __future__ import annotations

from xentui.sim.errors import ApiError
from xentui.sim.host_files import clone_with_origin
from xentui.sim.handlers._common import check_ref, ha_enabled, host_proc, local_host_ref, make, the_pool
from xentui.sim.xapi_host import CallContext, valid_ipv4


def emergency_transition_to_master(ctx: CallContext):
    proc = ctx.proc
    if proc.ha_armed:
        raise ApiError("HA_IS_ENABLED")
    # Does not check the current role (the CLI does, unless --force).
    if not proc.is_master:
        proc.just_became_master = True
    proc.set_role("master")
    proc.light_fuse()
    return ""


def emergency_reset_master(ctx: CallContext, master_address):
    proc = ctx.proc
    if proc.ha_armed:
        raise ApiError("HA_IS_ENABLED")
    address = str(master_address)
    if not valid_ipv4(address):
        raise ApiError("INTERNAL_ERROR", 'Failure("Couldn\'t resolve hostname: %s")' % address)
    if proc.role == "slave" and proc.master_address == address:
        return ""  # "We are already a slave of %s; nothing to do"
    proc.set_role("slave", address)
    proc.light_fuse()
    return ""


def recover_slaves(ctx: CallContext):
    """Repoint every reachable member at us (not only emergency-mode ones)."""
    db = ctx.need_db()
    me = local_host_ref(ctx)
    # xapi_pool.ml: Db.Host.get_address of localhost (update_env wrote it at start-up)
    my_address = str(db.get_field("host", me, "address")) if me else ctx.master.machine.address
    recovered = []
    for ref in db.refs("host"):
        if ref == me:
            continue
        target = host_proc(ctx, ref)
        if target is None or target.ha_armed:
            continue  # unreachable or HA-armed hosts are silently skipped
        if not (target.role == "slave" and target.master_address == my_address):
            target.set_role("slave", my_address)
            target.light_fuse()
        recovered.insert(0, ref)  # consed onto the result list, as xapi does
    return recovered


def is_slave(ctx: CallContext, host):
    return not ctx.proc.is_master


def designate_new_master(ctx: CallContext, host):
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    pool = the_pool(db)
    if db.get_field("pool", pool, "master") == host:
        return ""
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    target = host_proc(ctx, host)
    if target is None:
        raise ApiError("CANNOT_CONTACT_HOST", host)
    new_address = target.machine.address
    # Phase 1: propose_new_master to every member; any failure aborts everything.
    peers = []
    for ref in db.refs("host"):
        proc = host_proc(ctx, ref)
        if proc is None:
            raise ApiError("CANNOT_CONTACT_HOST", ref)
        if proc.emergency:
            raise proc.emergency_error
        peers.append(proc)
    # Pool.sync_database: the new master gets the current database.
    target.receive_backup(clone_with_origin(db))
    # Phase 2: set_role Broken, commit_new_master to the peers, then Master.
    target.set_role("broken")
    for proc in peers:
        if proc is target:
            continue
        proc.set_role("slave", new_address)
        proc.light_fuse()
    target.set_role("master")
    target.just_became_master = True
    # The new master restarts when its connection to the old master dies (after the old
    # master's fuse); a little later than the others.
    target.world.scheduler.call_later(target.world.timings.fuse + target.world.timings.xapi_restart_gap,
                                      lambda: target.up and target.restart(reason="new master"),
                                      f"{target.name}:designate")
    return ""


def disable_ha(ctx: CallContext):
    db = ctx.need_db()
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


def enable_ha(ctx: CallContext, heartbeat_srs, configuration):
    """xapi_ha.ml `enable`: HA_IS_ENABLED if already on; every host must be live
    and answer (HOST_OFFLINE [host]); a statefile VDI goes into the first
    usable heartbeat SR (with none given, any shared SR), else
    CANNOT_CREATE_STATE_FILE; then pool.ha_enabled and every host is armed."""
    db = ctx.need_db()
    if ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    procs = []
    for ref in db.refs("host"):
        metrics = db.get_field("host", ref, "metrics")
        live = db.exists("host_metrics", metrics) and bool(db.get_field("host_metrics", metrics, "live"))
        proc = host_proc(ctx, ref)
        if not live or proc is None:
            raise ApiError("HOST_OFFLINE", ref)
        procs.append(proc)
    wanted = [str(sr) for sr in (heartbeat_srs or [])]
    for sr in wanted:
        if not db.exists("SR", sr):
            raise ApiError("HANDLE_INVALID", "SR", sr)
    candidates = wanted or db.refs("SR")
    usable = [sr for sr in candidates if db.get_field("SR", sr, "shared")]
    if not usable or not ctx.world.statefile_ok:
        raise ApiError("CANNOT_CREATE_STATE_FILE")
    statefile = db.create("VDI", SR=usable[0], name_label="Statefile for HA")
    for pool in db.refs("pool"):
        db.update("pool", pool, ha_enabled=True, ha_statefiles=[statefile])
    for proc in procs:
        proc.ha_armed = True
        proc.ha_soft_disabled = False
    ctx.proc.world.notify()
    return ""


def sync_database(ctx: CallContext):
    ctx.master.push_backups()
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
