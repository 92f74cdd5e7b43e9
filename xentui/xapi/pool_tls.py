"""Trusting the other hosts of the pool the way xapi does.

xapi reaches another host of its pool through stunnel with SNI "pool"
(ocaml/libs/stunnel/stunnel.ml, `pool`). With that SNI a host presents its
pool certificate (xapi-pool-tls.pem, self-signed). Whether xapi checks it
depends on this host alone (xapi.ml init_tls_verification):

* /var/xapi/verify-certificates present: `verifyPeer=yes` against
  /etc/stunnel/xapi-pool-ca-bundle.pem, so the peer's very certificate must be
  in that bundle, which holds every member's (certs-pool/<uuid>.pem). No CA
  and no host name are involved.
* absent (a pool from before XCP-ng 8.3 and XenServer 8, or verification
  switched off, e.g. `xe host-emergency-disable-tls-verification`): no check.

A console on a dom0 trusts its peers exactly so, which is why it reaches
them where the system CAs know none of them. A peer the bundle does not
vouch for, on a host that checks, gets no secret from us (see
xentui.recovery.peer_role).
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
VERIFY_FLAG_PATH = "/var/xapi/verify-certificates"  # constants.ml verify_certificates_path
POOL_SNI = "pool"
# A bundle holds one small certificate per host; anything far bigger is not one.
BUNDLE_LIMIT = 4 * 1024 * 1024

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class PoolTrust:
    """How this host checks its peers: `verifies` (its verification flag is
    set), and then the pool certificates it trusts (SHA-256 fingerprints of
    their DER form, from the bundle at `source`); `problem`: why none."""

    fingerprints: FrozenSet[str]
    source: str
    problem: str = ""
    verifies: bool = True

    def refusal(self, fingerprint: str) -> str:
        """Why a peer presenting `fingerprint` is not trusted ('' if it is)."""
        if not self.verifies or fingerprint in self.fingerprints:
            return ""
        return self.problem or f"not in this host's pool bundle {self.source}"


def not_verifying(flag_path: str) -> PoolTrust:
    """This host does not check its peers (xapi neither): neither do we."""
    return PoolTrust(frozenset(), flag_path, f"{flag_path} is absent: this host does not verify TLS", verifies=False)


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


def load_pool_trust(bundle_path: str = POOL_BUNDLE_PATH, flag_path: str = VERIFY_FLAG_PATH) -> PoolTrust:
    """This host's way of checking its peers; never raises."""
    if not os.path.lexists(flag_path):
        return not_verifying(flag_path)
    try:
        data = _read_regular(bundle_path)
    except FileNotFoundError:
        return no_bundle(bundle_path)
    except OSError as exc:
        return unreadable(bundle_path, str(exc.strerror or exc))
    return trust_from_bytes(data, bundle_path)


def trust_from_bytes(data: bytes, path: str) -> PoolTrust:
    """The trust a bundle's bytes (read from `path`, here or on another host) give."""
    fingerprints = parse_bundle(data)
    if not fingerprints:
        return PoolTrust(frozenset(), path, f"the pool bundle {path} holds no certificate")
    return PoolTrust(fingerprints, path)


def no_bundle(path: str) -> PoolTrust:
    return PoolTrust(frozenset(), path, f"this host verifies TLS but has no pool bundle ({path})")


def unreadable(path: str, why: str) -> PoolTrust:
    return PoolTrust(frozenset(), path, f"the pool bundle {path} cannot be read ({why})")


def _read_regular(path: str) -> bytes:
    # O_NONBLOCK: a FIFO planted there is refused instead of blocking the read.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = handle.read(BUNDLE_LIMIT + 1)
    if len(data) > BUNDLE_LIMIT:
        raise OSError(f"{path}: larger than {BUNDLE_LIMIT // (1024 * 1024)} MiB")
    return data


def _identity(path: str) -> Optional[Tuple[int, int, int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class PoolTrustFile:
    """This host's checking of its peers as it is now: the flag and the bundle
    are read again only when either changed (xapi rewrites the bundle when a
    host joins, leaves or renews its certificate; a plan step may switch
    verification off or on). Thread-safe: the peers of a look are asked at once."""

    def __init__(self, bundle_path: str = POOL_BUNDLE_PATH, flag_path: str = VERIFY_FLAG_PATH) -> None:
        self.bundle_path = bundle_path
        self.flag_path = flag_path
        self._lock = threading.Lock()
        self._identity: Optional[Tuple[object, object]] = None
        self._trust: Optional[PoolTrust] = None

    def current(self) -> PoolTrust:
        identity = (_identity(self.flag_path), _identity(self.bundle_path))
        readable = identity[1] is not None or identity[0] is None
        with self._lock:
            if readable and identity == self._identity and self._trust is not None:
                return self._trust
            trust = load_pool_trust(self.bundle_path, self.flag_path)
            self._identity, self._trust = identity, trust
            return trust
