"""How new a host's copy of the pool database is: its generation count and when it was written.

xapi keeps a pool member's copy in /var/lib/xcp/state.db; the master pushes
its live database to one member at a time, one every `pool_db_sync_interval`
(300 s) (ocaml/xapi/pool_db_backup.ml pool_db_backup_thread), and the member
writes it with `Backend_xml.flush`: state.db, then state.db.generation holding
the database's generation count (ocaml/database/backend_xml.ml). Every write
to the database bumps that count, so of two copies the one with the higher
count is the newer; xapi itself picks the database to start from that way
(ocaml/database/db_connections.ml `choose`, reading the count with
Parse_db_conf.generation_read). The file's mtime is when the copy was written.

After an upgrade only state.db may be there; its manifest carries the same
count (`<pair key="generation_count" value="..."/>`, ocaml/database/db_xml.ml
To.manifest), and the manifest is the first thing in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .access import AccessError, FileMissing, HostAccess
from .statedb import STATE_DB_PATH

GENERATION_PATH = STATE_DB_PATH + ".generation"  # Parse_db_conf.generation_filename
READ_TIMEOUT = 3.0
# Where an admin reads it at a host's console (the manifest opens the file).
ADMIN_COMMAND = f"cat {GENERATION_PATH}   # or: head -c 300 {STATE_DB_PATH}"

_MANIFEST_GENERATION = re.compile(rb'<pair\s+key="generation_count"\s+value="(-?[0-9]+)"')
_MANIFEST_WINDOW = 4096  # the manifest precedes every table


@dataclass(frozen=True)
class DbCopy:
    """One host's copy of the pool database, as its own files show it.

    `generation` is None when it could not be learnt; `error` then says why.
    `written_at` is the POSIX time the copy was written (the master's last sync
    to this host), None when unknown."""

    host_name: str
    generation: Optional[int] = None
    written_at: Optional[float] = None
    source: str = ""
    error: str = ""

    @property
    def known(self) -> bool:
        return self.generation is not None


def unknown_copy(host_name: str, why: str) -> DbCopy:
    return DbCopy(host_name, error=why)


def manifest_generation(head: bytes) -> Optional[int]:
    """The generation_count of a state.db's manifest (given its first bytes), or None."""
    match = _MANIFEST_GENERATION.search(head[:_MANIFEST_WINDOW])
    return int(match.group(1)) if match else None


def read_db_copy(access: HostAccess, host_name: str, timeout: float = READ_TIMEOUT) -> DbCopy:
    """`host_name`'s copy as `access` shows it. Never raises for host trouble:
    an unreadable copy is a DbCopy with `error` set."""
    source = access.describe(GENERATION_PATH)
    try:
        data, mtime = access.read_file(GENERATION_PATH, timeout)
        text = data.decode("ascii", "replace").strip()
        if text.lstrip("-").isdigit():
            return DbCopy(host_name, int(text), float(mtime), source)
        missing = f"{GENERATION_PATH} holds {text[:20]!r}, not a number"
    except FileMissing:
        missing = f"no {GENERATION_PATH}"
    except (AccessError, OSError) as exc:
        return unknown_copy(host_name, f"{source}: {exc}")
    # Only state.db (after an upgrade): its manifest has the count.
    source = access.describe(STATE_DB_PATH)
    try:
        data, mtime = access.read_file(STATE_DB_PATH, timeout)
    except (AccessError, OSError) as exc:
        return unknown_copy(host_name, f"{missing}; {source}: {exc}")
    generation = manifest_generation(data)
    if generation is None:
        return unknown_copy(host_name, f"{missing}; {source} has no generation_count in its manifest")
    return DbCopy(host_name, generation, float(mtime), f"{source} (manifest)")
