"""Async.<class>.<call>: the call runs in the background as a task object.

Follows taskHelper.ml: `make` creates the row (status pending, progress 0,
result "", resident_on the answering host, type "<none/>"), `register_task`
makes it cancellable (allowed_operations [cancel]) until the work starts,
`complete` sets allowed_operations [], finished, progress 1.0, the result
(the reply value as Xmlrpc.to_string writes it: "<value>OpaqueRef:...</value>",
"" for void) and status success; a failure sets error_info to the error and
status failure; a cancel seen at a cancellation point gives status cancelled
and error_info [TASK_CANCELLED; task].

The work waits `World.task_start_delay` simulated seconds before it starts
(an injectable interval: tests set it to hold a task pending), then runs
under the World lock like any other call.
"""

from __future__ import annotations

import threading
import uuid as uuidlib
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, List, Optional
from xml.sax.saxutils import escape

from xentui.sim.errors import ApiError
from xentui.sim.methods import Method

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

# datamodel.ml `call`'s default flags are [`Session; `Async]: every custom call of the
# simulator that does not say ~flags:[`Session] (checked one by one in ocaml/idl/datamodel*.ml).
ASYNC_CALLS = frozenset(
    {
        "PBD.plug",
        "PBD.unplug",
        "PIF.forget",
        "PIF.plug",
        "PIF.reconfigure_ip",
        "PIF.scan",
        "PIF.unplug",
        "VM.clean_shutdown",
        "VM.hard_shutdown",
        "VM.power_state_reset",
        "VM.start",
        "VM.start_on",
        "host.declare_dead",
        "host.destroy",
        "host.disable",
        "host.enable",
        "host.management_reconfigure",
        "host.get_management_interface",
        "pool.designate_new_master",
        "pool.disable_ha",
        "pool.enable_ha",
        "pool.recover_slaves",
        "pool.sync_database",
    }
)
DEFAULT_START_DELAY = 0.2  # simulated seconds between the reply and the work
POLL = 1.0  # simulated seconds between two looks for a cancel while the work waits


def _dt(sim_time: float) -> datetime:
    return datetime.fromtimestamp(int(sim_time), tz=timezone.utc)


def to_xml(value: Any) -> str:
    """Xmlrpc.to_string of a reply value (strings bare, as xapi's marshaller writes them)."""
    if isinstance(value, bool):
        return "<value><boolean>%d</boolean></value>" % value
    if isinstance(value, int):
        return "<value><i4>%d</i4></value>" % value
    if isinstance(value, float):
        return "<value><double>%r</double></value>" % value
    if isinstance(value, dict):
        return "<value><struct>%s</struct></value>" % "".join(
            "<member><name>%s</name>%s</member>" % (escape(str(k)), to_xml(v)) for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return "<value><array><data>%s</data></array></value>" % "".join(to_xml(v) for v in value)
    return "<value>%s</value>" % escape(str(value))


def create_task(db: "Database", name: str, host_ref: str, now: float) -> str:
    return db.create(
        "task",
        name_label=name,
        name_description="",
        created=_dt(now),
        finished=_dt(0),
        status="pending",
        progress=0.0,
        type="<none/>",
        result="",
        error_info=[],
        resident_on=host_ref,
        allowed_operations=["cancel"],
        current_operations={},
    )


def cancel_requested(db: "Database", task: str) -> bool:
    return "cancel" in db.get_field("task", task, "current_operations").values()


def finish(
    db: "Database",
    task: str,
    now: float,
    *,
    result: Any = None,
    error: Optional[ApiError] = None,
    cancelled: bool = False,
) -> None:
    """TaskHelper.complete / failed / cancel_this; only a pending task changes."""
    if not db.exists("task", task) or db.get_field("task", task, "status") != "pending":
        return
    common = dict(allowed_operations=[], finished=_dt(now), progress=1.0)
    if cancelled:
        db.update("task", task, status="cancelled", error_info=["TASK_CANCELLED", task], **common)
    elif error is not None:
        db.update("task", task, status="failure", error_info=[error.code, *error.params], **common)
    else:
        db.update("task", task, status="success", result="" if result in (None, "") else to_xml(result), **common)


def start(
    world: Any, db: "Database", task: str, work: Callable[[], Any], on_error: Callable[[BaseException], ApiError]
) -> None:
    """Run `work` in its own thread after the start delay; record its outcome on `task`."""

    def run() -> None:
        # the start delay, watched for a cancel (the cancellation point) every POLL seconds
        remaining = float(getattr(world, "task_start_delay", DEFAULT_START_DELAY))
        while True:
            with world.lock:
                if getattr(world, "stopped", False) or not db.exists("task", task) or db.closed:
                    return
                if cancel_requested(db, task):
                    finish(db, task, world.clock.now(), cancelled=True)
                    return
                if remaining <= 0:
                    execute()
                    return
            step = min(remaining, POLL)
            world.clock.sleep(step)
            remaining -= step

    def execute() -> None:
        # the work has begun: from here on a cancel is only noted (set_not_cancellable)
        db.update("task", task, allowed_operations=[], progress=0.1)
        try:
            value = work()
        except ApiError as error:
            finish(db, task, world.clock.now(), error=error)
            return
        except Exception as exc:  # noqa: BLE001 - every failure ends the task, as xapi's does
            finish(db, task, world.clock.now(), error=on_error(exc))
            return
        finish(db, task, world.clock.now(), result=value)

    threading.Thread(target=run, name="xapi-task-" + str(uuidlib.uuid4())[:8], daemon=True).start()


def task_methods() -> List[Method]:
    """task.cancel / task.destroy (xapi_task.ml)."""

    def cancel(ctx: Any, task: Any) -> str:
        db = ctx.need_db()
        task = str(task)
        if not db.exists("task", task):
            raise ApiError("HANDLE_INVALID", "task", task)
        # xapi_task.ml cancel: marks current_operations; the work notices at its next
        # cancellation point (here: before it starts). A finished task just keeps the mark.
        db.set_field("task", task, "current_operations", {"OpaqueRef:" + str(uuidlib.uuid4()): "cancel"})
        return ""

    def destroy(ctx: Any, task: Any) -> str:
        db = ctx.need_db()
        task = str(task)
        if not db.exists("task", task):
            raise ApiError("HANDLE_INVALID", "task", task)
        if db.get_field("task", task, "status") in ("success", "failure", "cancelled"):
            db.destroy("task", task)
        else:
            current = db.get_field("task", task, "current_operations")
            current["task"] = "destroy"
            db.set_field("task", task, "current_operations", current)
        return ""

    return [Method("task.cancel", ("task",), True, cancel), Method("task.destroy", ("self",), True, destroy)]
