"""A member updated before its coordinator: what xentui says, and where it stops.

xapi.ml attempt_host_status_check_with_coordinator: on its hello the member
compares its own Xapi_version.version with the coordinator's
software_version "xapi_build"; when its own is higher it stores
HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR [its version] as a Permanent error,
stays in emergency mode and tries again every 60 s
(Db_globs.permanent_master_failure_retry_interval). Nothing xapi offers
changes that except updating the coordinator; xentui cannot update anything,
so the plan stops, names the error and both versions, and changes nothing.

Promoting the newer member instead is not a fix: it is offered only when the
admin asks for it (`recover --promote-newer`), and then through the ordinary
promotion steps, behind their fence (the coordinator must be powered off).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from xentui.recovery.situation import Situation
from xentui.xapi.model import Host

NEWER_CODE = "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR"
RETRY_SECONDS = 60  # Db_globs.permanent_master_failure_retry_interval


@dataclass(frozen=True)
class NewerMember:
    member: str
    member_version: str  # what the member's xapi said (its error's parameter)
    coordinator: str
    coordinator_version: str  # the coordinator's software_version xapi_build, as the member compares it

    def versions(self) -> str:
        return (
            f"{self.member} runs xapi {self.member_version}; its coordinator {self.coordinator} "
            f"runs xapi {self.coordinator_version}"
        )


def build_version(host: Optional[Host]) -> str:
    """The version the member compares with: software_version's xapi_build (else xapi)."""
    if host is None:
        return "?"
    return host.software_version.get("xapi_build") or host.xapi_version or "?"


def newer_members(s: Situation) -> List[NewerMember]:
    """Every host known to be refused for being newer: this one (its stored
    error) and, seen from elsewhere, the members whose xapi answered with it."""
    out: List[NewerMember] = []
    if s.reason_code == NEWER_CODE:
        coordinator = s.believed_master
        out.append(
            NewerMember(
                s.this_name or "this host",
                s.reason_params[0] if s.reason_params else "?",
                coordinator.name_label if coordinator is not None else s.pool_conf_master or "?",
                build_version(coordinator),
            )
        )
    if not s.has_snapshot:
        return out
    coordinator = s.this_host if s.this_is_master else s.believed_master
    for h in s.other_hosts():
        view = s.views.get(h.name_label)
        if view is None or view.reason_code != NEWER_CODE:
            continue
        out.append(
            NewerMember(
                h.name_label,
                view.reason_params[0] if view.reason_params else "?",
                coordinator.name_label if coordinator is not None else "?",
                build_version(coordinator),
            )
        )
    return out


def stop_lines(members: List[NewerMember], *, promote_offered: bool = True) -> Tuple[str, ...]:
    """The clear stop: the error, both versions, what to do, that nothing changed."""
    if not members:
        return ()
    lines = [
        f"{m.versions()}. xapi refuses a member newer than its coordinator ({NEWER_CODE}): "
        f"{m.member} stays in emergency mode and retries every {RETRY_SECONDS} s."
        for m in members
    ]
    coordinators = ", ".join(dict.fromkeys(m.coordinator for m in members))
    lines.append(
        f"Update the coordinator first ({coordinators}: the same updates, and the reboot they ask for), "
        "then the other members. The newer member then rejoins by itself at its next retry. xentui "
        "cannot update anything."
    )
    if promote_offered:
        lines.append(
            "Promoting the newer member instead is not the fix (the coordinator must be powered off, the "
            "newer member leads from its own database copy, the old coordinator must be updated before it "
            "rejoins). Only if you choose that: 'xentui recover --plan --promote-newer' on the newer member's "
            "console shows those steps."
        )
    lines.append("Nothing was changed.")
    return tuple(lines)
