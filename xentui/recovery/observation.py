"""One observation of the pool: the unit the CLI and the UI render.

Produced in a worker thread by the observer (live xapi snapshot when xapi
answers, ground truth from the host's own files and probes always), then
diagnosed into findings. Immutable, so a UI thread can hold one while a
worker builds the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

from xentui.host.db_copy import DbCopy
from xentui.host.facts import GroundTruth
from xentui.recovery.findings import Finding, Severity
from xentui.recovery.peers import PeerView
from xentui.xapi.model import PoolSnapshot
from xentui.xapi.session_info import ConnectionInfo


@dataclass(frozen=True)
class EmergencyState:
    """This host's emergency status as xapi reports it.

    `in_emergency` comes from `host.is_in_emergency_mode` (None when that call
    could not be made); `reason_code`/`reason_params` are the stored error that
    non-emergency calls get (e.g. HOST_STILL_BOOTING), caught from a login or
    `host.local_assert_healthy`.
    """

    in_emergency: Optional[bool]
    reason_code: str = ""
    reason_params: Tuple[str, ...] = ()
    # When this xapi process started (it enters emergency mode at start-up and
    # restarts itself every 1-3 min while in it), from the mtime of its pid
    # file; None when that cannot be read. Not when the emergency began.
    since: Optional[float] = None
    since_source: str = ""  # e.g. "xapi (re)started into emergency mode (mtime of /var/run/xapi.pid)"


@dataclass(frozen=True)
class Observation:
    at: float
    connection: ConnectionInfo
    snapshot: Optional[PoolSnapshot] = None  # None when xapi could not list the pool
    snapshot_source: str = ""  # "xapi event.from", "state.db (as of ...)"
    ground_truth: Optional[GroundTruth] = None
    emergency: Optional[EmergencyState] = None
    this_host_name: str = ""
    findings: Tuple[Finding, ...] = field(default_factory=tuple)
    # Additive (RECOVERY): what each other pool host's xapi says about its role.
    peer_views: Tuple[PeerView, ...] = field(default_factory=tuple)
    # True while the other hosts' xapis were not asked yet (follow() paints its first look
    # before the peer logins and asks them right after): no health may be claimed meanwhile.
    peers_pending: bool = False
    # Each host's copy of the pool database (generation, when written), read only
    # while no master lists the pool: which member to promote (recovery/stale_db.py).
    db_copies: Tuple[DbCopy, ...] = field(default_factory=tuple)

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), default=Severity.OK)
