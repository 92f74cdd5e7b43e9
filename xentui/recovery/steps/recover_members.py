"""Point the other members at the new master (pool.recover_slaves, retried while members restart)."""

from __future__ import annotations

from typing import List, Sequence, Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.role_checks import hung_hosts, members_following
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RECOVER_RETRY_DELAY,
    RESTART_BUDGET,
    StepContext,
    StepRunner,
    master_of,
    timed_out_but_going_on,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import CallTimeout
from xentui.xapi.model import Host

# How many times recover_slaves is tried while members restart (HA-Lizard does 5).
RECOVER_TRIES = 5


def declare(master: Host, members: Sequence[Host]) -> Step:
    names = ", ".join(h.name_label for h in members)
    return Step(
        id="recover-members",
        title="Point the other members at the new master",
        why="Members still follow the old master and stay in emergency mode until told otherwise.",
        changes=f"{master.name_label} asks every member ({names}) to follow it; each member's xapi "
        "restarts (10 s) and rejoins.",
        risk="low",
        risk_text="Members that cannot be reached are silently skipped by xapi; xentui compares "
        "the result with the host list and retries while members restart.",
        xe=("xe pool-recover-slaves",),
        calls=("pool.recover_slaves()",),
        preconditions=(IsMaster(master.name_label),),
        verify=f"Up to {RECOVER_TRIES} tries: the returned hosts cover every reachable member and "
        "each member then says it follows the new master.",
        on_failure="For each member left out: 'emergency reset master' on that member (next steps).",
        confirm=Confirm.ENTER,
        target_host=master.name_label,
        params={
            "master": master.name_label,
            "master_address": master.address,
            "members": ",".join(h.name_label for h in members),
        },
    )


def _reachable(ctx: StepContext) -> List[str]:
    """The members that can answer: only they can be recovered; the dead ones are
    left out on purpose."""
    sit = ctx.sit
    expected = [n for n in ctx.step.params.get("members", "").split(",") if n]
    return [n for n in expected if (h := sit.snap.host_by_name(n)) is not None and not sit.is_down(h)]


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    """Not "done" but "not now": a hung member makes the call pointless, and the
    per-member reset-master steps that follow do the work instead."""
    hung = hung_hosts(ctx.sit, exclude=master_of(ctx))
    if hung:
        # xapi_pool.ml recover_slaves asks each host in turn with no timeout: a hung one
        # holds the call, and every host after it, until it answers or is powered off.
        return (
            "not calling pool.recover_slaves: " + ", ".join(hung) + " accept connections "
            "and never answer, and xapi would wait for them (every member after them "
            "too); the per-member reset-master steps follow instead. Power the hung "
            "host(s) off through the BMC, or fix them, then run again."
        )
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    """pool.recover_slaves, retried while members restart (HA-Lizard does 5 tries)."""
    reachable = _reachable(ctx)
    client = ctx.client(master_of(ctx))
    returned: List[str] = []
    hosts = {ref: rec for ref, rec in ex.call_xapi(ctx, client, "host.get_all_records").items()}
    names = {ref: rec.get("name_label", "") for ref, rec in hosts.items()}
    for attempt in range(1, RECOVER_TRIES + 1):
        ctx.say(f"pool.recover_slaves (try {attempt}/{RECOVER_TRIES})")
        try:
            refs = ex.call_xapi(ctx, client, "pool.recover_slaves") or []
        except CallTimeout as exc:
            timed_out_but_going_on(ctx, "pool.recover_slaves", exc, "it asks each member in turn and waits for each")
            returned = reachable[:]  # judged in verify by who follows the new master
            break
        returned = sorted({names.get(r, r) for r in refs})
        missing = [n for n in reachable if n not in returned]
        if not missing:
            break
        if attempt < RECOVER_TRIES:
            ex.sleep(ctx, ex.scaled(RECOVER_RETRY_DELAY), "members left out: " + ", ".join(missing) + "; retrying in")
    ctx.scratch["returned"] = returned


def verify(ex: StepRunner, ctx: StepContext) -> str:
    master = master_of(ctx)
    address = ctx.step.params.get("master_address", "")
    reachable = _reachable(ctx)
    returned = ctx.scratch["returned"]
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


STEP = StepKind("recover-members", declare=declare, already_done=already_done, action=action, verify=verify)
