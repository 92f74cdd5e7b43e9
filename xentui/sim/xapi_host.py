"""One host's xapi process: role, emergency mode, start-up, timers.

This is the part of the simulator that must behave like xapi's `xapi.ml`:
how a slave starts (hello loop, emergency mode and its stashed error), how a
master starts (update_env, HA resync, no-other-masters check), role changes
through the fuse, and the timers a running xapi keeps (heartbeats, liveness,
DB backups). Request dispatch is in dispatch.py (mixed in). All state changes
happen under the World lock; calls that need an unreachable master wait on
the World's condition (which releases the lock) until it is reachable again
or this xapi stops.
"""

from __future__ import annotations

import ipaddress
import os
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from xentui.sim.dispatch import (  # noqa: F401 - re-exported for the handlers
    EMERGENCY_CALLS, OPTIONAL_PARAMS, SELF_CONNECTING_CALLS, UNLOCKED_CALLS, WHITELIST, CallContext,
    ClientGone, DelayedFailure, Dispatcher, RawValue, RaisedFailure, SessionInfo, XapiStopped, client_gone,
)
from xentui.sim.errors import ApiError
from xentui.sim.host_files import clone_with_origin
from xentui.sim.httpd import HostListeners
from xentui.sim.pif_sync import resync_after_hello
from xentui.sim.world import Machine, SimulatorStopped, World

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.clock import TimerHandle
    from xentui.sim.db import Database

NULL_REF = "OpaqueRef:NULL"

def internal_error_connection(reach_text: str) -> ApiError:
    # What ExnHelper.string_of_exn makes of a stunnel connection failure.
    return ApiError("INTERNAL_ERROR", "Connection failed: " + reach_text)


