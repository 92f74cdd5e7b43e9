"""The iSCSI SAN behind an lvmoiscsi SR, as far as recovery meets it.

The SAN is not xapi: it admits the initiator names (IQNs) on its access list.
Each host's initiator name is host.iscsi_iqn (xapi_host.ml set_iscsi_iqn
writes it, the legacy other_config:iscsi_iqn and /etc/iscsi/initiatorname.iscsi).
A reinstalled host gets a new IQN, so its PBD plug on the old SR fails until the
old IQN is put back or the SAN's list is changed. sm reports it as
SR_BACKEND_FAILURE_47 "The SR is not available" (the error the field reports
name; some arrays make sm's ISCSISR report its login error instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AbstractSet

from xentui.sim.errors import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

ISCSI_TYPES = ("lvmoiscsi", "iscsi")


def iqn_for(uuid: str) -> str:
    """The initiator name an installer generates (iqn.<date>.<domain>:<random>)."""
    return "iqn.2024-07.com.example:%s" % uuid[:8]


def assert_admitted(db: "Database", san_initiators: AbstractSet[str], pbd: str) -> None:
    """sm's SR.attach on the host of `pbd`, as the SAN answers it."""
    sr = db.get_field("PBD", pbd, "SR")
    if not db.exists("SR", sr) or db.get_field("SR", sr, "type") not in ISCSI_TYPES:
        return
    iqn = str(db.get_field("host", db.get_field("PBD", pbd, "host"), "iscsi_iqn") or "")
    if iqn not in san_initiators:
        raise ApiError(
            "SR_BACKEND_FAILURE_47",
            "",
            "The SR is not available [opterr=initiator %s not allowed by the target]" % iqn,
            "",
        )
