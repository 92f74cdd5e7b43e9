"""Join a reinstalled host back into the pool (pool.join on that host).

xapi_pool.ml `join` runs on the JOINING host: it logs in to the coordinator
with the credentials given, runs pre_join_checks (refusals such as
POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH, POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH,
POOL_HOSTS_NOT_HOMOGENEOUS, POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA; each
is a clear stop with its fix from xapi.error_table), creates the host's
record on the coordinator (create_or_get_host_on_master: a new uuid gets a
new record) and turns the host into the coordinator's member: its xapi
restarts (become_another_masters_slave).

The coordinator's credentials are the ones this console logged in with (the
wizard's masked input, `--password-env` or the prompt); they go to xapi only,
never to the audit log or a log line.
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.observation import Observation
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import HaOff, IsMaster, RecordGone
from xentui.recovery.situation import Situation
from xentui.recovery.step_context import (
    FUSE_TIME,
    MIN_REAL_WAIT,
    RESTART_BUDGET,
    StepContext,
    StepFailed,
    StepRunner,
    master_of,
)
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import ConnectFailed
from xentui.xapi.model import Host


def declare(name: str, address: str, new_uuid: str, old_uuid: str, master: Host) -> Step:
    return Step(
        id=f"pool-join:{name}",
        title=f"Join the reinstalled {name} to the pool",
        why=f"{name} was reinstalled and runs as a pool of its own (host uuid {new_uuid}); "
        "it must join the pool again to take VMs.",
        changes=f"{name} logs in to {master.name_label} ({master.address}), gets a new record in the pool "
        f"and becomes its member; {name}'s own database is replaced and its xapi restarts. "
        "The pool's VMs are not touched.",
        risk="medium",
        risk_text="Anything configured on the fresh install alone (local VMs, networks) is dropped. "
        "xapi refuses when the hosts differ (TLS verification, management VLAN, version, database "
        "schema): xentui then stops and says what to fix.",
        xe=(
            f"xe pool-join master-address={master.address} master-username=root master-password=<password>"
            f"   # on {name}",
        ),
        calls=(f"pool.join({master.address}, root, <password>) on {name}",),
        preconditions=(RecordGone(name, old_uuid), IsMaster(master.name_label), HaOff()),
        verify=f"{master.name_label}'s pool holds {name} (uuid {new_uuid}) and {name} follows {master.name_label}.",
        on_failure="The xapi error names what differs; fix it on the joining host (or the pool) and retry. "
        "By hand: xe pool-join on the joining host's console.",
        confirm=Confirm.F8,
        target_host=name,
        params={
            "host": name,
            "address": address,
            "host_uuid": new_uuid,
            "old_uuid": old_uuid,
            "master": master.name_label,
            "master_address": master.address,
        },
    )


def _joined(obs: Observation, uuid: str, master_address: str) -> Tuple[bool, str]:
    s = Situation(obs)
    host = s.snap.host_by_uuid(uuid)
    if host is None:
        return False, "not in the pool yet"
    st = s.state(host)
    ok = st.reach in ("answers", "self") and (st.role == "slave" or st.master_address == master_address)
    return ok, f"{host.name_label}: {st.evidence or st.reach}"


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    if ctx.sit.snap.host_by_uuid(p["host_uuid"]) is not None:
        return f"{p['host']} (uuid {p['host_uuid']}) is already in the pool"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    p = ctx.step.params
    name, address, master_address = p["host"], p["address"], p["master_address"]
    user, password = ex.observer.pool_credentials()
    if not password:
        raise StepFailed(
            "pool.join needs the pool's root password and xentui was given none (a local socket or an "
            "SSH key login): give it with --password-env VAR (recover) or in the connect screen's password "
            f"field (5), or on {name}: "
            f"xe pool-join master-address={master_address} master-username=root master-password=<password>"
        )
    try:
        joiner = ex.observer.host_client(name, address=address)
    except ConnectFailed as exc:
        if exc.reason == "auth":
            raise StepFailed(
                f"{name} refused the pool's root password: the reinstall has another one. "
                f"On {name}: xe pool-join master-address={master_address} master-username=root "
                "master-password=<password>"
            ) from None
        raise
    try:
        # The password goes to xapi only: `shown` is what the audit log records.
        ex.call_xapi(ctx, joiner, "pool.join", master_address, user, password, shown=[master_address, user])
    finally:
        joiner.close()


def verify(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    name, uuid = p["host"], p["host_uuid"]
    ex.sleep(ctx, ex.scaled(FUSE_TIME), f"{name}'s xapi restarts as a member in")
    _, seen = ex.poll(
        ctx,
        lambda obs: _joined(obs, uuid, p["master_address"]),
        ex.scaled(RESTART_BUDGET, floor=MIN_REAL_WAIT),
        f"waiting for {name} to answer as a member of {master_of(ctx)}",
    )
    return f"{name} (uuid {uuid}) is a member of the pool ({seen})"


STEP = StepKind("pool-join", declare=declare, already_done=already_done, action=action, verify=verify)
