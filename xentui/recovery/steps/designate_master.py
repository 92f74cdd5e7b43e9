"""Hand the master role to a preferred host in an orderly way (pool.designate_new_master)."""

from __future__ import annotations

from typing import Sequence, Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import AllHostsLive, Answers, HaOff, SingleFlight
from xentui.recovery.role_checks import hung_hosts, is_master_now
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepFailed,
    StepRunner,
    hold_master_change,
    host_ref_by_uuid,
    timed_out_but_going_on,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import CallTimeout
from xentui.xapi.model import Host


def declare(host: Host, others: Sequence[Host] = ()) -> Step:
    return Step(
        id=f"designate-master:{host.name_label}",
        title=f"Hand the master role back to {host.name_label}",
        why="Optional: return the master role to the preferred host in an orderly way.",
        changes=f"Two-phase handover to {host.name_label}; every host's xapi restarts. Running VMs are not affected.",
        risk="medium",
        risk_text="Needs all hosts up and HA off. Never run twice quickly (xen-api#6056): xentui allows one at a time.",
        xe=(f"xe pool-designate-new-master host-uuid={host.uuid}",),
        calls=(f"pool.designate_new_master({host.name_label})",),
        # Phase 1 of xapi's two-phase commit asks EVERY host (propose_new_master), with
        # no timeout: one that does not answer aborts it, a hung one holds it.
        preconditions=(Answers(host.name_label),)
        + tuple(Answers(h.name_label) for h in sorted(others, key=lambda h: h.name_label))
        # Every host in the database, dead records included: forget those first.
        + (AllHostsLive(), HaOff(), SingleFlight()),
        verify=f"{host.name_label} answers as master and every host follows it.",
        on_failure="Wait for xapi on all hosts; do not repeat the call while one is in flight.",
        confirm=Confirm.F8,
        target_host=host.name_label,
        phase="later",
        params={"host": host.name_label, "host_uuid": host.uuid, "address": host.address},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    current = ctx.sit.believed_master
    if current is not None and current.name_label == name and not ctx.sit.is_down(current):
        return f"{name} is already the master"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params["host"]
    hold_master_change(ex, ctx, "another master change is in progress (single flight)")
    sit = ctx.sit
    hung = hung_hosts(sit)
    if hung:
        # Phase 1 of the two-phase commit asks every host with no timeout.
        raise StepFailed(
            "not designating: " + ", ".join(hung) + " accept connections and never "
            "answer; xapi's two-phase commit would wait for them. Fix or power them "
            "off (and remove them from the pool) first."
        )
    current = sit.believed_master
    on = current.name_label if current is not None else sit.this_name
    client = ctx.client(on)
    ref = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    try:
        ex.call_xapi(ctx, client, "pool.designate_new_master", ref, shown=[name], lost_ok=True)
    except CallTimeout as exc:
        timed_out_but_going_on(ctx, "pool.designate_new_master", exc, "the two-phase commit")
    ctx.drop_client(on)  # every host's xapi restarts


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    address = ctx.step.params.get("address", "")
    ex.sleep(ctx, ex.scaled(FUSE_TIME), "hosts restart their xapi in")

    def moved(obs: Observation) -> Tuple[bool, str]:
        s = Situation(obs)
        target = s.snap.host_by_name(name)
        broken = (
            s.pool_conf_role == "broken"
            if name == s.this_name
            else target is not None and s.state(target).reason_code == "HOST_BROKEN"
        )
        if broken:
            # xapi_pool_transition.ml: a host that failed phase 2 (commit_new_master)
            # leaves the new master's pool.conf "broken" and it restarts into emergency mode.
            raise StepFailed(
                f"{name} is broken (HOST_BROKEN): a host did not commit the handover "
                f"(phase 2). By hand: on {name}, 'xe pool-emergency-transition-to-master', "
                "then 'xe pool-recover-slaves'; check which hosts follow whom first."
            )
        if name == s.this_name:
            return is_master_now(obs), f"pool.conf {s.pool_conf_role}"
        ok = s.pool_conf_role == "slave" and s.pool_conf_master == address and s.conn_state == "connected"
        return ok, f"this host: pool.conf {s.pool_conf_role}:{s.pool_conf_master}, xapi {s.conn_state}"

    ex.poll(ctx, moved, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name}")
    return f"{name} is the master"


STEP = StepKind("designate-master", declare=declare, already_done=already_done, action=action, verify=verify)
