"""A member that rejects its coordinator's pool certificate because the key is
too small for its OpenSSL security level (issue 13 item 1, the 1024-bit case).

What the member sees: stunnel's verify callback fails with OpenSSL's
X509_V_ERR_EE_KEY_TOO_SMALL, "EE certificate key too weak" (or
X509_V_ERR_CA_KEY_TOO_SMALL, "CA certificate key too weak", for a chain
certificate), which libs/stunnel (check_verify_error; from 25.x
Stunnel_log_scanner, "Pre-verification error: <reason>") raises as
Stunnel_verify_error and xapi.ml attempt_host_status_check_with_coordinator
stores inside INTERNAL_ERROR.

Which certificate and which fix (xen-api ocaml/):
- the member connects with SNI "pool" (libs/stunnel/stunnel.ml, the pool
  client config) and the coordinator's stunnel answers it with
  xapi-pool-tls.pem (xapi_stunnel_server.ml, the [pool] section): the weak key
  is the coordinator's *pool* certificate;
- host.refresh_server_certificate on the coordinator (cert_refresh.ml `host`
  with `host_internal`) replaces exactly that one with a new self-signed
  certificate from Gencertlib.Selfcert.xapi_pool (2048 bits) and distributes it:
  the tls-refresh-certificate step of the plan;
- host.emergency_reset_server_certificate (xapi_host.ml) rewrites
  server_cert_path, xapi-ssl.pem, the certificate API clients see: it does not
  touch the pool certificate, so it cannot end this failure. It is the console
  fix for a weak xapi-ssl.pem (local root only, `xe
  host-emergency-reset-server-certificate` on that host), named in the text.
"""

from __future__ import annotations

from typing import Optional

from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.situation import Situation

WEAK_KEY_MARK = "key too weak"  # OpenSSL's EE/CA "certificate key too weak"


def is_weak_key(reason: str) -> bool:
    return WEAK_KEY_MARK in reason.lower()


def weak_key_finding(s: Situation, member: str, reason: str, evidence: str) -> Optional[Finding]:
    """The TLS_VERIFY_FAILED finding for a weak key, naming the host that holds
    it (the coordinator the member verifies), or None for any other reason."""
    if not is_weak_key(reason):
        return None
    holder = s.believed_master.name_label if s.believed_master is not None else "the coordinator"
    return Finding(
        Code.TLS_VERIFY_FAILED,
        Severity.CRITICAL,
        f"{member} rejects {holder}'s pool certificate: its key is too weak (stunnel: {reason})",
        f"{holder}'s pool certificate (/etc/xensource/xapi-pool-tls.pem, what members verify) has a key "
        f"smaller than {member}'s OpenSSL security level accepts (e.g. 1024-bit RSA), so {member} stays in "
        "emergency mode; 'recover slaves' does not help. Fix: on the member 'xe "
        "host-emergency-disable-tls-verification'; on the coordinator 'xe host-refresh-server-certificate "
        f"host=<{holder}>' (a new 2048-bit pool certificate, copied to every host); then on the member 'xe "
        "host-emergency-reenable-tls-verification'. 'xe host-emergency-reset-server-certificate' renews "
        "xapi-ssl.pem, the certificate API clients see, not the pool one: use it on a host whose API "
        "certificate is the weak one.",
        host=member,
        evidence=(evidence,),
        data={"reason": reason, "weak_key_host": holder},
    )
