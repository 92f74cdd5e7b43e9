"""The per-host attach keys sm keeps in VDI.sm_config (sm, not xapi).

When a host activates a VDI, sm's blktap2 VDI._add_tag writes `host_<host ref>`
("RW" or "RO") into the VDI's sm_config, with an `activating` key while the
activation runs; _remove_tag drops them on deactivate. A host that crashed
never deactivates, so its keys stay. Activating the VDI on another host then
fails: sm raises VDIUnavailable, which xapi reports as SR_BACKEND_FAILURE_46
"The VDI is not available". Only sm's resetvdis.py (or a raw
VDI.remove_from_sm_config) clears them. This rule is read from sm
(drivers/blktap2.py, drivers/resetvdis.py), not from xen-api: the simulator
refuses whenever a key names another host or `activating` is left over, which
is at least as strict as sm (sm lets a read-only attach share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

from xentui.sim.errors import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

HOST_KEY_PREFIX = "host_"
ACTIVATING = "activating"


def stale_keys(sm_config: Dict[str, Any], host: str) -> List[str]:
    """The keys that stop `host` from activating a VDI with this sm_config."""
    out = [key for key in sm_config if key.startswith(HOST_KEY_PREFIX) and key != HOST_KEY_PREFIX + host]
    if ACTIVATING in sm_config:
        out.append(ACTIVATING)
    return sorted(out)


def unavailable(vdi_uuid: str, keys: Iterable[str]) -> ApiError:
    # SR_BACKEND_FAILURE_<n> [n; text; stderr-ish] as xapi's storage layer renders sm errors
    return ApiError(
        "SR_BACKEND_FAILURE_46",
        "",
        "The VDI is not available [opterr=VDI %s locked by %s]" % (vdi_uuid, ",".join(keys)),
        "",
    )


def assert_activatable(db: "Database", vm: str, host: str) -> None:
    """Before the domain starts on `host`: every disk must be activatable there."""
    for vbd in db.find("VBD", VM=vm):
        vdi = db.get_field("VBD", vbd, "VDI")
        if not db.exists("VDI", vdi):
            continue
        keys = stale_keys(dict(db.get_field("VDI", vdi, "sm_config") or {}), host)
        if keys:
            raise unavailable(str(db.get_field("VDI", vdi, "uuid")), keys)


def mark_attached(db: "Database", vm: str, host: str, activating: bool = False) -> Optional[str]:
    """What _add_tag leaves behind on every disk of `vm` attached on `host`."""
    last = None
    for vbd in db.find("VBD", VM=vm):
        vdi = db.get_field("VBD", vbd, "VDI")
        if not db.exists("VDI", vdi):
            continue
        sm_config = dict(db.get_field("VDI", vdi, "sm_config") or {})
        sm_config[HOST_KEY_PREFIX + host] = "RW"
        if activating:
            sm_config[ACTIVATING] = "True"
        db.set_field("VDI", vdi, "sm_config", sm_config)
        last = vdi
    return last


def clear_host(db: "Database", host: str) -> List[str]:
    """sm's host-post-declare-dead hook (10resetvdis -> resetvdis.py all <host>),
    run by Xapi_hooks.host_post_declare_dead from Host.declare_dead and
    Host.destroy: the dead host's keys go. A leaked `activating` key stays."""
    cleared = []
    key = HOST_KEY_PREFIX + host
    for vdi in db.refs("VDI"):
        sm_config = db.get_field("VDI", vdi, "sm_config") or {}
        if key in sm_config:
            sm_config = dict(sm_config)
            del sm_config[key]
            db.set_field("VDI", vdi, "sm_config", sm_config)
            cleared.append(vdi)
    return cleared
