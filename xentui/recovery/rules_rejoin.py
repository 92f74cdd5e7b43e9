"""Diagnosis of a reinstalled host at a pool record's address (issue 13 item 6).

The seed article's last act: the dead former master is reinstalled. The new
install has a new host uuid and is a pool of its own; the old record stays in
the pool, offline. The observer asks the machine at the record's address who
it is (peers.REPLACED when it answers as master with another host uuid).
What it takes to bring it back is what xapi needs: host.destroy of the old
record (xapi_host.ml destroy), pool.join on the new install (xapi_pool.ml
join: pre_join_checks compare TLS verification, management VLAN, versions
and database schema), then its old iSCSI initiator name back for a SAN that
admits the old one (SR_BACKEND_FAILURE_47 otherwise).
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from xentui.recovery import peers as pv
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.situation import Situation
from xentui.xapi.model import Host


def replaced_hosts(s: Situation) -> List[Tuple[Host, pv.PeerView]]:
    """Records whose address now answers as another installation, with what it said."""
    out = []
    for h in s.other_hosts():
        view = s.views.get(h.name_label)
        if view is not None and s.state(h).reach == pv.REPLACED:
            out.append((h, view))
    return out


def tls_mismatch(s: Situation, view: pv.PeerView) -> bool:
    """pre_join_checks' assert_tls_verification_matches would refuse the join."""
    pool = s.snap.pool
    if pool is None or view.tls_verification is None:
        return False
    return bool(getattr(pool, "tls_verification_enabled", False)) != view.tls_verification


def rule_rebuilt(s: Situation) -> List[Finding]:
    out = []
    for h, view in replaced_hosts(s):
        iqn = h.other_config.get("iscsi_iqn", "")
        steps = f"forget the old record (xe host-forget uuid={h.uuid} --force), then on the new install: xe pool-join"
        extra = []
        if tls_mismatch(s, view):
            extra.append(
                "TLS verification differs between the pool and the new install: pool.join would fail with "
                "POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH until 'xe pool-enable-tls-verification' is run "
                "on the side that does not verify"
            )
        if iqn:
            extra.append(
                f"the new install has a new iSCSI initiator name; a SAN that admits the old one ({iqn}) "
                "refuses it (SR_BACKEND_FAILURE_47) until 'xe host-param-set iscsi_iqn=' puts it back"
            )
        out.append(
            Finding(
                Code.HOST_REBUILT,
                Severity.WARNING,
                f"{h.name_label} was reinstalled: a new host answers at {h.address}",
                f"The machine at {h.address} is a pool of its own (host uuid {view.host_uuid}); the "
                f"pool still holds {h.name_label}'s old record ({h.uuid}), offline. To bring it back: "
                + steps
                + ("; " + "; ".join(extra) if extra else "")
                + ".",
                host=h.name_label,
                evidence=(s.state(h).evidence, f"record uuid {h.uuid} ({s.snap_label})"),
                data={"new_uuid": view.host_uuid, "old_uuid": h.uuid, "address": h.address, "iscsi_iqn": iqn},
            )
        )
    return out


RULES: Tuple[Callable[[Situation], List[Finding]], ...] = (rule_rebuilt,)
