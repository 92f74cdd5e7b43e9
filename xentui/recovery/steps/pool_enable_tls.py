"""Turn on TLS verification between pool hosts (pool.enable_tls_verification).

pool.join refuses with POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH when the
joining host and the pool disagree (xapi_pool.ml pre_join_checks,
assert_tls_verification_matches): a fresh 8.3 install verifies, a pool
upgraded from 8.2 may never have been switched on. The fix is to switch the
side that does not verify on. On a pool, xapi first exchanges certificates
with every host (Cert_distrib.exchange_certificates_in_pool), so every host in
the database must answer: dead records are forgotten before this step.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import AllHostsLive, IsMaster, Precondition
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(on: str, address: str, master: Optional[Host], joining: str) -> Step:
    """`on`: the host whose pool does not verify (the pool's master, or the
    joining host's own one-host pool); `master`: the pool's master when `on` is it."""
    pool_side = master is not None and master.name_label == on
    checks: Tuple[Precondition, ...] = (AllHostsLive(), IsMaster(on)) if pool_side else ()
    where = f"the pool (on {on})" if pool_side else f"{on}'s own pool"
    return Step(
        id=f"pool-enable-tls:{on}",
        title=f"Turn on TLS verification in {where}",
        why=f"{joining} cannot join while one side verifies TLS between hosts and the other does not "
        "(POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH).",
        changes=f"Every host of {where} exchanges certificates and from then on verifies its peers' "
        "certificates. VMs are not affected.",
        risk="medium",
        risk_text="Every host must answer (dead records forgotten first). It is the default of "
        "XenServer 8 / XCP-ng 8.3 and is not switched off again by xentui.",
        xe=(f"xe pool-enable-tls-verification   # on {on}",),
        calls=(f"pool.enable_tls_verification() on {on}",),
        preconditions=checks,
        verify=f"{where} reports tls_verification_enabled = true.",
        on_failure="A host that does not answer makes it fail: check every host is up, then retry. "
        "A certificate problem: xe pool-certificate-sync on the master.",
        confirm=Confirm.F8,
        target_host=on,
        params={"host": on, "address": address, "joining": joining, "pool_side": "true" if pool_side else ""},
    )


def _client(ex: StepRunner, ctx: StepContext) -> Any:
    """The pool's master through the step's clients, or the joining host's own
    one-host pool by its address (it is not in this pool's database)."""
    p = ctx.step.params
    if p.get("pool_side"):
        return ctx.client(p["host"])
    if "client" not in ctx.scratch:
        client = ex.observer.host_client(p["host"], address=p["address"])
        ctx.at_end(client.close)
        ctx.scratch["client"] = client
    return ctx.scratch["client"]


def _verifies(ex: StepRunner, ctx: StepContext) -> bool:
    client = _client(ex, ctx)
    pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
    return bool(ex.call_xapi(ctx, client, "pool.get_tls_verification_enabled", pool))


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    return f"TLS verification is already on (on {ctx.step.params['host']})" if _verifies(ex, ctx) else ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    ex.call_xapi(ctx, _client(ex, ctx), "pool.enable_tls_verification", shown=[ctx.step.params["host"]])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    if not _verifies(ex, ctx):
        raise StepFailed(f"pool.enable_tls_verification returned but {name}'s pool still does not verify")
    return f"TLS verification is on (on {name})"


STEP = StepKind("pool-enable-tls", declare=declare, already_done=already_done, action=action, verify=verify)
