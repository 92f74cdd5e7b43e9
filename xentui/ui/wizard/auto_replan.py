"""Re-build the wizard's plan by itself when what is found changes before
anything has happened (issue 13: `r` pressed before the other hosts answered
gives a plan without the steps for a cause another host reports, e.g. a member
rejecting the coordinator's certificate).

It is safe only while the plan is untouched: the overview is shown, no step
has a status (nothing ran, nothing refused, no resumed run), no choice or
attestation was made. Then a new plan from the new observation is what `r`
would have given a moment later. Once anything happened, the plan stays as it
is: the executor re-checks every step live anyway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, FrozenSet, Optional, Tuple

from xentui.ui.wizard.machine import WizardState
from xentui.ui.wizard.runlog import preferred_master

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.observation import Observation
    from xentui.recovery.plan import Plan

Signature = FrozenSet[Tuple[str, str, str]]


def findings_signature(obs: Optional["Observation"]) -> Optional[Signature]:
    """What a plan depends on most visibly: each finding's code and host, and
    what each other host's xapi said (or that it was not asked yet)."""
    if obs is None:
        return None
    found = {("finding", getattr(f.code, "value", str(f.code)), f.host or "") for f in obs.findings}
    peers = {("peer", v.host_name, f"{v.reach}/{v.role}") for v in getattr(obs, "peer_views", ())}
    pending = {("peers-pending", "", "")} if getattr(obs, "peers_pending", False) else set()
    return frozenset(found | peers | pending)


def untouched(wizard: Any) -> bool:
    """Nothing has happened in this wizard yet (see the module text)."""
    if wizard.state is not WizardState.OVERVIEW:
        return False
    if wizard.choices or wizard.attested or wizard.resume_info.run_id:
        return False
    return all(wizard.progress.status(s.id) == "pending" for s in wizard.steps)


def replan(wizard: Any, obs: "Observation", build: Any) -> Optional["Plan"]:
    """A new plan for `obs` when the findings or the peers' answers changed
    since the last check (the first check: always) and the wizard is untouched,
    and that plan differs from the one shown; else None.
    `build`: plan_builder.build_plan."""
    signature = findings_signature(obs)
    if signature is None or signature == wizard.planned_findings:
        return None
    if not untouched(wizard):
        return None
    plan: "Plan" = build(obs, preferred_master=preferred_master(wizard.plan))
    wizard.planned_findings = signature
    old = [s.id for s in wizard.steps]
    same = list(plan.notes) == list(wizard.plan.notes) and list(plan.stop) == list(wizard.plan.stop)
    if [s.id for s in plan.steps] == old and same:
        return None
    return plan
