"""Parse `ip -j addr show dev <if>` (iproute2 JSON) into a LinkState.

The management bridge's addresses come from the kernel, not from xapi's PIF
records: when those disagree (DHCP renewed, NIC replaced) the kernel is right.
Carrier is the LOWER_UP flag (NO-CARRIER is its absence, spelled out).
"""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

from .facts import InterfaceAddress, LinkState


class IpLinkError(ValueError):
    """The output is not what `ip -j addr show` prints for one interface."""


def ip_addr_argv(ifname: str) -> List[str]:
    return ["ip", "-j", "addr", "show", "dev", ifname]


def ip_link_argv() -> List[str]:
    return ["ip", "-j", "link", "show"]


def parse_ip_link_json(text: str) -> Tuple[LinkState, ...]:
    """Every link `ip -j link show` lists (the host's NICs, bridges, ...)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise IpLinkError("not JSON: %s" % exc) from None
    if not isinstance(doc, list):
        raise IpLinkError("expected a JSON list of interfaces")
    return tuple(
        parse_ip_addr_json(json.dumps([d]), str(d.get("ifname", "")))
        for d in doc
        if isinstance(d, dict) and d.get("ifname")
    )


def parse_ip_addr_json(text: str, ifname: Optional[str] = None) -> LinkState:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise IpLinkError("not JSON: %s" % exc) from None
    if not isinstance(doc, list):
        raise IpLinkError("expected a JSON list of interfaces")
    links = [d for d in doc if isinstance(d, dict) and (ifname is None or d.get("ifname") == ifname)]
    if not links:
        raise IpLinkError("interface %s not in the output" % (ifname or "(any)"))
    link = links[0]
    flags = [str(f) for f in link.get("flags") or ()]
    addresses = []
    for info in link.get("addr_info") or ():
        if not isinstance(info, dict):
            continue
        family = str(info.get("family", ""))
        local = info.get("local")
        if family not in ("inet", "inet6") or not local:
            continue
        addresses.append(InterfaceAddress(family, str(local), _int(info.get("prefixlen"))))
    return LinkState(
        ifname=str(link.get("ifname", ifname or "")),
        mac=str(link.get("address", "")),
        operstate=str(link.get("operstate", "UNKNOWN")),
        carrier="LOWER_UP" in flags and "NO-CARRIER" not in flags,
        addresses=tuple(addresses),
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
