"""Step handlers for the dead host's VMs: declare dead, reset, restart elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from xentui.recovery import audit as au
from xentui.recovery.situation import RUNNING_STATES
from xentui.recovery.step_context import StepContext, StepFailed, StepSkipped
from xentui.xapi.error_table import explain
from xentui.recovery.steps_roles import timed_out_but_going_on
from xentui.xapi.errors import CallTimeout, XapiFailure

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import PlanExecutor


def declare_dead(ex: "PlanExecutor", ctx: StepContext) -> str:
    dead = ctx.step.params["host"]
    uuid = ctx.step.params["host_uuid"]
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        ref = ex.host_ref(ctx, client, uuid)
        vms = ex.call_xapi(ctx, client, "VM.get_all_records")
        mine = [rec for rec in vms.values()
                if rec.get("resident_on") == ref and not rec.get("is_control_domain")
                and rec.get("power_state") in RUNNING_STATES]
        before = sorted(rec.get("name_label", "") for rec in mine)
        reset_uuids = sorted(str(rec.get("uuid", "")) for rec in mine)
        if not before and not ex.call_xapi(ctx, client, "host.get_enabled", ref):
            raise StepSkipped(f"{dead} is already disabled with no VM marked running")
        still_running = False
        try:
            ex.call_xapi(ctx, client, "host.declare_dead", ref, shown=[dead, uuid])
        except CallTimeout as exc:
            still_running = True
            # is_host_alive asks the host with no timeout of xapi's own: the call goes on
            # there; not a failure. Judge by the result below (and on the next run).
            timed_out_but_going_on(ctx, "host.declare_dead", exc, f"it is still contacting {dead}")
        vms = ex.call_xapi(ctx, client, "VM.get_all_records")
        left = sorted(rec.get("name_label", "") for rec in vms.values()
                      if rec.get("resident_on") == ref and not rec.get("is_control_domain")
                      and rec.get("power_state") in RUNNING_STATES)
        enabled = ex.call_xapi(ctx, client, "host.get_enabled", ref)
    finally:
        if owned:
            client.close()
    if (left or enabled) and still_running:
        raise StepFailed(f"host.declare_dead is still running in xapi (it contacts {dead} with no "
                         "timeout); xapi did not refuse it: run again to check the result")
    if left or enabled:
        raise StepFailed(f"after declare_dead: still running on {dead}: {left}; enabled={enabled}")
    # Remembered so that an interrupted run still restarts these VMs on resume.
    ex.audit.record(ex.run_id, au.NOTE, step_id=ctx.step.id, host=dead, outcome="power-state-reset",
                    inputs={"reset_vm_uuids": reset_uuids}, detail=", ".join(before))
    ctx.notes.append(f"power state reset: {', '.join(before) or 'none'}")
    return f"{dead} disabled; no VM marked running on it (reset: {', '.join(before) or 'none'})"


def power_state_reset(ex: "PlanExecutor", ctx: StepContext) -> str:
    uuid = ctx.step.params["vm_uuid"]
    master = ex.master_of(ctx)
    client, owned = ex.client_for(ctx.sit, master)
    try:
        ref = ex.call_xapi(ctx, client, "VM.get_by_uuid", uuid, shown=[uuid])
        if ex.call_xapi(ctx, client, "VM.get_power_state", ref) == "Halted":
            raise StepSkipped("already Halted")
        ex.call_xapi(ctx, client, "VM.power_state_reset", ref, shown=[uuid])
        state = ex.call_xapi(ctx, client, "VM.get_power_state", ref)
    finally:
        if owned:
            client.close()
    if state != "Halted":
        raise StepFailed(f"power state is {state} after the reset")
    return "VM is Halted"


def start_vms(ex: "PlanExecutor", ctx: StepContext) -> str:
    survivor = ctx.step.params["host"]
    wanted = [u for u in ctx.step.params.get("vm_uuids", "").split(",") if u]
    flagged = {n for n in ctx.step.params.get("flagged", "").split(",") if n}
    client, owned = ex.client_for(ctx.sit, survivor)
    started, skipped, failed = [], [], []
    left_down = []  # deliberately not started: {uuid, name, reason} (see run_record.LEFT_DOWN)
    try:
        host_ref = None
        hosts = ex.call_xapi(ctx, client, "host.get_all_records")
        for ref, rec in hosts.items():
            if rec.get("name_label") == survivor:
                host_ref = ref
        if host_ref is None:
            raise StepFailed(f"{survivor} not found in the pool")
        srs = ex.call_xapi(ctx, client, "SR.get_all_records")
        for uuid in wanted:
            try:
                ref = ex.call_xapi(ctx, client, "VM.get_by_uuid", uuid, shown=[uuid])
            except XapiFailure as exc:
                skipped.append(f"{uuid}: {exc.code}")
                continue
            rec = ex.call_xapi(ctx, client, "VM.get_record", ref, shown=[uuid])
            name = rec.get("name_label", uuid)
            if name in flagged:
                skipped.append(f"{name}: claimed by two masters — check it by hand")
                left_down.append({"uuid": uuid, "name": name, "reason": "claimed by two masters"})
                continue
            if rec.get("power_state") != "Halted":
                where = hosts.get(rec.get("resident_on"), {}).get("name_label", "?")
                skipped.append(f"{name}: already {rec.get('power_state')} on {where}")
                continue
            local = local_disk_elsewhere(ex, ctx, client, rec, srs, host_ref)
            if local:
                skipped.append(f"{name}: disks on local storage {local} of another host — not started")
                left_down.append({"uuid": uuid, "name": name, "reason": f"disks on local storage {local}"})
                continue
            ctx.say(f"starting {name} on {survivor}")
            try:
                ex.call_xapi(ctx, client, "VM.start_on", ref, host_ref, False, False,
                             shown=[name, uuid, survivor])
                state = ex.call_xapi(ctx, client, "VM.get_power_state", ref)
                if state != "Running":
                    failed.append(f"{name}: power state {state} after start")
                else:
                    started.append(name)
            except XapiFailure as exc:
                failed.append(f"{name}: {start_failure_reason(exc, survivor, _names(hosts, srs))}")
    finally:
        if owned:
            client.close()
    if left_down:  # so that the workload finding tells "left down on purpose" from "not restarted"
        ex.audit.record(ex.run_id, au.NOTE, step_id=ctx.step.id, host=survivor, outcome="left-down",
                        inputs={"vms": left_down}, detail=", ".join(v["name"] for v in left_down))
    if started:
        ctx.notes.append("started: " + ", ".join(started))
    if skipped:
        ctx.notes.append("not started: " + "; ".join(skipped))
    if failed:
        # A partial start is a failure of the step, but the VMs that started stay running and
        # are named; each one that did not gets xapi's reason in plain words.
        raise StepFailed(f"{len(failed)} of {len(failed) + len(started)} VMs did not start on {survivor}: "
                         + "; ".join(failed)
                         + (f" (started: {', '.join(started)})" if started else ""))
    if not started:
        raise StepSkipped("nothing to start: " + "; ".join(skipped))
    return f"Running on {survivor}: {', '.join(started)}"


def local_disk_elsewhere(ex: "PlanExecutor", ctx: StepContext, client, vm_rec: dict, srs: dict, host_ref: str) -> str:
    """Name of a non-shared SR a VM's disks live on that is not attached to `host_ref`."""
    for vbd in vm_rec.get("VBDs", []) or []:
        try:
            vdi = ex.call_xapi(ctx, client, "VBD.get_VDI", vbd)
            if not vdi or vdi == "OpaqueRef:NULL":
                continue
            sr = ex.call_xapi(ctx, client, "VDI.get_SR", vdi)
        except XapiFailure:
            continue
        rec = srs.get(sr)
        if rec is None or rec.get("shared"):
            continue
        pbds = rec.get("PBDs", []) or []
        on_host = False
        for pbd in pbds:
            try:
                if ex.call_xapi(ctx, client, "PBD.get_host", pbd) == host_ref:
                    on_host = True
            except XapiFailure:
                continue
        if not on_host:
            return rec.get("name_label", sr)
    return ""


