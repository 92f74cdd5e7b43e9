"""What a dom0 knows without xapi, each fact with its source and age.

`GroundTruth` is the contract between `xentui.host` (which gathers it) and
`xentui.recovery` / `xentui.ui` (which reason about and show it). Every
value is wrapped in a `Fact` so the UI can say "from state.db, 4 min old"
rather than presenting stale data as current.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Generic, Optional, Tuple, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Fact(Generic[T]):
    """A value plus where it came from and when it was true.

    `source` is human readable ("/etc/xensource/pool.conf", "ip -j addr show xenbr0",
    "tcp probe 127.0.0.12:80"); `observed_at` is a POSIX timestamp of when the
    value was true (file mtime for files, probe time for probes); `error` is set
    instead of `value` when reading failed.
    """

    value: Optional[T]
    source: str
    observed_at: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.value is not None

    def age(self, now: float) -> float:
        return max(0.0, now - self.observed_at)


def age_text(seconds: float) -> str:
    """How old something is, for people: "40 s old", "15 min old", "2.5 h old"."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s old"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min old"
    return f"{seconds / 3600:.1f} h old"


@dataclass(frozen=True)
class PoolRole:
    """Parsed /etc/xensource/pool.conf: `master`, `slave:<addr>` or `broken`."""

    role: str  # "master" | "slave" | "broken" | "unknown"
    master_address: str = ""


@dataclass(frozen=True)
class Inventory:
    """The keys of /etc/xensource-inventory we use."""

    installation_uuid: str
    control_domain_uuid: str
    management_interface: str  # bridge, e.g. "xenbr0"; "" when none
    management_address_type: str = "IPv4"
    product_version: str = ""
    raw: Tuple[Tuple[str, str], ...] = ()


@dataclass(frozen=True)
class InterfaceAddress:
    """One address of the management bridge (from `ip -j addr show`)."""

    family: str  # "inet" | "inet6"
    address: str
    prefixlen: int


@dataclass(frozen=True)
class LinkState:
    """The management bridge as the kernel sees it."""

    ifname: str
    mac: str
    operstate: str  # "UP", "DOWN", "UNKNOWN"
    carrier: bool
    addresses: Tuple[InterfaceAddress, ...] = ()

    @property
    def ipv4(self) -> Tuple[InterfaceAddress, ...]:
        return tuple(a for a in self.addresses if a.family == "inet")


@dataclass(frozen=True)
class PeerProbe:
    """A short TCP connect to a peer's xapi port."""

    host_name: str
    address: str
    port: int
    outcome: str  # "open" | "refused" | "timeout" | "unreachable" | "error"
    seconds: float
    probed_at: float
    detail: str = ""

    @property
    def answers(self) -> bool:
        return self.outcome == "open"


@dataclass(frozen=True)
class StateDbHost:
    ref: str
    uuid: str
    name_label: str
    address: str


@dataclass(frozen=True)
class GroundTruth:
    """Everything gathered about one host without going through xapi.

    `state_db` holds the parsed replicated database as `{class: {ref: record}}`
    (lower-case class names, records as xapi field dicts), so
    `PoolSnapshot.from_records(state_db.value)` gives the same typed model as a
    live snapshot, labelled with the file's age.
    """

    host_root: str
    pool_role: Fact[PoolRole]
    inventory: Fact[Inventory]
    state_db: Fact[Dict[str, Any]]
    management_link: Fact[LinkState]
    xapi_running: Fact[bool]
    peers: Tuple[PeerProbe, ...] = field(default_factory=tuple)
    gathered_at: float = 0.0
    # Every link the kernel lists (`ip -j link show`): which NICs really exist.
    # None when not gathered (older callers); additive to the contract.
    links: Optional[Fact[Tuple[LinkState, ...]]] = None
    # The installed xapi's version (`rpm -q xapi-core`, xapi_installed.py), gathered
    # on members only: what xapi compares with its coordinator's xapi_build, and
    # what lasts after the stored error stops naming it. None when not gathered.
    installed_xapi: Optional[Fact[str]] = None
