"""Name resolution as a simulated dom0 does it (Helpers.gethostbyname, helpers.ml):
getaddrinfo in the family of MANAGEMENT_ADDRESS_TYPE first, then the other one; the
first answer, printed by Unix.string_of_inet_addr. Failure: Failure "Couldn't resolve
hostname: <name>".

The simulated network has no DNS server: a host resolves address literals (IPv4 and
IPv6), `localhost`, and the pool's host names (as an /etc/hosts listing every member
would). Anything else fails, as on a dom0 whose resolver does not know the name.
"""

from __future__ import annotations

import ipaddress
from typing import Optional

from xentui.sim.errors import ApiError


def resolve(world: object, name: str, prefer_ipv6: bool = False) -> str:  # any object with `machines`
    text = str(name).strip()
    try:
        return str(ipaddress.ip_address(text))  # string_of_inet_addr: canonical (compressed) form
    except ValueError:
        pass
    v4: Optional[str] = None
    v6: Optional[str] = None
    if text.lower() in ("localhost", "localhost.localdomain"):
        v4, v6 = "127.0.0.1", "::1"
    else:
        for machine in getattr(world, "machines", {}).values():
            if machine.name == text:
                v4 = machine.address
                break
    answer = (v6 or v4) if prefer_ipv6 else (v4 or v6)
    if not text or answer is None:
        raise ApiError("INTERNAL_ERROR", 'Failure("Couldn\'t resolve hostname: %s")' % text)
    return answer
