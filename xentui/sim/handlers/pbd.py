"""PBD.plug / PBD.unplug: attach a storage repository on a host."""

from __future__ import annotations

from typing import Any, Set

from xentui.sim import iscsi_san
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import check_ref, forward_to_host, make
from xentui.sim.xapi_host import CallContext


def plug(ctx: CallContext, pbd: Any) -> str:
    db = ctx.need_db()
    pbd = check_ref(db, "PBD", pbd)
    forward_to_host(ctx, db.get_field("PBD", pbd, "host"))
    iscsi_san.assert_admitted(db, ctx.world.san_initiators, pbd)  # sm SR.attach on the host
    db.set_field("PBD", pbd, "currently_attached", True)
    return ""


def unplug(ctx: CallContext, pbd: Any) -> str:
    db = ctx.need_db()
    pbd = check_ref(db, "PBD", pbd)
    host = db.get_field("PBD", pbd, "host")
    forward_to_host(ctx, host)
    sr = db.get_field("PBD", pbd, "SR")
    srs_in_use: Set[str] = set()
    for vm in db.find("VM", resident_on=host):
        for vbd in db.find("VBD", VM=vm):
            vdi = db.get_field("VBD", vbd, "VDI")
            if db.exists("VDI", vdi):
                srs_in_use.add(db.get_field("VDI", vdi, "SR"))
    if sr in srs_in_use:
        raise ApiError("VDI_IN_USE", sr, "unplug")
    db.set_field("PBD", pbd, "currently_attached", False)
    return ""


METHODS = [
    make("PBD.plug", ("self",), plug),
    make("PBD.unplug", ("self",), unplug),
]
