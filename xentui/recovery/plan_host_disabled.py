"""The steps for HOST_DISABLED with a known cause (issue 13, host-left-disabled).

A host that answers and stays disabled because of pending mandatory guidance,
or (HA on) a PBD that did not plug (rules.rule_host_disabled's `cause`):
clear the guidance on it, plug its PBDs (the builder's plug-pbds step,
planned before these), enable it. A host disabled with no such cause (an
admin's maintenance, or a member still rejoining) gets no step:
re-enabling it is not xentui's call.
"""

from __future__ import annotations

from typing import List, Mapping, Sequence

from xentui.recovery.findings import Code, Finding
from xentui.recovery.plan import Step
from xentui.recovery.situation import Situation
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def plan_host_enable(
    s: Situation, findings: Sequence[Finding], master: Host, kinds: Mapping[str, StepKind]
) -> List[Step]:
    steps: List[Step] = []
    for f in findings:
        if f.code is not Code.HOST_DISABLED or not f.data.get("cause"):
            continue
        host = s.snap.host_by_name(f.host)
        if host is None or s.is_down(host):
            continue
        if host.pending_guidances:
            steps.append(kinds["clear-mandatory-guidance"](host, master))
        steps.append(kinds["host-enable"](host, master))
    return steps
