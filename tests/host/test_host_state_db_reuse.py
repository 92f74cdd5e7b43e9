"""state.db is read again only when it changed: a file whose device, inode,
size and mtime (ns) are those of the last read is neither read nor parsed
again (idle CPU while following a 64-host pool); a rewrite, a rename over it
or a touch makes the next look read it."""

from __future__ import annotations

import os
from typing import List, Tuple

from xentui.host.access import LocalAccess
from xentui.host.gather import StateDbCache, read_state_db
from xentui.host.statedb import STATE_DB_PATH


def _db(name: str) -> bytes:
    row = f'<row ref="OpaqueRef:h1" _ref="OpaqueRef:h1" uuid="u1" name__label="{name}" address="127.0.0.11"/>'
    return f'<?xml version="1.0"?><database><manifest/><table name="host">{row}</table></database>'.encode()


class CountingAccess(LocalAccess):
    """A LocalAccess that counts the reads of each file."""

    def __init__(self, root: "os.PathLike[str]") -> None:
        super().__init__(root)
        self.reads: List[str] = []

    def read_file(self, path: str, timeout: float = 10.0) -> Tuple[bytes, float]:
        self.reads.append(path)
        return super().read_file(path, timeout)


class NoIdentityAccess(CountingAccess):
    """An access that cannot tell a file's identity (e.g. over SFTP): always read."""

    file_identity = None  # type: ignore[assignment]


def _write(access: LocalAccess, data: bytes, mtime_ns: int) -> str:
    path = access.local_path(STATE_DB_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return str(path)


def _names(fact) -> List[str]:
    return [rec["name_label"] for rec in fact.value["host"].values()]


def test_unchanged_file_is_not_read_again(tmp_path):
    access = CountingAccess(tmp_path)
    _write(access, _db("xen1"), 1_700_000_000_000_000_000)
    cache = StateDbCache()
    first = read_state_db(access, cache=cache)
    again = read_state_db(access, cache=cache)
    assert first.ok and _names(first) == ["xen1"]
    assert again is first
    assert access.reads == [STATE_DB_PATH]


def test_changed_file_is_read_and_parsed_again(tmp_path):
    access = CountingAccess(tmp_path)
    path = _write(access, _db("xen1"), 1_700_000_000_000_000_000)
    cache = StateDbCache()
    read_state_db(access, cache=cache)

    # Same size, new mtime (a rewrite).
    _write(access, _db("xen2"), 1_700_000_000_000_000_001)
    assert _names(read_state_db(access, cache=cache)) == ["xen2"]
    assert len(access.reads) == 2

    # Renamed over, same size and mtime as before: a new inode.
    replacement = path + ".new"
    with open(replacement, "wb") as handle:
        handle.write(_db("xen3"))
    os.utime(replacement, ns=(1_700_000_000_000_000_001, 1_700_000_000_000_000_001))
    os.replace(replacement, path)
    assert _names(read_state_db(access, cache=cache)) == ["xen3"]
    assert len(access.reads) == 3

    # Unchanged since: not read.
    read_state_db(access, cache=cache)
    assert len(access.reads) == 3


def test_missing_file_then_present_is_read(tmp_path):
    access = CountingAccess(tmp_path)
    cache = StateDbCache()
    assert not read_state_db(access, cache=cache).ok
    _write(access, _db("xen1"), 1_700_000_000_000_000_000)
    assert _names(read_state_db(access, cache=cache)) == ["xen1"]
    assert len(access.reads) == 2


def test_access_without_identity_reads_every_time(tmp_path):
    access = NoIdentityAccess(tmp_path)
    _write(access, _db("xen1"), 1_700_000_000_000_000_000)
    cache = StateDbCache()
    first = read_state_db(access, cache=cache)
    # Read again, but the unchanged bytes are not parsed again.
    assert read_state_db(access, cache=cache).value is first.value
    assert len(access.reads) == 2
