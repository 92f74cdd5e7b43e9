"""Give the coordinator a new pool certificate and rebuild every host's pool
bundle (host.refresh_server_certificate host=<coordinator>, on the coordinator).

Why this call and not pool.certificate_sync, for each verify failure stunnel
reports (self signed = not in the member's bundle; expired; key too weak), in
the xapi the simulator models (24.19):
- cert_refresh.ml `host`: a new self-signed 2048-bit internal certificate;
  Cert_distrib.distribute_new_host_cert writes it into every host's
  /etc/stunnel/certs-pool and runs remote_regen_bundle on every host
  (update-ca-bundle.sh: each pool bundle rebuilt from its certs-pool);
  remove_stale_cert (message_forwarding.ml runs it on every other host) puts
  it in place. So an expired or weak coordinator certificate is replaced, one
  missing from a member's certs-pool arrives, and an empty bundle is rebuilt.
- certificates.ml pool_sync in 24.19: Host.certificate_sync = local_sync =
  c_rehash of /etc/stunnel/certs and the CRL directory, then the *CA*
  certificates are synced; the pool bundle (certs-pool) is not touched. It
  rebuilds the pool bundle only from 26.13 (Cert_distrib.copy_certs_to_all),
  so it is not the fix here.
Refused with CANNOT_CONTACT_HOST while any pool host is not live
(Cert_refresh.unreachable_hosts): hence after the member has rejoined.
"""

from __future__ import annotations

from typing import Sequence, Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import AllHostsLive, IsMaster, OutOfEmergency
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.recovery.steps._member_back import member_back
from xentui.xapi.model import Host

# cert_refresh.ml waits 5 s before reloading stunnel with the new certificate.
SETTLE_BUDGET = 30.0


def declare(coordinator: Host, members: Sequence[Host], reason: str) -> Step:
    """`members`: the hosts that rejected the certificate (each must have rejoined)."""
    cname = coordinator.name_label
    names = [m.name_label for m in members]
    mname = " and ".join(names)
    return Step(
        id=f"tls-refresh-certificate:{cname}",
        title=f"Renew {cname}'s pool certificate and rebuild every pool bundle",
        why=f"{mname} rejected it ({reason}). A new certificate, distributed to every host, fixes an "
        "expired or weak one, one missing from a member's trust store and an empty pool bundle alike "
        "('xe pool-certificate-sync' does not rebuild the pool bundle in this xapi version).",
        changes=f"{cname} gets a new self-signed 2048-bit internal certificate; every host stores it "
        "and rebuilds /etc/stunnel/xapi-pool-ca-bundle.pem.",
        risk="low",
        risk_text="Pool-internal connections reconnect with the new certificate. The certificate "
        "API clients see (xapi-ssl.pem) does not change.",
        xe=(f"xe host-refresh-server-certificate host={coordinator.uuid}   # {cname}, on the coordinator",),
        calls=(f"host.refresh_server_certificate({cname}) on {cname}",),
        preconditions=(IsMaster(cname), AllHostsLive()) + tuple(OutOfEmergency(n) for n in names),
        verify=f"The call returns and {mname} {'is' if len(names) == 1 else 'are'} still in the pool.",
        on_failure="CANNOT_CONTACT_HOST: a pool host is not live; bring it back (or forget it) first. "
        "Then run the xe command on the coordinator.",
        confirm=Confirm.ENTER,
        target_host=cname,
        params={"host": cname, "host_uuid": coordinator.uuid, "master": cname, "members": ",".join(names)},
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    p = ctx.step.params
    client = ctx.client(p["master"])
    ref = ex.call_xapi(ctx, client, "host.get_by_uuid", p["host_uuid"], shown=[p["host_uuid"]])
    ex.call_xapi(ctx, client, "host.refresh_server_certificate", ref, shown=[p["host"]])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    members = [m for m in p["members"].split(",") if m]

    def still_in(obs: Observation) -> Tuple[bool, str]:
        for member in members:
            ok, why = member_back(obs, member)
            if not ok:
                return ok, why
        return True, ", ".join(members) + " still in the pool"

    _, why = ex.poll(ctx, still_in, ex.scaled(SETTLE_BUDGET, floor=MIN_REAL_WAIT), "checking the members")
    return f"{p['host']} has a new pool certificate, distributed to every host; {why}"


# No already_done: every refresh makes a new certificate, and whether a member's
# bundle lacks the coordinator's cannot be read through xapi.
STEP = StepKind("tls-refresh-certificate", declare=declare, action=action, verify=verify)
