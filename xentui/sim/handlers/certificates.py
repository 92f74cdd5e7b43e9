"""Host certificates and the pool bundle (xapi 24.19), over tls_state.py.

- host.refresh_server_certificate (message_forwarding.ml: under the pool
  operation `cert_refresh`, do_op_on the host, then on every other host;
  cert_refresh.ml `host`: CANNOT_CONTACT_HOST when a pool host is not live,
  a new self-signed internal certificate, distributed to every host's
  certs-pool and bundle by Cert_distrib.distribute_new_host_cert).
- host.certificate_sync (pool-internal; update-ca-bundle: the bundle is rebuilt
  from the certs-pool directory) and pool.certificate_sync
  (certificates.ml pool_sync: Host.certificate_sync on every host, the first
  failure re-raised only after all were tried).
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
from xentui.sim.handlers._common import check_ref, forward_to_host, host_proc, make, the_pool
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
        old = target.tls.internal.fingerprint
        target.tls.internal = target.tls.new_certificate(target.machine.uuid, "internal")
        procs = [p for p in (host_proc(ctx, h) for h in db.refs("host")) if p is not None]
        tls_state.trust_everywhere(procs, target.tls)
        for proc in procs:
            # remove_stale_cert on every host: the old certificate leaves certs-pool
            proc.tls.pool_certs.discard(old)
            proc.tls.regenerate_bundle()
        target.note("refresh_server_certificate: new internal certificate, distributed to the pool")
        ctx.world.notify()
    return ""


def _certificate_sync_on(proc: XapiHost) -> None:
    proc.tls.regenerate_bundle()
    proc.note("certificate_sync: pool bundle rebuilt from certs-pool")


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
