"""One line per simulator scenario for the help screen: what goes wrong, what
xentui does about it. tests/ui/test_scenario_guide.py checks that every
scenario the simulator ships is here and in the README."""

from __future__ import annotations

from typing import Tuple

SCENARIO_GUIDE: Tuple[Tuple[str, str], ...] = (
    ("healthy", "nothing wrong: xentui says the pool is healthy and changes nothing"),
    ("master-down", "master powered off: confirm it is off, promote this member, restart its VMs"),
    ("master-hung", "master accepts but never answers: promotion is refused until it is off"),
    ("master-down-ha", "master off with HA armed: disarm HA, promote, restart VMs, re-arm HA later"),
    ("master-down-small-survivor", "the survivor cannot fit every VM: starts what fits, names the rest"),
    ("split-brain", "two masters after a partition: keep one (you choose), demote the other"),
    ("replaced-nics", "new NICs on a member: restore its management link, scan, forget old PIFs"),
    ("replaced-nics-same-names", "new NICs under the old names: PIF.scan rewrites the MACs"),
    ("no-management-ip", "a member lost its address: says what to fix at the cable, then verifies"),
    ("large", "64 hosts, 2,000 VMs, healthy: the views stay fast"),
    (
        "tls-verify-fail",
        "member rejects the coordinator's certificate: verify off on it, renew the cert, verify on",
    ),
    ("tls-weak-key", "members reject a 1024-bit pool key: verify off, new 2048-bit cert, verify on"),
    (
        "ha-armed-mismatch",
        "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED: pool HA off, member rejoins, HA back on",
    ),
    (
        "ha-mismatch-no-statefile",
        "the same, coordinator stuck without statefile: disarm HA everywhere, HA stays off (xe line to re-arm)",
    ),
    (
        "member-newer",
        "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR: both versions (still after xapi's retry), stops: update the master",
    ),
    ("vdi-locked", "SR_BACKEND_FAILURE_46 after a crash: clears the dead host's VDI locks, starts VMs"),
    ("designate-dead-record", "handing the master role back (--prefer-master): forget dead records first"),
    ("rejoin-rebuilt", "a reinstalled old master: M (or xentui on the master): forget, TLS, join, old IQN"),
    ("stale-db", "members' DB copies differ: promote the newest (run xentui there), shows each age"),
    ("host-left-disabled", "a host stays disabled: clear pending guidance, plug PBDs, host-enable"),
)
