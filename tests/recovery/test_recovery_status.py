"""`xentui status` carries the recovery findings (the findings and exit codes
are RECOVERY's; the rendering is the status command's)."""

from __future__ import annotations

import json

from tests.recovery.test_recovery_scenarios import start_sim
from xentui.cli import main


def test_status_json_has_the_seed_article_findings(tmp_path, capsys):
    with start_sim("master-down", tmp_path):
        code = main(["status", f"sim:{tmp_path}", "--call-timeout", "1", "--json"])
        out, err = capsys.readouterr()
    assert code == 2, err  # critical
    data = json.loads(out)
    assert {f["code"] for f in data["findings"]} == {"EMERGENCY_MODE", "MASTER_UNREACHABLE", "VMS_ON_DEAD_HOST"}
    assert data["worst"] == "critical"
    assert "xenroot" not in out


def test_status_of_a_recovered_pool_is_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XENTUI_STATE_DIR", str(tmp_path / "state"))
    with start_sim("master-down", tmp_path / "sim"):
        assert (
            main(
                [
                    "recover",
                    f"sim:{tmp_path / 'sim'}",
                    "--run",
                    "--confirm-dead",
                    "xen1",
                    "--call-timeout",
                    "2",
                    "--time-scale",
                    "0.01",
                    "--verify-timeout",
                    "10",
                ]
            )
            == 0
        )
        capsys.readouterr()
        code = main(["status", f"sim:{tmp_path / 'sim'}", "--call-timeout", "2"])
        out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "POOL_HEALTHY" in out
