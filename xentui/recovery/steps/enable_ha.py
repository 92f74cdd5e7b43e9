"""Re-enable HA on the heartbeat SR of the old statefile (or the one the operator chooses)."""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import AllHostsLive, IsMaster, StatefileReachable
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import SR, Host


def declare(master: Host, statefile_vdis: Sequence[str], candidate_srs: Sequence[SR] = ()) -> Step:
    """`statefile_vdis`: pool.ha_statefiles (VDI refs: the heartbeat SR is the SR of
    that VDI, resolved when the step runs). `candidate_srs`: the shared SRs that can
    hold a statefile (no ISO library), offered as the choice when the statefile is
    gone and more than one could do."""
    names = tuple(sr.name_label for sr in candidate_srs)
    sr_xe = (
        "xe vdi-param-get uuid=<statefile-vdi> param-name=sr-uuid   # the old heartbeat SR",
        "xe pool-ha-enable heartbeat-sr-uuids=<that sr>",
    )
    return Step(
        id="enable-ha",
        title="Re-enable HA",
        why="HA was disarmed for the recovery.",
        changes="Arms HA on every host with the heartbeat SR: the SR of the old statefile VDI; if "
        "that is gone, the only shared non-ISO SR, or the one you choose.",
        risk="medium",
        risk_text="Enable only once every host is back and the heartbeat SR is reachable from all; "
        "with 2 hosts HA risks fencing both.",
        xe=sr_xe,
        calls=("VDI.get_SR(statefile)", "pool.enable_ha(heartbeat_srs, {})"),
        preconditions=(IsMaster(master.name_label), AllHostsLive(), StatefileReachable()),
        verify="pool.ha_enabled is true.",
        on_failure="Check the heartbeat SR from every host; see /var/log/xha.log.",
        confirm=Confirm.F8,
        target_host=master.name_label,
        phase="later",
        choice=names if len(names) > 1 else (),
        params={
            "master": master.name_label,
            "statefile_vdis": ",".join(statefile_vdis),
            "candidate_srs": ",".join(sr.uuid for sr in candidate_srs),
        },
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    client = ctx.client(master_of(ctx))
    pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
    ctx.scratch["pool"] = pool
    if ex.call_xapi(ctx, client, "pool.get_ha_enabled", pool):
        return "HA is already enabled"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    client = ctx.client(master_of(ctx))
    srs = ex.call_xapi(ctx, client, "SR.get_all_records")
    heartbeat = heartbeat_srs(ex, ctx, client, srs)
    sr_name = srs[heartbeat[0]].get("name_label", "")
    try:
        ex.call_xapi(ctx, client, "pool.enable_ha", heartbeat, {}, shown=[sr_name])
    except XapiFailure as exc:
        # xapi_ha.ml enable -> attach_statefiles: the statefile VDI cannot be attached
        if exc.code == "VDI_NOT_AVAILABLE":
            raise StepFailed(
                f"the HA statefile on {sr_name} cannot be reached (VDI_NOT_AVAILABLE): HA stays off "
                "until the heartbeat SR is back"
            ) from exc
        raise


def verify(ex: StepRunner, ctx: StepContext) -> str:
    if not ex.call_xapi(ctx, ctx.client(master_of(ctx)), "pool.get_ha_enabled", ctx.scratch["pool"]):
        raise StepFailed("pool.ha_enabled is still false")
    return "HA enabled"


def heartbeat_srs(ex: StepRunner, ctx: StepContext, client: Any, srs: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """The heartbeat SR: the SR of the old statefile VDI (pool.ha_statefiles holds VDI
    refs, not SRs); if it is gone, the operator's choice, else the only shared SR that
    is not an ISO library. Never just "the first shared SR"."""

    def usable(rec: Mapping[str, Any]) -> bool:
        return bool(rec.get("shared")) and rec.get("content_type") != "iso" and rec.get("type") != "iso"

    for vdi in [v for v in ctx.step.params.get("statefile_vdis", "").split(",") if v]:
        try:
            sr = ex.call_xapi(ctx, client, "VDI.get_SR", vdi)
        except XapiFailure as exc:
            if exc.code in ("HANDLE_INVALID", "UUID_INVALID"):
                continue  # the statefile VDI is gone
            raise
        if sr in srs and usable(srs[sr]):
            return [sr]
    candidates = {ref: rec for ref, rec in srs.items() if usable(rec)}
    if ctx.choice:
        picked = [ref for ref, rec in candidates.items() if ctx.choice in (rec.get("name_label"), rec.get("uuid"))]
        if not picked:
            raise StepFailed(f"{ctx.choice!r} is not a shared, non-ISO SR")
        return picked[:1]
    if len(candidates) == 1:
        return list(candidates)
    if not candidates:
        raise StepFailed("no shared SR (other than an ISO library) for the HA heartbeat")
    raise StepFailed(
        "the old statefile is gone: choose the heartbeat SR (shared, reachable from every "
        "host): " + ", ".join(sorted(rec.get("name_label", "") for rec in candidates.values()))
    )


STEP = StepKind("enable-ha", declare=declare, already_done=already_done, action=action, verify=verify)
