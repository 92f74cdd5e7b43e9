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
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from xentui.sim import dispatch, http_get, tls_state

# What the handlers import from here, exported by name (mypy --strict has no implicit re-export).
from xentui.sim.dispatch import EMERGENCY_CALLS as EMERGENCY_CALLS
from xentui.sim.dispatch import (  # noqa: F401 - re-exported for the handlers
    OPTIONAL_PARAMS,
    SELF_CONNECTING_CALLS,
    UNLOCKED_CALLS,
    WHITELIST,
    DelayedFailure,
    Dispatcher,
    RaisedFailure,
    RawValue,
    SessionInfo,
    XapiStopped,
)
from xentui.sim.dispatch import ClientGone as ClientGone
from xentui.sim.dispatch import client_gone as client_gone
from xentui.sim.errors import ApiError
from xentui.sim.host_files import clone_with_origin
from xentui.sim.httpd import HostListeners, HttpAnswer
from xentui.sim.pif_sync import resync_after_hello
from xentui.sim.world import Machine, Reach, SimulatorStopped, World
from xentui.sim.xapi_pid import XapiPidProcess, stand_in_executable
from xentui.sim.xapi_version import XAPI_BUILD, version_higher

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime
    from pathlib import Path

    from xentui.sim.clock import SimClock, TimerHandle
    from xentui.sim.db import Database

NULL_REF = "OpaqueRef:NULL"


def internal_error_connection(reach_text: str) -> ApiError:
    # What ExnHelper.string_of_exn makes of a stunnel connection failure.
    return ApiError("INTERNAL_ERROR", "Connection failed: " + reach_text)


