"""The observer: one consistent look at the pool, whatever state it is in.

Textual-free and thread-safe. `observe()` logs in (or re-uses a session),
takes one live `event.from` snapshot when xapi answers, asks xapi about
emergency mode and its stored reason, always gathers the host's ground truth
(files, management link, peer probes), asks each other host's xapi which
role it plays, falls back to the state.db snapshot (labelled with its age)
when the live pool cannot be listed, and diagnoses. It never raises for
outage conditions: they become `connection.state` and findings. The slow
parts (live snapshot, peer questions) run concurrently, so one observation
takes about max(call_timeout, peer_timeout) + probe_timeout at worst.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Optional, Tuple, cast

from xentui.host.db_copy import DbCopy
from xentui.host.facts import GroundTruth, age_text
from xentui.host.gather import PartialTables, StateDbCache
from xentui.host.pool_trust import PoolTrustReader
from xentui.host.xapi_installed import InstalledXapiCache
from xentui.recovery import peers as pv
from xentui.recovery.observation import EmergencyState, Observation
from xentui.xapi.client import connection_state_for
from xentui.xapi.errors import CallTimeout, ConnectFailed, ConnectionLost, MalformedReply, XapiError, XapiFailure
from xentui.xapi.liveness import (
    PROBE_INTERVAL,
    PROBE_MISSES,
    PROBE_TIMEOUT,
    LivenessMonitor,
    Verdict,
    probe_once,
    stream_opener,
)
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.pool_tls import PoolTrust
from xentui.xapi.session_info import ConnectionInfo, SessionKind
from xentui.xapi.transport import TlsCertificateUntrusted

if TYPE_CHECKING:
    from xentui.host.access import HostAccess
    from xentui.xapi.client import XapiClient
    from xentui.xapi.endpoint import XapiEndpoint
    from xentui.xapi.head_start import SnapshotHeadStart
    from xentui.xapi.targets import Target

REPROBE_INTERVAL = 3.0  # follow(): seconds between full looks while xapi cannot list the pool
FULL_REFRESH = 10.0  # follow(): ground truth + peers re-gathered this often while events flow
# follow(): server-side wait of one incremental event.from, in xapi seconds. It bounds
# how long stop() can take, but nobody waits on that (the UI abandons the thread), while
# a short wait is a busy poll: at the tests' time scale 1 s was ~100 calls/s, enough to
# starve the UI's event loop of the GIL.
EVENT_WAIT = 5.0
PEER_REFRESH = 15.0  # follow(): re-ask a peer that answered at most this often
# follow(): the first look is reported before any peer login; the peers are asked
# this long after it, so that the UI draws it without 63 logins' threads competing
# for the GIL (the banner says they are being asked meanwhile), while the look's VM
# records are still on their way.
PEERS_AFTER_FIRST_LOOK = 0.3


class Observer:
    def __init__(
        self,
        target: Target,
        *,
        password: Optional[str] = None,
        call_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        probe_timeout: float = 1.0,
        read_only: bool = False,
        demo: bool = False,
        now: Callable[[], float] = time.time,
        peer_timeout: Optional[float] = None,
        ask_peers: bool = True,
        liveness_interval: float = PROBE_INTERVAL,
        liveness_timeout: float = PROBE_TIMEOUT,
        liveness_misses: int = PROBE_MISSES,
        head_start: Optional[SnapshotHeadStart] = None,
    ) -> None:
        """`head_start`: the login and snapshot a command began before it
        loaded the observer (xentui.xapi.head_start), on this target's
        endpoint; the first look takes them over."""
        self.target = target
        self._password = password if password is not None else target.published_password()
        self.call_timeout = float(call_timeout)
        self.connect_timeout = float(connect_timeout)
        self.probe_timeout = float(probe_timeout)
        self.peer_timeout = float(peer_timeout if peer_timeout is not None else min(call_timeout, 5.0))
        self.read_only = read_only
        self.demo = demo
        self.ask_peers = ask_peers
        # follow(): the master's liveness probe (0 interval = no probe).
        self.liveness_interval = float(liveness_interval)
        self.liveness_timeout = float(liveness_timeout)
        self.liveness_misses = int(liveness_misses)
        self._liveness: Optional[_MasterLiveness] = None
        # Looks parse only state.db's host table (the peer list); the whole
        # pool is parsed from it only when xapi cannot list it (_full_state_db).
        self._state_db_cache = StateDbCache(hosts_only=True)
        self._installed_xapi_cache = InstalledXapiCache()
        self._pool_trust = PoolTrustReader(self._ensure_access)
        self._state_db_full_cache = StateDbCache()
        self._state_db_snapshot: Tuple[object, Optional[PoolSnapshot]] = (None, None)
        self.now = now
        self._lock = threading.RLock()
        self._endpoint: Optional[XapiEndpoint] = None
        self._client: Optional[XapiClient] = None
        self._access: Optional[HostAccess] = None
        self._last: Optional[Observation] = None
        self._last_error: str = ""
        self._peer_cache: Dict[str, Tuple[pv.PeerView, float]] = {}
        # observe(vms_later=True): the VM records already asked for, for that look's snapshot.
        self._vms_read: Optional[Tuple[PoolSnapshot, concurrent.futures.Future[PoolSnapshot]]] = None
        # follow(): the peers a first look left unasked, being asked, for that look's ground truth.
        self._peers_read: Optional[
            Tuple[Optional[GroundTruth], concurrent.futures.Future[Optional[Tuple[pv.PeerView, ...]]]]
        ] = None
        self._closed = False
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="xentui-observe")
        self._head_start = head_start
        if head_start is not None:
            self._endpoint = head_start.endpoint
            self._endpoint.trust_peers_by(self.pool_trust)

    # -- public ------------------------------------------------------------

    @property
    def last(self) -> Optional[Observation]:
        return self._last

    @property
    def client(self) -> Optional[XapiClient]:
        return self._client

    @property
    def endpoint(self) -> Optional[XapiEndpoint]:
        return self._endpoint

    def observe(self, *, fresh_peers: bool = True, peers_later: bool = False, vms_later: bool = False) -> Observation:
        """One observation. `fresh_peers=False` (used by `follow`) re-uses a
        peer's answer for up to PEER_REFRESH seconds while its TCP probe still
        says "open", so following a large pool does not log into every host
        every few seconds. Verification always asks afresh.

        `peers_later=True` (follow()'s first look) logs into no peer: peers
        are shown from their TCP probes (and earlier answers) and the
        observation is `peers_pending`, so the first paint of a 64-host pool
        does not wait for 63 logins; the caller asks them right after.

        `vms_later=True` (follow()'s first look too) reads everything but the
        VM records: the snapshot is `vms_pending` (VM counts from the hosts'
        resident_VMs, no health claimed) and `follow` reads them right after,
        so a 2,000-VM pool is drawn without waiting for its biggest reply."""
        at = self.now()
        xapi_future = self._pool.submit(self._look_through_xapi, False, vms_later)
        gt = self._gather_ground_truth()
        # Ask the peers while the console's own xapi may still be blocking
        # (a member of a hung master): the host list comes from state.db.
        pending: List[str] = []
        early_views = self._start_peer_views(gt, fresh_peers, None if not peers_later else pending)
        # The diagnosis' rules (tens of ms to import the first time) load while xapi answers.
        # (`diagnosis` itself imports them only when first called.)
        from xentui.recovery import rules  # noqa: F401

        conn, snapshot, emergency, snap_error = xapi_future.result()
        client = self._client
        if snapshot is not None and snapshot.vms_pending and client is not None:
            # Ask for the VM records now: on their way while this look is assembled and drawn.
            from xentui.xapi.live import load_vms

            self._vms_read = (snapshot, self._pool.submit(load_vms, client, snapshot, self.call_timeout))
        if snapshot is None and gt is not None and not gt.state_db.ok:
            # The files were read while xapi was being asked (which can take a
            # whole call timeout on a hung master); state.db may have appeared
            # or been replaced meanwhile (xapi writes it after start-up and on
            # every backup push). Without it this host cannot be identified,
            # so read it once more before falling back to nothing.
            gt = self._reread_state_db(gt)
        if emergency is not None and emergency.in_emergency:
            emergency = self._with_since(emergency)
        if snap_error and conn.state in ("connected",) and snap_error not in conn.detail:
            conn = replace(conn, detail=(conn.detail + "; " if conn.detail else "") + snap_error)
        obs = self._assemble(
            at,
            conn,
            snapshot,
            "xapi event.from" if snapshot is not None else "",
            emergency,
            "",
            gt,
            early_views,
            fresh_peers,
            None if not peers_later else pending,
        )
        self._last = obs
        return obs

    def complete(
        self,
        connection: ConnectionInfo,
        snapshot: Optional[PoolSnapshot],
        emergency: Optional[EmergencyState],
        *,
        snapshot_source: str = "",
        this_host_name: str = "",
        at: Optional[float] = None,
    ) -> Observation:
        """An observation from what a caller already got through its own xapi
        session (e.g. `xentui status`): adds the ground truth, the state.db
        fallback, the peers' answers and the findings, without logging in to
        this host again. Never raises for outages."""
        at = self.now() if at is None else at
        gt = self._gather_ground_truth()
        early_views = self._start_peer_views(gt, True)
        source = snapshot_source or ("xapi event.from" if snapshot is not None else "")
        return self._assemble(at, connection, snapshot, source, emergency, this_host_name, gt, early_views, True)

    def open_endpoint(self) -> XapiEndpoint:
        """The transport endpoint to this host (opened on first use; raises
        XapiError). Lets a caller decide about a password before logging in."""
        return self._ensure_endpoint()

    def set_password(self, password: Optional[str]) -> None:
        """The password for logins from now on (e.g. asked after open_endpoint)."""
        self._password = password

    def pool_credentials(self) -> Tuple[str, Optional[str]]:
        """(user, password) this console logged in with: what pool.join hands a
        joining host for the master. None when none was given (a local socket
        session); the caller asks for it then, and never logs it."""
        return self._user(), self._password

    def _start_peer_views(
        self, gt: Optional[GroundTruth], fresh: bool, unasked: Optional[List[str]] = None
    ) -> Optional[concurrent.futures.Future[Tuple[pv.PeerView, ...]]]:
        if gt is None or not gt.state_db.ok:
            return None
        # The peers need the host list only: no VM is built for it.
        # `ok` means the value is there.
        tables = cast(Dict[str, Any], gt.state_db.value)
        early_snap = PoolSnapshot.from_records({"host": tables.get("host", {})})
        return self._pool.submit(self._peer_views, early_snap, gt, self._this_uuid(gt), fresh, unasked)

    def _full_state_db(self, gt: GroundTruth) -> GroundTruth:
        """`gt` whose state.db holds the whole pool (read again when the look
        parsed only its host table); an unreadable file becomes its error."""
        if not isinstance(gt.state_db.value, PartialTables):
            return gt
        from xentui.host.gather import read_state_db

        access = self._file_access()
        if access is None:
            return replace(gt, state_db=replace(gt.state_db, value=None, error="state.db: no file access"))
        try:
            fact = read_state_db(access, self.now, self._state_db_full_cache)
        except Exception as exc:  # noqa: BLE001 - ground truth never raises
            fact = replace(gt.state_db, value=None, error=f"{type(exc).__name__}: {exc}")
        return replace(gt, state_db=fact)

    def _from_state_db(self, tables: Dict[str, Any]) -> PoolSnapshot:
        """The typed pool of a parsed state.db, built once per distinct parse
        (the StateDbCache hands out the same tables while the file is unchanged)."""
        cached_tables, snapshot = self._state_db_snapshot
        if cached_tables is not tables or snapshot is None:
            snapshot = PoolSnapshot.from_records(tables)
            self._state_db_snapshot = (tables, snapshot)
        return snapshot

    def _assemble(
        self,
        at: float,
        conn: ConnectionInfo,
        snapshot: Optional[PoolSnapshot],
        snapshot_source: str,
        emergency: Optional[EmergencyState],
        this_name: str,
        gt: Optional[GroundTruth],
        early_views: Optional[concurrent.futures.Future[Tuple[pv.PeerView, ...]]],
        fresh: bool,
        unasked: Optional[List[str]] = None,
    ) -> Observation:
        if snapshot is None and gt is not None and gt.state_db.ok:
            gt = self._full_state_db(gt)
        if snapshot is None and gt is not None and gt.state_db.ok:
            snapshot = self._from_state_db(cast(Dict[str, Any], gt.state_db.value))
            age = max(0.0, self.now() - gt.state_db.observed_at)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(gt.state_db.observed_at))
            snapshot_source = f"state.db (as of {stamp}, {age_text(age)})"
        this_uuid = self._this_uuid(gt)
        if not conn.this_host_uuid and this_uuid:
            conn = replace(conn, this_host_uuid=this_uuid)
        if snapshot is not None and conn.this_host_uuid:
            h = snapshot.host_by_uuid(conn.this_host_uuid)
            this_name = h.name_label if h is not None else this_name
        if not this_name and getattr(self.target, "sim_host", None):
            this_name = self.target.sim_host or ""
        if early_views is not None:
            views = early_views.result()
        elif snapshot is not None:
            views = self._peer_views(snapshot, gt, conn.this_host_uuid, fresh, unasked)
        else:
            views = ()
        # stale-db: whose database copy is newest matters only while no master lists the pool.
        stale = snapshot is not None and not snapshot_source.startswith("xapi")
        copies = self._db_copies(snapshot, this_name) if snapshot is not None and stale else ()
        obs = Observation(
            at=at,
            connection=conn,
            snapshot=snapshot,
            snapshot_source=snapshot_source,
            ground_truth=gt,
            emergency=emergency,
            this_host_name=this_name,
            peer_views=views,
            peers_pending=bool(unasked),
            db_copies=copies,
        )
        from xentui.recovery.diagnosis import diagnose

        return replace(obs, findings=diagnose(obs))

    def follow(self, on_observation: Callable[[Observation], None], stop: threading.Event) -> None:
        """Report observations until `stop` is set; never raises for outages.

        Incremental while xapi lists the pool: one full look, then event.from
        with its token; events are applied to the snapshot and re-diagnosed
        together with the last ground truth and peer answers (cheap, no
        logins). Ground truth and peers (not the snapshot) are re-gathered
        every FULL_REFRESH seconds and at once when a host / host_metrics /
        pool object changes. Any failing event call (timeout, SESSION_INVALID,
        refused, lost: xapi restarted or the master went away) or a new
        session means a full look at once. While xapi cannot list the pool,
        a full look every REPROBE_INTERVAL seconds.
        `on_observation` is called only when something visible changed.

        Beside the loop, a liveness probe of the master (its own connection,
        every `liveness_interval` s, `liveness_timeout` s deadline) reports a
        master that stopped answering within seconds, without waiting for the
        event call to time out: after `liveness_misses` consecutive failed
        probes, every observation shows the master as refused / hung."""
        emitter = _Emitter(on_observation, stop)
        # Each follow() has its own probe: the UI may start a new follow
        # while an abandoned one is still winding down.
        liveness = emitter.liveness = _MasterLiveness(self, emitter.liveness_changed)
        self._liveness = liveness
        try:
            self._follow_loop(emitter, stop)
        finally:
            liveness.stop()

    def _follow_loop(self, emitter: "_Emitter", stop: threading.Event) -> None:
        obs: Optional[Observation] = None
        full_due = last_full = 0.0
        relogin_due = time.monotonic() + FULL_REFRESH
        version: Hashable = ""  # token of the last snapshot content (not advanced by empty replies)
        while not stop.is_set():
            try:
                if obs is not None and obs.snapshot is not None and obs.snapshot.vms_pending:
                    # The first look was drawn without the VM records and the peers' answers:
                    # both are asked for at once (the peers a moment later, see
                    # PEERS_AFTER_FIRST_LOOK), the VMs shown as soon as they are in.
                    self._ask_peers_early(obs, stop)
                    with_vms = self._load_vms(obs)
                    if with_vms is None:  # the call failed: look afresh (never in a tight loop)
                        if time.monotonic() - last_full < 1.0:
                            stop.wait(1.0)
                        obs = None
                        continue
                    obs = with_vms
                    version = _snapshot_key(obs.snapshot)
                elif obs is not None and self._is_live(obs) and (time.monotonic() >= full_due or obs.peers_pending):
                    # The snapshot is kept current by the events: only the
                    # host's files, probes and peers' answers need a new look
                    # (a full event.from of a 64-host pool costs ~1.5 s CPU).
                    asked = self._peers_read is not None and self._peers_read[0] is obs.ground_truth
                    if obs.peers_pending and not asked and stop.wait(PEERS_AFTER_FIRST_LOOK):
                        break
                    obs = self._regather(obs)
                    full_due = time.monotonic() + FULL_REFRESH
                elif obs is None or not self._is_live(obs):
                    if obs is not None and not self._is_live(obs) and time.monotonic() >= relogin_due:
                        self._retry_hung_master_login()
                        relogin_due = time.monotonic() + FULL_REFRESH
                    # Paint first, log into the peers right after: the next
                    # turn regathers at once (or, while xapi cannot list the
                    # pool, the look below asks them before its pause).
                    self._peers_read = None  # asked for an earlier look
                    obs = self.observe(fresh_peers=False, peers_later=True, vms_later=True)
                    last_full = full_due = time.monotonic()
                    full_due += FULL_REFRESH
                    version = _snapshot_key(obs.snapshot)
                    if not self._is_live(obs):
                        emitter.emit(obs, version)
                        if obs.peers_pending and not stop.wait(PEERS_AFTER_FIRST_LOOK):
                            obs = self._regather(obs)
                            emitter.emit(obs, version)
                        stop.wait(REPROBE_INTERVAL)
                        continue
                else:
                    updated = self._next_events(obs, stop)
                    if updated is None:  # the event call failed: look afresh now
                        if time.monotonic() - last_full < 1.0:
                            # ... but never loop full looks on an event call
                            # that fails at once while the login works.
                            stop.wait(1.0)
                        obs = None
                        continue
                    obs, changed, topology_changed = updated
                    if changed:
                        version = _snapshot_key(obs.snapshot)
                    if topology_changed:
                        full_due = 0.0
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the worker silently
                self._last_error = f"{type(exc).__name__}: {exc}"
                obs = None
                stop.wait(REPROBE_INTERVAL)
                continue
            emitter.emit(obs, version)

    def _load_vms(self, obs: Observation) -> Optional[Observation]:
        """`obs` with the VM records its first look left out, re-diagnosed;
        None when xapi would not give them."""
        from xentui.recovery.diagnosis import diagnose
        from xentui.xapi.live import load_vms

        client, asked, self._vms_read = self._client, self._vms_read, None
        if client is None or obs.snapshot is None:
            return None
        try:
            if asked is not None and asked[0] is obs.snapshot:
                snapshot = asked[1].result()  # asked for by observe() already
            else:
                snapshot = load_vms(client, obs.snapshot, timeout=self.call_timeout)
        except XapiError:
            return None
        updated = replace(obs, at=self.now(), snapshot=snapshot, findings=())
        updated = replace(updated, findings=diagnose(updated))
        self._last = updated
        return updated

    def _ask_peers_early(self, obs: Observation, stop: threading.Event) -> None:
        """Start asking the peers `obs` left unasked, PEERS_AFTER_FIRST_LOOK
        from now, in a worker: `_regather` takes their answers. On a real pool
        each peer is another machine, so their logins overlap the wait for the
        master's VM records instead of following it."""
        if not obs.peers_pending or obs.snapshot is None:
            return
        if self._peers_read is not None and self._peers_read[0] is obs.ground_truth:
            return
        snapshot, gt = obs.snapshot, obs.ground_truth
        this_uuid = obs.connection.this_host_uuid or self._this_uuid(gt)

        def ask() -> Optional[Tuple[pv.PeerView, ...]]:
            if stop.wait(PEERS_AFTER_FIRST_LOOK):
                return None
            return self._peer_views(snapshot, gt, this_uuid, False)

        self._peers_read = (gt, self._pool.submit(ask))

    def _regather(self, obs: Observation) -> Observation:
        """`obs` with fresh ground truth and peer answers, re-diagnosed. Right
        after a look that left the peers unasked, that look's ground truth is
        fresh: only the peers are asked (no second read of a 13 MB state.db),
        or their answers taken when `_ask_peers_early` asked them already."""
        from xentui.recovery.diagnosis import diagnose

        gt = obs.ground_truth if obs.peers_pending else self._gather_ground_truth()
        this_uuid = obs.connection.this_host_uuid or self._this_uuid(gt)
        asked, self._peers_read = self._peers_read, None
        views: Optional[Tuple[pv.PeerView, ...]] = None
        if obs.peers_pending and asked is not None and asked[0] is gt:
            views = asked[1].result()  # each peer has its own deadline (_peer_views)
        if views is None:
            views = self._peer_views(obs.snapshot, gt, this_uuid, False) if obs.snapshot is not None else ()
        updated = replace(obs, at=self.now(), ground_truth=gt, peer_views=views, findings=(), peers_pending=False)
        updated = replace(updated, findings=diagnose(updated))
        self._last = updated
        return updated

    @staticmethod
    def _is_live(obs: Observation) -> bool:
        return obs.snapshot is not None and obs.snapshot_source.startswith("xapi")

    def _retry_hung_master_login(self) -> None:
        """A session from a login whose master hung never lists the pool:
        drop it so the next look logs in afresh (bounded by call_timeout)
        and notices a master that answers again."""
        client = self._client
        if client is not None and getattr(client, "master_unresponsive", False):
            with self._lock:
                if self._client is client:
                    self._drop_client()

    def _next_events(self, obs: Observation, stop: threading.Event) -> Optional[Tuple[Observation, bool, bool]]:
        """One incremental step: (observation, content changed, topology changed), or None
        when the event call failed (the caller then takes a full look)."""
        from xentui.recovery.diagnosis import diagnose
        from xentui.xapi import disks
        from xentui.xapi.model import lean_event_hook

        client = self._client
        if client is None:
            return None
        before = obs.snapshot
        assert before is not None, "follow() steps only a live look (_is_live)"
        session_before = client.session_ref
        try:
            # Blocks until something changes or EVENT_WAIT (xapi's seconds)
            # passes; our socket timeout adds the call timeout as margin.
            reply = client.call(
                "event.from",
                disks.subscriptions(before),
                before.token,
                EVENT_WAIT,
                timeout=EVENT_WAIT + self.call_timeout,
                object_hook=lean_event_hook,
            )
        except XapiError:
            return None
        if stop.is_set():
            return obs, False, False
        if client.session_ref != session_before or not isinstance(reply, dict) or "token" not in reply:
            # The client logged in again inside the call (xapi restarted): the
            # token may belong to a database that is gone.
            return None
        events = reply.get("events") or []
        token = str(reply.get("token", ""))
        if not events:
            return replace(obs, snapshot=replace(before, token=token)), False, False
        snapshot = before.apply_events(events, token)
        try:
            # A guest that stopped needs its disks' locks read (two small calls).
            snapshot = (
                disks.complete(client, snapshot, self.call_timeout)
                if disks.touched(events)
                else disks.trimmed(snapshot)
            )
        except XapiError:
            return None
        changed, topology = _what_changed(before, snapshot, events)
        if not changed:
            # Heartbeats and memory counters: keep the snapshot current, but
            # don't re-diagnose or wake the UI for what nobody can see.
            return replace(obs, snapshot=snapshot), False, False
        updated = replace(obs, at=self.now(), snapshot=snapshot, findings=())
        updated = replace(updated, findings=diagnose(updated))
        self._last = updated
        return updated, True, topology

    def host_client(self, host_name: str, *, timeout: Optional[float] = None, address: str = "") -> XapiClient:
        """A logged-in XapiClient on another pool host (by name_label): a
        password session if it is a master, else a slave-local one. The caller
        closes it. Raises XapiError (ConnectFailed, CallTimeout, ...).
        `address`: where it is, for a host no longer (or not yet) in the pool."""
        address = address or self._address_of(host_name)
        peer_endpoint = self._peer_endpoint(address)
        from xentui.xapi.client import XapiClient

        client = XapiClient(call_timeout=timeout or self.call_timeout)
        try:
            client.connect(
                peer_endpoint,
                username=self._user(),
                password=self._password or "",
                label=f"{host_name} ({address})",
                target_text=address,
            )
        except BaseException:
            client.close()
            raise
        return client

    def read_host_file(self, path: str, timeout: float = 10.0) -> Tuple[bytes, float]:
        """(bytes, mtime) of a file on the console host, through its ground-truth access."""
        with self._lock:
            if self._access is None:
                self._access = self._make_access()
            access = self._access
        if access is None:
            raise ConnectFailed("unreachable", "no file access to this host (http/https target)")
        return access.read_file(path, timeout)

    def reconnect(self, within: float) -> ConnectionInfo:
        """Drop the console session and log in again, retrying for `within`
        seconds (xapi restarting after a role change). Raises XapiError."""
        deadline = time.monotonic() + within
        last: Optional[BaseException] = None
        delay = 0.05
        with self._lock:
            self._drop_client()
        while True:
            try:
                return self._connect().connection_info()
            except XapiError as exc:
                last = exc
                if isinstance(exc, ConnectFailed) and exc.reason in ("auth", "hostkey-unknown", "hostkey-changed"):
                    raise
            if time.monotonic() + delay > deadline:
                raise last if last is not None else ConnectFailed("timeout", "reconnect timed out")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def close(self) -> None:
        liveness = self._liveness
        if liveness is not None:
            liveness.stop()  # a follow() thread the UI abandoned may never get to do it
        with self._lock:
            self._closed = True
            head_start, self._head_start = self._head_start, None
            if head_start is not None:
                head_start.abandon()
            self._drop_client()
            if self._endpoint is not None:
                try:
                    self._endpoint.close()
                except (OSError, XapiError):
                    pass
                self._endpoint = None
            close = getattr(self._access, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        self._pool.shutdown(wait=False)

    def __enter__(self) -> "Observer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection --------------------------------------------------------

    def _user(self) -> str:
        return getattr(self.target, "xapi_user", "root") or "root"

    def _ensure_endpoint(self) -> XapiEndpoint:
        with self._lock:
            if self._endpoint is None:
                from xentui.xapi.transport import open_endpoint

                self._endpoint = open_endpoint(self.target, connect_timeout=self.connect_timeout)
                self._endpoint.trust_peers_by(self.pool_trust)
            return self._endpoint

    def _connect(self) -> XapiClient:
        from xentui.xapi.client import XapiClient

        endpoint = self._ensure_endpoint()
        client = XapiClient(call_timeout=self.call_timeout)
        # The login may wait a whole call_timeout (hung master): never hold
        # the observer's lock meanwhile, or ground truth would wait too.
        try:
            client.connect(
                endpoint,
                username=self._user(),
                password=self._password or "",
                label=self.target.label,
                target_text=self.target.raw or self.target.label,
            )
        except BaseException:
            client.close(close_endpoint=False)
            raise
        with self._lock:
            old, self._client = self._client, client
        if old is not None and old is not client:
            try:
                old.close(close_endpoint=False)
            except (OSError, XapiError):
                pass
        return client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close(close_endpoint=False)
            except (OSError, XapiError):
                pass

    def _failed_connection(self, exc: BaseException) -> ConnectionInfo:
        from xentui.xapi.error_table import explain_exception

        endpoint = self._endpoint
        return ConnectionInfo(
            transport=getattr(endpoint, "transport_name", "") or self.target.kind,
            label=self.target.label,
            target=self.target.raw or self.target.label,
            session_kind=SessionKind.NONE,
            state=connection_state_for(exc),
            detail=explain_exception(exc).one_line(),
            read_only=self.read_only,
            demo=self.demo,
            master_address=getattr(exc, "params", ("",))[0]
            if isinstance(exc, XapiFailure) and exc.code == "HOST_IS_SLAVE" and exc.params
            else "",
        )

    def _look_through_xapi(
        self, retried: bool = False, vms_later: bool = False
    ) -> Tuple[ConnectionInfo, Optional[PoolSnapshot], Optional[EmergencyState], str]:
        """Login (re-using the session), emergency state, live snapshot; the
        first look takes over the login and snapshot of a head start."""
        from xentui.xapi.live import load_snapshot

        with self._lock:
            client = self._client
            head_start, self._head_start = self._head_start, None
        try:
            if head_start is not None:
                client = head_start.client()
                with self._lock:
                    self._client = client
            elif client is None:
                client = self._connect()
            in_emergency, reason = client.check_emergency(timeout=self.call_timeout)
        except (ConnectionLost, ConnectFailed) as exc:
            # A session that worked before died (xapi restarted, SSH dropped):
            # reconnect once before reporting an outage.
            with self._lock:
                self._drop_client()
            if (
                client is not None
                and not retried
                and not (
                    isinstance(exc, ConnectFailed) and exc.reason in ("auth", "hostkey-unknown", "hostkey-changed")
                )
            ):
                try:
                    if self._endpoint is not None:
                        self._endpoint.reconnect()
                except (XapiError, OSError):
                    pass
                return self._look_through_xapi(retried=True, vms_later=vms_later)
            return self._failed_connection(exc), None, None, ""
        except XapiFailure as exc:
            if exc.code in ("SESSION_INVALID",) and client is not None:
                return self._retry_after_restart(vms_later)
            with self._lock:
                self._drop_client()
            return self._failed_connection(exc), None, None, ""
        except XapiError as exc:
            with self._lock:
                self._drop_client()
            return self._failed_connection(exc), None, None, ""
        emergency = EmergencyState(
            in_emergency=in_emergency,
            reason_code=reason[0] if reason else "",
            reason_params=tuple(reason[1]) if reason else (),
            since=None,
        )
        info = replace(client.connection_info(), read_only=self.read_only, demo=self.demo)
        snapshot = None
        error = ""
        if not in_emergency and getattr(client, "master_unresponsive", False):
            # The login already hung on the master's database: event.from
            # would hang the same way, costing another full call timeout.
            # follow() drops such a session now and then, so a fresh login
            # notices when the master answers again.
            info = replace(
                info,
                detail=f"pool-wide calls hang: the login got no answer within "
                f"{self.call_timeout:g} s (the master does not answer)",
            )
            error = "pool-wide calls hang"
        elif not in_emergency:
            try:
                snapshot = head_start.snapshot() if head_start is not None else None
                if snapshot is None:
                    snapshot = load_snapshot(client, timeout=self.call_timeout, vms_later=vms_later)
            except CallTimeout as exc:
                # A member whose master is hung or gone: calls that need the pool
                # database hang. The session itself works (emergency calls answer),
                # so the connection stays "connected" and the detail says why the
                # pool is shown from state.db.
                info = replace(
                    info,
                    detail=f"pool-wide calls hang: event.from got no answer within "
                    f"{exc.seconds:g} s (the master does not answer)",
                )
                error = "pool-wide calls hang"
            except (ConnectionLost, ConnectFailed) as exc:
                info = replace(info, state=connection_state_for(exc), detail=str(exc))
                with self._lock:
                    self._drop_client()
            except XapiFailure as exc:
                if exc.code == "INTERNAL_ERROR" and "missing table" in exc.params:
                    # A member has no database of its own: a call over TCP with a
                    # slave-local session is served by the member, and event.from reads
                    # its never-populated local database (xapi_event.ml from_inner).
                    from xentui.xapi.live import load_snapshot_by_listing

                    master = getattr(client, "master_address", "") or ""
                    why = (
                        "this host is a pool member: it has no pool database of its own, so event.from "
                        "fails here (INTERNAL_ERROR missing table) and there is no live event feed"
                        + (f"; connect to the master {master} for it" if master else "")
                    )
                    try:
                        # The listing calls do work: a member sends them to the master's database.
                        snapshot = load_snapshot_by_listing(client, timeout=self.call_timeout)
                        info = replace(
                            info, detail=why + "; the pool was listed with get_all_records through this member"
                        )
                    except XapiError as listing:
                        info = replace(
                            info, detail=why + f"; listing the pool failed too ({listing}); the view comes from probes"
                        )
                        error = "no live pool view on a member"
                else:
                    error = f"event.from failed: {exc}"
            except MalformedReply as exc:
                # Logged in, then a pool listing of the wrong shape: the same one
                # "not xapi" finding as at login, never a state.db view next to
                # "connected" as if xapi had merely hung.
                info = replace(info, state=connection_state_for(exc), detail=str(exc))
                with self._lock:
                    self._drop_client()
            except XapiError as exc:
                error = f"event.from failed: {exc}"
        return info, snapshot, emergency, error

    def _retry_after_restart(
        self, vms_later: bool = False
    ) -> Tuple[ConnectionInfo, Optional[PoolSnapshot], Optional[EmergencyState], str]:
        with self._lock:
            self._drop_client()
        try:
            self._connect()
        except XapiError as exc:
            return self._failed_connection(exc), None, None, ""
        return self._look_through_xapi(vms_later=vms_later)

    # -- ground truth --------------------------------------------------------

    def _make_access(self) -> Optional[HostAccess]:
        from xentui.host.access import LocalAccess, SimulatedAccess

        kind = self.target.kind
        if kind == "sim":
            return SimulatedAccess(self.target.host_root)
        if kind == "local":
            return LocalAccess(self.target.host_root)
        if kind == "ssh":
            from xentui.host.access import SshAccess

            endpoint = self._ensure_endpoint()
            client = endpoint.ssh_client
            return SshAccess(client, root=self.target.host_root or "/") if client is not None else None
        return None  # http(s): we are not on the host

    def _port_for(self) -> Optional[Dict[str, int]]:
        if self.target.kind == "sim" and self.target.sim_state_dir:
            from xentui.host.gather import ports_from_endpoints

            try:
                return ports_from_endpoints(Path(self.target.sim_state_dir) / "endpoints.json")
            except (OSError, ValueError, KeyError):
                return None
        return None

    def _ssh_alive(self) -> bool:
        endpoint = self._endpoint
        client = getattr(endpoint, "ssh_client", None) if endpoint is not None else None
        transport = client.get_transport() if client is not None else None
        return bool(transport is not None and transport.is_active())

    def _ensure_access(self) -> Optional[HostAccess]:
        """This host's files and commands (None: not on a pool host, or no way there now)."""
        from xentui.host.access import AccessError

        try:
            with self._lock:
                if self.target.kind == "ssh" and self._access is not None and not self._ssh_alive():
                    # The SSH connection dropped: reconnect (same pinned host key) and
                    # read through the new one.
                    self._access = None
                    self._ensure_endpoint().reconnect()
                if self._access is None:
                    self._access = self._make_access()
                return self._access
        except (XapiError, AccessError, OSError):
            return None

    def pool_trust(self) -> PoolTrust:
        """How this host checks the other hosts of its pool, as its xapi does
        (xentui.host.pool_trust): what its peer endpoints are told."""
        return self._pool_trust.current()

    def _gather_ground_truth(self) -> Optional[GroundTruth]:
        from xentui.host.gather import gather_ground_truth

        access = self._ensure_access()
        if access is None:
            return None
        return gather_ground_truth(
            access,
            port_for=self._port_for(),
            probe_timeout=self.probe_timeout,
            now=self.now,
            state_db_cache=self._state_db_cache,
            installed_xapi_cache=self._installed_xapi_cache,
        )

    def _db_copies(self, snapshot: PoolSnapshot, this_name: str) -> Tuple[DbCopy, ...]:
        from xentui.recovery.db_copies import member_accesses, read_db_copies

        return read_db_copies(snapshot, this_name, self._file_access(), member_accesses(self.target))

    def _file_access(self) -> Optional[HostAccess]:
        with self._lock:
            return self._access

    def _reread_state_db(self, gt: GroundTruth) -> GroundTruth:
        from xentui.host.gather import read_state_db

        access = self._file_access()
        if access is None:
            return gt
        try:
            fact = read_state_db(access, self.now, self._state_db_full_cache)
        except Exception:  # noqa: BLE001 - ground truth never raises
            return gt
        return replace(gt, state_db=fact) if fact.ok else gt

    def _with_since(self, emergency: EmergencyState) -> EmergencyState:
        """xapi enters emergency mode as it starts, so the start of the
        running xapi (its pid file's mtime) is when this emergency-mode
        process began. Unknown (None) without file access."""
        from xentui.host.xapi_process import XAPI_PID_PATH

        access = self._file_access()
        if access is None:
            return replace(emergency, since=None, since_source="")
        try:
            _, mtime = access.read_file(XAPI_PID_PATH, min(self.probe_timeout * 3, 3.0))
        except Exception:  # noqa: BLE001 - AccessError, FileMissing, SSH trouble: unknown
            return replace(emergency, since=None, since_source="")
        return replace(
            emergency,
            since=float(mtime),
            since_source=f"xapi (re)started into emergency mode (mtime of {XAPI_PID_PATH})",
        )

    # -- peers ----------------------------------------------------------------

    def _address_of(self, host_name: str) -> str:
        obs = self._last
        if obs is not None and obs.snapshot is not None:
            h = obs.snapshot.host_by_name(host_name)
            if h is not None and h.address:
                return h.address
        if self.target.kind == "sim":
            sim_host = self.target.sim_endpoints().find(host_name)
            if sim_host is not None:
                return sim_host.address
        raise ConnectFailed("unreachable", f"no known address for host {host_name!r}")

    def _peer_endpoint(self, address: str) -> XapiEndpoint:
        """An endpoint for another pool host's xapi (for a simulator: that
        host's own loopback address and port)."""
        return self._ensure_endpoint().for_address(address)

    @staticmethod
    def _this_uuid(gt: Optional[GroundTruth]) -> str:
        inventory = gt.inventory.value if gt is not None and gt.inventory.ok else None
        return inventory.installation_uuid if inventory is not None else ""

    def _peer_views(
        self,
        snap: PoolSnapshot,
        gt: Optional[GroundTruth],
        this_uuid: str,
        fresh: bool = True,
        unasked: Optional[List[str]] = None,
    ) -> Tuple[pv.PeerView, ...]:
        """What each other host's xapi says. With an `unasked` list, no peer is
        logged into: those that would be asked are appended to it instead."""
        probes = {p.address: p for p in (gt.peers if gt is not None else ())}
        role = gt.pool_role.value if gt is not None and gt.pool_role.ok else None
        this_claims_master = bool(role is not None and role.role == "master")
        jobs: Dict[str, concurrent.futures.Future[pv.PeerView]] = {}
        views = []
        for h in sorted(snap.hosts.values(), key=lambda h: h.name_label):
            if h.uuid == this_uuid or not h.address:
                continue
            probe = probes.get(h.address)
            if probe is not None and not probe.answers:
                reach = {"refused": pv.REFUSED, "timeout": pv.TIMEOUT}.get(probe.outcome, pv.UNREACHABLE)
                views.append(
                    pv.PeerView(
                        h.name_label,
                        h.address,
                        reach,
                        seconds=probe.seconds,
                        asked_at=probe.probed_at,
                        detail=f"tcp probe: {probe.outcome}",
                    )
                )
                continue
            if not self.ask_peers or self._password is None:
                continue
            cached = self._peer_cache.get(h.name_label)
            if cached is not None and not fresh and cached[0].answers and time.monotonic() - cached[1] < PEER_REFRESH:
                views.append(cached[0])
                continue
            if unasked is not None:
                unasked.append(h.name_label)
                continue
            jobs[h.name_label] = self._pool.submit(self._ask_peer, h.name_label, h.address, this_claims_master)
        for name, fut in jobs.items():
            try:
                view = fut.result(timeout=self.peer_timeout * 3 + self.connect_timeout)
            except concurrent.futures.TimeoutError:
                view = pv.PeerView(name, "", pv.HUNG, detail="no answer")
            record = snap.host_by_name(name)
            if view.host_uuid and record is not None and view.host_uuid != record.uuid:
                # A master with another host uuid at this address: the machine was
                # reinstalled; the host this record names is gone for good.
                view = replace(
                    view,
                    reach=pv.REPLACED,
                    detail=f"another installation answers here (host uuid {view.host_uuid}, its own pool)",
                )
            self._peer_cache[name] = (view, time.monotonic())
            views.append(view)
        return tuple(sorted(views, key=lambda v: v.host_name))

    def _ask_peer(self, name: str, address: str, fetch_vms: bool) -> pv.PeerView:
        from xentui.xapi.client import XapiClient

        started = time.monotonic()
        asked_at = self.now()

        def view(reach: str, **fields: Any) -> pv.PeerView:
            return pv.PeerView(name, address, reach, seconds=time.monotonic() - started, asked_at=asked_at, **fields)

        # A member answers HOST_IS_SLAVE (its master's address) to the first
        # login request: that is all we ask of it, not a local session and
        # three more requests (63 members of a 64-host pool: 190 fewer).
        client = XapiClient(call_timeout=self.peer_timeout, slave_local_fallback=False)
        endpoint: Optional[XapiEndpoint] = None
        try:
            endpoint = self._peer_endpoint(address)
            client.connect(
                endpoint, username=self._user(), password=self._password or "", label=name, target_text=address
            )
            kind = client.session_kind
            reason = client.emergency_reason
            running: Tuple[str, ...] = ()
            if client.master_address:
                role, master_address = pv.SLAVE, client.master_address
            elif reason is not None or client.in_emergency:
                role, master_address = pv.EMERGENCY, ""
            elif kind in (SessionKind.PASSWORD, SessionKind.LOCAL_ROOT):
                role, master_address = pv.MASTER, ""
                if fetch_vms:
                    running = _running_vm_uuids(client)
            else:
                role, master_address = pv.UNKNOWN, ""
            identity = _master_identity(client) if role == pv.MASTER else ("", "", None)
            return view(
                pv.ANSWERS,
                role=role,
                master_address=master_address,
                reason_code=reason[0] if reason else "",
                reason_params=tuple(reason[1]) if reason else (),
                running_vm_uuids=running,
                host_uuid=identity[0],
                pool_uuid=identity[1],
                tls_verification=identity[2],
            )
        except CallTimeout:
            return view(pv.HUNG, detail=f"accepted the connection, no answer within {self.peer_timeout:g} s")
        except XapiFailure as exc:
            if exc.code == "HOST_IS_SLAVE":
                return view(pv.ANSWERS, role=pv.SLAVE, master_address=exc.params[0] if exc.params else "")
            return view(pv.ANSWERS, detail=f"xapi error {exc.code}")
        except TlsCertificateUntrusted as exc:
            unverified = getattr(endpoint, "unverified", None)
            if unverified is None:
                return view(pv.UNREACHABLE, detail=str(exc))
            from xentui.recovery.peer_role import ask_role_without_secrets

            return ask_role_without_secrets(unverified(), self._user(), self.peer_timeout, exc.detail, view)
        except ConnectFailed as exc:
            if exc.reason == "auth":
                return view(pv.ANSWERS, detail="login refused (password?)")
            reach = {"refused": pv.REFUSED, "timeout": pv.TIMEOUT}.get(exc.reason, pv.UNREACHABLE)
            return view(reach, detail=str(exc))
        except (XapiError, ValueError, OSError) as exc:
            # ValueError: the simulator's endpoints.json vanished or is torn.
            return view(pv.UNREACHABLE, detail=str(exc))
        finally:
            try:
                client.close()
            except (OSError, XapiError):
                pass


# Fields that change on every heartbeat or memory sample; a change in them
# alone is not worth a re-diagnosis, a repaint or a new look at the host.
_VOLATILE_FIELDS = {"host_metrics": {"last_updated": None, "memory_free": 0}}


def _visible(cls_name: str, obj: Any) -> Any:
    volatile = _VOLATILE_FIELDS.get(cls_name)
    if obj is None or not volatile:
        return obj
    return replace(obj, **volatile)


def _what_changed(before: PoolSnapshot, after: PoolSnapshot, events: List[Dict[str, Any]]) -> Tuple[bool, bool]:
    """(content changed, topology changed) between two snapshots for these events.
    Topology means a host or pool record changed, or a host's `live` flipped:
    the cases where the host's files and the peers deserve a fresh look."""
    changed = topology = False
    for event in events:
        cls_name = str(event.get("class", "")).lower()
        ref = str(event.get("ref", ""))
        old = before.raw.get(cls_name, {}).get(ref)
        new = after.raw.get(cls_name, {}).get(ref)
        if _visible(cls_name, old) == _visible(cls_name, new):
            continue
        changed = True
        if cls_name in ("host", "pool"):
            topology = True
        elif cls_name == "host_metrics" and getattr(old, "live", None) != getattr(new, "live", None):
            topology = True
    return changed, topology


def _observation_key(obs: Observation, version: Hashable) -> Tuple[Hashable, ...]:
    """What must differ for follow() to report an observation again."""
    return (
        tuple(repr(f.to_json()) for f in obs.findings),
        obs.connection.state,
        obs.snapshot_source.split(" (")[0],
        version,
        obs.peers_pending,
    )


def _snapshot_key(snapshot: Optional[PoolSnapshot]) -> Hashable:
    if snapshot is None:
        return None
    return tuple(sorted((cls, len(recs)) for cls, recs in snapshot.raw.items())), snapshot.token


def _master_identity(client: XapiClient) -> Tuple[str, str, Optional[bool]]:
    """(host uuid, pool uuid, pool TLS verification) of a peer that answers as
    master; blanks when it will not say."""
    try:
        host_uuid = str(client.call("host.get_uuid", client.call("session.get_this_host", client.session_ref)))
        pools = client.call("pool.get_all_records")
    except XapiError:
        return "", "", None
    pool: Dict[str, Any] = next(iter(pools.values()), {}) if isinstance(pools, dict) else {}
    tls = pool.get("tls_verification_enabled")
    return host_uuid, str(pool.get("uuid", "")), tls if isinstance(tls, bool) else None


def _running_vm_uuids(client: XapiClient) -> Tuple[str, ...]:
    try:
        recs = client.call("VM.get_all_records")
    except XapiError:
        return ()
    out = []
    for rec in recs.values():
        if rec.get("is_a_template") or rec.get("is_control_domain") or rec.get("is_a_snapshot"):
            continue
        if rec.get("power_state") in ("Running", "Paused"):
            out.append(str(rec.get("uuid", "")))
    return tuple(sorted(out))


class _Emitter:
    """follow()'s reporting, shared by its loop and the liveness probe's
    thread: applies the probe's verdict, reports only visible changes."""

    def __init__(self, on_observation: Callable[[Observation], None], stop: threading.Event) -> None:
        self.liveness: Optional[_MasterLiveness] = None
        self._on_observation = on_observation
        self._stop = stop
        self._lock = threading.Lock()
        self._last_key: Optional[Tuple[Hashable, ...]] = None
        self._base: Optional[Observation] = None  # the loop's latest, without the verdict
        self._version: Hashable = None

    def emit(self, obs: Observation, version: Hashable) -> None:
        liveness = self.liveness
        if liveness is not None:
            liveness.aim(obs)
        with self._lock:
            self._base, self._version = obs, version
            self._deliver(obs, version)

    def liveness_changed(self) -> None:
        with self._lock:
            if self._base is not None:
                self._deliver(self._base, self._version)

    def _deliver(self, obs: Observation, version: Hashable) -> None:
        liveness = self.liveness
        shown = liveness.apply(obs) if liveness is not None else obs
        key = _observation_key(shown, version)
        if key != self._last_key and not self._stop.is_set():
            self._last_key = key
            self._on_observation(shown)


def _master_of(obs: Observation) -> Optional[Tuple[str, str]]:
    """(name, address) of the master this host follows, None when this host
    is (or claims to be) the master or no master is known."""
    gt = obs.ground_truth
    role = gt.pool_role.value if gt is not None and gt.pool_role.ok else None
    if role is not None and role.role == "master":
        return None
    snap = obs.snapshot
    address = role.master_address if role is not None and role.role == "slave" else ""
    address = address or obs.connection.master_address
    name = ""
    if snap is not None:
        if address:
            host = next((h for h in snap.hosts.values() if h.address == address), None)
        else:
            host = snap.master
        if host is not None:
            if obs.connection.this_host_uuid and host.uuid == obs.connection.this_host_uuid:
                return None
            name, address = host.name_label, address or host.address
    if not address:
        return None
    return name or address, address


class _MasterLiveness:
    """The LivenessMonitor aimed at the current master, and its verdict as a PeerView."""

    def __init__(self, observer: "Observer", on_change: Callable[[], None]) -> None:
        self._observer = observer
        self._on_change = on_change
        self._lock = threading.Lock()
        self._target: Optional[Tuple[str, str]] = None
        self._monitor: Optional[LivenessMonitor] = None
        self._endpoint: Optional[XapiEndpoint] = None

    def aim(self, obs: Observation) -> None:
        target = _master_of(obs) if self._observer.liveness_interval > 0 else None
        with self._lock:
            if target == self._target and (target is None or self._monitor is not None):
                return
            self._stop_locked()
            self._target = target
            if target is None:
                return
            try:
                endpoint = self._observer._peer_endpoint(target[1])
            except (XapiError, OSError, ValueError):
                return  # no way there yet; the next observation aims again
            timeout = self._observer.liveness_timeout
            endpoint.connect_timeout = timeout  # the probe's deadline covers the connect too
            self._endpoint = endpoint
            self._monitor = LivenessMonitor(
                lambda: probe_once(stream_opener(endpoint), timeout, host_header=target[1]),
                lambda verdict: self._on_change(),
                interval=self._observer.liveness_interval,
                misses=self._observer.liveness_misses,
                now=self._observer.now,
                name=f"xentui-liveness-{target[0]}",
            ).start()

    def verdict(self) -> Optional[Tuple[str, str, Verdict]]:
        monitor, target = self._monitor, self._target
        if monitor is None or target is None:
            return None
        return target[0], target[1], monitor.verdict

    def apply(self, obs: Observation) -> Observation:
        """`obs` with the master shown as the probe found it, when the probe
        says it is down (the observation's own look may be seconds older)."""
        current = self.verdict()
        if current is None or not current[2].down:
            return obs
        name, address, verdict = current
        if _master_of(obs) != (name, address):
            return obs
        views = [v for v in obs.peer_views if v.host_name != name]
        existing = next((v for v in obs.peer_views if v.host_name == name), None)
        if existing is not None and existing.down:
            return obs  # the look itself found it down: its words stand
        detail = (
            f"liveness probe: {verdict.misses} probes in a row failed "
            f"({verdict.outcome}{': ' + verdict.detail if verdict.detail else ''})"
        )
        views.append(pv.PeerView(name, address, verdict.outcome, asked_at=verdict.since or obs.at, detail=detail))
        from xentui.recovery.diagnosis import diagnose

        shown = replace(obs, peer_views=tuple(sorted(views, key=lambda v: v.host_name)), findings=())
        return replace(shown, findings=diagnose(shown))

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()
            self._target = None

    def _stop_locked(self) -> None:
        monitor, endpoint = self._monitor, self._endpoint
        self._monitor = self._endpoint = None
        if monitor is not None:
            monitor.stop()
        if endpoint is not None:
            try:
                endpoint.close()
            except (OSError, XapiError):
                pass
