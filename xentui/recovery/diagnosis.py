"""Diagnosis: from one observation to findings a seasoned admin would name.

Pure logic, no I/O: `diagnose()` reads the live snapshot (or the state.db
fallback), the emergency state, the connection state and the ground truth
(pool.conf, inventory, management link, peer probes) and returns findings,
most severe first. The rules live in `xentui.recovery.rules`.
"""

from __future__ import annotations

from typing import Tuple

from xentui.recovery.findings import Finding
from xentui.recovery.observation import Observation


def diagnose(observation: Observation) -> Tuple[Finding, ...]:
    """Findings for an observation (its own `findings` field is ignored)."""
    from xentui.recovery.rules import run_rules

    return run_rules(observation)
