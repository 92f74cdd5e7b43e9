"""Helpers shared by the handler modules."""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Tuple

from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.methods import Method
from xentui.sim.xapi_host import EMERGENCY_CALLS, CallContext, XapiHost

NULL_REF = "OpaqueRef:NULL"


def make(name: str, params: Tuple[str, ...], handler: Callable[..., Any], takes_session: bool = True) -> Method:
    return Method(
        name=name, params=tuple(params), takes_session=takes_session, handler=handler, emergency=name in EMERGENCY_CALLS
    )


def check_ref(db: "Database", cls: str, ref: Any) -> str:
    checked = str(ref)
    if not db.exists(cls, checked):
        raise ApiError("HANDLE_INVALID", cls, checked)
    return checked


def ha_enabled(db: "Database") -> bool:
    return any(bool(db.get_field("pool", p, "ha_enabled")) for p in db.refs("pool"))


def the_pool(db: "Database") -> str:
    refs = db.refs("pool")
    if not refs:
        raise ApiError("INTERNAL_ERROR", "no pool object")
    ref: str = refs[0]
    return ref


def host_proc(ctx: CallContext, host_ref: str) -> Optional[XapiHost]:
    """The xapi serving `host_ref`, if the master can reach it now (else None)."""
    address = ctx.database.get_field("host", host_ref, "address")
    reach = ctx.world.reach(ctx.master.name if ctx.master else ctx.host, address)
    if reach.ok and reach.peer.machine.uuid == ctx.database.get_field("host", host_ref, "uuid"):
        return reach.target
    return None


def forward_to_host(ctx: CallContext, host_ref: str) -> XapiHost:
    """Message_forwarding: run on the host that owns the object."""
    metrics = ctx.database.get_field("host", host_ref, "metrics")
    if ctx.database.exists("host_metrics", metrics) and not ctx.database.get_field("host_metrics", metrics, "live"):
        raise ApiError("HOST_OFFLINE", host_ref)
    proc = host_proc(ctx, host_ref)
    if proc is None:
        raise ApiError("CANNOT_CONTACT_HOST", host_ref)
    if proc.emergency and proc is not ctx.proc:
        # the forwarded call meets api_server.ml's emergency check on the target
        raise proc.emergency_error
    return proc


def is_host_alive(ctx: CallContext, host_ref: str) -> bool:
    """Xapi_host.is_host_alive: live=false means dead without asking; otherwise ask
    pool.is_slave (ask_host_if_it_is_a_slave: no timeout, it only logs "slow to
    respond"), so a hung host blocks the call until it answers (alive) or the
    connection dies (dead). Any answer, emergency mode included, means alive."""
    metrics = ctx.database.get_field("host", host_ref, "metrics")
    if ctx.database.exists("host_metrics", metrics) and not ctx.database.get_field("host_metrics", metrics, "live"):
        return False
    return host_proc_blocking(ctx, host_ref) is not None


def host_proc_blocking(ctx: CallContext, host_ref: str) -> Optional[XapiHost]:
    """host_proc for an inter-host call that waits while the host is hung (see
    XapiHost.reach_blocking)."""
    caller = ctx.master or ctx.proc
    address = str(ctx.database.get_field("host", host_ref, "address"))
    reach = caller.reach_blocking(address, caller.incarnation if caller is not ctx.proc else ctx.incarnation)
    if reach.ok and reach.peer.machine.uuid == ctx.database.get_field("host", host_ref, "uuid"):
        return reach.target
    return None


def local_host_ref(ctx: CallContext) -> Optional[str]:
    """The host record (in the master's db) of the master answering the call."""
    proc = ctx.master or ctx.proc
    return proc.host_ref_in(ctx.db) if ctx.db is not None else None


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def refs_list(values: List[str]) -> List[str]:
    return [str(v) for v in values]
