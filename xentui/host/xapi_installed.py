"""The version of the xapi installed on this host, as its package manager says.

xapi.ml attempt_host_status_check_with_coordinator compares the member's own
Xapi_version.version (the running binary's) with its coordinator's
software_version "xapi_build". While a member is refused it never reaches
dbsync, so its host record (and every state.db copy) keeps the version it had
before its update; and its stored emergency error names its version only
until the coordinator stops answering. The installed package is what lasts:
`rpm -q --qf %{VERSION} xapi-core` (the package the xapi binary comes from on
XenServer 8 and XCP-ng 8.x) gives the version the new binary runs once
restarted, which is the one xapi compares.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

from xentui.xapi.safe_text import one_line

from .access import AccessError, HostAccess
from .fact_memo import FactMemo, files_identity
from .facts import Fact

XAPI_PACKAGE = "xapi-core"
INSTALLED_XAPI_ARGV: List[str] = ["rpm", "-q", "--qf", "%{VERSION}", XAPI_PACKAGE]
SOURCE = "rpm -q " + XAPI_PACKAGE
# The package database: rpm 4.11 (CentOS 7 based dom0s) keeps it in Packages,
# newer rpm in rpmdb.sqlite. An install or update rewrites it.
RPM_DATABASE_PATHS: Tuple[str, ...] = ("/var/lib/rpm/Packages", "/var/lib/rpm/rpmdb.sqlite")


def parse_rpm_version(out: bytes) -> str:
    """The VERSION rpm printed; ValueError when it is not a dotted version."""
    text = out.decode("ascii", "replace").strip()
    head = text.split(".")
    if len(head) < 2 or not all(part.isdigit() for part in head[:2]):
        raise ValueError("not a version: %s" % one_line(repr(text[:40])))
    return text


def check_installed_xapi(access: HostAccess, now: Callable[[], float], timeout: float = 3.0) -> Fact[str]:
    source = access.describe() + ": " + SOURCE
    try:
        rc, out, err = access.run(INSTALLED_XAPI_ARGV, timeout)
    except AccessError as exc:
        return Fact(None, source, now(), error=one_line(exc))
    if rc != 0:
        said = one_line((out or err).decode("utf-8", "replace").strip() or "exit %d" % rc, 120)
        return Fact(None, source, now(), error=said)
    try:
        return Fact(parse_rpm_version(out), source, now())
    except ValueError as exc:
        return Fact(None, source, now(), error=one_line(exc))


class InstalledXapiCache:
    """The last answer, kept while the package database is unchanged: a look
    every 10 s on a member would otherwise start rpm (which opens and locks
    its database) every 10 s for a version that changes only on an update.
    Accesses that cannot identify files (SSH) ask every time."""

    def __init__(self) -> None:
        self._memo: FactMemo[str] = FactMemo()

    def read(self, access: HostAccess, now: Callable[[], float], timeout: float = 3.0) -> Fact[str]:
        # A simulated host names its own stand-in for the package database.
        identity = files_identity(access, getattr(access, "package_database_paths", RPM_DATABASE_PATHS))
        fact = self._memo.unchanged(identity)
        if fact is None:
            fact = check_installed_xapi(access, now, timeout)
            self._memo.remember(identity, fact)
        return fact
