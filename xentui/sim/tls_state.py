"""Certificates and TLS verification between pool members (xapi 24.19).

Pool members talk to each other through stunnel with SNI "pool": the server
side presents its *internal* certificate (xapi-pool-tls.pem,
Xapi_stunnel_server), the client side verifies it against its pool bundle
(/etc/stunnel/xapi-pool-ca-bundle.pem, built from /etc/stunnel/certs-pool/)
when verification is on locally (Stunnel_client.pool: the verify-by-default
flag, i.e. /var/xapi/verify-certificates). The *server* certificate
(xapi-ssl.pem) is what API clients see.

When the handshake fails, stunnel logs "VERIFY ERROR: depth=0, error=<reason>,..."
and Stunnel.check_verify_error (libs/stunnel/stunnel.ml) raises
Stunnel_verify_error <reason>. A member's hello then lands in the catch-all of
xapi.ml attempt_host_status_check_with_coordinator:
set_emergency_mode_error internal_error [ExnHelper.string_of_exn exn], a
Temporary error retried every 5 s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Optional, Protocol, Set

from xentui.sim.errors import ApiError

# OpenSSL's texts for the failures we model (X509_verify_cert_error_string).
EXPIRED = "certificate has expired"
NOT_TRUSTED = "self signed certificate"
KEY_TOO_WEAK = "EE certificate key too weak"

# gencert/selfcert.ml: every certificate xapi generates has a 2048-bit RSA key.
GENERATED_KEY_BITS = 2048


@dataclass
class Certificate:
    fingerprint: str
    expired: bool = False
    key_bits: int = GENERATED_KEY_BITS


@dataclass
class HostTls:
    """One host's certificate files."""

    internal: Certificate  # xapi-pool-tls.pem: what pool members see
    server: Certificate  # xapi-ssl.pem: what API clients see
    pool_certs: Set[str] = field(default_factory=set)  # /etc/stunnel/certs-pool/<uuid>.pem
    bundle: Set[str] = field(default_factory=set)  # the generated pool bundle verification reads
    serial: int = 0  # how many certificates this host generated (names the next one)

    def new_certificate(self, uuid: str, kind: str) -> Certificate:
        self.serial += 1
        return Certificate(fingerprint(uuid, kind, self.serial))

    def regenerate_bundle(self) -> None:
        """update-ca-bundle.sh (Host.certificate_sync / Worker.remote_regen_bundle)."""
        self.bundle = set(self.pool_certs)


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32]


def fresh(uuid: str, serial: int = 0) -> HostTls:
    tls = HostTls(
        internal=Certificate(fingerprint(uuid, "internal", serial)),
        server=Certificate(fingerprint(uuid, "server", serial)),
    )
    tls.pool_certs.add(tls.internal.fingerprint)
    tls.regenerate_bundle()
    return tls


def verify_failure(client: HostTls, verify: bool, server: HostTls) -> Optional[str]:
    """The reason stunnel's verifyPeer check fails with, or None (also when the
    client does not verify at all)."""
    if not verify:
        return None
    cert = server.internal
    if cert.fingerprint not in client.bundle:
        return NOT_TRUSTED
    if cert.expired:
        return EXPIRED
    if cert.key_bits < GENERATED_KEY_BITS:
        return KEY_TOO_WEAK
    return None


def stunnel_verify_error(reason: str) -> ApiError:
    """The emergency-mode error a member stores: ExnHelper.string_of_exn of
    Stunnel.Stunnel_verify_error reason (Printexc.to_string inside INTERNAL_ERROR)."""
    return ApiError("INTERNAL_ERROR", 'INTERNAL_ERROR: [ Stunnel.Stunnel_verify_error("%s") ]' % reason)


class HasTls(Protocol):
    """A host's xapi (xapi_host.XapiHost, which imports this module) as trust_everywhere sees it."""

    @property
    def tls(self) -> HostTls: ...


def trust_everywhere(procs: Iterable[HasTls], host_tls: HostTls) -> None:
    """Cert_distrib.distribute_new_host_cert: the public part goes into every
    host's certs-pool directory, then every bundle is regenerated."""
    for proc in procs:
        proc.tls.pool_certs.add(host_tls.internal.fingerprint)
        proc.tls.regenerate_bundle()
