"""ha-mismatch-no-statefile through `xentui recover` from the coordinator's console:
the plan never re-enables HA while its statefile is lost (xapi_ha.ml `enable` fails
on the statefile attach, VDI_NOT_AVAILABLE) and says what to type once the
heartbeat SR is back; a run resumed with --later does not try it either."""

from __future__ import annotations

from tests.program.scenario_cli import (
    SCALE,
    cli_state_dir,  # noqa: F401 - autouse: xentui's state under tmp_path
    ran_steps,
    run_cli,
    run_cli_killed_at,
)
from tests.recovery.test_recovery_scenarios import start_sim
from xentui.cli import main as xentui_main

STAYS_OFF = "HA stays off until its heartbeat statefile SR is back"


def _san_uuid(sim) -> str:
    db = sim.proc("xen2").db or sim.proc("xen1").db
    with sim.world.lock:
        if db is not None:
            return str(db.get_field("SR", db.find("SR", name_label="SAN")[0], "uuid"))
    raise AssertionError("no host serves a database")


def test_plan_from_the_coordinator_leaves_ha_off_and_names_the_command(tmp_path, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("ha-mismatch-no-statefile", state_dir=sim_dir, time_scale=SCALE):
        code = xentui_main(["recover", f"sim:{sim_dir}/xen1", "--plan", "--probe-timeout", "0.5"])
        out = capsys.readouterr().out
    assert code == 0, out
    assert "(enable-ha)" not in out and "Re-enable HA" not in out, out
    notes = [line for line in out.splitlines() if line.startswith(f"NOTE: {STAYS_OFF}")]
    assert len(notes) == 1, out
    assert "'xe pool-ha-enable heartbeat-sr-uuids=" in notes[0], notes


def test_resumed_with_later_never_tries_enable_ha(tmp_path, capsys, monkeypatch):
    """Killed once every host is disarmed; resumed with --later (the later steps
    included): no enable-ha, the pool ends healthy with HA off and the run says so
    last; a plan made afterwards (a new run: the audit log tells the statefile was
    lost) still names the command instead of planning the step."""
    from xentui.recovery.steps import member_restart

    sim_dir = tmp_path / "sim"
    with start_sim("ha-mismatch-no-statefile", state_dir=sim_dir, time_scale=SCALE) as sim:
        run_cli_killed_at(capsys, monkeypatch, member_restart, "member_back", f"sim:{sim_dir}/xen1")
        assert not sim.proc("xen1").emergency and not sim.proc("xen1").ha_armed
        code, out = run_cli(capsys, f"sim:{sim_dir}/xen1", "--later")
        assert code == 0, out
        assert "(resuming)" in out and "enable-ha" not in ran_steps(out), out
        assert "Pool verified healthy" in out, out
        assert out.splitlines()[-1].startswith(f"NOTE: {STAYS_OFF}"), out  # said last
        san = _san_uuid(sim)
        code = xentui_main(["recover", f"sim:{sim_dir}/xen1", "--plan", "--probe-timeout", "0.5"])
        plan = capsys.readouterr().out
        db = sim.proc("xen1").db
        with sim.world.lock:
            assert db.get_field("pool", db.refs("pool")[0], "ha_enabled") is False
    assert code == 0, plan
    assert "(enable-ha)" not in plan, plan
    assert f"'xe pool-ha-enable heartbeat-sr-uuids={san}'" in plan, plan
