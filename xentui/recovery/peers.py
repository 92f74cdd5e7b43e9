"""What each other pool host says about itself over xapi.

The ground truth's `PeerProbe` only says whether a host's xapi port accepts
TCP connections. A `PeerView` goes one step further, the way xapi's own
`check_no_other_masters` does: it asks the peer's xapi, with a short
timeout, which role it plays. `session.login_with_password` over TCP is
the cheapest question with an unambiguous answer:

* success                         -> the peer is a master;
* `HOST_IS_SLAVE [addr]`          -> a member following `addr`;
* an emergency code (stored error) -> a member in emergency mode, and why;
* no answer in time               -> hung (accepts, never answers);
* refused / unreachable           -> down.

A peer whose TLS certificate this host cannot vouch for is asked the same
question without the password (peer_role.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

# PeerView.role values
MASTER = "master"
SLAVE = "slave"
EMERGENCY = "emergency"
UNKNOWN = "unknown"

# PeerView.reach values (how the peer's xapi responded)
ANSWERS = "answers"  # xapi replied (success or a xapi error)
HUNG = "hung"  # accepted the connection, no reply within the timeout
REFUSED = "refused"
TIMEOUT = "timeout"  # connect timed out (powered off, partitioned)
UNREACHABLE = "unreachable"
NOT_ASKED = "not-asked"
# Another installation answers at the host's address (a reinstall: a new host
# uuid, a pool of its own): the host the record names is gone for good.
REPLACED = "replaced"

DOWN_REACHES = (HUNG, REFUSED, TIMEOUT, UNREACHABLE, REPLACED)


@dataclass(frozen=True)
class PeerView:
    host_name: str
    address: str
    reach: str
    role: str = UNKNOWN
    master_address: str = ""  # for SLAVE: whom it follows (from HOST_IS_SLAVE)
    reason_code: str = ""  # for EMERGENCY: the stored error code
    reason_params: Tuple[str, ...] = ()
    seconds: float = 0.0
    asked_at: float = 0.0
    detail: str = ""
    # For a peer that claims to be master: uuids of guest VMs its own database
    # says are running (used to flag VMs two masters both claim).
    running_vm_uuids: Tuple[str, ...] = ()
    # For a peer that answers as master: who it is (its own host uuid, its
    # pool's uuid) and whether its pool verifies TLS; a different host uuid
    # than the record's means the machine was reinstalled (REPLACED).
    host_uuid: str = ""
    pool_uuid: str = ""
    tls_verification: Optional[bool] = None

    @property
    def answers(self) -> bool:
        return self.reach == ANSWERS

    @property
    def down(self) -> bool:
        return self.reach in DOWN_REACHES

    def to_json(self) -> Dict[str, Any]:
        return {
            "host": self.host_name,
            "address": self.address,
            "reach": self.reach,
            "role": self.role,
            "master_address": self.master_address,
            "reason_code": self.reason_code,
            "reason_params": list(self.reason_params),
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }
