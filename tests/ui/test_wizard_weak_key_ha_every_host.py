"""tls-weak-key and ha-mismatch-no-statefile through the wizard by keys alone
(from each scenario's console), to a pool verified healthy through the real
XenAPI SDK; the keys are counted for the note."""

from __future__ import annotations

import pytest

from tests.program.tls_ha_health import assert_pool_healthy, assert_tls_repaired, running_vms
from tests.ui.test_wizard_sim import TIME_SCALE, keys_to_healthy_summary, open_recovery
from xentui.sim import tls_state
from xentui.sim.runner import Simulator

EXPECTED = {
    "tls-weak-key": ["tls-disable:xen2", "tls-disable:xen3", "tls-refresh-certificate:xen1"],
    "ha-mismatch-no-statefile": [
        "ha-emergency-disable:xen1",
        "ha-emergency-disable:xen2",
        "ha-emergency-disable:xen3",
        "member-restart:xen3",
        "check-coordinator:xen1",
    ],
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
async def test_scenario_recovered_by_keyboard(tmp_path, scenario):
    sim = Simulator.start(scenario, tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        observer, audit, executor, plan = open_recovery(sim, tmp_path / "audit.jsonl")
        ids = [s.id for s in plan.now_steps]
        assert ids[: len(EXPECTED[scenario])] == EXPECTED[scenario], ids
        keys = await keys_to_healthy_summary(observer, plan, executor, audit, tmp_path / "reports")
        print(f"{scenario}: {keys} keystrokes from the overview to the summary")
        ran = running_vms(sim, "xen1")
        assert {"web01", "db01", "app01"} <= set(ran), ran  # what ran before the incident
        assert_pool_healthy(sim, "xen1", ran)
        if scenario == "tls-weak-key":
            assert_tls_repaired(sim, "xen1")
            assert sim.proc("xen1").tls.internal.key_bits == tls_state.GENERATED_KEY_BITS
        else:
            assert not any(sim.proc(h).ha_armed for h in ("xen1", "xen2", "xen3"))
    finally:
        if observer is not None:
            observer.close()
        sim.stop()
