"""Step handlers for storage and the return to normal: PBDs, default SR, HA, backup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from xentui.recovery import audit as au
from xentui.recovery.step_context import StepContext, StepFailed, StepSkipped
from xentui.xapi.errors import XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


def plug_pbds(ex: "PlanExecutor", ctx: StepContext) -> str:
    master = ex.master_of(ctx)
    sit = ctx.sit
    client, owned = ex.client_for(sit, master)
    plugged, failed = [], []
    try:
        hosts = ex.call_xapi(ctx, client, "host.get_all_records")
        pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
        srs = ex.call_xapi(ctx, client, "SR.get_all_records")
        master_ref = next((r for r, h in hosts.items() if h.get("name_label") == master), None)
        alive = set()
        for ref, rec in hosts.items():
            h = sit.snap.host_by_name(rec.get("name_label", ""))
            if h is None or not sit.is_down(h):
                alive.add(ref)
        todo = [(ref, rec) for ref, rec in pbds.items()
                if not rec.get("currently_attached") and rec.get("host") in alive]
        todo.sort(key=lambda item: item[1].get("host") != master_ref)  # master first
        for ref, rec in todo:
            label = (f"{srs.get(rec.get('SR'), {}).get('name_label', '?')} on "
                     f"{hosts.get(rec.get('host'), {}).get('name_label', '?')}")
            try:
                ex.call_xapi(ctx, client, "PBD.plug", ref, shown=[rec.get("uuid", ""), label])
                plugged.append(label)
            except XapiFailure as exc:
                failed.append(f"{label}: {' '.join(exc.details)}")
        pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
        still = [rec.get("uuid", "") for rec in pbds.values()
                 if not rec.get("currently_attached") and rec.get("host") in alive]
    finally:
        if owned:
            client.close()
    if failed:
        raise StepFailed("could not plug: " + "; ".join(failed))
    if still:
        raise StepFailed("still unplugged: " + ", ".join(still))
    if not plugged:
        raise StepSkipped("every PBD of every answering host is plugged")
    ctx.notes.append("plugged: " + ", ".join(plugged))
    return "all PBDs of answering hosts are attached"


def check_default_sr(ex: "PlanExecutor", ctx: StepContext) -> str:
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
        default = ex.call_xapi(ctx, client, "pool.get_default_SR", pool)
        srs = ex.call_xapi(ctx, client, "SR.get_all_records")
        pbds = ex.call_xapi(ctx, client, "PBD.get_all_records")
        hosts = ex.call_xapi(ctx, client, "host.get_all_records")
        master_ref = next((r for r, h in hosts.items() if h.get("name_label") == master), None)

        def plugged_on_master(sr_ref: str) -> bool:
            return any(p.get("SR") == sr_ref and p.get("host") == master_ref and p.get("currently_attached")
                       for p in pbds.values())

        if default in srs and plugged_on_master(default):
            raise StepSkipped(f"default SR {srs[default].get('name_label')} is valid and plugged on {master}")
        candidates = [r for r, rec in srs.items() if rec.get("shared") and plugged_on_master(r)
                      and rec.get("content_type") not in ("iso",)]
        if len(candidates) != 1:
            raise StepFailed("default SR invalid and no single shared SR to choose; candidates: "
                             + (", ".join(srs[c].get("name_label", c) for c in candidates) or "none"))
        ex.call_xapi(ctx, client, "pool.set_default_SR", pool, candidates[0],
                     shown=[srs[candidates[0]].get("uuid", "")])
        now = ex.call_xapi(ctx, client, "pool.get_default_SR", pool)
    finally:
        if owned:
            client.close()
    if now != candidates[0]:
        raise StepFailed("default SR did not change")
    return f"default SR set to {srs[candidates[0]].get('name_label')}"


def enable_ha(ex: "PlanExecutor", ctx: StepContext) -> str:
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        pool = ex.call_xapi(ctx, client, "pool.get_all")[0]
        if ex.call_xapi(ctx, client, "pool.get_ha_enabled", pool):
            raise StepSkipped("HA is already enabled")
        srs = ex.call_xapi(ctx, client, "SR.get_all_records")
        heartbeat = heartbeat_srs(ex, ctx, client, srs)
        ex.call_xapi(ctx, client, "pool.enable_ha", heartbeat, {},
                     shown=[srs[heartbeat[0]].get("name_label", "")])
        on = ex.call_xapi(ctx, client, "pool.get_ha_enabled", pool)
    finally:
        if owned:
            client.close()
    if not on:
        raise StepFailed("pool.ha_enabled is still false")
    return "HA enabled"


def heartbeat_srs(ex: "PlanExecutor", ctx: StepContext, client, srs: dict) -> list:
    """The heartbeat SR: the SR of the old statefile VDI (pool.ha_statefiles holds VDI
    refs, not SRs); if it is gone, the operator's choice, else the only shared SR that
    is not an ISO library. Never just "the first shared SR"."""
    def usable(rec: dict) -> bool:
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
    raise StepFailed("the old statefile is gone: choose the heartbeat SR (shared, reachable from every "
                     "host): " + ", ".join(sorted(rec.get("name_label", "") for rec in candidates.values())))


def backup_db(ex: "PlanExecutor", ctx: StepContext) -> str:
    from xentui.recovery.backup import backup_pool_database

    master = ex.master_of(ctx)
    target_dir = au.default_state_dir() / "backups"
    result = backup_pool_database(ex.observer, target_dir, run_id=ex.run_id,
                                  on_master=(master == ctx.sit.this_name))
    ctx.notes.append(result.how)
    return f"{result.path} ({result.objects} objects, verified by parsing)"
