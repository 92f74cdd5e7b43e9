"""Trusting the other hosts of the pool the way xapi does.

xapi reaches another host of its pool through stunnel with SNI "pool" and
`verifyPeer=yes` against /etc/stunnel/xapi-pool-ca-bundle.pem
(ocaml/libs/stunnel/stunnel.ml, `pool`). With that SNI a host presents its
pool certificate (xapi-pool-tls.pem, self-signed), and that very certificate
must be in the bundle, which holds every member's (certs-pool/<uuid>.pem).
No CA and no host name are involved. A console on a dom0 trusts its peers
the same way, so it works where the system CAs know none of them.

A pool that never turned TLS verification on (before XCP-ng 8.3 and
XenServer 8, or switched off) has no bundle, and nothing vouches for a peer:
the caller must then send it no secret.
"""

from __future__ import annotations

import os
import re
import ssl
import stat
import threading
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

from xentui.xapi.tls import sha256_fingerprint

POOL_BUNDLE_PATH = "/etc/stunnel/xapi-pool-ca-bundle.pem"
POOL_SNI = "pool"
# A bundle holds one small certificate per host; anything far bigger is not one.
_BUNDLE_LIMIT = 4 * 1024 * 1024

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class PoolTrust:
    """The pool certificates this host trusts (SHA-256 fingerprints of their
    DER form), read from `source`; `problem` says why there are none."""

    fingerprints: FrozenSet[str]
    source: str
    problem: str = ""

    def refusal(self, fingerprint: str) -> str:
        """Why a peer presenting `fingerprint` is not trusted ('' if it is)."""
        if fingerprint in self.fingerprints:
            return ""
        return self.problem or f"not in this host's pool bundle {self.source}"


def parse_bundle(data: bytes) -> FrozenSet[str]:
    """The fingerprints of the PEM certificates in `data` (blocks that do not
    decode are skipped: stunnel skips them too)."""
    found = set()
    for block in _PEM_BLOCK.finditer(data):
        try:
            der = ssl.PEM_cert_to_DER_cert(block.group(0).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            continue
        found.add(sha256_fingerprint(der))
    return frozenset(found)


def load_pool_trust(path: str = POOL_BUNDLE_PATH) -> PoolTrust:
    """This host's pool bundle; never raises."""
    try:
        data = _read_regular(path)
    except FileNotFoundError:
        return PoolTrust(
            frozenset(),
            path,
            f"this host has no pool bundle ({path}): the pool does not verify TLS between its hosts",
        )
    except OSError as exc:
        return PoolTrust(frozenset(), path, f"the pool bundle {path} cannot be read ({exc.strerror or exc})")
    fingerprints = parse_bundle(data)
    if not fingerprints:
        return PoolTrust(frozenset(), path, f"the pool bundle {path} holds no certificate")
    return PoolTrust(fingerprints, path)


def _read_regular(path: str) -> bytes:
    # O_NONBLOCK: a FIFO planted there is refused instead of blocking the read.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = handle.read(_BUNDLE_LIMIT + 1)
    if len(data) > _BUNDLE_LIMIT:
        raise OSError(f"{path}: larger than {_BUNDLE_LIMIT // (1024 * 1024)} MiB")
    return data


class PoolTrustFile:
    """The pool bundle as it is now: read again only when the file changed
    (xapi rewrites it when a host joins, leaves or renews its certificate).
    Thread-safe: the peers of a look are asked concurrently."""

    def __init__(self, path: str = POOL_BUNDLE_PATH) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._identity: Optional[Tuple[int, int, int, int]] = None
        self._trust: Optional[PoolTrust] = None

    def current(self) -> PoolTrust:
        try:
            st = os.stat(self.path)
            identity: Optional[Tuple[int, int, int, int]] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            identity = None  # missing or unreadable: read (and explain) every time
        with self._lock:
            if identity is not None and identity == self._identity and self._trust is not None:
                return self._trust
            trust = load_pool_trust(self.path)
            self._identity, self._trust = identity, trust
            return trust
