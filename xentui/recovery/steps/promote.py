"""Promote this host to pool master (pool.emergency_transition_to_master) and wait for xapi's restart."""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, Fenced, HaDisarmed, Silent
from xentui.recovery.role_checks import is_master_now
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepFailed,
    StepRunner,
    hold_master_change,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(this: Host, old: Host, ha: bool) -> Step:
    pre = [Fenced(old.name_label), Silent(old.name_label, old.address), Answers(this.name_label)]
    if ha:
        pre.append(HaDisarmed(this.name_label))
    return Step(
        id=f"promote:{this.name_label}",
        title=f"Promote {this.name_label} to pool master",
        why=f"The master {old.name_label} is gone; without a master nobody can manage the pool. "
        f"{this.name_label} becomes master on its copy of the pool database.",
        changes=f"Writes 'master' into {this.name_label}'s pool.conf and restarts its xapi (10 s "
        "fuse). Running VMs are not touched. The database is the copy the old master last "
        "synced to it (one member every 5 minutes, in turn: copies differ, see STALE_DB_CHOICE).",
        risk="high",
        risk_text="If the old master is in fact alive this creates two masters (split brain). "
        "That is why it is refused while the old master answers.",
        xe=("xe pool-emergency-transition-to-master",),
        calls=("pool.emergency_transition_to_master()",),
        preconditions=tuple(pre),
        verify="xapi restarts, then answers as master: a password login works, "
        "host.is_in_emergency_mode is false and pool.master is this host.",
        on_failure="HA_IS_ENABLED: disarm HA first. If xapi does not come back within 2 minutes, "
        "check 'systemctl status xapi' and /var/log/xensource.log on the host. The step "
        "is safe to repeat.",
        confirm=Confirm.F8,
        target_host=this.name_label,
        requires_fenced=(old.name_label,),
        params={
            "host": this.name_label,
            "host_uuid": this.uuid,
            "address": this.address,
            "old_master": old.name_label,
            "old_master_address": old.address,
        },
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params.get("host", ctx.step.target_host)
    # "already master" is judged on this console's host only; the action refuses any other
    if name == ctx.sit.this_name and is_master_now(ctx.obs):
        return f"{name} is already the master"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name = ctx.step.params.get("host", ctx.step.target_host)
    sit = ctx.sit
    if name != sit.this_name:
        raise StepFailed(f"promote runs on the host to promote; this console is {sit.this_name}")
    hold_master_change(ex, ctx)  # until verify has seen xapi come back as master
    if sit.role_change_pending and sit.reason_code.startswith("HA_"):
        # Xapi_ha.on_server_restart: pool.conf says master but xapi loops in its HA
        # start-up (every 10 s) until HA is disarmed; no restart is coming.
        raise StepFailed(
            f"pool.conf already says master, but xapi waits in its HA start-up loop "
            f"({sit.reason_code}); no restart will come. Disarm HA on {name} first "
            "(xe host-emergency-ha-disable --force soft=false): xapi then carries on "
            "as master within 10 s."
        )
    if sit.role_change_pending:
        # An earlier (interrupted) run already asked; xapi restarts on its own.
        ctx.notes.append("pool.conf already says master: waiting for xapi's restart, not asking again")
        return
    client = ex.console_client()
    ctx.say(f"asking {name} to become master")
    ex.call_xapi(ctx, client, "pool.emergency_transition_to_master", lost_ok=True)


def verify(ex: StepRunner, ctx: StepContext) -> str:
    return wait_for_own_restart_as_master(ex, ctx, ctx.step.params.get("host", ctx.step.target_host))


def wait_for_own_restart_as_master(ex: StepRunner, ctx: StepContext, name: str) -> str:
    # xapi restarts after its fuse; until then the old process still answers.
    ex.sleep(ctx, ex.scaled(FUSE_TIME), "xapi will restart as master in")

    def is_master(obs: Observation) -> Tuple[bool, str]:
        if is_master_now(obs):
            return True, "answers as master"
        s = Situation(obs)
        if s.pool_conf_role == "slave" and s.gt is not None and s.gt.pool_role.ok:
            # xapi writes pool.conf before its fuse burns: after the fuse,
            # "slave" means the request never arrived (e.g. the connection
            # dropped first). Say so now instead of waiting out the budget.
            raise StepFailed(
                f"xapi did not record the role change (pool.conf still says "
                f"slave:{s.pool_conf_master}); the request was probably lost with the "
                "connection. Nothing changed: safe to run again."
            )
        return False, (
            f"pool.conf {s.pool_conf_role}, xapi {s.conn_state}"
            + (f", emergency {s.reason_code}" if s.emergency else "")
        )

    obs, _ = ex.poll(
        ctx, is_master, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), "waiting for xapi to come back as master"
    )
    sit = Situation(obs)
    master = sit.snap.master
    assert master is not None  # poll returned: is_master_now(obs) held, which checks it
    return (
        f"{name} answers as master: login {obs.connection.session_kind.value}, "
        f"host.is_in_emergency_mode=false, pool.master={master.name_label}"
    )


STEP = StepKind("promote", declare=declare, already_done=already_done, action=action, verify=verify)
