"""Forget a dead host's record for good (host.destroy, `xe host-forget`).

xapi_host.ml `destroy`: precheck_destroy_declare_dead refuses with HOST_IS_LIVE
when the host answers (or is the master itself), then HA_IS_ENABLED, then
HOST_HAS_RESIDENT_VMS while any guest VM is still resident on it. The record,
its control domain, PIFs and PBDs go; nothing is sent to the host.

Two cases call for it: a dead record blocks `pool-designate-new-master`
(phase 1 asks every host in the database), and a reinstalled host (new uuid)
must lose its old record before it joins again. The old record's initiator
name (other_config:iscsi_iqn) is written to the audit log before the record
goes: the rejoined host needs it back to reach an iSCSI SAN whose ACL names it.
"""

from __future__ import annotations

from typing import Optional

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, HaOff, IsMaster, NoResidentVms, Silent
from xentui.recovery.step_context import StepContext, StepFailed, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host

# audit NOTE outcome carrying a forgotten record's initiator name (restore_iqn reads it)
OLD_IQN_NOTE = "old-iscsi-iqn"


def declare(dead: Host, master: Host, *, replaced: bool = False, phase: str = "now") -> Step:
    """`replaced`: another installation answers at the host's address (it was
    reinstalled); that is the evidence the old one is gone, no attestation needed.
    `phase`: "later" when it only clears the way for a later step (designate)."""
    iqn = dead.other_config.get("iscsi_iqn", "")
    why = (
        f"{dead.name_label} was reinstalled: the machine at {dead.address} is a new host "
        "(new uuid). Its old record stays offline in the pool until it is forgotten, and "
        "the new install cannot join while it is there."
        if replaced
        else f"{dead.name_label} is dead and its record is still in the pool. "
        "pool-designate-new-master asks every host in the database first and aborts "
        "when one does not answer; so does pool-enable-tls-verification."
    )
    return Step(
        id=f"forget-host:{dead.name_label}",
        title=f"Forget {dead.name_label}'s {'old ' if replaced else ''}record (remove it from the pool)",
        why=why,
        changes=f"Deletes {dead.name_label}'s record, its PIFs and PBDs from the pool database. "
        "Nothing is sent to the host. "
        + (f"Its initiator name {iqn} is written to the audit log first." if iqn else ""),
        risk="high",
        risk_text="Cannot be undone: the host can only come back by a fresh install and pool-join. "
        "xapi refuses while it answers (HOST_IS_LIVE), with HA on (HA_IS_ENABLED) or while VMs "
        "are resident on it (HOST_HAS_RESIDENT_VMS).",
        xe=(f"xe host-forget uuid={dead.uuid} --force",),
        calls=(f"host.destroy({dead.name_label})",),
        preconditions=(() if replaced else (Fenced(dead.name_label),))
        + (
            Silent(dead.name_label, dead.address),
            NoResidentVms(dead.name_label),
            HaOff(),
            IsMaster(master.name_label),
        ),
        verify=f"The pool no longer holds a host with uuid {dead.uuid}.",
        on_failure="HOST_IS_LIVE: xapi reached the host: it is not dead; power it off first. "
        "HA_IS_ENABLED: xe pool-ha-disable. HOST_HAS_RESIDENT_VMS: "
        f"xe host-declare-dead uuid={dead.uuid} --force, then forget it.",
        confirm=Confirm.TYPED_HOST,
        target_host=dead.name_label,
        phase=phase,
        requires_fenced=() if replaced else (dead.name_label,),
        params={
            "host": dead.name_label,
            "host_uuid": dead.uuid,
            "address": dead.address,
            "master": master.name_label,
            "iscsi_iqn": iqn,
        },
    )


def _host_ref(ex: StepRunner, ctx: StepContext, client: object, uuid: str) -> Optional[str]:
    """The record's ref, or None once it is gone (UUID_INVALID)."""
    try:
        ref: str = ex.call_xapi(ctx, client, "host.get_by_uuid", uuid, shown=[uuid])
    except XapiFailure as exc:
        if exc.code == "UUID_INVALID":
            return None
        raise
    return ref


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    ref = _host_ref(ex, ctx, ctx.client(master_of(ctx)), p["host_uuid"])
    if ref is None:
        return f"{p['host']}'s record ({p['host_uuid']}) is no longer in the pool"
    ctx.scratch["host_ref"] = ref
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    p = ctx.step.params
    name, uuid, ref = p["host"], p["host_uuid"], ctx.scratch["host_ref"]
    client = ctx.client(master_of(ctx))
    # Before it goes: the initiator name the SAN's ACL may know this host by.
    other = ex.call_xapi(ctx, client, "host.get_other_config", ref, shown=[name])
    iqn = str(other.get("iscsi_iqn", "")) if isinstance(other, dict) else ""
    ex.audit.record(
        ex.run_id,
        au.NOTE,
        step_id=ctx.step.id,
        host=name,
        outcome=OLD_IQN_NOTE,
        inputs={"host_uuid": uuid, "iscsi_iqn": iqn},
        detail=f"{name}'s initiator name before its record is forgotten: {iqn or '(none)'}",
    )
    if iqn:
        ctx.notes.append(f"{name}'s old initiator name (kept in the audit log): {iqn}")
    ex.call_xapi(ctx, client, "host.destroy", ref, shown=[name, uuid])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    p = ctx.step.params
    if _host_ref(ex, ctx, ctx.client(master_of(ctx)), p["host_uuid"]) is not None:
        raise StepFailed(f"host.destroy returned but {p['host']}'s record ({p['host_uuid']}) is still in the pool")
    return f"{p['host']}'s record ({p['host_uuid']}) is no longer in the pool"


STEP = StepKind("forget-host", declare=declare, already_done=already_done, action=action, verify=verify)
