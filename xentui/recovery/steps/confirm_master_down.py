"""Confirm the old master is really down: probe it and record the operator's fence attestation."""

from __future__ import annotations

from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import Fenced, Silent
from xentui.recovery.step_context import StepContext, StepRunner
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(old: Host) -> Step:
    return Step(
        id=f"confirm-master-down:{old.name_label}",
        title=f"Confirm the old master {old.name_label} is really down",
        why="Promoting a member while the old master still runs makes two masters that both write "
        "to shared storage (split brain). A host that is merely cut off from the network can "
        "still run VMs.",
        changes="Nothing. It probes the old master and records your attestation that it is powered "
        "off (via its BMC or at the machine) and will stay off.",
        risk="none",
        risk_text="No change. The attestation is yours: if the host only looks dead (network "
        "partition), every later step can corrupt data.",
        xe=(
            f"ping -c 3 {old.address}",
            f"# power it off through its BMC, e.g.: ipmitool -H <bmc-of-{old.name_label}> chassis power off",
        ),
        calls=("tcp connect to xapi", "session.login_with_password (role probe)"),
        preconditions=(Silent(old.name_label, old.address), Fenced(old.name_label)),
        verify=f"{old.name_label} refuses or ignores connections and you typed its name as fenced.",
        on_failure=f"If {old.name_label} still answers, it is not dead: fix the network or power it "
        "off first. Never promote while it answers.",
        # The fence attestation (requires_fenced) already has the operator type the
        # host's name; a second typed confirmation for a step that changes nothing
        # would only teach people to type names without reading.
        confirm=Confirm.ENTER,
        target_host=old.name_label,
        requires_fenced=(old.name_label,),
        params={"host": old.name_label, "host_uuid": old.uuid, "address": old.address},
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    """Nothing to call: the operator's attestation (recorded by the executor) is the step."""


def verify(ex: StepRunner, ctx: StepContext) -> str:
    host = ctx.step.params.get("host", ctx.step.target_host)
    h = ctx.sit.snap.host_by_name(host)
    st = ctx.sit.state(h) if h is not None else None
    return f"{host}: {st.evidence if st is not None else 'no answer'}; attested fenced by the operator"


STEP = StepKind("confirm-master-down", declare=declare, action=action, verify=verify)
