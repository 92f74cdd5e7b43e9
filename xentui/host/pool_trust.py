"""How this host checks the other hosts of its pool (xentui.xapi.pool_tls),
read from its own files: xapi's verification flag and its pool bundle.

Read through the host's access, like every other host file (locally, from a
simulated host, or over SFTP with its timeouts). The peers of one look are
asked at once and each connection asks for the trust, so it is kept: while
the files keep their identity, or, through an access that cannot tell
(SSH), for RECHECK seconds. The bundle changes when a host joins, leaves or
renews its certificate; the flag when a plan step switches verification.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Hashable, Optional, Tuple

from xentui.xapi.pool_tls import (
    POOL_BUNDLE_PATH,
    VERIFY_FLAG_PATH,
    PoolTrust,
    no_bundle,
    not_read,
    not_verifying,
    trust_from_bytes,
    unreadable,
)

from .access import DEFAULT_TIMEOUT, AccessError, FileMissing, HostAccess
from .fact_memo import files_identity

RECHECK = 10.0  # seconds a trust read through an access that cannot tell identities is kept


def read_pool_trust(access: HostAccess, timeout: float = DEFAULT_TIMEOUT) -> PoolTrust:
    """This host's way of checking its peers; never raises."""
    bundle = access.describe(POOL_BUNDLE_PATH)
    try:
        if not access.exists(VERIFY_FLAG_PATH, timeout):
            return not_verifying(access.describe(VERIFY_FLAG_PATH))
        data, _ = access.read_file(POOL_BUNDLE_PATH, timeout)
    except FileMissing:
        return no_bundle(bundle)
    except (AccessError, OSError) as exc:
        return unreadable(bundle, str(exc))
    return trust_from_bytes(data, bundle)


class PoolTrustReader:
    """`current()`: the trust as it is now, read through `access()` (the
    console host's access, which may be replaced when SSH reconnects; None:
    none yet, so nothing is trusted). Thread-safe."""

    def __init__(
        self, access: Callable[[], Optional[HostAccess]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._access = access
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: Optional[Tuple[object, Optional[Hashable], float, PoolTrust]] = None

    def current(self) -> PoolTrust:
        access = self._access()
        if access is None:
            return not_read()
        with self._lock:
            identity = files_identity(access, (VERIFY_FLAG_PATH, POOL_BUNDLE_PATH))
            now = self._clock()
            if self._kept is not None:
                kept_access, kept_identity, read_at, trust = self._kept
                if kept_access is access and (
                    identity == kept_identity if identity is not None else now - read_at < RECHECK
                ):
                    return trust
            trust = read_pool_trust(access)
            self._kept = (access, identity, now, trust)
            return trust
