"""Who is master and who follows whom, read from one observation: shared by
the steps that change roles (promote, HA, members, split brain, designate)."""

from __future__ import annotations

from typing import Dict, List

from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.situation import Situation


def is_master_now(obs: Observation) -> bool:
    sit = Situation(obs)
    return (
        sit.this_is_master
        and sit.conn_state == "connected"
        and not sit.emergency
        and sit.snap_live
        and sit.snap.master is not None
        and sit.this_host is not None
        and sit.snap.master.ref == sit.this_host.ref
    )


def members_following(obs: Observation, master_address: str) -> Dict[str, bool]:
    sit = Situation(obs)
    out = {}
    for h in sit.other_hosts():
        st = sit.state(h)
        out[h.name_label] = st.reach == pv.ANSWERS and st.role == pv.SLAVE and st.master_address == master_address
    if sit.this_host is not None and not sit.this_is_master:
        # The console host is a member too when it was the master demoted (split
        # brain, keeping the other): it follows when its own pool.conf says so
        # and its xapi answers outside emergency mode.
        out[sit.this_host.name_label] = (
            sit.pool_conf_role == "slave"
            and sit.pool_conf_master == master_address
            and sit.xapi_answers_here
            and not sit.emergency
        )
    return out


def hung_hosts(sit: Situation, exclude: str = "") -> List[str]:
    """Hosts of the pool that accept connections and never answer: xapi's calls to
    them (recover_slaves, is_host_alive, designate) wait with no timeout."""
    return sorted(
        h.name_label for h in sit.snap.hosts.values() if h.name_label != exclude and sit.state(h).reach == pv.HUNG
    )
