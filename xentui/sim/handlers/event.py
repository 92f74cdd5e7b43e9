"""event.from, served against the master's database with the scaled clock."""

from __future__ import annotations

import threading
from typing import Any, Dict

from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import make
from xentui.sim.xapi_host import CallContext, ClientGone, client_gone


def event_from(ctx: CallContext, classes: Any, token: Any, timeout: Any) -> Dict[str, Any]:
    proc = ctx.proc
    incarnation = ctx.incarnation
    clock = ctx.world.clock

    def wait(condition: threading.Condition, sim_timeout: float) -> bool:
        # Wait in short real slices so a stopped xapi ends the call promptly.
        proc.check_alive(incarnation)
        real = min(clock.real(sim_timeout), 0.25)
        result: bool = condition.wait(real)
        proc.check_alive(incarnation)
        if client_gone():
            raise ClientGone()
        return result

    if not proc.is_master:
        # api_server.ml callback1 serves a call that arrives over TCP on a member
        # locally; xapi_event.ml from_inner reads Db_backend.make (), this process's
        # in-memory database, which a member never populates (its DB calls go to
        # the master through Db_ref.Remote): TableSet.find raises DBCache_NotFound
        # ("missing table", ...), which ExnHelper turns into INTERNAL_ERROR.
        wanted = [str(c) for c in classes]
        table = "session" if not wanted or "*" in wanted else wanted[0]
        raise ApiError("INTERNAL_ERROR", "missing table", table, "")
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = 86400.0
    return ctx.need_db().event_from(list(classes), str(token), seconds, wait)


METHODS = [
    make("event.from", ("classes", "token", "timeout"), event_from),
]
