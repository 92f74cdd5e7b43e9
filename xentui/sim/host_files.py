"""Keeps each simulated host's dom0 files current (rendered by dom0_files).

pool.conf and the inventory follow the xapi process; state.db is the
master's live database for a running master and the last backup copy for
everyone else; ip-addr.json shows the management bridge and whether it has
its address. Identical state.db contents (every slave right after one backup
push) are rendered once and hard-linked, so a 64-host pool stays cheap.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from xentui.sim import dom0_files
from xentui.sim.host_protocol import HostView

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

PRODUCT = {
    "PRODUCT_BRAND": "XCP-ng",
    "PRODUCT_VERSION": "8.3.0",
    "PRODUCT_VERSION_TEXT": "8.3",
    "PRODUCT_VERSION_TEXT_SHORT": "8.3",
    "PLATFORM_NAME": "XCP",
    "PLATFORM_VERSION": "3.4.0",
    "BUILD_NUMBER": "cloud",
    "COMPANY_NAME": "Vates",
    "COMPANY_NAME_SHORT": "Vates",
    "BRAND_CONSOLE": "XCP-ng Center",
    "PRIMARY_DISK": "/dev/disk/by-id/ata-SIMULATED",
    "BACKUP_PARTITION": "/dev/disk/by-id/ata-SIMULATED-part2",
    "PARTITION_LAYOUT": "ROOT,BACKUP,LOG,BOOT,SWAP,SR",
    "DOM0_MEM": "8192",
    "DOM0_VCPUS": "8",
    "XEN_VERSION": "4.17.5",
    "KERNEL_VERSION": "4.19.0+1",
    "INSTALLATION_DATE": "2024-03-01 10:00:00.000000",
}


class HostFiles:
    """Small files are written at once; state.db renders run on one background
    writer thread (coalesced per host), because rendering a big pool database
    takes seconds and must not stall the xapi being simulated."""

    # A master's live state.db is re-rendered at most this often (real seconds),
    # or twice the last render's duration if that is longer (big pools).
    LIVE_DB_MIN_INTERVAL = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # host -> (root, database, live, when its copy was written: real POSIX time, None = now)
        self._pending: Dict[str, Tuple[Path, "Database", bool, Optional[float]]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._stopped = False
        self._last_live_render: Dict[str, float] = {}
        self._live_interval: Dict[str, float] = {}
        self._flushing = 0
        self._thread = threading.Thread(target=self._run, name="sim-state-db-writer", daemon=True)
        self._thread.start()
        # db identity -> (generation, path of a file already holding that render)
        self._rendered: Dict[Tuple[int, int], Tuple[Path, int]] = {}
        self._written: Dict[str, Tuple[int, int]] = {}
        self._generation_written: Dict[str, Tuple[int, Optional[float]]] = {}
        self._backup_wall: Dict[str, Tuple[float, float]] = {}  # host -> (backup_time, real time shown)

    def write(self, proc: HostView) -> None:
        machine = proc.machine
        root = machine.root
        pool_conf = dom0_files.render_pool_conf(proc.conf_role, proc.conf_master_address)
        inventory = dict(PRODUCT)
        inventory.update(
            {
                "INSTALLATION_UUID": machine.uuid,
                "CONTROL_DOMAIN_UUID": machine.control_domain_uuid,
                "MANAGEMENT_INTERFACE": proc.management_interface,
                "MANAGEMENT_ADDRESS_TYPE": "IPv4",
                "CURRENT_INTERFACES": proc.management_interface,
            }
        )
        db: Optional["Database"] = proc.db if (proc.up and proc.is_master and proc.db is not None) else proc.local_db
        link = None
        bridge = proc.management_interface
        if bridge and machine.nics:
            nic = machine.nic_for_interface(bridge)
            # networkd keeps the address on its configured bridge only
            addresses = [("inet", machine.address, 8)] if machine.has_ip and bridge == machine.ip_bridge else []
            if nic is not None and machine.link_down and bridge == machine.ip_bridge:
                # cable / switch port / DHCP gone: no carrier on the management bridge
                link = {"ifname": bridge, "mac": nic.mac, "operstate": "DOWN", "carrier": False, "addresses": addresses}
            elif nic is not None:
                link = {"ifname": bridge, "mac": nic.mac, "operstate": "UP", "addresses": addresses}
            else:
                # The bridge's NIC is gone (replaced under another name): networkd still
                # creates the bridge with its configured MAC (the old NIC's), no uplink.
                link = {
                    "ifname": bridge,
                    "mac": self._configured_bridge_mac(proc, db),
                    "operstate": "DOWN",
                    "carrier": False,
                    "addresses": addresses,
                }
        nics = [
            {"ifname": nic.device, "mac": nic.mac, "operstate": "UP", "addresses": [], "ifindex": 2 + i}
            for i, nic in enumerate(machine.nics)
        ]
        with self._lock:
            dom0_files.write_host_files(
                root, pool_conf=pool_conf, inventory=inventory, link=link, nics=nics, xapi_version=proc.xapi_version
            )
        if db is not None:
            live = db is proc.db
            # A member's copy is as old as the master's last sync to it (backup_time,
            # simulated): its files show that age on the real clock, as of now.
            own = live or proc.local_db_is_live  # a master's own database: written as it changed
            written_at = None if own else self._wall_time(proc.name, proc.backup_time, proc.clock.now())
            with self._cond:
                self._pending[proc.name] = (root, db, live, written_at)
                self._cond.notify_all()

    def _wall_time(self, host: str, backup_time: float, sim_now: float) -> float:
        """The real POSIX time that shows a copy written at simulated `backup_time`
        as old as it is in simulated seconds now, fixed when first seen: later
        rewrites of the same copy (xapi restarts) keep its age from drifting at
        the simulated clock's pace."""
        seen = self._backup_wall.get(host)
        if seen is None or seen[0] != backup_time:
            seen = (backup_time, time.time() - max(0.0, sim_now - backup_time))
            self._backup_wall[host] = seen
        return seen[1]

    @staticmethod
    def _configured_bridge_mac(proc: HostView, db: Optional["Database"]) -> str:
        """The MAC networkd gives a bridge: its PIF's MAC as the host's DB copy has it."""
        if db is not None:
            me = proc.host_ref_in(db)
            for pif in db.find("PIF", host=me, management=True) if me else []:
                return str(db.get_field("PIF", pif, "MAC"))
        return proc.machine.original_nics[0].mac if proc.machine.original_nics else ""

    def queue_db(self, proc: HostView) -> None:
        """Only the state.db changed (the master's periodic DB flush)."""
        if proc.up and proc.is_master and proc.db is not None:
            with self._cond:
                self._pending[proc.name] = (proc.machine.root, proc.db, True, None)
                self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued state.db is on disk."""
        import time

        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._pending or self._busy:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import time

        while True:
            with self._cond:
                while not self._pending and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                host, (root, db, live, written_at) = next(iter(self._pending.items()))
                if live and not self._flushing:
                    interval = self._live_interval.get(host, self.LIVE_DB_MIN_INTERVAL)
                    wait = self._last_live_render.get(host, 0.0) + interval - time.monotonic()
                    if wait > 0 and len(self._pending) == 1:
                        self._cond.wait(wait)
                        continue
                del self._pending[host]
                self._busy = True
            try:
                began = time.monotonic()
                self._write_state_db(host, root, db)
                self._write_generation(host, root, db, written_at)
                if live:
                    self._last_live_render[host] = time.monotonic()
                    self._live_interval[host] = max(self.LIVE_DB_MIN_INTERVAL, 2 * (time.monotonic() - began))
            except OSError:
                pass  # the state dir went away (simulator stopped)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write_generation(self, host: str, root: Path, db: "Database", written_at: Optional[float]) -> None:
        """state.db.generation, written after state.db as xapi does on every flush
        (ocaml/database/backend_xml.ml flush: do_flush_xml, then do_flush_gen). Each
        host has its own (state.db may be a hard link shared by several hosts); its
        mtime is when this host's copy was written."""
        key = (db.generation, written_at)
        if self._generation_written.get(host) == key:
            return
        target = root / dom0_files.STATE_DB_GENERATION
        dom0_files.write_atomic(target, str(db.generation).encode("ascii"), mode=0o600)
        if written_at is not None:
            os.utime(target, (written_at, written_at))
        self._generation_written[host] = key

    def _write_state_db(self, host: str, root: Path, db: Optional["Database"]) -> None:
        if db is None:
            return
        key = (getattr(db, "_xentui_origin", id(db)), db.generation)
        if self._written.get(host) == key:
            return
        target = root / dom0_files.STATE_DB
        source, inode = self._rendered.get(key, (None, -1))
        if source is not None and source != target and _inode(source) == inode:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name("." + target.name + ".link")
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.link(source, tmp)
            os.replace(tmp, target)
        else:
            dom0_files.write_atomic(target, render_incrementally(db), mode=0o600)
            self._rendered[key] = (target, _inode(target))
            if len(self._rendered) > 256:
                self._rendered.pop(next(iter(self._rendered)))
        self._written[host] = key


def _inode(path: Path) -> int:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


def render_incrementally(db: "Database") -> bytes:
    """state.db of `db`, re-rendering only the rows changed since its last render
    (the renderer's row cache lives on the database object; writer thread only)."""
    renderer = getattr(db, "_xentui_renderer", None)
    if renderer is None:
        renderer = dom0_files.StateDbRenderer()
        db._xentui_renderer = renderer  # type: ignore[attr-defined]
    generation = db.generation
    rows = db.persisted_rows(renderer.wants, skip=dom0_files.NON_PERSISTENT_TABLES)
    return renderer.render(rows, generation)


def clone_with_origin(db: "Database") -> "Database":
    """A backup copy that remembers which database (and generation) it copies."""
    with db.lock:
        copy = db.clone()
        renderer = getattr(db, "_xentui_renderer", None)
    copy._xentui_origin = getattr(db, "_xentui_origin", id(db))  # type: ignore[attr-defined]
    if renderer is not None:
        # Identical rows at the same generations: the cached row texts are valid for the copy.
        copy._xentui_renderer = renderer.copy()  # type: ignore[attr-defined]
    return copy
