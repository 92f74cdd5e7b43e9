"""How xapi keeps a host's PIF records in step with its real NICs.

Shared by PIF.scan (handlers/pif.py) and a slave's start-up resync
(dbsync_slave.ml resynchronise_pif_params), so both follow the same rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database


# What the resync reads of a world.Machine (world.py reaches this module
# through xapi_host.py: naming Machine would be an import cycle).
class _Nic(Protocol):
    @property
    def device(self) -> str: ...


class MachineNics(Protocol):
    @property
    def nics(self) -> Sequence[_Nic]: ...


def device_position(device: str) -> Optional[int]:
    """networkd's sort_based_on_ethx (interface-rename hosts): the position of ethN is N."""
    if device.startswith("eth") and device[3:].isdigit():
        return int(device[3:])
    return None


def management_bridge(interface: str) -> str:
    """The inventory's MANAGEMENT_INTERFACE as a bridge name (the simulator also
    accepts a device name there, meaning that device's xenbrN)."""
    position = device_position(interface)
    return "xenbr%d" % position if position is not None else interface


def update_management_flags(db: "Database", host: str, management_interface: str) -> None:
    """Xapi_pif.update_management_flags: every PIF of the host on the network whose
    bridge is the inventory's MANAGEMENT_INTERFACE is a management PIF; no other is
    (so with no such network, no PIF of the host is)."""
    bridge = management_bridge(management_interface)
    networks = db.find("network", bridge=bridge) if bridge else []
    for pif in db.find("PIF", host=host):
        wanted = bool(networks) and db.get_field("PIF", pif, "network") == networks[0]
        if db.get_field("PIF", pif, "management") != wanted:
            db.set_field("PIF", pif, "management", wanted)


def resync_after_hello(db: "Database", host: str, machine: MachineNics, management_interface: str) -> None:
    """dbsync_slave.resynchronise_pif_params, once the slave talks to its master:
    Host.sync_pif_currently_attached (a physical PIF whose device is gone has no
    bridge up: not attached; the monitor reports no carrier), then
    update_management_flags. refresh_all keeps a gone device's name and MAC (no
    device at that position: get_physical_pif_device keeps the original name)."""
    present = {nic.device for nic in machine.nics}
    for pif in db.find("PIF", host=host):
        record = db.get_record("PIF", pif)
        if not record.get("physical") or record.get("device") in present:
            continue
        if record.get("currently_attached"):
            db.set_field("PIF", pif, "currently_attached", False)
        metrics: Any = record.get("metrics")
        if db.exists("PIF_metrics", metrics) and db.get_field("PIF_metrics", metrics, "carrier"):
            db.set_field("PIF_metrics", metrics, "carrier", False)
    if management_interface:
        update_management_flags(db, host, management_interface)
