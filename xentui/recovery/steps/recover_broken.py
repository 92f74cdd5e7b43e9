"""Make a host left Broken by a failed handover the master (pool.emergency_transition_to_master).

xapi_pool_transition.ml attempt_two_phase_commit_of_new_master: after phase 1
the new master writes "broken" into its pool.conf; if a host then fails phase 2
(commit_new_master) it restarts at once and stays in emergency mode with
HOST_BROKEN, while the hosts that committed already follow it. xapi's way out
is an emergency transition to master on it, then pool.recover_slaves for the
hosts that did not follow (the recover-members step after this one).
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Emergency, NoOtherMaster
from xentui.recovery.role_checks import is_master_now
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepRunner,
    hold_master_change,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(this: Host) -> Step:
    return Step(
        id=f"recover-broken:{this.name_label}",
        title=f"Make {this.name_label} master again: the handover left it Broken",
        why=f"A handover of the master role to {this.name_label} failed half-way (phase 2): its "
        "pool.conf says 'broken' and its xapi waits in emergency mode (HOST_BROKEN). The hosts "
        f"that committed already follow {this.name_label}.",
        changes=f"Writes 'master' into {this.name_label}'s pool.conf and restarts its xapi (10 s fuse); "
        "the next step points the other hosts at it. Running VMs are not touched.",
        risk="high",
        risk_text="Refused while another host answers as master (it would make two masters).",
        xe=("xe pool-emergency-transition-to-master",),
        calls=("pool.emergency_transition_to_master()",),
        preconditions=(Emergency(this.name_label), NoOtherMaster(this.name_label)),
        verify=f"{this.name_label} answers as master outside emergency mode.",
        on_failure="HA_IS_ENABLED: disarm HA first (xe host-emergency-ha-disable --force). "
        "Otherwise check 'systemctl status xapi' on the host; the step is safe to repeat.",
        confirm=Confirm.F8,
        target_host=this.name_label,
        params={"host": this.name_label, "host_uuid": this.uuid, "address": this.address},
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    return f"{ctx.step.params['host']} is already the master" if is_master_now(ctx.obs) else ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    hold_master_change(ex, ctx)
    ctx.say(f"asking {ctx.step.params['host']} to become master")
    ex.call_xapi(ctx, ex.console_client(), "pool.emergency_transition_to_master", lost_ok=True)


def _master(obs: Observation) -> Tuple[bool, str]:
    s = Situation(obs)
    return is_master_now(obs), f"pool.conf {s.pool_conf_role}, xapi {s.conn_state}"


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    ex.sleep(ctx, ex.scaled(FUSE_TIME), "xapi will restart as master in")
    ex.poll(ctx, _master, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), "waiting for xapi to come back as master")
    return f"{name} answers as master outside emergency mode"


STEP = StepKind("recover-broken", declare=declare, already_done=already_done, action=action, verify=verify)
