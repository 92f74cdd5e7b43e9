"""Whether a member stuck in emergency mode has rejoined its pool, from one
observation: shared by the TLS and HA-mismatch steps, which all end by waiting
for it (the member's xapi rejoins on its own: its hello loop, or its restart)."""

from __future__ import annotations

from typing import Tuple

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.situation import Situation


def member_back(obs: Observation, name: str) -> Tuple[bool, str]:
    """(True, why) when `name` answers outside emergency mode and, where the
    pool database is live, is live and enabled there."""
    sit = Situation(obs)
    host = sit.snap.host_by_name(name)
    if host is None:
        return False, f"{name} is not in the pool database"
    if name == sit.this_name:
        if sit.emergency:
            return False, f"{name} is still in emergency mode ({sit.reason_code or 'no reason given'})"
        if not sit.xapi_answers_here:
            return False, f"{name}'s xapi: {sit.conn_state}"
    else:
        st = sit.state(host)
        if st.reach != pv.ANSWERS:
            return False, f"{name}: {st.evidence}"
        if st.role == pv.EMERGENCY:
            return False, f"{name} is still in emergency mode ({st.reason_code or 'no reason given'})"
    if sit.snap_live:
        if host.live is False:
            return False, f"{name} is not live yet (host_metrics.live = false)"
        if not host.enabled:
            return False, f"{name} is not enabled yet"
    return True, f"{name} is out of emergency mode, live and enabled"
