"""Turn certificate verification back on on the member
(host.emergency_reenable_tls_verification on the member's own xapi).

xapi_host.ml emergency_reenable_tls_verification in 24.19 (the version the
simulator models): verification on locally, /var/xapi/verify-certificates
touched, host.tls_verification_enabled = true; no precondition. The check
that the pool has verification at all (TLS_VERIFICATION_NOT_ENABLED_IN_POOL,
XSI-1821) arrived in 25.10. On a pool that never enabled it, 24.19 accepts the
call and the member then verifies against a bundle nobody generated and falls
out of the pool. So this step checks pool.tls_verification_enabled itself,
from the plan (precondition) and live on the coordinator, and refuses.
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster, PoolVerifiesTls
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepFailed, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.recovery.steps._member_back import member_back
from xentui.xapi.model import Host

HEARTBEAT = 30.0  # a member's heartbeat to its coordinator: the next verified connection
REJOIN_BUDGET = 60.0
NOT_IN_POOL = (
    "refused: the pool never enabled TLS verification (pool.tls_verification_enabled = false; "
    "xapi 25.10+ answers TLS_VERIFICATION_NOT_ENABLED_IN_POOL, 24.19 would accept it and cut "
    "{name} off). Enable it for the whole pool instead: 'xe pool-enable-tls-verification' on the coordinator."
)


def declare(member: Host, coordinator: Host) -> Step:
    name, cname = member.name_label, coordinator.name_label
    return Step(
        id=f"tls-reenable:{name}",
        title=f"Turn certificate verification back on on {name}",
        why=f"Verification was turned off on {name} only for the repair; the pool expects it on.",
        changes=f"{name} verifies the pool's certificates again (its local flag and "
        "host.tls_verification_enabled = true).",
        risk="low",
        risk_text=f"If the repair did not work, {name} loses the coordinator at its next connection and "
        "goes back to emergency mode with the same error (run the steps again).",
        xe=(f"xe host-emergency-reenable-tls-verification   # on {name}'s console",),
        calls=(
            f"pool.get_tls_verification_enabled on {cname}",
            f"host.emergency_reenable_tls_verification() on {name}",
        ),
        preconditions=(PoolVerifiesTls(), Answers(name), IsMaster(cname)),
        verify=f"{name} is live and enabled, outside emergency mode, and still so after its next "
        f"heartbeat ({HEARTBEAT:.0f} s), which verifies {cname}'s certificate.",
        on_failure=f"If {name} fell back into emergency mode, its bundle still lacks the coordinator's "
        f"certificate: turn verification off on {name} again and check /etc/stunnel/certs-pool there.",
        confirm=Confirm.ENTER,
        target_host=name,
        params={"host": name, "host_uuid": member.uuid, "master": cname},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    name = p["host"]
    back, _ = member_back(ctx.obs, name)
    if not back:
        return ""
    coord = ctx.client(p["master"])
    ref = ex.call_xapi(ctx, coord, "host.get_by_uuid", p["host_uuid"], shown=[p["host_uuid"]])
    if ex.call_xapi(ctx, coord, "host.get_tls_verification_enabled", ref, shown=[name]):
        return f"{name} verifies certificates already (host.tls_verification_enabled = true)"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    p = ctx.step.params
    name = p["host"]
    coord = ctx.client(p["master"])
    pool = ex.call_xapi(ctx, coord, "pool.get_all")[0]
    if not ex.call_xapi(ctx, coord, "pool.get_tls_verification_enabled", pool):
        raise StepFailed(NOT_IN_POOL.format(name=name))
    ex.call_xapi(ctx, ctx.client(name), "host.emergency_reenable_tls_verification")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]

    def still_in(obs: Observation) -> Tuple[bool, str]:
        return member_back(obs, name)

    budget = ex.scaled(REJOIN_BUDGET, floor=MIN_REAL_WAIT)
    ex.poll(ctx, still_in, budget, f"checking {name}")
    ex.sleep(ctx, ex.scaled(HEARTBEAT + 5.0), f"{name}'s next verified heartbeat in")
    _, why = ex.poll(ctx, still_in, budget, f"checking {name} after its heartbeat")
    return f"verification on; {why} after a verified heartbeat"


STEP = StepKind("tls-reenable", declare=declare, already_done=already_done, action=action, verify=verify)
