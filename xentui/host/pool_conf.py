"""Parse /etc/xensource/pool.conf, exactly as xapi reads it (xapi-aux/pool_role.ml).

The file holds `master`, `slave:<master address>` or `broken`. xapi trims
whitespace, splits on ':' and re-joins the rest, so an IPv6 master address
(`slave:fd00::1`) survives. Anything else is a parse error; xapi itself then
treats the host as `broken`, which we report as role "unknown" plus an error so
the admin sees the file's real content.
"""

from __future__ import annotations

from .facts import PoolRole

POOL_CONF_PATH = "/etc/xensource/pool.conf"

# OCaml's String.trim: space, \t, \n, \r and form feed - not every Unicode space.
_OCAML_SPACE = " \t\n\r\x0c"


class PoolConfError(ValueError):
    """The file does not hold a role xapi would accept."""


def parse_pool_conf(text: str) -> PoolRole:
    content = text.strip(_OCAML_SPACE)
    head, sep, rest = content.partition(":")
    if head == "master" and not sep:
        return PoolRole("master")
    if head == "broken" and not sep:
        return PoolRole("broken")
    if head == "slave" and sep:
        return PoolRole("slave", rest)
    raise PoolConfError("cannot parse pool role %r" % (content[:80],))
