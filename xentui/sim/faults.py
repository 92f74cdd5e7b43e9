"""Faults injected into the world, and their reverses.

Each method changes physical reality (power, hangs, cables, addresses,
NICs, the HA statefile) or restarts a toolstack; xapi's reaction follows
from the per-host state machine. `immediate=True` skips the simulated
delays (used by scenario preparation)."""

from __future__ import annotations

from typing import List

from xentui.sim.world import Nic, World


class UnknownHost(KeyError):
    pass


class Faults:
    def __init__(self, world: World) -> None:
        self.world = world

    def _machine(self, host: str):
        try:
            return self.world.machines[host]
        except KeyError:
            raise UnknownHost(host) from None

    def _changed(self) -> None:
        self.world.notify()

    # --- power ----------------------------------------------------------------

    def power_off(self, host: str) -> None:
        """Pull the plug: connections refused, its guest domains are gone, the DB still says Running."""
        with self.world.lock:
            machine = self._machine(host)
            proc = self.world.procs[host]
            machine.hung = False
            proc.stop("power off")
            machine.powered = False
            machine.domains.clear()
            self.world.note(f"[{host}] powered off")
            self._changed()

    def power_on(self, host: str, immediate: bool = False) -> None:
        with self.world.lock:
            machine = self._machine(host)
            if machine.powered:
                return
            machine.powered = True
            machine.hung = False
            machine.next_domid = 1
            proc = self.world.procs[host]
            proc.ha_soft_disabled = False
            self.world.note(f"[{host}] powered on")
            if immediate:
                proc.instant_hello = True
                proc.start()
            else:
                self.world.scheduler.call_later(self.world.timings.boot_time,
                                                lambda: machine.powered and proc.start(), f"{host}:boot")
            self._changed()

    # --- hangs and the network ---------------------------------------------------

    def hang(self, host: str) -> None:
        """Accepts connections, never answers (also to other hosts)."""
        with self.world.lock:
            machine = self._machine(host)
            machine.hung = True
            self.world.procs[host].set_hung(True)
            self.world.note(f"[{host}] hung")
            self._changed()

    def unhang(self, host: str) -> None:
        with self.world.lock:
            machine = self._machine(host)
            machine.hung = False
            self.world.procs[host].set_hung(False)
            self.world.note(f"[{host}] unhung")
            self._changed()

    def partition(self, a: str, b: str) -> None:
        with self.world.lock:
            self._machine(a), self._machine(b)
            self.world.partitions.add(frozenset((a, b)))
            self.world.note(f"network partition {a} <-> {b}")
            self._changed()

    def heal(self, a: str, b: str) -> None:
        with self.world.lock:
            self.world.partitions.discard(frozenset((a, b)))
            self.world.note(f"network healed {a} <-> {b}")
            self._changed()

    # --- toolstack and addresses -----------------------------------------------

    def restart_xapi(self, host: str, immediate: bool = False) -> None:
        """xe-toolstack-restart."""
        with self.world.lock:
            self._machine(host)
            proc = self.world.procs[host]
            if not proc.machine.powered:
                return
            proc.instant_hello = immediate
            proc.restart(gap=0 if immediate else None, reason="toolstack restart")
            self._changed()

    def lose_management_ip(self, host: str) -> None:
        with self.world.lock:
            machine = self._machine(host)
            machine.has_ip = False
            proc = self.world.procs[host]
            proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] lost its management IP")
            self._changed()

    def restore_management_ip(self, host: str) -> None:
        with self.world.lock:
            machine = self._machine(host)
            machine.has_ip = True
            proc = self.world.procs[host]
            proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] management IP restored")
            self._changed()

    # --- HA statefile ------------------------------------------------------------

    def lose_statefile(self) -> None:
        with self.world.lock:
            self.world.statefile_ok = False
            self.world.note("HA statefile lost")
            self._changed()

    def restore_statefile(self) -> None:
        with self.world.lock:
            self.world.statefile_ok = True
            self.world.note("HA statefile restored")
            self._changed()

    # --- hardware ----------------------------------------------------------------

    def replace_nics(self, host: str, rename=True) -> None:
        """A new motherboard: new NICs with new MACs. The DB keeps the old PIFs.

        rename=True (what interface-rename does on a real dom0): the old device names
        stay reserved for the old MACs, so the new NICs come up as the next free ethN
        (eth2, eth3 after eth0, eth1). The management bridge (xenbr0 over eth0) then
        has no uplink and the host loses its management address; a slave xapi that
        (re)starts waits in emergency mode with HOST_HAS_NO_MANAGEMENT_IP.
        rename=False: the new NICs keep the old device names (PIF.scan re-matches them).
        Scenario steps pass strings: "same-names"/"false" mean rename=False."""
        if not isinstance(rename, bool):
            rename = str(rename).strip().lower() not in ("false", "0", "no", "same-names")
        with self.world.lock:
            machine = self._machine(host)
            proc = self.world.procs[host]
            count = len(machine.original_nics)
            new: List[Nic] = []
            for index, nic in enumerate(machine.original_nics):
                octets = nic.mac.split(":")
                octets[2] = "%02x" % ((int(octets[2], 16) + 1) & 0xFF)
                device = "eth%d" % (count + index) if rename else nic.device
                new.append(Nic(device, ":".join(octets)))
            machine.nics = new
            if proc.management_interface and machine.nic_for_interface(proc.management_interface) is None:
                if machine.has_ip:
                    machine.ip_lost_with_nics = True
                machine.has_ip = False
                proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] NICs replaced: " + ", ".join(f"{n.device}={n.mac}" for n in new))
            self._changed()

    def restore_nics(self, host: str) -> None:
        with self.world.lock:
            machine = self._machine(host)
            proc = self.world.procs[host]
            machine.nics = [Nic(n.device, n.mac) for n in machine.original_nics]
            if machine.ip_lost_with_nics and machine.nic_for_interface(proc.management_interface or "xenbr0"):
                machine.has_ip = True
                machine.ip_lost_with_nics = False
                proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] original NICs back")
            self._changed()
