"""Diagnosis rules for the failures of issue 13 that the observation can show.

Each finding names xapi's real error, as the host stored it (the emergency
error of this host). They stand next to EMERGENCY_MODE, which says *that*
the host is cut off; these say *why*, in the terms of the fix.

- TLS_VERIFY_FAILED: xapi.ml attempt_host_status_check_with_coordinator stores
  stunnel's Stunnel_verify_error inside INTERNAL_ERROR (ExnHelper.string_of_exn).
- HA_ARMED_MISMATCH: xapi.ml resynchronise_ha_state on a member whose local
  ha.armed is false while pool.ha_enabled is true.

Not here yet (the observation carries no VDI sm_config, pending guidance or
other members' state.db generations): vdi-locked, host-left-disabled's
guidance, stale-db's choice of member; see the issue 13 notes.
"""

from __future__ import annotations

import re
from typing import List, Tuple

from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.situation import Situation

_VERIFY = re.compile(r'Stunnel_verify_error\("([^"]*)"\)')


def stunnel_verify_reason(params: Tuple[str, ...]) -> str:
    """The reason inside a stored INTERNAL_ERROR, or "" when it is not a verify error."""
    for param in params:
        match = _VERIFY.search(param)
        if match:
            return match.group(1) or "no reason given"
    return ""


def rule_tls_verify_failed(s: Situation) -> List[Finding]:
    if s.reason_code != "INTERNAL_ERROR":
        return []
    reason = stunnel_verify_reason(tuple(s.reason_params))
    if not reason:
        return []
    name = s.this_name or "this host"
    return [
        Finding(
            Code.TLS_VERIFY_FAILED,
            Severity.CRITICAL,
            f"{name} rejects its coordinator's TLS certificate: {reason}",
            "The member verifies the coordinator's certificate against its pool bundle and the check fails "
            "(Stunnel_verify_error), so it stays in emergency mode. Fix: on the member "
            "'xe host-emergency-disable-tls-verification'; on the coordinator 'xe pool-certificate-sync' "
            "(rebuilds every host's bundle) or 'xe host-refresh-server-certificate host=<coordinator>' (a new "
            "certificate); then on the member 'xe host-emergency-reenable-tls-verification'. A 1024-bit "
            "server key needs 'xe host-emergency-reset-server-certificate' on that host.",
            host=s.this_name,
            evidence=(f"stored emergency error INTERNAL_ERROR {list(s.reason_params)}",),
            data={"reason": reason},
        )
    ]


_HA_FIX = (
    "A member that was disarmed locally cannot rejoin an HA-enabled pool; it stays in emergency "
    "mode at every restart ('recover slaves' does not help). Make both sides agree: 'xe pool-ha-disable' "
    "on the coordinator (or 'xe host-emergency-ha-disable --force' on every host, coordinator "
    "included; on a host already disarmed it answers HA_NOT_ENABLED unless soft=true), then restart "
    "the toolstack on the stuck member, then re-enable HA. Afterwards check that the coordinator "
    "itself is not in emergency mode."
)


def rule_ha_armed_mismatch(s: Situation) -> List[Finding]:
    """This host's stored error, or a member's as its own xapi reported it."""
    stuck = []
    if s.reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
        stuck.append((s.this_name or "this host", "stored emergency error"))
    if s.has_snapshot:
        for h in s.other_hosts():
            st = s.state(h)
            if st.reason_code == "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED":
                stuck.append((h.name_label, st.evidence))
    return [
        Finding(
            Code.HA_ARMED_MISMATCH,
            Severity.CRITICAL,
            f"{name}: HA is disarmed there but enabled on the pool (HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED)",
            _HA_FIX,
            host=name,
            evidence=(f"{source}: HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",),
        )
        for name, source in stuck
    ]


RULES = (rule_tls_verify_failed, rule_ha_armed_mismatch)
