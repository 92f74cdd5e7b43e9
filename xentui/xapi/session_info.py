"""What kind of xapi session we hold, and how we are connected.

Reported by `xentui status`, shown permanently in the UI's top bar, and
written into audit records, because the same call means different things
over different sessions (a slave-local session can't list the pool; a
unix-socket root session on a slave is silently proxied to the master).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple


class SessionKind(str, enum.Enum):
    NONE = "none"  # not logged in (yet)
    LOCAL_ROOT = "local-root"  # unix socket, pre-authenticated root (xsconsole's way)
    PASSWORD = "password"  # session.login_with_password on the master
    SLAVE_LOCAL = "slave-local"  # session.slave_local_login_with_password: this host only

    @property
    def limits(self) -> Tuple[str, ...]:
        """What this kind of session cannot do, in plain words."""
        if self is SessionKind.SLAVE_LOCAL:
            return (
                "valid on this host only",
                "pool-wide calls go to the master and hang if it is down",
                "in emergency mode only the emergency calls answer",
            )
        if self is SessionKind.LOCAL_ROOT:
            return ("on a slave, most calls are proxied to the master and hang if it is down",)
        if self is SessionKind.NONE:
            return ("no xapi session: only files and probes are available",)
        return ()


@dataclass(frozen=True)
class ConnectionInfo:
    """How we reach xapi right now.

    `transport` is one of "local", "ssh-streamlocal", "ssh-tcp", "ssh-tls", "http", "https";
    `label` is what the top bar shows ("local", "ssh root@host", "DEMO");
    `state` is "connected", "connecting", "timed-out", "refused", "auth-failed",
    "hostkey-unknown", "hostkey-changed", "emergency", "lost", "not-xapi" (something
    answered, not as xapi), "xapi-error" (xapi answered the login with an error).
    """

    transport: str
    label: str
    target: str
    session_kind: SessionKind = SessionKind.NONE
    state: str = "connecting"
    detail: str = ""
    this_host_uuid: str = ""
    master_address: str = ""  # from HOST_IS_SLAVE, when xapi told us
    read_only: bool = False
    demo: bool = False
    limits: Tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> Dict[str, Any]:
        return {
            "transport": self.transport,
            "label": self.label,
            "target": self.target,
            "session_kind": self.session_kind.value,
            "state": self.state,
            "detail": self.detail,
            "this_host_uuid": self.this_host_uuid,
            "master_address": self.master_address,
            "read_only": self.read_only,
            "limits": list(self.limits or self.session_kind.limits),
        }
