"""Back up the pool database, the way `xe pool-dump-database` does.

`xe pool-dump-database file-name=F` is not an XML-RPC call: the CLI does an
HTTP GET of /pool/xmldbdump?session_id=<ref> on the master (xapi's
pool_db_backup handler) and writes the body to F. We do the same over the
console's own xapi connection. When that handler is missing (the simulator
does not serve it) we copy the master's replicated /var/lib/xcp/state.db,
which is the same XML database format, and say so in `how`. Either way the
copy is verified by parsing it as a xapi database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from xentui.recovery.private_files import make_private_dir, os_error_reason, write_private_file
from xentui.recovery.step_context import StepFailed

if TYPE_CHECKING:
    from xentui.recovery.observer import Observer

DUMP_PATH = "/pool/xmldbdump"
STATE_DB = "/var/lib/xcp/state.db"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    objects: int
    how: str


class BackupFailed(StepFailed):
    """The backup could not be taken or written: the step fails with this line."""


def _http_dump(observer: Observer, timeout: float) -> Optional[bytes]:
    """GET /pool/xmldbdump over the console's endpoint; None if unsupported."""
    client = observer.client
    endpoint = observer.endpoint
    if client is None or endpoint is None or not client.session_ref:
        return None
    stream = endpoint.open_stream(timeout)
    try:
        request = (
            f"GET {DUMP_PATH}?session_id={client.session_ref} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: xentui\r\n\r\n"
        ).encode("ascii")
        stream.sendall(request)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = stream.recv(65536)
            if not data:
                break
            chunks.append(data)
        raw = b"".join(chunks)
    finally:
        try:
            stream.close()
        except OSError:
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200" or not body.strip().startswith(b"<"):
        return None
    return body


def backup_pool_database(
    observer: Observer, target_dir: Path, *, run_id: str = "", on_master: bool = True, timeout: float = 30.0
) -> BackupResult:
    from xentui.host.statedb import StateDbError, parse_state_db

    target_dir = Path(target_dir)
    # A pool database holds SR credentials: the directory is 0700, the copy 0600.
    try:
        make_private_dir(target_dir, fix_existing=True)
    except OSError as exc:
        raise BackupFailed(f"cannot create {target_dir}: {os_error_reason(exc)}") from None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = target_dir / f"pool-db-{stamp}{'-' + run_id if run_id else ''}.xml"
    body = None
    how = ""
    if on_master:
        try:
            body = _http_dump(observer, timeout)
        except OSError:
            body = None
        except Exception as exc:  # noqa: BLE001 - any transport error means: fall back
            if exc.__class__.__module__.startswith("xentui.xapi"):
                body = None
            else:
                raise
        if body is not None:
            how = f"HTTP GET {DUMP_PATH} on the master (what xe pool-dump-database does)"
    if body is None:
        try:
            body, mtime = observer.read_host_file(STATE_DB, timeout)
        except Exception as exc:  # noqa: BLE001 - reported, not raised raw
            raise BackupFailed(f"neither {DUMP_PATH} nor {STATE_DB} could be read: {exc}") from None
        age = max(0.0, time.time() - mtime)
        how = (
            f"xapi's {DUMP_PATH} handler is not available here, so the master's replicated "
            f"{STATE_DB} ({age:.0f} s old, same XML format) was copied instead; "
            "'xe pool-dump-database file-name=...' would have written a fresh dump"
        )
    try:
        db = parse_state_db(body)
    except StateDbError as exc:
        raise BackupFailed(f"the copy does not parse as a xapi database: {exc}") from None
    objects = sum(len(recs) for recs in db.tables.values())
    try:
        write_private_file(path, body)
    except OSError as exc:
        raise BackupFailed(f"cannot write {path}: {os_error_reason(exc)}") from None
    return BackupResult(path=path, objects=objects, how=how)
