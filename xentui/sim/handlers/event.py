"""event.from, served against the master's database with the scaled clock."""

from __future__ import annotations

from xentui.sim.handlers._common import make
from xentui.sim.xapi_host import CallContext, ClientGone, client_gone


def event_from(ctx: CallContext, classes, token, timeout):
    proc = ctx.proc
    incarnation = ctx.incarnation
    clock = ctx.world.clock

    def wait(condition, sim_timeout: float) -> bool:
        # Wait in short real slices so a stopped xapi ends the call promptly.
        proc.check_alive(incarnation)
        real = min(clock.real(sim_timeout), 0.25)
        result = condition.wait(real)
        proc.check_alive(incarnation)
        if client_gone():
            raise ClientGone()
        return result

    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = 86400.0
    return ctx.need_db().event_from(list(classes), str(token), seconds, wait)


METHODS = [
    make("event.from", ("classes", "token", "timeout"), event_from),
]
