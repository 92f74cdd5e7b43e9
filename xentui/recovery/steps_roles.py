"""Step handlers that change who is master: fence check, HA, promotion, members,
split brain, designate. Each returns its verification text or raises
StepSkipped / StepFailed (see step_context)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Tuple

from xentui.recovery import audit as au
from xentui.recovery import peers as pv
from xentui.recovery.observation import Observation
from xentui.recovery.plan_steps import RECOVER_TRIES
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RECOVER_RETRY_DELAY,
    RESTART_BUDGET,
    StepContext,
    StepFailed,
    StepSkipped,
)
from xentui.xapi.errors import CallTimeout, XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


def confirm_master_down(ex: "PlanExecutor", ctx: StepContext) -> str:
    host = ctx.step.params.get("host", ctx.step.target_host)
    h = ctx.sit.snap.host_by_name(host)
    st = ctx.sit.state(h) if h is not None else None
    return f"{host}: {st.evidence if st is not None else 'no answer'}; attested fenced by the operator"


def timed_out_but_going_on(ctx: StepContext, method: str, exc: CallTimeout, why: str) -> None:
    """A call that timed out on OUR side: xapi has no deadline for it (its inter-host
    calls wait for the peer), so it is not a failure; the step re-checks the pool."""
    ctx.notes.append(f"{method}: no answer within {exc.seconds:g} s on our side; xapi carries on "
                     f"with it ({why}); checking the result instead")


def hung_hosts(sit: Situation, exclude: str = "") -> List[str]:
    """Hosts of the pool that accept connections and never answer: xapi's calls to
    them (recover_slaves, is_host_alive, designate) wait with no timeout."""
    return sorted(h.name_label for h in sit.snap.hosts.values()
                  if h.name_label != exclude and sit.state(h).reach == pv.HUNG)


def ha_disable(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params.get("host", ctx.step.target_host)
    client, owned = ex.client_for(ctx.sit, name)
    try:
        try:
            ex.call_xapi(ctx, client, "host.emergency_ha_disable", False, shown=["soft=false"])
        except XapiFailure as exc:
            if exc.code == "HA_NOT_ENABLED":
                raise StepSkipped(f"HA already disarmed on {name}") from None
            raise
    finally:
        if owned:
            client.close()
    sit = ctx.sit
    if name == sit.this_name and sit.pool_conf_role == "master" and sit.emergency:
        # Xapi_ha.on_server_restart runs for a master too: with HA armed and no statefile
        # it loops every 10 s in emergency mode. Disarmed, the loop ends at its next turn
        # and the start-up carries on as master: no restart comes, none is needed.
        ctx.say("xapi leaves its HA start-up loop within 10 s and carries on as master")
        _, why = ex.poll(ctx, _is_master_check, ex.scaled(60.0, floor=MIN_REAL_WAIT),
                         "waiting for xapi to carry on as master")
        return f"HA disarmed on {name}; {why}"
    return f"HA disarmed on {name} (host.emergency_ha_disable soft=false returned)"


def _is_master_check(obs: Observation) -> Tuple[bool, str]:
    if is_master_now(obs):
        return True, "answers as master"
    s = Situation(obs)
    return False, f"xapi {s.conn_state}" + (f", emergency {s.reason_code}" if s.emergency else "")


def promote(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params.get("host", ctx.step.target_host)
    sit = ctx.sit
    if name != sit.this_name:
        raise StepFailed(f"promote runs on the host to promote; this console is {sit.this_name}")
    if is_master_now(ctx.obs):
        raise StepSkipped(f"{name} is already the master")
    if not ex.master_change.acquire(blocking=False):
        raise StepFailed("another master change is in progress")
    try:
        if sit.role_change_pending and sit.reason_code.startswith("HA_"):
            # Xapi_ha.on_server_restart: pool.conf says master but xapi loops in its HA
            # start-up (every 10 s) until HA is disarmed; no restart is coming.
            raise StepFailed(f"pool.conf already says master, but xapi waits in its HA start-up loop "
                             f"({sit.reason_code}); no restart will come. Disarm HA on {name} first "
                             "(xe host-emergency-ha-disable --force soft=false): xapi then carries on "
                             "as master within 10 s.")
        if sit.role_change_pending:
            # An earlier (interrupted) run already asked; xapi restarts on its own.
            ctx.notes.append("pool.conf already says master: waiting for xapi's restart, not asking again")
            return wait_for_own_restart_as_master(ex, ctx, name)
        client = ex.console_client()
        ctx.say(f"asking {name} to become master")
        ex.call_xapi(ctx, client, "pool.emergency_transition_to_master", lost_ok=True)
        return wait_for_own_restart_as_master(ex, ctx, name)
    finally:
        ex.master_change.release()


def is_master_now(obs: Observation) -> bool:
    sit = Situation(obs)
    return (sit.this_is_master and sit.conn_state == "connected" and not sit.emergency and sit.snap_live
            and sit.snap.master is not None and sit.this_host is not None
            and sit.snap.master.ref == sit.this_host.ref)


def wait_for_own_restart_as_master(ex: "PlanExecutor", ctx: StepContext, name: str) -> str:
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
            raise StepFailed(f"xapi did not record the role change (pool.conf still says "
                             f"slave:{s.pool_conf_master}); the request was probably lost with the "
                             "connection. Nothing changed: safe to run again.")
        return False, (f"pool.conf {s.pool_conf_role}, xapi {s.conn_state}"
                       + (f", emergency {s.reason_code}" if s.emergency else ""))

    obs, _ = ex.poll(ctx, is_master, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT),
                     "waiting for xapi to come back as master")
    sit = Situation(obs)
    return (f"{name} answers as master: login {obs.connection.session_kind.value}, "
            f"host.is_in_emergency_mode=false, pool.master={sit.snap.master.name_label}")


def members_following(obs: Observation, master_address: str) -> Dict[str, bool]:
    sit = Situation(obs)
    out = {}
    for h in sit.other_hosts():
        st = sit.state(h)
        out[h.name_label] = st.reach == pv.ANSWERS and st.role == pv.SLAVE and st.master_address == master_address
    if sit.this_host is not None and not sit.this_is_master:
        # The console host is a member too when it was the master demoted (split
        # brain, keeping the other): it follows when its own pool.conf says so
        # and its xapi answers outside emergency mode.
        out[sit.this_host.name_label] = (sit.pool_conf_role == "slave" and sit.pool_conf_master == master_address
                                         and sit.xapi_answers_here and not sit.emergency)
    return out


def recover_members(ex: "PlanExecutor", ctx: StepContext) -> str:
    master = ex.master_of(ctx)
    address = ctx.step.params.get("master_address", "")
    sit = ctx.sit
    expected = [n for n in ctx.step.params.get("members", "").split(",") if n]
    # Only members that can answer can be recovered; the dead ones are left out on purpose.
    reachable = [n for n in expected
                 if (h := sit.snap.host_by_name(n)) is not None and not sit.is_down(h)]
    hung = hung_hosts(sit, exclude=master)
    if hung:
        # xapi_pool.ml recover_slaves asks each host in turn with no timeout: a hung one
        # holds the call, and every host after it, until it answers or is powered off.
        raise StepSkipped("not calling pool.recover_slaves: " + ", ".join(hung) + " accept connections "
                          "and never answer, and xapi would wait for them (every member after them "
                          "too); the per-member reset-master steps follow instead. Power the hung "
                          "host(s) off through the BMC, or fix them, then run again.")
    client, owned = ex.client_for(sit, master)
    returned: List[str] = []
    try:
        hosts = {ref: rec for ref, rec in ex.call_xapi(ctx, client, "host.get_all_records").items()}
        names = {ref: rec.get("name_label", "") for ref, rec in hosts.items()}
        for attempt in range(1, RECOVER_TRIES + 1):
            ctx.say(f"pool.recover_slaves (try {attempt}/{RECOVER_TRIES})")
            try:
                refs = ex.call_xapi(ctx, client, "pool.recover_slaves") or []
            except CallTimeout as exc:
                timed_out_but_going_on(ctx, "pool.recover_slaves", exc,
                                       "it asks each member in turn and waits for each")
                returned = reachable[:]  # judged below by who follows the new master
                break
            returned = sorted({names.get(r, r) for r in refs})
            missing = [n for n in reachable if n not in returned]
            if not missing:
                break
            if attempt < RECOVER_TRIES:
                ex.sleep(ctx, ex.scaled(RECOVER_RETRY_DELAY),
                         "members left out: " + ", ".join(missing) + "; retrying in")
    finally:
        if owned:
            client.close()
    missing = [n for n in reachable if n not in returned]
    ctx.notes.append("recover_slaves returned: " + (", ".join(returned) or "nobody"))
    if missing:
        ctx.notes.append("left out (reset-master steps follow): " + ", ".join(missing))
    recovered = [n for n in reachable if n in returned]
    if not recovered:
        return "no member to wait for"
    ex.sleep(ctx, ex.scaled(FUSE_TIME), "members restart their xapi in")

    def all_follow(obs: Observation) -> Tuple[bool, str]:
        f = members_following(obs, address)
        waiting = [n for n in recovered if not f.get(n)]
        return (not waiting), ("waiting for " + ", ".join(waiting)) if waiting else "all follow"

    ex.poll(ctx, all_follow, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), "members rejoining")
    return f"{', '.join(recovered)} follow {master} ({address})"


def reset_master(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    address = ctx.step.params["master_address"]
    if members_following(ctx.obs, address).get(name):
        raise StepSkipped(f"{name} already follows {address}")
    client, owned = ex.client_for(ctx.sit, name)
    try:
        ex.call_xapi(ctx, client, "pool.emergency_reset_master", address, shown=[address], lost_ok=True)
    finally:
        if owned:
            client.close()
    ex.sleep(ctx, ex.scaled(FUSE_TIME), f"{name} restarts its xapi in")
    def follows(obs: Observation) -> Tuple[bool, str]:
        if members_following(obs, address).get(name):
            return True, "follows"
        return False, f"{name} not yet following"

    ex.poll(ctx, follows, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name}")
    return f"{name} answers HOST_IS_SLAVE [{address}]"


def keep_master(ex: "PlanExecutor", ctx: StepContext) -> str:
    choice = ctx.choice or ctx.step.params.get("suggested", "")
    if ctx.step.choice and choice not in ctx.step.choice:
        raise StepFailed(f"{choice!r} is not one of the masters: {', '.join(ctx.step.choice)}")
    ex.kept_master = choice
    ex.audit.record(ex.run_id, au.NOTE, step_id=ctx.step.id, host=choice, outcome="kept",
                    detail=f"operator keeps {choice} as master")
    return f"keeping {choice} as the master"


def demote_master(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    keep_address = ctx.step.params["keep_address"]
    if not ex.master_change.acquire(blocking=False):
        raise StepFailed("another master change is in progress")
    try:
        client, owned = ex.client_for(ctx.sit, name)
        try:
            ex.call_xapi(ctx, client, "pool.emergency_reset_master", keep_address, shown=[keep_address],
                         lost_ok=True)
        finally:
            if owned:
                client.close()
        ex.sleep(ctx, ex.scaled(FUSE_TIME), f"{name} restarts as a member in")

        def demoted(obs: Observation) -> Tuple[bool, str]:
            s = Situation(obs)
            if name == s.this_name:
                ok = s.pool_conf_role == "slave" and s.pool_conf_master == keep_address
                return ok, f"pool.conf {s.pool_conf_role}:{s.pool_conf_master}"
            claim = s.master_claimants()
            ok = members_following(obs, keep_address).get(name, False) and len(claim) < 2
            return ok, "masters: " + ", ".join(claim)

        _, why = ex.poll(ctx, demoted, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT),
                         f"waiting for {name} to follow {keep_address}")
    finally:
        ex.master_change.release()
    return f"{name} follows {keep_address}; {why}"


def designate_master(ex: "PlanExecutor", ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    if not ex.master_change.acquire(blocking=False):
        raise StepFailed("another master change is in progress (single flight)")
    try:
        sit = ctx.sit
        current = sit.believed_master
        if current is not None and current.name_label == name and not sit.is_down(current):
            raise StepSkipped(f"{name} is already the master")
        hung = hung_hosts(sit)
        if hung:
            # Phase 1 of the two-phase commit asks every host with no timeout.
            raise StepFailed("not designating: " + ", ".join(hung) + " accept connections and never "
                             "answer; xapi's two-phase commit would wait for them. Fix or power them "
                             "off (and remove them from the pool) first.")
        client, owned = ex.client_for(sit, current.name_label if current is not None else sit.this_name)
        try:
            ref = ex.host_ref(ctx, client, ctx.step.params["host_uuid"])
            try:
                ex.call_xapi(ctx, client, "pool.designate_new_master", ref, shown=[name], lost_ok=True)
            except CallTimeout as exc:
                timed_out_but_going_on(ctx, "pool.designate_new_master", exc, "the two-phase commit")
        finally:
            if owned:
                client.close()
        address = ctx.step.params.get("address", "")
        ex.sleep(ctx, ex.scaled(FUSE_TIME), "hosts restart their xapi in")

        def moved(obs: Observation) -> Tuple[bool, str]:
            s = Situation(obs)
            target = s.snap.host_by_name(name)
            broken = (s.pool_conf_role == "broken" if name == s.this_name
                      else target is not None and s.state(target).reason_code == "HOST_BROKEN")
            if broken:
                # xapi_pool_transition.ml: a host that failed phase 2 (commit_new_master)
                # leaves the new master's pool.conf "broken" and it restarts into emergency mode.
                raise StepFailed(f"{name} is broken (HOST_BROKEN): a host did not commit the handover "
                                 f"(phase 2). By hand: on {name}, 'xe pool-emergency-transition-to-master', "
                                 "then 'xe pool-recover-slaves'; check which hosts follow whom first.")
            if name == s.this_name:
                return is_master_now(obs), f"pool.conf {s.pool_conf_role}"
            ok = s.pool_conf_role == "slave" and s.pool_conf_master == address and s.conn_state == "connected"
            return ok, f"this host: pool.conf {s.pool_conf_role}:{s.pool_conf_master}, xapi {s.conn_state}"

        ex.poll(ctx, moved, ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT), f"waiting for {name}")
    finally:
        ex.master_change.release()
    return f"{name} is the master"
