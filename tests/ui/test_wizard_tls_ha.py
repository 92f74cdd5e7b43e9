"""tls-verify-fail and ha-armed-mismatch through the wizard by keys alone, to a
pool verified healthy through the real XenAPI SDK; the keys are counted (the
note's figures: wizard keystrokes against the `xe` commands typed by hand)."""

from __future__ import annotations

import pytest

from tests.program.tls_ha_health import assert_ha_repaired, assert_pool_healthy, assert_tls_repaired, running_vms
from tests.ui.test_wizard_sim import TIME_SCALE, keys_to_healthy_summary, open_recovery
from xentui.sim.runner import Simulator

EXPECTED = {
    "tls-verify-fail": ["tls-disable:xen2", "tls-refresh-certificate:xen1", "tls-reenable:xen2"],
    "ha-armed-mismatch": ["pool-ha-disable", "member-restart:xen3", "enable-ha", "check-coordinator:xen1"],
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
async def test_scenario_recovered_by_keyboard(tmp_path, scenario):
    sim = Simulator.start(scenario, tmp_path / "sim", time_scale=TIME_SCALE)
    observer = None
    try:
        before = running_vms(sim, "xen1")
        observer, audit, executor, plan = open_recovery(sim, tmp_path / "audit.jsonl")
        ids = [s.id for s in plan.now_steps]
        assert ids[: len(EXPECTED[scenario])] == EXPECTED[scenario], ids
        keys = await keys_to_healthy_summary(observer, plan, executor, audit, tmp_path / "reports")
        print(f"{scenario}: {keys} keystrokes from the overview to the summary")
        assert_pool_healthy(sim, "xen1", before)
        if scenario == "tls-verify-fail":
            assert_tls_repaired(sim, "xen1")
        else:
            assert_ha_repaired(sim, "xen1")
    finally:
        if observer is not None:
            observer.close()
        sim.stop()
