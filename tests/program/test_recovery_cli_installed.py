"""The installed `xentui` command (a separate process) against a simulator
running in this test process: --plan output, --json, and the exit codes."""

from __future__ import annotations

import json
import os

from tests.program.scenario_cli import run
from tests.recovery.test_recovery_scenarios import start_sim


def test_installed_recover_plan_and_run(tmp_path):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    with start_sim("master-down", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}"
        plan = run("recover", target, "--plan", "--call-timeout", "2", env=env)
        assert plan.returncode == 0, plan.stderr
        assert "Nothing has been changed." in plan.stdout
        assert "xe pool-emergency-transition-to-master" in plan.stdout
        assert "--confirm-dead xen1" in plan.stdout
        doc = json.loads(run("recover", target, "--json", "--call-timeout", "2", env=env).stdout)
        assert doc["this_host"] == "xen2" and doc["plan"]["requires_fenced"] == ["xen1"]
        assert "xenroot" not in plan.stdout + json.dumps(doc)
        refused = run("recover", target, "--run", "--call-timeout", "2", "--time-scale", "0.01", env=env)
        assert refused.returncode == 3, refused.stdout
        ok = run(
            "recover",
            target,
            "--run",
            "--confirm-dead",
            "xen1",
            "--call-timeout",
            "2",
            "--time-scale",
            "0.01",
            "--verify-timeout",
            "15",
            env=env,
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        assert sim.world.double_starts == []
    report = run("report", "-o", str(tmp_path / "r.md"), env=env)
    assert report.returncode == 0 and (tmp_path / "r.md").read_text().startswith("# Pool incident report")
    bad = run("recover", "sim:/nonexistent/dir", "--plan", env=env)
    assert bad.returncode == 2 and "no simulator" in bad.stderr
