"""Host certificates and the pool bundle (xapi 24.19), over tls_state.py.

- host.refresh_server_certificate (message_forwarding.ml: under the pool
  operation `cert_refresh`, do_op_on the host, then on every other host;
  cert_refresh.ml `host`: CANNOT_CONTACT_HOST when a pool host is not live,
  a new self-signed internal certificate, distributed to every host's
  certs-pool and bundle by Cert_distrib.distribute_new_host_cert, whose calls
  to each host fail on one in emergency mode with its stored error).
- host.certificate_sync (xapi_host.ml -> certificates.ml local_sync: c_rehash of
  /etc/stunnel/certs and the CRL directory, nothing else) and
  pool.certificate_sync (certificates.ml pool_sync: Host.certificate_sync on
  every host, the last failure re-raised after all were tried, then the
  coordinator's *CA* certificates and CRLs installed/removed on the others,
  update-ca-bundle.sh only where one differs). The pool bundle, built from
  /etc/stunnel/certs-pool, is left as it is: an empty or stale pool bundle is
  not repaired by it in 24.19 (it is from 26.13: Cert_distrib.copy_certs_to_all).
  The simulator models no CA certificates, so nothing differs.
- host.emergency_reset_server_certificate (xapi_host.ml: a new 2048-bit
  self-signed *server* certificate, xapi-ssl.pem; no database access).

The emergency TLS verification switches stay in host_internal.py: in 24.19
emergency_reenable_tls_verification has no precondition (the
TLS_VERIFICATION_NOT_ENABLED_IN_POOL check arrived in 25.10, XSI-1821).
"""

from __future__ import annotations

from typing import Any, Optional

from xentui.sim import tls_state
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import check_ref, forward_to_host, make, the_pool
from xentui.sim.pool_ops import pool_operation
from xentui.sim.xapi_host import CallContext, XapiHost


def _live(db: "Database", host: str) -> bool:
    metrics = db.get_field("host", host, "metrics")
    return bool(db.exists("host_metrics", metrics) and db.get_field("host_metrics", metrics, "live"))


def refresh_server_certificate(ctx: CallContext, host: Any) -> str:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    with pool_operation(db, the_pool(db), "cert_refresh"):
        target = forward_to_host(ctx, host)
        # Cert_refresh.unreachable_hosts: every pool host must be live
        for other in sorted(db.refs("host")):
            if not _live(db, other):
                raise ApiError("CANNOT_CONTACT_HOST", other)
        # distribute_new_host_cert: Worker.remote_write_certs_fs on every host, an
        # ordinary API call: a host in emergency mode answers its stored error,
        # before the new certificate replaces the old one (Sys.rename comes after)
        procs = [forward_to_host(ctx, h) for h in sorted(db.refs("host"))]
        old = target.tls.internal.fingerprint
        target.tls.internal = target.tls.new_certificate(target.machine.uuid, "internal")
        tls_state.trust_everywhere(procs, target.tls)
        for proc in procs:
            # remove_stale_cert on every host: the old certificate leaves certs-pool
            proc.tls.pool_certs.discard(old)
            proc.tls.regenerate_bundle()
        target.note("refresh_server_certificate: new internal certificate, distributed to the pool")
        ctx.world.notify()
    return ""


def _certificate_sync_on(proc: XapiHost) -> None:
    # local_sync: c_rehash of the CA and CRL directories; the pool bundle is not rebuilt
    proc.note("certificate_sync: CA certificates rehashed (the pool bundle is not rebuilt)")


def host_certificate_sync(ctx: CallContext, host: Any) -> str:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    _certificate_sync_on(forward_to_host(ctx, host))
    return ""


def pool_certificate_sync(ctx: CallContext) -> str:
    db = ctx.need_db()
    failure: Optional[ApiError] = None
    for host in db.refs("host"):
        try:
            _certificate_sync_on(forward_to_host(ctx, host))
        except ApiError as error:  # sync_all_hosts: remember, go on, re-raise the last
            failure = error
    ctx.world.notify()
    if failure is not None:
        raise failure
    return ""


def emergency_reset_server_certificate(ctx: CallContext) -> str:
    proc = ctx.proc
    proc.tls.server = proc.tls.new_certificate(proc.machine.uuid, "server")
    proc.note("emergency_reset_server_certificate: new 2048-bit server certificate")
    return ""


METHODS = [
    make("host.refresh_server_certificate", ("host",), refresh_server_certificate),
    make("host.certificate_sync", ("host",), host_certificate_sync),
    make("pool.certificate_sync", (), pool_certificate_sync),
    make("host.emergency_reset_server_certificate", (), emergency_reset_server_certificate),
]
