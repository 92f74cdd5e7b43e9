"""Check the pool's default SR; set the only candidate if it is invalid."""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(master: Host) -> Step:
    return Step(
        id="check-default-sr",
        title="Check the pool's default SR",
        why="The official procedure asks to confirm the default SR after a master change.",
        changes="Nothing if it is valid. If it is unset or missing and exactly one shared SR is "
        "connected on the master, sets that one as default.",
        risk="low",
        risk_text="Changes only which SR new VMs use by default.",
        xe=(
            "xe pool-param-get uuid=<pool> param-name=default-SR",
            "xe pool-param-set uuid=<pool> default-SR=<sr-uuid>   # if invalid",
        ),
        calls=("pool.get_default_SR", "SR.get_record", "pool.set_default_SR (only if invalid)"),
        preconditions=(IsMaster(master.name_label),),
        verify="pool.default_SR names an existing SR plugged on the master.",
        on_failure="Choose the default SR yourself: xe pool-param-set default-SR=<uuid>.",
        confirm=Confirm.NONE,
        target_host=master.name_label,
        params={"master": master.name_label},
    )


def _plugged_on_master(ctx: StepContext, sr_ref: str) -> bool:
    pbds, master_ref = ctx.scratch["pbds"], ctx.scratch["master_ref"]
    return any(
        p.get("SR") == sr_ref and p.get("host") == master_ref and p.get("currently_attached") for p in pbds.values()
    )


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    master = master_of(ctx)
    client = ctx.client(master)
    pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
    default = ex.call_xapi(ctx, client, "pool.get_default_SR", pool)
    srs = ex.call_xapi(ctx, client, "SR.get_all_records")
    pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
    hosts = ex.call_xapi(ctx, client, "host.get_all_records")
    master_ref = next((r for r, h in hosts.items() if h.get("name_label") == master), None)
    ctx.scratch.update(pool=pool, srs=srs, pbds=pbds, master_ref=master_ref)
    if default in srs and _plugged_on_master(ctx, default):
        return f"default SR {srs[default].get('name_label')} is valid and plugged on {master}"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    srs = ctx.scratch["srs"]
    candidates = [
        r
        for r, rec in srs.items()
        if rec.get("shared") and _plugged_on_master(ctx, r) and rec.get("content_type") not in ("iso",)
    ]
    if len(candidates) != 1:
        raise StepFailed(
            "default SR invalid and no single shared SR to choose; candidates: "
            + (", ".join(srs[c].get("name_label", c) for c in candidates) or "none")
        )
    ctx.scratch["chosen"] = candidates[0]
    client = ctx.client(master_of(ctx))
    ex.call_xapi(
        ctx,
        client,
        "pool.set_default_SR",
        ctx.scratch["pool"],
        candidates[0],
        shown=[srs[candidates[0]].get("uuid", "")],
    )


def verify(ex: StepRunner, ctx: StepContext) -> str:
    chosen = ctx.scratch["chosen"]
    now = ex.call_xapi(ctx, ctx.client(master_of(ctx)), "pool.get_default_SR", ctx.scratch["pool"])
    if now != chosen:
        raise StepFailed("default SR did not change")
    return f"default SR set to {ctx.scratch['srs'][chosen].get('name_label')}"


STEP = StepKind("check-default-sr", declare=declare, already_done=already_done, action=action, verify=verify)
