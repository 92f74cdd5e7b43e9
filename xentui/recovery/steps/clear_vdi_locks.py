"""Remove the attach keys a dead, fenced host left in its VMs' VDI.sm_config.

sm (drivers/blktap2.py VDI._add_tag) writes `host_<host ref>` into a VDI's
sm_config when a host activates it, with `activating` while that runs, and
removes them on deactivate. A host that crashed never deactivates: activating
the disk anywhere else then fails (SR_BACKEND_FAILURE_46 "The VDI is not
available", or MAP_DUPLICATE_KEY on `activating`). host-declare-dead would
have cleared the host keys (sm's host-post-declare-dead hook); a power-state
reset by hand does not.

The fix is what sm's resetvdis.py does (libs/sm/resetvdis.py reset_vdi: one
`VDI.remove_from_sm_config(vdi, "host_<ref>")` per key; with --force it does
not ask the holder first, which a powered-off host cannot answer), plus the
raw `VDI.remove_from_sm_config(vdi, "activating")` that only exists as an API
call. One step per holder host, not per VM: the fence (the operator's
attestation that the host is off, and its silence now) is per host, as is
resetvdis.py's `all <HOST> <SR>`; one confirmation covers every disk that
host left locked.

Only behind the fence gate (fence_gate.py): if the holder still ran a VM, a
second copy would then write to the same disk.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, IsMaster, Silent, VmsHalted
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, host_ref_by_uuid, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import SM_ACTIVATING, SM_HOST_LOCK_PREFIX, VDI, VM, Host

RESETVDIS = "/opt/xensource/sm/resetvdis.py"  # sm's utils/resetvdis, as XCP-ng 8.x and XenServer install it

# One locked disk and the VMs that use it.
LockedDisk = Tuple[VDI, Sequence[VM]]


def declare(holder: Host, master: Host, disks: Sequence[LockedDisk]) -> Step:
    disks = sorted(disks, key=lambda d: d[0].uuid)
    vms = sorted({vm.uuid: vm for _, users in disks for vm in users}.values(), key=lambda v: v.name_label)
    leaked = [vdi for vdi, _ in disks if vdi.activating]
    key = SM_HOST_LOCK_PREFIX + holder.ref
    xe: List[str] = []
    for vdi, _ in disks:
        xe.append(f"{RESETVDIS} single {vdi.uuid} --force   # sm's own tool, on the master")
        xe.append(f"xe vdi-param-remove uuid={vdi.uuid} param-name=sm-config param-key={key}")
        if vdi.activating:
            xe.append(f"xe vdi-param-remove uuid={vdi.uuid} param-name=sm-config param-key={SM_ACTIVATING}")
    names = ", ".join(vdi.name_label or vdi.uuid for vdi, _ in disks)
    return Step(
        id=f"clear-vdi-locks:{holder.name_label}",
        title=f"Clear the disk locks {holder.name_label} left ({len(disks)} disk(s))",
        why=f"{holder.name_label} went down with these disks attached and never released them: sm's "
        f"'{SM_HOST_LOCK_PREFIX}<ref>' keys in VDI.sm_config still name it"
        + (f"; {len(leaked)} of them also hold a leaked '{SM_ACTIVATING}' key" if leaked else "")
        + ". Starting "
        + ", ".join(v.name_label for v in vms)
        + " anywhere fails with SR_BACKEND_FAILURE_46 (The VDI is not available).",
        changes=f"Removes {holder.name_label}'s attach key"
        + (f" and the leaked '{SM_ACTIVATING}' key" if leaked else "")
        + f" from the sm_config of {names} (VDI.remove_from_sm_config), what sm's resetvdis.py does. "
        "Nothing else in sm_config is touched.",
        risk="high",
        risk_text=f"If {holder.name_label} is not really off and still runs one of these VMs, the VM "
        "started next would share its disk with that copy and corrupt it. Hence the fence: stated by "
        "you, and checked silent right now.",
        xe=tuple(xe),
        calls=tuple(
            f"VDI.remove_from_sm_config({vdi.name_label or vdi.uuid}, '{k}')"
            for vdi, _ in disks
            for k in ((SM_HOST_LOCK_PREFIX + "<" + holder.name_label + " ref>"),)
            + ((SM_ACTIVATING,) if vdi.activating else ())
        ),
        preconditions=(
            IsMaster(master.name_label),
            Fenced(holder.name_label),
            Silent(holder.name_label, holder.address),
            VmsHalted(tuple(v.uuid for v in vms)),
        ),
        verify=f"No disk's sm_config names {holder.name_label} or holds '{SM_ACTIVATING}' any more.",
        on_failure="Read xapi's error; run the xe commands above on the master by hand. If a key "
        "comes back, a host is attaching the disk: find it before going on.",
        confirm=Confirm.F8,
        target_host=master.name_label,
        requires_fenced=(holder.name_label,),
        params={
            "host": holder.name_label,
            "host_uuid": holder.uuid,
            "master": master.name_label,
            "vdi_uuids": ",".join(vdi.uuid for vdi, _ in disks),
            "vm_uuids": ",".join(v.uuid for v in vms),
        },
    )


def _host_key(ex: StepRunner, ctx: StepContext) -> str:
    if "host_key" not in ctx.scratch:
        client = ctx.client(master_of(ctx))
        ctx.scratch["host_key"] = SM_HOST_LOCK_PREFIX + host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    key: str = ctx.scratch["host_key"]
    return key


def _locks_left(ex: StepRunner, ctx: StepContext) -> Dict[str, List[Tuple[str, str]]]:
    """VDI ref -> its (key, shown) pairs still in sm_config: the holder's key and `activating`.
    `shown` names the key for the audit, which names objects, never refs."""
    client = ctx.client(master_of(ctx))
    holder = ctx.step.params["host"]
    keys = ((_host_key(ex, ctx), f"{SM_HOST_LOCK_PREFIX}<{holder} ref>"), (SM_ACTIVATING, SM_ACTIVATING))
    refs: Dict[str, str] = ctx.scratch.setdefault("vdi_refs", {})
    left: Dict[str, List[Tuple[str, str]]] = {}
    for uuid in (u for u in ctx.step.params.get("vdi_uuids", "").split(",") if u):
        if uuid not in refs:
            refs[uuid] = ex.call_xapi(ctx, client, "VDI.get_by_uuid", uuid, shown=[uuid])
        sm_config = ex.call_xapi(ctx, client, "VDI.get_sm_config", refs[uuid], shown=[uuid]) or {}
        found = [(key, shown) for key, shown in keys if key in sm_config]
        if found:
            left[uuid] = found
    return left


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    left = _locks_left(ex, ctx)
    ctx.scratch["left"] = left
    if left:
        return ""
    return f"no disk's sm_config names {ctx.step.params['host']} or holds '{SM_ACTIVATING}'"


def action(ex: StepRunner, ctx: StepContext) -> None:
    client = ctx.client(master_of(ctx))
    refs = ctx.scratch["vdi_refs"]
    removed: List[str] = []
    for uuid, keys in ctx.scratch["left"].items():
        for key, shown in keys:
            ctx.say(f"removing {shown} from VDI {uuid}")
            ex.call_xapi(ctx, client, "VDI.remove_from_sm_config", refs[uuid], key, shown=[uuid, shown])
            removed.append(f"{uuid} {shown}")
    ctx.notes.append("removed: " + "; ".join(removed))


def verify(ex: StepRunner, ctx: StepContext) -> str:
    # A fresh read: the keys are gone, and nobody put them back.
    left = _locks_left(ex, ctx)
    if left:
        raise StepFailed(
            "still in sm_config: " + ", ".join(f"{uuid} {shown}" for uuid, keys in left.items() for _, shown in keys)
        )
    holder = ctx.step.params["host"]
    # Remembered like declare-dead's resets: a run interrupted before start-vms still
    # starts these VMs on resume (no finding names them once their disks are free).
    ex.audit.record(
        ex.run_id,
        au.NOTE,
        step_id=ctx.step.id,
        host=holder,
        outcome="vdi-locks-cleared",
        inputs={"reset_vm_uuids": [u for u in ctx.step.params.get("vm_uuids", "").split(",") if u]},
        detail=", ".join(ctx.scratch["vdi_refs"]),
    )
    return f"{len(ctx.scratch['vdi_refs'])} disk(s) no longer locked by {holder}: no key of it, no 'activating'"


STEP = StepKind("clear-vdi-locks", declare=declare, already_done=already_done, action=action, verify=verify)
