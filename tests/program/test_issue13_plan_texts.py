"""The findings of issue 13's scenarios as `xentui recover --plan` prints them:
each fits an 80-column console and the whole output draws only CP437 glyphs
(the wizard's pages of the same plans: tests/ui/test_wizard_sim.py
test_every_plan_renders_read_only_at_80x24_in_cp437)."""

from __future__ import annotations

import pytest

from tests.program.scenario_cli import run
from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.test_sim_failures import SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plan_findings_fit_80_columns_in_cp437(tmp_path, scenario):
    with start_sim(scenario, tmp_path / "sim") as sim:
        plan = run("recover", f"sim:{sim.state_dir}", "--plan", "--call-timeout", "2")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    plan.stdout.encode("cp437")
    lines = plan.stdout.splitlines()
    start = lines.index("Findings:")
    block = lines[start + 1 : lines.index("", start)]
    assert block, plan.stdout
    assert all(len(line) <= 80 for line in block), block