class XapiHost(Dispatcher):
    """The xapi toolstack of one simulated host."""

    def __init__(self, world: World, machine: Machine, *, role: str, master_address: str = "",
                 local_db: "Database", port: int = 0, management_interface: str = "xenbr0",
                 ha_armed: bool = False) -> None:
        self.world = world
        self.machine = machine
        self.name = machine.name
        # The role xapi runs with: Pool_role.get_role () reads pool.conf once and caches it,
        # so a role change only takes effect at the next start (xapi-aux/pool_role.ml).
        self.role = role  # "master" | "slave" | "broken"
        self.master_address = master_address
        # pool.conf on disk (Xapi_pool_transition.set_role writes only the file)
        self.conf_role = role
        self.conf_master_address = master_address
        self.ha_armed = ha_armed  # localdb ha.armed
        self.ha_soft_disabled = False
        self.just_became_master = False
        self.management_interface = management_interface  # inventory MANAGEMENT_INTERFACE
        self.local_db = local_db  # the state.db on this host's disk
        self.local_db_is_live = False  # True once it is this master's own live database
        self.backup_time = world.clock.now()
        self.db: Optional["Database"] = None  # the live database while master
        self.port = port
        self.up = False
        self.incarnation = 0
        self.starts = 0
        self.emergency = False
        self.emergency_error = ApiError("HOST_STILL_BOOTING")
        self.local_sessions: Dict[str, SessionInfo] = {}
        self.last_heartbeat: Dict[str, float] = {}
        self.unix_listeners: Optional[HostListeners] = None
        self.tcp_listeners: Optional[HostListeners] = None
        self._timers: List["TimerHandle"] = []
        self.fuse_pending = False
        # Xapi_ha.proposed_master (address, time) of a two-phase commit; in memory only.
        self.proposed_master: Optional[Tuple[str, float]] = None
        self.tls_verification = True
        # Scenario preparation: record the first hello failure at once (resulting state).
        self.instant_hello = False
        self.files_hook: Optional[Callable[["XapiHost"], None]] = None
        self.db_flush_hook: Optional[Callable[["XapiHost"], None]] = None
        self._flushed_generation = -1

    # --- small helpers ---------------------------------------------------

    @property
    def is_master(self) -> bool:
        return self.role == "master"

    @property
    def clock(self):
        return self.world.clock

    def note(self, message: str) -> None:
        self.world.note(f"[{self.name}] {message}")

    def host_ref_in(self, db: "Database") -> Optional[str]:
        refs = db.find("host", uuid=self.machine.uuid)
        return refs[0] if refs else None

    def _after(self, sim_delay: float, callback: Callable[[], None], name: str) -> None:
        incarnation = self.incarnation

        def run() -> None:
            if self.up and self.incarnation == incarnation and not self.world.stopped:
                callback()

        self._timers.append(self.world.scheduler.call_later(sim_delay, run, f"{self.name}:{name}"))
        del self._timers[:-64]

    def files_changed(self) -> None:
        if self.files_hook is not None:
            self.files_hook(self)

    # --- process lifecycle -------------------------------------------------

    def start(self) -> None:
        """xapi starts: listen first, then handle the pool role (xapi.ml server_init)."""
        if self.up or not self.machine.powered:
            return
        self.incarnation += 1
        self.fuse_pending = False
        self.proposed_master = None
        # Pool_role's cache is empty in a new process: read pool.conf
        self.role = self.conf_role
        self.master_address = self.conf_master_address
        self.local_sessions = {}
        self.emergency = False
        self.emergency_error = ApiError("HOST_STILL_BOOTING")
        self._listen()
        # Set after the listeners exist, so lock-free observers never see an "up" xapi that
        # refuses connections; requests wait for the World lock until start-up is done.
        self.starts += 1
        self.up = True
        self._write_pid(True)
        self.note(f"xapi started as {self.role}")
        if self.role == "master":
            self._start_as_master()
        elif self.role == "broken":
            self.emergency = True
            self.run_in_emergency_mode(ApiError("HOST_BROKEN"))
        else:
            self._start_as_slave()
        self.files_changed()
        self.world.notify()

    def stop(self, reason: str = "") -> None:
        if not self.up:
            return
        self.note(f"xapi stopped ({reason})")
        self.up = False
        self.incarnation += 1
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        self.local_sessions = {}
        self.emergency = False
        self.fuse_pending = False
        if self.db is not None:
            self._purge_sessions(self.db)
        self.db = None
        self.close_listeners()
        self._write_pid(False)
        self.files_changed()
        self.world.notify()

    def restart(self, gap: Optional[float] = None, reason: str = "restart") -> None:
        """Exit and come back after `gap` simulated seconds (0 = at once, synchronously)."""
        self.stop(reason)
        gap = self.world.timings.xapi_restart_gap if gap is None else gap
        if gap <= 0:
            self.start()
        else:
            machine_boot = self.machine

            def again() -> None:
                if machine_boot.powered and not self.up:
                    self.start()

            self.world.scheduler.call_later(gap, again, f"{self.name}:start")

    def light_fuse(self) -> None:
        """Xapi_fuse.light_fuse_and_run: restart `fuse` seconds from now."""
        self.fuse_pending = True
        self.note("fuse lit: restarting in %.0f s" % self.world.timings.fuse)
        self._after(self.world.timings.fuse, lambda: self.restart(reason="fuse"), "fuse")

    def set_role(self, role: str, master_address: str = "") -> None:
        """Xapi_pool_transition.set_role: only pool.conf changes; takes effect on restart."""
        self.conf_role = role
        self.conf_master_address = master_address if role == "slave" else ""
        self.files_changed()

    def run_in_emergency_mode(self, error: ApiError) -> None:
        """xapi.ml server_run_in_emergency_mode: stay in emergency mode, restart later."""
        self.emergency = True
        self.emergency_error = error
        t = self.world.timings
        delay = t.emergency_restart_base + self.world.rng.random() * t.emergency_restart_extra
        self.note(f"emergency mode {error.details}; will restart in {delay:.1f} s")
        self._after(delay, lambda: self.restart(reason="emergency restart"), "emergency-restart")

    def _listen(self) -> None:
        unix = HostListeners(self.name, self.socket_path, None, 0, self.handle)
        unix.start()
        self.unix_listeners = unix
        self._listen_tcp()
        if self.machine.hung:
            unix.set_hung(True)

    def _listen_tcp(self) -> None:
        """TCP on the management address; none while the address or the interface is gone."""
        self.tcp_listeners = None
        if not (self.machine.has_ip and self.management_interface):
            return
        tcp = HostListeners(self.name, None, self.machine.address, self.port, self.handle)
        tcp.start()
        if tcp.tcp_port:
            self.port = tcp.tcp_port
        self.tcp_listeners = tcp
        if self.machine.hung:
            tcp.set_hung(True)

    @property
    def listeners(self) -> List[HostListeners]:
        return [l for l in (self.unix_listeners, self.tcp_listeners) if l is not None]

    def set_hung(self, hung: bool) -> None:
        for listeners in self.listeners:
            listeners.set_hung(hung)

    def close_listeners(self) -> None:
        current = self.listeners
        self.unix_listeners = self.tcp_listeners = None
        for listeners in current:
            listeners.stop()

    def rebind(self) -> None:
        """Re-create the TCP listener after the management IP/interface changed
        (the unix socket stays up, as xapi's does)."""
        if not self.up:
            return
        old, self.tcp_listeners = self.tcp_listeners, None
        if old is not None:
            old.stop()
        self._listen_tcp()

    @property
    def socket_path(self):
        return self.machine.root / "var" / "lib" / "xcp" / "xapi"

    def _write_pid(self, running: bool) -> None:
        path = self.machine.root / "var" / "run" / "xapi.pid"
        if running:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{os.getpid()}\n")
        else:
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    # --- master start-up -----------------------------------------------------

    def _start_as_master(self) -> None:
        if not self.local_db_is_live:
            # A backup copy may be shared with other members: the live DB is our own copy.
            self.local_db = self.local_db.clone()
            self.local_db.now = self.clock.now
            self.local_db_is_live = True
        self.db = self.local_db
        db = self.db
        self._purge_sessions(db)
        me = self.host_ref_in(db)
        now = self.clock.now()
        pools = db.refs("pool")
        if me is not None:
            # Dbsync_master.update_env: pool.master, our address, we are live.
            for pool in pools:
                db.set_field("pool", pool, "master", me)
            db.update("host", me, address=self.machine.address, enabled=True)
            metrics = db.get_field("host", me, "metrics")
            if db.exists("host_metrics", metrics):
                db.update("host_metrics", metrics, live=True, last_updated=_dt(now))
        # resynchronise_ha_state
        for pool in pools:
            pool_ha = bool(db.get_field("pool", pool, "ha_enabled"))
            if self.ha_armed and not pool_ha:
                self.ha_armed = False
            elif pool_ha and not self.ha_armed:
                self.note("HA disabled locally but not on the pool: we are master, disabling it on the pool")
                db.set_field("pool", pool, "ha_enabled", False)
        self.last_heartbeat = {ref: now for ref in db.refs("host")}
        self.just_became_master = False
        if self._check_no_other_masters(db, me):
            return
        self._after(self.world.timings.heartbeat, self._liveness_tick, "liveness")
        self._after(self.world.timings.db_sync, self._db_sync_tick, "db-sync")
        self._flushed_generation = db.generation
        self._after(self.world.timings.db_flush, self._db_flush_tick, "db-flush")

    def _db_flush_tick(self) -> None:
        """Db_cache_impl's flush thread: write state.db when the DB is dirty. The writer
        (HostFiles) renders in the background and rate-limits big databases."""
        self._after(self.world.timings.db_flush, self._db_flush_tick, "db-flush")
        db = self.db
        if db is None or db.generation == self._flushed_generation:
            return
        self._flushed_generation = db.generation
        if self.db_flush_hook is not None:
            self.db_flush_hook(self)

    def _check_no_other_masters(self, db: "Database", me: Optional[str]) -> bool:
        """xapi.ml check_no_other_masters: demote ourselves if another known host is master."""
        for ref in db.refs("host"):
            if ref == me:
                continue
            address = db.get_field("host", ref, "address")
            reach = self.world.reach(self.name, address)
            if not reach.ok or reach.target is self:
                continue  # "if we couldn't contact slave then carry on regardless"
            if reach.target.emergency and reach.target.emergency_error is not None:
                continue  # pool.is_slave is an emergency call, but an emergency host is a slave
            if reach.target.is_master:
                self.note(f"another master at {address}: restarting as its slave")
                self.set_role("slave", address)
                self._after(0, lambda: self.restart(gap=self.world.timings.xapi_restart_gap,
                                                    reason="another master"), "demote")
                return True
        return False

    def _purge_sessions(self, db: "Database") -> None:
        # Sessions are PersistNothing: every restart invalidates them.
        for ref in db.refs("session"):
            db.destroy("session", ref)

    def on_hello(self, host_ref: str) -> None:
        """Pool.hello from a slave that (re)started: disable, then enable; live again."""
        db = self.db
        if db is None:
            return
        now = self.clock.now()
        db.set_field("host", host_ref, "enabled", False)
        db.set_field("host", host_ref, "enabled", True)
        metrics = db.get_field("host", host_ref, "metrics")
        if db.exists("host_metrics", metrics):
            db.update("host_metrics", metrics, live=True, last_updated=_dt(now))
        self.last_heartbeat[host_ref] = now

    def on_heartbeat(self, host_ref: str) -> None:
        db = self.db
        if db is None:
            return
        self.last_heartbeat[host_ref] = self.clock.now()
        metrics = db.get_field("host", host_ref, "metrics")
        if db.exists("host_metrics", metrics) and not db.get_field("host_metrics", metrics, "live"):
            db.set_field("host_metrics", metrics, "live", True)

    def _liveness_tick(self) -> None:
        """Db_gc.check_host_liveness: live=false after host_dead without heartbeats."""
        self._after(self.world.timings.heartbeat, self._liveness_tick, "liveness")
        db = self.db
        if db is None or self.machine.hung:
            return
        me = self.host_ref_in(db)
        now = self.clock.now()
        for ref in db.refs("host"):
            if ref == me:
                continue
            last = self.last_heartbeat.setdefault(ref, now)
            if now - last >= self.world.timings.host_dead:
                metrics = db.get_field("host", ref, "metrics")
                if db.exists("host_metrics", metrics) and db.get_field("host_metrics", metrics, "live"):
                    self.note(f"host {db.get_field('host', ref, 'name_label')} presumed dead")
                    db.set_field("host_metrics", metrics, "live", False)

    def _db_sync_tick(self) -> None:
        self._after(self.world.timings.db_sync, self._db_sync_tick, "db-sync")
        if not self.machine.hung:
            self.push_backups()

    def push_backups(self) -> None:
        """Pool_db_backup: copy the live database to every reachable member."""
        db = self.db
        if db is None:
            return
        me = self.host_ref_in(db)
        copy = None  # one copy, shared read-only by every member that takes it
        for ref in db.refs("host"):
            if ref == me:
                continue
            reach = self.world.reach(self.name, db.get_field("host", ref, "address"))
            if reach.ok and reach.target is not self:
                if copy is None:
                    copy = clone_with_origin(db)
                reach.target.receive_backup(copy, sender=self.machine.address)
        self.files_changed()

    def receive_backup(self, copy: "Database", sender: Optional[str] = None) -> None:
        if self.is_master and self.db is not None:
            return  # a master never overwrites its live database
        if sender is not None and (self.role != "slave" or self.master_address != sender):
            return  # Host.request_backup: a slave only takes backups from its own master
        self.local_db = copy
        self.local_db_is_live = False
        self.backup_time = self.clock.now()
        self.files_changed()

    # --- slave start-up ------------------------------------------------------

    def _start_as_slave(self) -> None:
        self.db = None
        # "Set emergency mode until we actually talk to the master"
        self.emergency = True
        self.emergency_error = ApiError("HOST_STILL_BOOTING")
        self._hello_attempt()

    def _hello_attempt(self) -> None:
        t = self.world.timings
        if self.machine.hung:
            self._after(t.hello_retry_temporary, self._hello_attempt, "hello")
            return
        if not self.machine.has_ip:
            self._retry_hello(ApiError("HOST_HAS_NO_MANAGEMENT_IP"), t.hello_retry_temporary)
            return
        if self.master_address in ("127.0.0.1", self.machine.address):
            self._retry_hello(ApiError("HOST_ITS_OWN_SLAVE"), t.hello_retry_temporary)
            return
        if self.ha_armed and not self.ha_soft_disabled and not self.world.statefile_ok:
            self._retry_hello(ApiError("HA_HOST_CANNOT_ACCESS_STATEFILE"), t.ha_statefile_retry)
            return
        reach = self.world.reach(self.name, self.master_address)
        if not reach.ok:
            error = internal_error_connection(reach.describe(self.master_address))
            if reach.kind == "refused" or self.instant_hello or self.emergency_error.code != "HOST_STILL_BOOTING":
                self._retry_hello(error, t.hello_retry_temporary)
            else:
                # nobody answers: the attempt fails after the connect timeout
                self._after(t.connect_timeout, lambda: self._retry_hello(error, t.hello_retry_temporary),
                            "hello-timeout")
            return
        master = reach.target
        if master.emergency:
            self._retry_hello(master.emergency_error, t.hello_retry_temporary)
            return
        if not master.is_master or master.db is None:
            self._retry_hello(ApiError("HOST_IS_SLAVE", master.master_address), t.hello_retry_temporary)
            return
        host_ref = master.host_ref_in(master.db)
        my_ref = self.host_ref_in(master.db)
        if my_ref is None or host_ref is None:
            self._retry_hello(ApiError("HOST_UNKNOWN_TO_MASTER", self.machine.uuid), t.hello_retry_permanent)
            return
        master.on_hello(my_ref)
        # dbsync_slave.resynchronise_pif_params
        resync_after_hello(master.db, my_ref, self.machine, self.management_interface)
        self.instant_hello = False
        self.note(f"hello to master {self.master_address} succeeded")
        self.emergency = False
        self.emergency_error = ApiError("HOST_STILL_BOOTING")
        # resynchronise_ha_state, now that the database is online
        pool_ha = any(master.db.get_field("pool", p, "ha_enabled") for p in master.db.refs("pool"))
        if self.ha_armed and not pool_ha:
            self.ha_armed = False
        elif pool_ha and not self.ha_armed:
            self.run_in_emergency_mode(ApiError("HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"))
            return
        self._after(t.heartbeat, self._heartbeat_tick, "heartbeat")
        self.world.notify()

    def _retry_hello(self, error: ApiError, delay: float) -> None:
        self.instant_hello = False
        self.emergency_error = error
        self._after(delay, self._hello_attempt, "hello")

    def _heartbeat_tick(self) -> None:
        self._after(self.world.timings.heartbeat, self._heartbeat_tick, "heartbeat")
        if self.machine.hung or self.role != "slave":
            return
        reach = self.world.reach(self.name, self.master_address)
        if not reach.ok or not reach.target.is_master or reach.target.db is None:
            return  # other errors are just retried
        my_ref = self.host_ref_in(reach.target.db)
        if my_ref is None:
            # SESSION_AUTHENTICATION_FAILED: "we must be pointing at the wrong master"
            self.note("heartbeat rejected by master: restarting")
            self.restart(reason="heartbeat auth failure")
            return
        reach.target.on_heartbeat(my_ref)

    # --- reaching the master --------------------------------------------------

    def check_alive(self, incarnation: int) -> None:
        if self.world.stopped:
            raise SimulatorStopped()
        if not self.up or self.incarnation != incarnation:
            raise XapiStopped()

    def wait_for_master(self, incarnation: int) -> "XapiHost":
        """The master connection: retry forever while the master cannot be reached
        (Db_globs.master_connection_retry_timeout = -1). Returns when it answers or
        raises XapiStopped when this xapi goes away."""
        while True:
            self.check_alive(incarnation)
            reach = self.world.reach(self.name, self.master_address)
            if reach.ok:
                return reach.target
            if client_gone():
                # The client timed out and hung up: nobody waits for this answer any more,
                # so free the thread instead of piling threads up during a long outage.
                raise ClientGone()
            # Woken by every world change; the timeout bounds how late a gone client is noticed.
            self.world.changed.wait(0.25)

    def master_db(self, incarnation: int) -> Tuple["XapiHost", "Database"]:
        if self.is_master:
            if self.db is None:
                raise ApiError("HOST_STILL_BOOTING")
            return self, self.db
        master = self.wait_for_master(incarnation)
        if master.emergency:
            raise master.emergency_error
        if not master.is_master or master.db is None:
            raise ApiError("HOST_IS_SLAVE", master.master_address)
        return master, master.db

def _dt(sim_time: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(sim_time), tz=timezone.utc)


def valid_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