class XapiHost(Dispatcher["XapiHost"]):
    """The xapi toolstack of one simulated host."""

    def __init__(
        self,
        world: World[XapiHost],
        machine: Machine,
        *,
        role: str,
        master_address: str = "",
        local_db: "Database",
        port: int = 0,
        management_interface: str = "xenbr0",
        ha_armed: bool = False,
    ) -> None:
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
        # Test seam: called by a two-phase commit this host runs, between its phases.
        self.between_commit_phases: Optional[Callable[[], None]] = None
        self.ha_start_attempts = 0  # Xapi_ha.on_server_restart loop iterations (observable)
        self.start_up_done = False  # a member's consider_enabling_host ran after its hello
        self.tls_verification = True  # Stunnel_client verify-by-default (local file)
        self.tls = tls_state.fresh(machine.uuid)  # this host's certificate files
        self.xapi_version = XAPI_BUILD  # Xapi_version.version of the installed xapi
        self.version_alerted = False  # xapi.ml xapi_ver_high_alerted (a global ref: per process)
        # Scenario preparation: record the first hello failure at once (resulting state).
        self.instant_hello = False
        self.files_hook: Optional[Callable[["XapiHost"], None]] = None
        self.db_flush_hook: Optional[Callable[["XapiHost"], None]] = None
        self.pid_process: Optional[XapiPidProcess] = None  # the `xapi` process xapi.pid names
        self._flushed_generation = -1
        self.sync_turn = 0  # the member the periodic DB sync reaches next (push_backups)

    # --- small helpers ---------------------------------------------------

    @property
    def is_master(self) -> bool:
        return self.role == "master"

    @property
    def clock(self) -> SimClock:
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

    def serve_http(self, path: str, params: List[Any], transport: str) -> HttpAnswer:
        return http_get.serve(self, path, params, transport)

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
        self.version_alerted = False
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
        if self.ha_armed:
            # xapi.ml start_ha -> Xapi_ha.on_server_restart runs for EVERY role, before
            # the role branch: nothing else starts until the HA daemon does.
            self._ha_start_attempt()
        else:
            self._start_role()
        self.files_changed()
        self.world.notify()

    def _start_role(self) -> None:
        if self.role == "master":
            self.emergency = False
            self._start_as_master()
        elif self.role == "broken":
            self.emergency = True
            self.run_in_emergency_mode(ApiError("HOST_BROKEN"))
        else:
            self._start_as_slave()

    def _ha_start_attempt(self) -> None:
        """Xapi_ha.on_server_restart's loop: with HA armed (localdb) and the statefile
        unreachable, stay in emergency mode with HA_HOST_CANNOT_ACCESS_STATEFILE and
        try again every 10 s, until Host.emergency_ha_disable (hard) clears the flag.
        A slave first asks its master whether HA is still enabled pool-wide; a
        master has nobody to ask (Pool_role.get_master_address raises), so only
        emergency_ha_disable gets it out. A soft disable leaves localdb armed:
        the loop goes on."""
        self.ha_start_attempts += 1
        if not self.ha_armed:
            # "failwith Host.emergency_ha_disable": start_ha swallows it and start-up goes on
            self.note("HA start-up aborted: HA disarmed locally (emergency_ha_disable)")
            self.files_changed()
            self._start_role()
            self.world.notify()
            return
        if self.world.statefile_ok and not self.machine.hung:
            self._start_role()
            return
        if self.role == "slave" and self._master_confirms_ha_disabled():
            self.note("master confirms HA is disabled pool-wide: disarming HA locally")
            self.ha_armed = False
            self._start_role()
            return
        self.emergency = True
        self.emergency_error = ApiError("HA_HOST_CANNOT_ACCESS_STATEFILE")
        self._after(self.world.timings.ha_statefile_retry, self._ha_start_attempt, "ha-start")

    def _master_confirms_ha_disabled(self) -> bool:
        # call_emergency_mode_functions: slave_local_login on the master, Pool.get_ha_enabled
        reach = self.world.reach(self.name, self.master_address)
        if not reach.ok or reach.peer.emergency or reach.peer.db is None:
            return False
        db = reach.peer.db
        return not any(db.get_field("pool", p, "ha_enabled") for p in db.refs("pool"))

    @property
    def has_management_ip(self) -> bool:
        """Helpers.get_management_ip_addr: the address of the inventory's
        MANAGEMENT_INTERFACE (networkd puts it on its configured bridge only)."""
        return (
            self.machine.has_ip
            and bool(self.management_interface)
            and self.management_interface == self.machine.ip_bridge
        )

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
        unix.reply_delay = self.machine.slow * self.world.clock.time_scale

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
        tcp.reply_delay = self.machine.slow * self.world.clock.time_scale

    @property
    def listeners(self) -> List[HostListeners]:
        return [each for each in (self.unix_listeners, self.tcp_listeners) if each is not None]

    def set_hung(self, hung: bool) -> None:
        for listeners in self.listeners:
            listeners.set_hung(hung)

    def set_reply_delay(self, real_seconds: float) -> None:
        for listeners in self.listeners:
            listeners.reply_delay = real_seconds

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
    def socket_path(self) -> Path:
        return self.machine.root / "var" / "lib" / "xcp" / "xapi"

    def _write_pid(self, running: bool) -> None:
        """xapi.pid names a live process whose executable is `xapi` while this
        xapi runs (xapi_pid.py), as on a real host; gone when it stops."""
        path = self.machine.root / "var" / "run" / "xapi.pid"
        old, self.pid_process = self.pid_process, None
        if old is not None:
            old.stop()
        if running:
            self.pid_process = XapiPidProcess(stand_in_executable(self.machine.root.parent / ".sim-bin"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{self.pid_process.pid}\n")
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
        # Db_gc.single_pass at database start -> check_host_liveness: the heartbeat
        # table is empty in a new process, so every host (dead ones included) gets a
        # fresh host_assumed_dead_interval timer and is marked live until it runs out.
        for ref in db.refs("host"):
            metrics = db.get_field("host", ref, "metrics")
            if db.exists("host_metrics", metrics) and (ref == me or not db.get_field("host_metrics", metrics, "live")):
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
        # The DB flush thread starts with the database engine and the pool DB backup
        # thread before the no-other-masters check; the periodic functions (liveness)
        # only after it.
        self._after(self.world.timings.db_sync, self._db_sync_tick, "db-sync")
        self._flushed_generation = db.generation
        self._after(self.world.timings.db_flush, self._db_flush_tick, "db-flush")
        self._continue_master_start(me)

    def _continue_master_start(self, me: Optional[str]) -> None:
        """The rest of the start-up, from the no-other-masters check on. That check
        asks every known host pool.is_slave with no timeout: a hung host holds the
        start-up (the periodic functions, liveness included) until it answers or the
        connection dies; it is re-tried here instead of parking a thread."""
        db = self.db
        if db is None:
            return
        hung = self._hung_peers(db, me)
        if hung:
            self.note("start-up waits in check_no_other_masters for " + ", ".join(hung))
            self._after(
                self.world.timings.hello_retry_temporary, lambda: self._continue_master_start(me), "no-other-masters"
            )
            return
        if self._check_no_other_masters(db, me):
            return
        self._after(self.world.timings.heartbeat, self._liveness_tick, "liveness")

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

    def _hung_peers(self, db: "Database", me: Optional[str]) -> List[str]:
        out = []
        for ref in db.refs("host"):
            if ref == me:
                continue
            address = str(db.get_field("host", ref, "address"))
            if self.world.reach(self.name, address).kind == "hung":
                out.append(address)
        return out

    def _check_no_other_masters(self, db: "Database", me: Optional[str]) -> bool:
        """xapi.ml check_no_other_masters: demote ourselves if another known host is master."""
        for ref in db.refs("host"):
            if ref == me:
                continue
            address = db.get_field("host", ref, "address")
            reach = self.world.reach(self.name, address)
            if not reach.ok or reach.target is self:
                continue  # "if we couldn't contact slave then carry on regardless"
            if reach.peer.emergency and reach.peer.emergency_error is not None:
                continue  # pool.is_slave is an emergency call, but an emergency host is a slave
            if reach.peer.is_master:
                self.note(f"another master at {address}: restarting as its slave")
                self.set_role("slave", address)
                self._after(
                    0, lambda: self.restart(gap=self.world.timings.xapi_restart_gap, reason="another master"), "demote"
                )
                return True
        return False

    def _purge_sessions(self, db: "Database") -> None:
        # Sessions are PersistNothing: every restart invalidates them.
        for ref in db.refs("session"):
            db.destroy("session", ref)

    def on_hello(self, host_ref: str, host_address: str) -> Optional[ApiError]:
        """Xapi_pool.hello: record the member's address; talk back to it (pool.is_slave,
        no retry: any failure is `cannot_talk_back`); set it enabled=false (it enables
        itself when its start-up is done); live=true only when HA is off (with HA the
        liveset decides); tickle its heartbeat. Returns the error the member stores."""
        db = self.db
        if db is None:
            return ApiError("HOST_STILL_BOOTING")
        now = self.clock.now()
        if str(db.get_field("host", host_ref, "address")) != host_address:
            db.set_field("host", host_ref, "address", host_address)
        back = self.world.reach(self.name, host_address)
        # the talk-back is a verified pool connection too (call_emergency_mode_functions)
        if not back.ok or tls_state.verify_failure(self.tls, self.tls_verification, back.peer.tls):
            return ApiError("HOST_MASTER_CANNOT_TALK_BACK", host_address)
        db.set_field("host", host_ref, "enabled", False)
        if not any(db.get_field("pool", p, "ha_enabled") for p in db.refs("pool")):
            metrics = db.get_field("host", host_ref, "metrics")
            if db.exists("host_metrics", metrics):
                db.update("host_metrics", metrics, live=True, last_updated=_dt(now))
        self.last_heartbeat[host_ref] = now
        return None

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
            metrics = db.get_field("host", ref, "metrics")
            if not db.exists("host_metrics", metrics):
                continue
            live = db.get_field("host_metrics", metrics, "live")
            if now - last < self.world.timings.host_dead:
                if not live:  # "From the heartbeat PoV the host looks alive"
                    db.set_field("host_metrics", metrics, "live", True)
            elif live:
                self.note(f"host {db.get_field('host', ref, 'name_label')} presumed dead")
                db.set_field("host_metrics", metrics, "live", False)

    def _db_sync_tick(self) -> None:
        self._after(self.world.timings.db_sync, self._db_sync_tick, "db-sync")
        if not self.machine.hung:
            self.push_backups(next_in_turn=True)

    def push_backups(self, next_in_turn: bool = False) -> None:
        """Copy the live database to every reachable member (Pool.sync_database), or,
        for the periodic thread, to the next member only: pool_db_backup.ml
        pool_db_backup_thread walks the hosts one at a time, each after
        Thread.delay pool_db_sync_interval, so each copy is as old as its turn."""
        db = self.db
        if db is None:
            return
        me = self.host_ref_in(db)
        members = [ref for ref in db.refs("host") if ref != me]
        if next_in_turn and members:
            self.sync_turn %= len(members)
            members = [members[self.sync_turn]]
            self.sync_turn += 1
        copy = None  # one copy, shared read-only by every member that takes it
        for ref in members:
            reach = self.world.reach(self.name, db.get_field("host", ref, "address"))
            if reach.ok and reach.target is not self:
                if copy is None:
                    copy = clone_with_origin(db)
                reach.peer.receive_backup(copy, sender=self.machine.address)
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
        if not self.has_management_ip:
            # wait_for_management_ip_address (kinder: xapi waits on ip_cond, woken by
            # on_dom0_networking_change; the simulator looks again every 5 s)
            self._retry_hello(ApiError("HOST_HAS_NO_MANAGEMENT_IP"), t.hello_retry_temporary)
            return
        if self.master_address in ("127.0.0.1", self.machine.address):
            self._retry_hello(ApiError("HOST_ITS_OWN_SLAVE"), t.hello_retry_temporary)
            return
        reach = self.world.reach(self.name, self.master_address)
        if not reach.ok:
            error = internal_error_connection(reach.describe(self.master_address))
            if reach.kind == "refused" or self.instant_hello or self.emergency_error.code != "HOST_STILL_BOOTING":
                self._retry_hello(error, t.hello_retry_temporary)
            else:
                # nobody answers: the attempt fails after the connect timeout
                self._after(
                    t.connect_timeout, lambda: self._retry_hello(error, t.hello_retry_temporary), "hello-timeout"
                )
            return
        master = reach.peer
        # the stunnel handshake comes before any reply (tls_state.py)
        tls_reason = tls_state.verify_failure(self.tls, self.tls_verification, master.tls)
        if tls_reason is not None:
            self._retry_hello(tls_state.stunnel_verify_error(tls_reason), t.hello_retry_temporary)
            return
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
        refused = master.on_hello(my_ref, self.machine.address)
        if refused is not None:
            self._retry_hello(refused, t.hello_retry_temporary)
            return
        # `ok: the coordinator's xapi_build must not be older than ours (Permanent, 60 s)
        coordinator_build = dict(master.db.get_field("host", host_ref, "software_version") or {}).get("xapi_build", "")
        if version_higher(self.xapi_version, str(coordinator_build)):
            if not self.version_alerted:  # xapi_ver_high_alerted: one Message.create per process
                self.version_alerted = True
                # cls defaults to Host (schema.py); Database.create's own `cls` parameter takes the name
                master.db.create(
                    "message",
                    name="XAPI_STARTUP_BLOCKED_AS_VERSION_HIGHER_THAN_COORDINATOR",
                    priority=2,
                    obj_uuid=self.machine.uuid,
                    timestamp=_dt(self.clock.now()),
                    body="Xapi startup in pool member %s is blocked as its xapi version (%s) is higher than "
                    "xapi version in pool coordinator."
                    % (master.db.get_field("host", my_ref, "name_label"), self.xapi_version),
                )
            self._retry_hello(
                ApiError("HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR", self.xapi_version), t.hello_retry_permanent
            )
            return
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
        self.start_up_done = False
        self._after(t.enable_after_hello, self.consider_enabling_host, "consider-enabling")
        self.world.notify()

    def consider_enabling_host(self) -> None:
        """Xapi_host_helpers.consider_enabling_host at the end of the member's start-up:
        enabled=true again (with HA armed only if every PBD of the host is attached)."""
        if self.role != "slave" or self.emergency or self.start_up_done:
            return  # once per start-up
        reach = self.world.reach(self.name, self.master_address)
        if not reach.ok or reach.peer.db is None or reach.peer.emergency:
            # the database call waits for the master connection: try again later
            self._after(self.world.timings.hello_retry_temporary, self.consider_enabling_host, "consider-enabling")
            return
        db = reach.peer.db
        me = self.host_ref_in(db)
        if me is None:
            return
        self.start_up_done = True
        if db.get_field("host", me, "pending_guidances"):
            return  # if_no_pending_guidances: mandatory guidance keeps the host disabled
        if self.ha_armed and not all(db.get_field("PBD", p, "currently_attached") for p in db.find("PBD", host=me)):
            return
        db.set_field("host", me, "enabled", True)
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
        if not reach.ok or not reach.peer.is_master or reach.peer.db is None:
            return  # other errors are just retried
        if tls_state.verify_failure(self.tls, self.tls_verification, reach.peer.tls):
            # the master connection fails the handshake: Master_connection gives up and
            # restarts xapi (restart_on_connection_timeout), which meets it again at hello
            self.note("master connection: TLS verification failed: restarting")
            self.restart(reason="master connection TLS failure")
            return
        my_ref = self.host_ref_in(reach.peer.db)
        if my_ref is None:
            # SESSION_AUTHENTICATION_FAILED: "we must be pointing at the wrong master"
            self.note("heartbeat rejected by master: restarting")
            self.restart(reason="heartbeat auth failure")
            return
        reach.peer.on_heartbeat(my_ref)

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
                return reach.peer
            if client_gone():
                # The client timed out and hung up: nobody waits for this answer any more,
                # so free the thread instead of piling threads up during a long outage.
                raise ClientGone()
            # Woken by every world change; the timeout bounds how late a gone client is noticed.
            self.world.changed.wait(0.25)

    def reach_blocking(self, address: str, incarnation: int) -> Reach[XapiHost]:
        """An inter-host call from this xapi: no timeout of its own. While the peer
        accepts and never answers (hung) the call waits, like xapi, until the peer
        answers again, the stunnel idle timeout passes (then the connection fails),
        this xapi stops or the simulator stops. A client that gave up does not stop
        it: xapi carries on with the call."""
        deadline = self.clock.now() + self.world.timings.stunnel_idle
        while True:
            self.check_alive(incarnation)
            reach = self.world.reach(self.name, address)
            if reach.kind != "hung":
                return reach
            if self.clock.now() >= deadline:
                return Reach("unreachable")
            self.world.changed.wait(0.25)

    def wait_for_master_database(self, incarnation: int) -> None:
        """A member's call that needs the master's database while it is in emergency
        mode: no answer while it stays there. It ends when the member has rejoined
        (and reaches its master) or when this xapi or the simulator stops (the
        client then sees its connection drop)."""
        while True:
            self.check_alive(incarnation)
            if not self.emergency and self.world.reach(self.name, self.master_address).ok:
                return
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


# What a handler gets (dispatch.CallContext with this host type).
CallContext = dispatch.CallContext[XapiHost]


def _dt(sim_time: float) -> datetime:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(sim_time), tz=timezone.utc)


def valid_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
