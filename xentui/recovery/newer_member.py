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

The stored error does not last: once the coordinator stops answering, the
member's next try (60 s later) fails before the version check and stores the
connection error instead (Temporary, retried every 5 s). So on the member
itself the refusal is also recognised from what lasts, the very comparison
xapi makes: its installed xapi's version (`rpm -q xapi-core`, host/
xapi_installed.py; its host record keeps the pre-update version, as xapi
only rewrites software_version in dbsync after a successful hello) against
the coordinator's software_version "xapi_build" as recorded in the pool
database (the member's state.db copy when the coordinator is off), compared
as Xapi_version.compare_version compares (major, then minor; the rest of
the version is ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from xentui.recovery.situation import Situation
from xentui.xapi.model import Host

NEWER_CODE = "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR"
RETRY_SECONDS = 60  # Db_globs.permanent_master_failure_retry_interval
# xapi.ml server_init, a member's login loop: a Temporary failure (the
# coordinator not answering) is tried again after Thread.delay 5.
UNREACHABLE_RETRY_SECONDS = 5


@dataclass(frozen=True)
class NewerMember:
    member: str
    member_version: str  # what the member's xapi said (its error's parameter)
    coordinator: str
    coordinator_version: str  # the coordinator's software_version xapi_build, as the member compares it
    # where the member's version comes from: its stored error, or what lasts after it
    evidence: str = ""
    # True while its stored error names the refusal (a Permanent failure, retried every
    # RETRY_SECONDS); False once the coordinator stopped answering (a Temporary one)
    refused_now: bool = True

    def retry_text(self) -> str:
        if self.refused_now:
            return f"{self.member} stays in emergency mode and retries every {RETRY_SECONDS} s"
        return (
            f"{self.member} stays in emergency mode; its coordinator does not answer now, so it retries "
            f"every {UNREACHABLE_RETRY_SECONDS} s and is refused again as soon as the coordinator answers"
        )

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


_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)\.")


def major_minor(version: str) -> Optional[Tuple[int, int]]:
    """Xapi_version.parse_xapi_version's "%d.%d.%s" (None where xapi would fail)."""
    m = _MAJOR_MINOR.match(version.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def version_higher(mine: str, coordinator: str) -> Optional[bool]:
    """xapi.ml's xapi_version_higher: Xapi_version.compare_version mine coordinator > 0,
    which compares major, then minor, and nothing else. None: a version is unreadable."""
    a, b = major_minor(mine), major_minor(coordinator)
    if a is None or b is None:
        return None
    return a > b


def _this_member_by_versions(s: Situation) -> Optional[NewerMember]:
    """This member newer than its coordinator by the comparison xapi makes, from
    what lasts: the installed xapi against the coordinator's recorded xapi_build."""
    gt = s.gt
    fact = gt.installed_xapi if gt is not None else None
    if fact is None or not fact.ok or fact.value is None:
        return None
    if s.pool_conf_role != "slave" or s.this_is_master:
        return None  # only a member is compared with a coordinator
    if s.snap_live and not s.emergency:
        return None  # its xapi works as a member: the coordinator accepted it
    coordinator = s.believed_master
    if coordinator is None or s.is_this(coordinator):
        return None
    recorded = coordinator.software_version.get("xapi_build", "")  # List.assoc "xapi_build", no fallback
    if not version_higher(fact.value, recorded):
        return None
    now_reads = s.reason_code or "no stored error"
    return NewerMember(
        s.this_name or "this host",
        fact.value,
        coordinator.name_label,
        recorded,
        refused_now=False,
        evidence=(
            f"{s.this_name or 'this host'}: xapi {fact.value} installed ({fact.source}); its stored "
            f"emergency error now reads {now_reads} (the coordinator no longer answers its hello)"
        ),
    )


def newer_members(s: Situation) -> List[NewerMember]:
    """Every host known to be refused for being newer: this one (its stored
    error, or else its installed xapi against the coordinator's recorded
    xapi_build) and, seen from elsewhere, the members whose xapi answered with it."""
    out: List[NewerMember] = []
    if s.reason_code == NEWER_CODE:
        coordinator = s.believed_master
        version = s.reason_params[0] if s.reason_params else "?"
        out.append(
            NewerMember(
                s.this_name or "this host",
                version,
                coordinator.name_label if coordinator is not None else s.pool_conf_master or "?",
                build_version(coordinator),
                evidence=f"{s.this_name or 'this host'}'s stored emergency error {NEWER_CODE} ['{version}']",
            )
        )
    else:
        lasting = _this_member_by_versions(s)
        if lasting is not None:
            out.append(lasting)
    if not s.has_snapshot:
        return out
    coordinator = s.this_host if s.this_is_master else s.believed_master
    for h in s.other_hosts():
        view = s.views.get(h.name_label)
        if view is None or view.reason_code != NEWER_CODE:
            continue
        version = view.reason_params[0] if view.reason_params else "?"
        out.append(
            NewerMember(
                h.name_label,
                version,
                coordinator.name_label if coordinator is not None else "?",
                build_version(coordinator),
                evidence=f"{h.name_label}'s stored emergency error {NEWER_CODE} ['{version}']",
            )
        )
    return out


def stop_lines(members: List[NewerMember], *, promote_offered: bool = True) -> Tuple[str, ...]:
    """The clear stop: the error, both versions, what to do, that nothing changed."""
    if not members:
        return ()
    lines = [
        f"{m.versions()}. xapi refuses a member newer than its coordinator ({NEWER_CODE}): {m.retry_text()}."
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
