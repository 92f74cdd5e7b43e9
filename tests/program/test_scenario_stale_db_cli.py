"""stale-db end to end through the installed `xentui recover`: at the stale
member's console the plan names the fresh member and refuses to promote from
there, changing nothing; at the fresh member's console `--run` takes the pool
to healthy, verified through the real XenAPI SDK, with the change only the
fresh copy holds (new01) kept."""

from __future__ import annotations

import os
from pathlib import Path

from tests.program.scenario_cli import run
from tests.recovery.test_recovery_scenarios import start_sim
from tests.recovery.test_stale_db_choice import minutes_old
from tests.ui.test_wizard_sim import sdk_session

# The VMs running when the master died (web01 and new01 on it): all must run again.
RAN_BEFORE = ("web01", "db01", "app01", "new01")


def assert_stale_db_recovered(sim, master: str = "xen3") -> None:
    """Every survivor live, enabled and following `master`; no emergency mode;
    every VM that ran before runs (exactly once); new01, which only the fresh
    copy had, exists."""
    session = sdk_session(sim, master)
    try:
        api = session.xenapi
        pool = api.pool.get_all()[0]
        assert api.host.get_name_label(api.pool.get_master(pool)) == master
        assert api.host.is_in_emergency_mode() is False
        hosts = {api.host.get_name_label(h): h for h in api.host.get_all()}
        for name in ("xen2", "xen3"):
            assert api.host_metrics.get_live(api.host.get_metrics(hosts[name])) is True, name
            assert api.host.get_enabled(hosts[name]) is True, name
        for name in RAN_BEFORE:
            vms = api.VM.get_by_name_label(name)
            assert len(vms) == 1, name
            assert api.VM.get_power_state(vms[0]) == "Running", name
            assert api.host.get_name_label(api.VM.get_resident_on(vms[0])) in ("xen2", "xen3"), name
    finally:
        session.xenapi.session.logout()
    member = sim.proc("xen2")
    assert member.role == "slave" and member.master_address == sim.endpoints.host(master).address
    assert not member.emergency
    assert sim.world.double_starts == []


def test_stale_db_recovered_from_the_fresh_members_console(tmp_path):
    common = ("--call-timeout", "2", "--time-scale", "0.01", "--verify-timeout", "15")
    with start_sim("stale-db", tmp_path / "sim") as sim:
        # Each console is its own machine: its own audit log.
        at_xen2 = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "xen2-state"))
        at_xen3 = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "xen3-state"))
        plan = run("recover", f"sim:{sim.state_dir}/xen2", "--plan", "--call-timeout", "2", env=at_xen2)
        assert plan.returncode == 0, plan.stderr
        out = " ".join(plan.stdout.split())
        assert "STALE_DB_CHOICE Promote xen3: newest database copy" in out, plan.stdout
        assert "Promote xen3 to pool master [promote:xen3, risk high]" in out
        assert "xentui runs on xen3's console" in out
        assert "xen2: generation" in out and 15 <= minutes_old(out, "writes behind xen3),") <= 17, out

        refused = run("recover", f"sim:{sim.state_dir}/xen2", "--run", "--confirm-dead", "xen1", *common, env=at_xen2)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "Stopped: promote:xen3 was refused" in refused.stdout
        assert "run xentui on xen3's console" in refused.stdout
        assert "recover: --promote xen2" in refused.stdout  # the way to promote xen2 anyway
        for name in ("xen2", "xen3"):  # nothing changed: both still members of the dead master, in emergency
            proc = sim.proc(name)
            assert proc.role == "slave" and proc.emergency, name
            assert (Path(sim.endpoints.host(name).root) / "etc/xensource/pool.conf").read_text().startswith("slave:")

        chosen = run("recover", f"sim:{sim.state_dir}/xen2", "--promote", "xen2", "--call-timeout", "2", env=at_xen2)
        assert chosen.returncode == 0, chosen.stderr
        out = " ".join(chosen.stdout.split())
        assert "Promote xen2 to pool master [promote:xen2, risk high]" in out
        assert "You chose xen2 over xen3, whose copy is newer" in out
        unknown = run("recover", f"sim:{sim.state_dir}/xen2", "--promote", "xen9", "--call-timeout", "2", env=at_xen2)
        assert unknown.returncode == 2 and "--promote xen9: no such host" in unknown.stderr

        ok = run("recover", f"sim:{sim.state_dir}/xen3", "--run", "--confirm-dead", "xen1", *common, env=at_xen3)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        assert "[ok] done: xen3 answers as master" in ok.stdout
        assert_stale_db_recovered(sim, "xen3")
