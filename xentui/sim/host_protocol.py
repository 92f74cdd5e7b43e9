"""What the simulator's helper modules read of a host's xapi (`xapi_host.XapiHost`)
and of its machine (`world.Machine`), as Protocols.

xapi_host.py imports those helpers (host_files.py, http_get.py), so they cannot
name XapiHost back: that would be an import cycle (even under TYPE_CHECKING).
They take these views instead; XapiHost and Machine satisfy them as they are
(mypy checks it where xapi_host passes itself in). Read-only properties, so a
plain attribute of the real class fits."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.clock import SimClock
    from xentui.sim.db import Database


class NicView(Protocol):
    @property
    def device(self) -> str: ...

    @property
    def mac(self) -> str: ...


class MachineView(Protocol):
    """world.Machine: one physical host as it really is."""

    @property
    def uuid(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def nics(self) -> Sequence[NicView]: ...

    @property
    def original_nics(self) -> Sequence[NicView]: ...

    @property
    def control_domain_uuid(self) -> str: ...

    @property
    def has_ip(self) -> bool: ...

    @property
    def ip_bridge(self) -> str: ...

    @property
    def link_down(self) -> bool: ...

    def nic_for_interface(self, interface: str) -> Optional[NicView]: ...


class WorldView(Protocol):
    """world.World: the lock every host's xapi takes, and what really runs where."""

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    def running_domains(self, host: str) -> Mapping[str, int]: ...


class HostView(Protocol):
    """xapi_host.XapiHost: one host's xapi process."""

    @property
    def name(self) -> str: ...

    @property
    def up(self) -> bool: ...

    @property
    def incarnation(self) -> int: ...

    @property
    def is_master(self) -> bool: ...

    @property
    def db(self) -> Optional[Database]: ...

    @property
    def local_db(self) -> Database: ...

    @property
    def machine(self) -> MachineView: ...

    @property
    def world(self) -> WorldView: ...

    @property
    def clock(self) -> SimClock: ...

    @property
    def backup_time(self) -> float: ...  # simulated time its database copy was written

    @property
    def local_db_is_live(self) -> bool: ...  # its local database is a master's own, not a copy

    @property
    def management_interface(self) -> str: ...

    @property
    def conf_role(self) -> str: ...

    @property
    def conf_master_address(self) -> str: ...

    @property
    def xapi_version(self) -> str: ...  # Xapi_version.version of the installed xapi

    def host_ref_in(self, db: Database) -> Optional[str]: ...

    def check_session(self, ref: Any, transport: str, incarnation: int) -> object: ...
