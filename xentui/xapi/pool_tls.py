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
xentui.recovery.peer_role). The two files are host files: they are read
through the console host's access (xentui.host.pool_trust) and handed to
the endpoints as a PoolTrustSource.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from typing import Callable, FrozenSet

from xentui.xapi.tls import sha256_fingerprint

POOL_BUNDLE_PATH = "/etc/stunnel/xapi-pool-ca-bundle.pem"
VERIFY_FLAG_PATH = "/var/xapi/verify-certificates"  # constants.ml verify_certificates_path
POOL_SNI = "pool"

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


# How an endpoint learns, at each connection, how this host checks its peers.
PoolTrustSource = Callable[[], PoolTrust]


def not_read() -> PoolTrust:
    """Nobody told the endpoint how this host checks its peers: trust none."""
    return PoolTrust(frozenset(), "", "this host's pool certificates were not read")


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
