"""Read each pool host's copy of the database (generation, age) where xentui can reach its files.

Which member to promote depends on whose copy is newest (recovery/stale_db.py).
This host's files are always at hand. Another member's files are reachable
only where they really are:

* a simulator target: every simulated host's dom0 files (its `root`);
* a real dom0 (local socket, SSH, HTTPS): xentui has no way into another
  member. Its xapi will not tell (in emergency mode a member serves no database
  call, and no API call reports a copy's generation), and xentui never opens
  SSH to a host the admin did not name. Those copies are "unknown" and the
  finding says what to type at that member's console (db_copy.ADMIN_COMMAND).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple

from xentui.host.db_copy import DbCopy, read_db_copy, unknown_copy

if TYPE_CHECKING:  # pragma: no cover
    from xentui.host.access import HostAccess
    from xentui.xapi.model import PoolSnapshot
    from xentui.xapi.targets import Target

NO_WAY_IN = "xentui reaches only this host's files, not that member's"


def member_accesses(target: "Target") -> Dict[str, "HostAccess"]:
    """{host name: access to its files} for the members other than the console
    that xentui can read (the simulator's hosts; none on a real pool)."""
    if target.kind != "sim":
        return {}
    from xentui.host.access import SimulatedAccess

    return {h.name: SimulatedAccess(h.root) for h in target.sim_hosts if h.name != target.sim_host}


def read_db_copies(
    snapshot: "PoolSnapshot", this_name: str, this_access: Optional["HostAccess"], others: Dict[str, "HostAccess"]
) -> Tuple[DbCopy, ...]:
    """Every host of `snapshot`'s copy, by name; never raises."""
    copies = []
    for host in sorted(snapshot.hosts.values(), key=lambda h: h.name_label):
        name = host.name_label
        access = this_access if name == this_name else others.get(name)
        if access is None:
            copies.append(unknown_copy(name, "no file access to this host" if name == this_name else NO_WAY_IN))
            continue
        try:
            copies.append(read_db_copy(access, name))
        except Exception as exc:  # noqa: BLE001 - an observation never raises for host trouble
            copies.append(unknown_copy(name, f"{type(exc).__name__}: {exc}"))
    return tuple(copies)