def _names(*tables: dict) -> Dict[str, str]:
    """ref -> name_label for the records we already hold (hosts, SRs)."""
    return {ref: str(rec.get("name_label") or ref) for table in tables for ref, rec in table.items()}


def _gib(text: str) -> str:
    try:
        return f"{int(text) / 1024 ** 3:.1f} GiB"
    except ValueError:
        return text


def start_failure_reason(exc: XapiFailure, survivor: str, names: Dict[str, str]) -> str:
    """Why xapi refused VM.start_on, in plain words, with xapi's code for reference."""
    code, params = exc.code, [names.get(p, p) for p in exc.details[1:]]
    if code == "HOST_NOT_ENOUGH_FREE_MEMORY" and len(params) >= 2:
        words = (f"not enough free memory on {survivor} (needs {_gib(params[0])}, {_gib(params[1])} free); "
                 "shut down a less important VM or start it on another host")
    elif code == "VM_REQUIRES_SR" and len(params) >= 2:
        words = f"its storage {params[1]} is not attached on {survivor}; plug the SR's PBD there first"
    elif code == "VM_REQUIRES_NETWORK" and len(params) >= 2:
        words = f"{survivor} has no interface on the VM's network {params[1]}"
    elif code == "HOST_DISABLED":
        words = f"{survivor} is disabled and accepts no VMs; enable it once it is healthy"
    elif code == "HOST_NOT_LIVE":
        words = f"xapi does not consider {survivor} live"
    elif code == "VDI_IN_USE":
        words = "one of its disks is attached to another VM"
    else:
        words = explain(code, params).one_line()
    return f"{words} [xapi: {code}]"
