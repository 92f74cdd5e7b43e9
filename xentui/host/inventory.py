"""Parse /etc/xensource-inventory as xapi's inventory library does.

Each line is `KEY='value'`: xapi cuts at the first '=', strips one quote from
each end of the value only when both are there, then trims whitespace; lines
without '=' are ignored. (Shell scripts source the same file, hence the quotes.)
Later duplicates win, as with the shell.
"""

from __future__ import annotations

from typing import Dict, Tuple

from .facts import Inventory

INVENTORY_PATH = "/etc/xensource-inventory"

_OCAML_SPACE = " \t\n\r\x0c"

REQUIRED_KEYS = ("INSTALLATION_UUID", "CONTROL_DOMAIN_UUID", "MANAGEMENT_INTERFACE")


class InventoryError(ValueError):
    """A key xapi requires is missing."""


def parse_inventory_pairs(text: str) -> Tuple[Tuple[str, str], ...]:
    pairs: Dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
            value = value[1:-1]
        pairs[key] = value.strip(_OCAML_SPACE)
    return tuple(pairs.items())


def parse_inventory(text: str) -> Inventory:
    pairs = parse_inventory_pairs(text)
    fields = dict(pairs)
    missing = [k for k in REQUIRED_KEYS if k not in fields]
    if missing:
        raise InventoryError("inventory lacks %s" % ", ".join(missing))
    return Inventory(
        installation_uuid=fields["INSTALLATION_UUID"],
        control_domain_uuid=fields["CONTROL_DOMAIN_UUID"],
        management_interface=fields["MANAGEMENT_INTERFACE"],
        management_address_type=fields.get("MANAGEMENT_ADDRESS_TYPE", "IPv4") or "IPv4",
        product_version=fields.get("PRODUCT_VERSION", ""),
        raw=pairs,
    )
