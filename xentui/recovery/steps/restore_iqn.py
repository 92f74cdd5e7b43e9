"""Give a rejoined host its old iSCSI initiator name back, plug its storage, enable it.

A reinstall brings a new initiator name (IQN); a SAN whose access list names
the old one refuses the new one, so the host's PBD on the iSCSI SR fails with
SR_BACKEND_FAILURE_47 after the join. xapi_host.ml `set_iscsi_iqn` (forwarded
to the host: message_forwarding.ml do_op_on) writes host.iscsi_iqn, the legacy
other_config:iscsi_iqn and the host's /etc/iscsi/initiatorname.iscsi; then the
PBDs plug and the host is enabled. The old name comes from the old record,
written to the audit log by forget-host before the record went.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Answers, IsMaster
from xentui.recovery.step_context import (
    StepContext,
    StepFailed,
    StepRunner,
    host_ref_by_uuid,
    master_of,
)
from xentui.recovery.step_kind import StepKind
from xentui.recovery.steps.forget_host import OLD_IQN_NOTE
from xentui.xapi.errors import XapiFailure
from xentui.xapi.model import Host


def declare(name: str, new_uuid: str, old_iqn: str, master: Host) -> Step:
    return Step(
        id=f"restore-iqn:{name}",
        title=f"Give {name} its old iSCSI name back, plug its storage, enable it",
        why=f"The reinstall gave {name} a new iSCSI initiator name; the SAN admits the old one "
        f"({old_iqn}), so {name}'s iSCSI storage fails to plug (SR_BACKEND_FAILURE_47) until it is back.",
        changes=f"Sets {name}'s initiator name to {old_iqn}, plugs {name}'s unplugged PBDs and enables {name}.",
        risk="low",
        risk_text="Two hosts must never share an initiator name: the old record is gone, so the name is free. "
        "If the SAN's access list was changed to the new name instead, skip this step.",
        xe=(
            f"xe host-param-set uuid={new_uuid} iscsi_iqn={old_iqn}",
            f"xe pbd-plug uuid=<pbd>   # each unplugged PBD of {name}",
            f"xe host-enable uuid={new_uuid}",
        ),
        calls=(f"host.set_iscsi_iqn({name}, {old_iqn})", "PBD.plug(pbd)", f"host.enable({name})"),
        preconditions=(Answers(name), IsMaster(master.name_label)),
        verify=f"{name}'s initiator name is {old_iqn}, every PBD of {name} is attached and {name} is enabled.",
        on_failure="SR_BACKEND_FAILURE_47 again: the SAN does not admit the old name either: add "
        f"{name}'s initiator name to the SAN's access list, then xe pbd-plug and xe host-enable.",
        confirm=Confirm.ENTER,
        target_host=name,
        params={"host": name, "host_uuid": new_uuid, "iscsi_iqn": old_iqn, "master": master.name_label},
    )


def _old_iqn(ex: StepRunner, ctx: StepContext) -> str:
    """The plan's value, else what forget-host wrote to the audit log (a resumed run)."""
    iqn = ctx.step.params.get("iscsi_iqn", "")
    if iqn:
        return iqn
    name = ctx.step.params["host"]
    for record in reversed(list(ex.audit.records())):
        if getattr(record, "outcome", "") == OLD_IQN_NOTE and getattr(record, "host", "") == name:
            inputs: Dict[str, Any] = dict(getattr(record, "inputs", None) or {})
            if inputs.get("iscsi_iqn"):
                return str(inputs["iscsi_iqn"])
    return ""


def _state(ex: StepRunner, ctx: StepContext) -> Tuple[str, List[str], bool]:
    """(initiator name, unplugged PBDs, enabled) of the host, read from xapi."""
    name = ctx.step.params["host"]
    client = ctx.client(master_of(ctx))
    if "host_ref" not in ctx.scratch:
        ctx.scratch["host_ref"] = host_ref_by_uuid(ex, ctx, client, ctx.step.params["host_uuid"])
    ref = ctx.scratch["host_ref"]
    iqn = str(ex.call_xapi(ctx, client, "host.get_iscsi_iqn", ref, shown=[name]))
    pbds = list(ex.call_xapi(ctx, client, "host.get_PBDs", ref, shown=[name]))
    unplugged = [pbd for pbd in pbds if not ex.call_xapi(ctx, client, "PBD.get_currently_attached", pbd)]
    enabled = bool(ex.call_xapi(ctx, client, "host.get_enabled", ref, shown=[name]))
    ctx.scratch["pbd_count"] = len(pbds)
    return iqn, unplugged, enabled


def already_done(ex: StepRunner, ctx: StepContext) -> str:
    name = ctx.step.params["host"]
    iqn = _old_iqn(ex, ctx)
    if not iqn:
        raise StepFailed(f"the old initiator name of {name} is not known (not in the plan nor the audit log)")
    ctx.scratch["iqn"] = iqn
    current, unplugged, enabled = _state(ex, ctx)
    ctx.scratch["before"] = (current, unplugged, enabled)
    if current == iqn and not unplugged and enabled:
        return f"{name} already has {iqn}, its storage plugged and is enabled"
    return ""


def action(ex: StepRunner, ctx: StepContext) -> None:
    name, iqn, ref = ctx.step.params["host"], ctx.scratch["iqn"], ctx.scratch["host_ref"]
    current, unplugged, _ = ctx.scratch["before"]
    client = ctx.client(master_of(ctx))
    if current != iqn:
        ex.call_xapi(ctx, client, "host.set_iscsi_iqn", ref, iqn, shown=[name, iqn])
    failed: List[str] = []
    for pbd in unplugged:
        try:
            ex.call_xapi(ctx, client, "PBD.plug", pbd, shown=[name])
        except XapiFailure as exc:
            failed.append(" ".join(exc.details))
    if failed:
        raise StepFailed(
            f"{name}'s storage still does not plug with {iqn}: {'; '.join(failed)}. Add {name}'s "
            "initiator name to the SAN's access list, then xe pbd-plug and xe host-enable."
        )
    if not ex.call_xapi(ctx, client, "host.get_enabled", ref, shown=[name]):
        ex.call_xapi(ctx, client, "host.enable", ref, shown=[name])


def verify(ex: StepRunner, ctx: StepContext) -> str:
    name, iqn = ctx.step.params["host"], ctx.scratch["iqn"]
    now_iqn, left, enabled = _state(ex, ctx)
    if now_iqn != iqn or left or not enabled:
        raise StepFailed(f"after the step: {name} iqn {now_iqn}, {len(left)} PBD(s) unplugged, enabled={enabled}")
    return f"{name}: initiator name {iqn}, {ctx.scratch['pbd_count']} PBD(s) attached, enabled"


STEP = StepKind("restore-iqn", declare=declare, already_done=already_done, action=action, verify=verify)
