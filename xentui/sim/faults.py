"""Faults injected into the world, and their reverses.

Each method changes physical reality (power, hangs, cables, addresses,
NICs, the HA statefile) or restarts a toolstack; xapi's reaction follows
from the per-host state machine. `immediate=True` skips the simulated
delays (used by scenario preparation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, List

from xentui.sim.world import Machine, Nic, World

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.xapi_host import XapiHost


class UnknownHost(KeyError):
    pass


class Faults:
    def __init__(self, world: World[XapiHost]) -> None:
        self.world = world

    def _machine(self, host: str) -> Machine:
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
            machine.reapply_networkd()  # networkd brings its bridges up at boot
            self.world.note(f"[{host}] powered on")
            if immediate:
                proc.instant_hello = True
                proc.start()
            else:

                def boot() -> None:  # unless powered off again meanwhile
                    if machine.powered:
                        proc.start()

                self.world.scheduler.call_later(self.world.timings.boot_time, boot, f"{host}:boot")
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

    def slow(self, host: str, seconds: str = "3") -> None:
        """A busy but alive xapi: every request is answered, `seconds`
        (simulated) late. Liveness probes must not call this dead."""
        with self.world.lock:
            machine = self._machine(host)
            machine.slow = max(0.0, float(seconds))
            self.world.procs[host].set_reply_delay(machine.slow * self.world.clock.time_scale)
            self.world.note(f"[{host}] slow: answers {machine.slow:g} s late")
            self._changed()

    def unslow(self, host: str) -> None:
        with self.world.lock:
            machine = self._machine(host)
            machine.slow = 0.0
            self.world.procs[host].set_reply_delay(0.0)
            self.world.note(f"[{host}] answers at once again")
            self._changed()

    def partition(self, a: str, b: str) -> None:
        with self.world.lock:
            self._machine(a), self._machine(b)
            self.world.partitions.add(frozenset((a, b)))
            self.world.note(f"network partition {a} <-> {b}")
            self._changed()

    def block_one_way(self, source: str, target: str) -> None:
        """`source` can no longer open connections to `target`; the reverse still works."""
        with self.world.lock:
            self._machine(source), self._machine(target)
            self.world.one_way_blocks.add((source, target))
            self.world.note(f"firewall: {source} -> {target} blocked")
            self._changed()

    def unblock_one_way(self, source: str, target: str) -> None:
        with self.world.lock:
            self.world.one_way_blocks.discard((source, target))
            self.world.note(f"firewall: {source} -> {target} open again")
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
            # xe-toolstack-restart restarts xcp-networkd too: it re-applies its config
            # (the management address comes back unless the link/lease is gone).
            if proc.machine.reapply_networkd():
                proc.rebind()
            proc.instant_hello = immediate
            proc.restart(gap=0 if immediate else None, reason="toolstack restart")
            self._changed()

    def lose_management_ip(self, host: str) -> None:
        """The link or the DHCP lease goes away (cable, switch port, DHCP server):
        only restore_management_ip (its return) gives the address back."""
        with self.world.lock:
            machine = self._machine(host)
            machine.has_ip = False
            machine.link_down = True
            proc = self.world.procs[host]
            proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] lost its management IP")
            self._changed()

    def flush_management_ip(self, host: str) -> None:
        """The address is removed from the management bridge (`ip addr flush`, a
        lease dropped) while the link is fine: networkd re-applying its config (a
        toolstack restart, a reboot) brings it back."""
        with self.world.lock:
            machine = self._machine(host)
            machine.has_ip = False
            proc = self.world.procs[host]
            proc.rebind()
            proc.files_changed()
            self.world.note(f"[{host}] management address removed (link up)")
            self._changed()

    def restore_management_ip(self, host: str) -> None:
        """The link / lease returns: the address is back on networkd's management
        bridge (if that bridge still has its NIC)."""
        with self.world.lock:
            machine = self._machine(host)
            machine.link_down = False
            machine.has_ip = machine.nic_for_interface(machine.ip_bridge) is not None
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

    def replace_nics(self, host: str, rename: bool = True) -> None:
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

    def reboot(self, host: str, immediate: bool = False) -> None:
        """A reboot: the guest domains stop, xapi goes away, the host boots again
        (networkd brings its configured bridges up)."""
        self.power_off(host)
        self.power_on(host, immediate=immediate)

    def rename_interfaces(self, host: str, immediate: bool = False) -> None:
        """What the admin does by hand after a motherboard swap: `interface-rename
        --update eth0=<new MAC> ...` pins the old device names to the new NICs,
        then a reboot: the new NICs come up as eth0, eth1, so networkd's xenbr0
        has its uplink and the management address again."""
        with self.world.lock:
            machine = self._machine(host)
            machine.nics = [Nic(old.device, new.mac) for old, new in zip(machine.original_nics, machine.nics)]
            self.world.note(
                f"[{host}] interface-rename --update: " + ", ".join(f"{n.device}={n.mac}" for n in machine.nics)
            )
        self.reboot(host, immediate=immediate)
