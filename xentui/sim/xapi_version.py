"""Xapi_version (ocaml/util/xapi_version.ml): the installed xapi's version and
how two versions compare (compare_version: major, then minor; the rest of
"%d.%d.%s" is ignored, so 24.19.5 is not higher than 24.19.2)."""

from __future__ import annotations

from typing import List

from xentui.sim.host_facts import XAPI_VERSION

# What host.software_version's xapi_build says on the simulated hosts.
XAPI_BUILD = XAPI_VERSION + ".2"


def _parts(version: str) -> List[int]:
    out = []
    for part in version.strip().split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return out


def compare_version(a: str, b: str) -> int:
    pa, pb = _parts(a)[:2], _parts(b)[:2]
    width = max(len(pa), len(pb))
    pa += [0] * (width - len(pa))
    pb += [0] * (width - len(pb))
    return (pa > pb) - (pa < pb)


def version_higher(mine: str, coordinator: str) -> bool:
    """xapi.ml attempt_host_status_check_with_coordinator's xapi_version_higher."""
    return compare_version(mine, coordinator) > 0
