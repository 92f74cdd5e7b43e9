"""Diagnosis: from one observation to findings a seasoned admin would name.

Pure logic, no I/O: `diagnose()` reads the live snapshot (or the state.db
fallback), the emergency state, the connection state and the ground truth
(pool.conf, inventory, management link, peer probes) and returns findings,
most severe first. The rules live in `xentui.recovery.rules`.

Whether the pool is healthy also depends on the workload, which only the
recovery run's audit record knows once `host.declare_dead` has reset the
dead host's VMs: `with_run_record` re-diagnoses an observation with it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional, Tuple

from xentui.recovery.findings import Finding
from xentui.recovery.observation import Observation

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.run_record import RunRecord


def diagnose(observation: Observation, run_record: Optional["RunRecord"] = None) -> Tuple[Finding, ...]:
    """Findings for an observation (its own `findings` field is ignored).
    `run_record`: the recovery run's `run_record.RunRecord`, if any."""
    from xentui.recovery.rules import run_rules

    return run_rules(observation, run_record=run_record)


def with_run_record(observation: Observation, run_record: Optional["RunRecord"]) -> Observation:
    """The observation with findings that include the run's workload (the
    same observation when there is no baseline to compare with)."""
    if run_record is None or not getattr(run_record, "baseline", ()):
        return observation
    return dataclasses.replace(observation, findings=diagnose(observation, run_record))
