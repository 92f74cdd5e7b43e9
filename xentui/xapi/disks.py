"""The disks a snapshot keeps: those of the guests that are not running.

Their sm locks (VDI.sm_config `host_<ref>` / `activating`) are what keeps a
halted VM from starting after its host died (the VDI_LOCKED finding); a
running guest holds its own locks. So a snapshot does not subscribe to every
VDI and VBD of the pool (on a 2,000-VM pool a third of a full look's bytes),
but to these objects alone: `event.from` takes `<class>/<ref>` subscriptions
(xapi_event.ml Subscription.of_string, object_matches), so the follow loop
hears about a lock cleared or set on exactly these disks.

Which VBDs: `VM.VBDs` of every guest whose power state is not Running; which
VDIs: those VBDs' `VDI`. Both come from the snapshot itself, so a full look
costs two small extra `event.from` calls (token "", one for the VBDs, one for
their VDIs) and a follow step one more only when a guest stopped or its disks
changed. Past OBJECT_LIMIT objects of a class (a whole pool down) the class is
subscribed to as a whole instead: xapi reads at most 300 KiB of request
(constants.ml http_limit_max_rpc_size), and ~50 bytes a subscription add up.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

from xentui.xapi.errors import MalformedReply
from xentui.xapi.model import EVENT_CLASSES, NULL_REF, PoolSnapshot, lean_event_hook

DISK_CLASSES = ("vbd", "vdi")
OBJECT_LIMIT = 1000  # per class; more and the whole class is subscribed to


def wanted(snapshot: PoolSnapshot) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(VBD refs, VDI refs) whose records the snapshot should hold: the disks
    of the guests that are not running (the VDIs as far as their VBDs are known)."""
    vbd_refs = frozenset(
        ref
        for vm in snapshot.raw.get("vm", {}).values()
        if vm.is_guest and vm.power_state != "Running"
        for ref in vm.vbds
    )
    vbds = snapshot.raw.get("vbd", {})
    vdi_refs = frozenset(vbds[r].vdi for r in vbd_refs if r in vbds and vbds[r].vdi != NULL_REF)
    return vbd_refs, vdi_refs


def _objects(cls: str, refs: Iterable[str]) -> List[str]:
    refs = sorted(refs)
    if len(refs) > OBJECT_LIMIT:
        return [cls]
    return [f"{cls}/{ref}" for ref in refs]


def subscriptions(snapshot: PoolSnapshot) -> List[str]:
    """The `classes` argument of an event.from that follows `snapshot`."""
    vbd_refs, vdi_refs = wanted(snapshot)
    return list(EVENT_CLASSES) + _objects("vbd", vbd_refs) + _objects("vdi", vdi_refs)


def trimmed(snapshot: PoolSnapshot) -> PoolSnapshot:
    """`snapshot` holding exactly the wanted disks it has (a guest that started
    again no longer needs its disks; a whole-class read brought them all)."""
    vbd_refs, vdi_refs = wanted(snapshot)
    vbds, vdis = snapshot.raw.get("vbd", {}), snapshot.raw.get("vdi", {})
    if vbds.keys() <= vbd_refs and vdis.keys() <= vdi_refs:
        return snapshot
    raw: Dict[str, Any] = dict(snapshot.raw)
    raw["vbd"] = {r: v for r, v in vbds.items() if r in vbd_refs}
    raw["vdi"] = {r: v for r, v in vdis.items() if r in vdi_refs}
    return replace(snapshot, raw=raw)


def complete(
    client: Any, snapshot: PoolSnapshot, timeout: Optional[float] = None, *, recover_within: float = 0.0
) -> PoolSnapshot:
    """`snapshot` with the wanted disks it lacks read from xapi (at most two
    event.from calls: the VBDs, then the VDIs they name), trimmed. Keeps the
    snapshot's token: a disk that changed since is reported again by the next
    event.from, which is harmless. Raises what `client.call` raises."""
    for _ in range(2):
        vbd_refs, vdi_refs = wanted(snapshot)
        missing = _objects("vbd", vbd_refs - snapshot.raw.get("vbd", {}).keys()) + _objects(
            "vdi", vdi_refs - snapshot.raw.get("vdi", {}).keys()
        )
        if not missing:
            break
        reply = client.call(
            "event.from",
            missing,
            "",
            0.0,
            timeout=timeout,
            recover_within=recover_within,
            object_hook=lean_event_hook,
        )
        events = reply.get("events") if isinstance(reply, dict) else None
        if not isinstance(events, list):
            raise MalformedReply("event.from: reply is not {events, valid_ref_counts, token}")
        snapshot = snapshot.apply_events(events)
    return trimmed(snapshot)


def touched(events: Iterable[Any]) -> bool:
    """Do these events change which disks are wanted (a guest's power state
    or disks, a VBD's VDI)? Heartbeats and host records do not."""
    return any(str(e.get("class", "")).lower() in ("vm", "vbd") for e in events if isinstance(e, dict))
