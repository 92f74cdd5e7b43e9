"""The simulated world: physical machines, the network between them, and
the xapi process running on each.

Physical truth (which guest domains really run where, which NICs a machine
has, whether it is powered or hung) is kept here, apart from any xapi
database, because the whole point of a broken pool is that the two disagree.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Callable,
    Dict,
    FrozenSet,
    Generic,
    List,
    Optional,
    Protocol,
    Set,
    Tuple,
    TypeVar,
    cast,
)

from xentui.sim.clock import Scheduler, SimClock, Timings

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.host_files import HostFiles
    from xentui.sim.methods import MethodTable


@dataclass
class Nic:
    device: str  # "eth0"
    mac: str


@dataclass
class Machine:
    """One physical host as it really is."""

    name: str
    uuid: str
    address: str  # the management IP configured on it (a loopback 127.0.0.x address)
    root: Path  # the host's filesystem root inside the state dir
    nics: List[Nic]
    original_nics: List[Nic]
    control_domain_uuid: str = ""
    has_ip: bool = True
    # The management address went away because the NIC behind the management
    # bridge was replaced (restore_nics gives it back).
    ip_lost_with_nics: bool = False
    # The bridge networkd keeps the management address on (its config from install
    # time): the address is there only while that bridge has its uplink NIC.
    ip_bridge: str = "xenbr0"
    # The link or the DHCP lease is gone (cable, switch port, DHCP server): only
    # its return brings the address back; networkd re-applying its config does not.
    link_down: bool = False
    # Bridges networkd got a config for later (a PIF plugged with its IP configuration).
    configured_bridges: Set[str] = field(default_factory=set)
    powered: bool = True
    hung: bool = False
    # Simulated seconds its xapi waits before answering any request (a busy
    # but alive xapi: the 'slow' fault). 0 = answers at once.
    slow: float = 0.0
    # vm uuid -> domid of the guest domains that really run here
    domains: Dict[str, int] = field(default_factory=dict)
    next_domid: int = 1

    def nic_for_interface(self, interface: str) -> Optional[Nic]:
        """The physical NIC behind a management interface: xenbrN is bridged to ethN
        (networkd's bridge naming by position = the N of ethN), a device is itself."""
        device = interface
        if interface.startswith("xenbr") and interface[5:].isdigit():
            device = "eth" + interface[5:]
        return next((nic for nic in self.nics if nic.device == device), None)

    def networkd_configures(self, bridge: str) -> bool:
        """networkd has a config for `bridge` (written at install time for the NICs
        the host had then: xenbrN over ethN)."""
        return bridge in self.configured_bridges or any(
            "xenbr" + nic.device[3:] == bridge for nic in self.original_nics if nic.device.startswith("eth")
        )

    def reapply_networkd(self) -> bool:
        """networkd (re)starts (toolstack restart, boot): it brings its configured
        management bridge up; the address returns if the bridge has its uplink and
        the link/lease is there. Returns whether the address is there now."""
        if (
            not self.has_ip
            and not self.link_down
            and self.networkd_configures(self.ip_bridge)
            and self.nic_for_interface(self.ip_bridge) is not None
        ):
            self.has_ip = True
            self.ip_lost_with_nics = False
        return self.has_ip

    def start_domain(self, vm_uuid: str) -> int:
        domid = self.next_domid
        self.next_domid += 1
        self.domains[vm_uuid] = domid
        return domid


@dataclass(frozen=True)
class DoubleStart:
    """A VM started on `host` while its domain really ran on `already_on`."""

    vm_uuid: str
    host: str
    already_on: str
    at: float


class _Proc(Protocol):
    """What the world reads of a host's xapi process itself."""

    @property
    def up(self) -> bool: ...


# The xapi process type (xapi_host.XapiHost, which imports this module: the world
# is generic in it rather than naming it, so there is no import cycle).
ProcT = TypeVar("ProcT", bound=_Proc)


@dataclass(frozen=True)
class Reach(Generic[ProcT]):
    """The outcome of one host trying to open a connection to an address."""

    kind: str  # "ok" | "refused" | "unreachable" | "hung"
    target: Optional[ProcT] = None
    machine: Optional[Machine] = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def peer(self) -> ProcT:
        """`target`, typed for use after `ok` (world.reach sets it on every ok reach)."""
        return cast(ProcT, self.target)

    def describe(self, address: str) -> str:
        if self.kind == "refused":
            return f"Connection refused: {address}:443"
        if self.kind == "hung":
            return f"Connection timed out: {address}:443 (no answer)"
        return f"No route to host: {address}:443"


class SimulatorStopped(Exception):
    """Raised inside blocked handlers when the simulator shuts down."""


class World(Generic[ProcT]):
    def __init__(
        self, clock: SimClock, timings: Timings, state_dir: Path, *, root_password: str, pool_secret: str, seed: int = 0
    ) -> None:
        self.clock = clock
        self.timings = timings
        self.state_dir = Path(state_dir)
        self.root_password = root_password
        self.pool_secret = pool_secret
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        # Notified on every change that could unblock a waiting call.
        self.changed = threading.Condition(self.lock)
        self.scheduler = Scheduler(clock, on_error=self._timer_failed)
        self.scheduler.lock = self.lock
        self.machines: Dict[str, Machine] = {}
        self.procs: Dict[str, ProcT] = {}
        self.partitions: Set[FrozenSet[str]] = set()
        # (source, target) host names: source's connections to target fail, the other
        # way works (a firewall, NAT): what makes Pool.hello's talk-back fail.
        self.one_way_blocks: Set[Tuple[str, str]] = set()
        self.statefile_ok = True
        # The IQNs the iSCSI SAN's access list admits (outside xapi; see iscsi_san.py).
        self.san_initiators: Set[str] = set()
        self.double_starts: List[DoubleStart] = []
        self.timer_errors: List[str] = []
        self.stopped = False
        self.methods: Optional["MethodTable"] = None
        self.log: List[str] = []
        self.on_change: List[Callable[[], None]] = []
        self.on_stop: List[Callable[[], None]] = []
        self.files: Optional[HostFiles] = None  # set by the runner

    # --- lookups ---------------------------------------------------------

    def machine_by_address(self, address: str) -> Optional[Machine]:
        for machine in self.machines.values():
            if machine.address == address and machine.has_ip:
                return machine
        return None

    def partitioned(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.partitions

    def reach(self, source: str, address: str) -> Reach[ProcT]:
        """Can host `source` open a connection to `address` right now?"""
        src = self.machines[source]
        if not src.powered or src.hung:
            return Reach("unreachable")
        if address in ("127.0.0.1", src.address):
            if not src.has_ip and address == src.address:
                return Reach("unreachable")
            target_machine: Optional[Machine] = src
        else:
            if not src.has_ip:
                return Reach("unreachable")
            target_machine = self.machine_by_address(address)
        if target_machine is None or not target_machine.powered:
            return Reach("unreachable")
        if target_machine is not src and (
            self.partitioned(source, target_machine.name) or (source, target_machine.name) in self.one_way_blocks
        ):
            return Reach("unreachable")
        if target_machine.hung:
            return Reach("hung", machine=target_machine)
        proc = self.procs[target_machine.name]
        if not proc.up:
            return Reach("refused", machine=target_machine)
        return Reach("ok", target=proc, machine=target_machine)

    def running_domains(self, host: str) -> Dict[str, int]:
        return dict(self.machines[host].domains)

    def where_running(self, vm_uuid: str) -> List[str]:
        return [m.name for m in self.machines.values() if vm_uuid in m.domains]

    # --- physical actions ------------------------------------------------

    def start_domain(self, host: str, vm_uuid: str) -> int:
        for other in self.where_running(vm_uuid):
            self.double_starts.append(DoubleStart(vm_uuid, host, other, self.clock.now()))
            self.note(f"DOUBLE START: VM {vm_uuid} started on {host} while running on {other}")
        return self.machines[host].start_domain(vm_uuid)

    def stop_domain(self, host: str, vm_uuid: str) -> None:
        self.machines[host].domains.pop(vm_uuid, None)

    # --- plumbing --------------------------------------------------------

    def note(self, message: str) -> None:
        self.log.append(f"{self.clock.now():.1f} {message}")
        del self.log[:-2000]

    def notify(self) -> None:
        """Wake every blocked call so it re-checks reachability."""
        with self.changed:
            self.changed.notify_all()
        for callback in list(self.on_change):
            callback()

    def _timer_failed(self, name: str, exc: BaseException) -> None:
        self.timer_errors.append(f"{name}: {exc!r}")
        self.note(f"timer {name} failed: {exc!r}")
