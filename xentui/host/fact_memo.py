"""A fact kept while the files it was read from are unchanged.

Following a pool means looking at the same host files every few seconds;
state.db can be tens of MB and the package query starts rpm. Both are read
again only when a file's identity (device, inode, size, mtime in ns; see
`LocalAccess.file_identity`) changed. Accesses that cannot tell (SSH) read
every time.
"""

from __future__ import annotations

from typing import Generic, Hashable, Optional, Sequence, TypeVar

from .access import HostAccess
from .facts import Fact

T = TypeVar("T")


def files_identity(access: HostAccess, paths: Sequence[str]) -> Optional[Hashable]:
    """What tells whether these files changed; None when the access cannot say
    for any of them (then nothing may be reused)."""
    identify = getattr(access, "file_identity", None)
    if not callable(identify):
        return None
    identity = tuple(identify(path) for path in paths)
    return identity if any(identity) else None


class FactMemo(Generic[T]):
    """The last fact read, with the identity its files had just before the read."""

    def __init__(self) -> None:
        self._identity: Optional[Hashable] = None
        self._fact: Optional[Fact[T]] = None

    def unchanged(self, identity: Optional[Hashable]) -> Optional[Fact[T]]:
        """The fact last read, when the files still have that identity (None: read them)."""
        if identity is None or identity != self._identity:
            return None
        return self._fact

    def remember(self, identity: Optional[Hashable], fact: Fact[T]) -> None:
        """`fact` was read from the files as they were at `identity` (taken before the
        read: files replaced meanwhile then differ next time and are read again).
        A failed read is not kept."""
        self._identity, self._fact = (identity, fact) if fact.ok else (None, None)
