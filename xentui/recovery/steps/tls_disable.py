"""Stop a member verifying its coordinator's certificate, so it can rejoin
(host.emergency_disable_tls_verification on the member's own xapi).

xapi_host.ml emergency_disable_tls_verification: an emergency call (datamodel.ml
emergency_calls), so it answers while the member is cut off; it turns the
member's stunnel verification off (Stunnel_client.set_verify_by_default false,
removes /var/xapi/verify-certificates), then writes host.tls_verification_enabled
= false through the coordinator on a best-effort basis (INTERNAL_ERROR "TLS
verification disabled successfully. Failed to contact the coordinator..." when
that write fails: the local change is done). The member's hello loop retries
every 5 s (xapi.ml, a Temporary error) and now gets through."""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers
from xentui.recovery.step_context import MIN_REAL_WAIT, StepContext, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.recovery.steps._member_back import member_back
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host

# The hello loop retries a Temporary error every 5 s; then the member's start-up
# (database sync, enabling itself) takes a few seconds more.
REJOIN_BUDGET = 60.0
DB_WRITE_FAILED = "TLS verification disabled successfully"


def declare(member: Host, coordinator: Host, reason: str) -> Step:
    name = member.name_label
    return Step(
        id=f"tls-disable:{name}",
        title=f"Turn off certificate verification on {name} for the repair",
        why=f"{name} rejects {coordinator.name_label}'s certificate ({reason}), so it cannot rejoin "
        "and stays in emergency mode. With verification off it can reach the coordinator, which "
        "the certificate repair on the coordinator needs (every host live).",
        changes=f"{name} stops verifying the pool's certificates (its local flag and "
        "host.tls_verification_enabled = false); within 5 s its xapi rejoins the pool.",
        risk="medium",
        risk_text=f"Until the last step turns it back on, {name} trusts any certificate on the "
        "pool network. Nothing else changes.",
        xe=(f"xe host-emergency-disable-tls-verification   # on {name}'s console",),
        calls=(f"host.emergency_disable_tls_verification() on {name}",),
        preconditions=(Answers(name),),
        verify=f"{name} leaves emergency mode and is live and enabled again.",
        on_failure=f"Run the xe command on {name}'s console, then 'xe host-is-in-emergency-mode' there "
        "until it says false.",
        confirm=Confirm.F8,
        target_host=name,
        params={"host": name, "host_uuid": member.uuid, "coordinator": coordinator.name_label, "reason": reason},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    back, why = member_back(ctx.obs, ctx.step.params["host"])
    return why if back else ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    try:
        ex.call_xapi(ctx, ctx.client(name), "host.emergency_disable_tls_verification")
    except XapiFailure as exc:
        # the local change is made before the database write that failed
        if exc.code != "INTERNAL_ERROR" or not any(DB_WRITE_FAILED in d for d in exc.details):
            raise
        ctx.notes.append(f"{name}: verification is off; the database write waits for its rejoin")


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]

    def rejoined(obs: Observation) -> Tuple[bool, str]:
        return member_back(obs, name)

    _, why = ex.poll(ctx, rejoined, ex.scaled(REJOIN_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name} to rejoin")
    return why


STEP = StepKind("tls-disable", declare=declare, already_done=already_done, action=action, verify=verify)
