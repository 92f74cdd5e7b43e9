"""Issue 13 items 5 and 6 through the installed command: `xentui recover --run`
takes designate-dead-record and rejoin-rebuilt to a pool verified healthy
through the real XenAPI SDK."""

from __future__ import annotations

import json
import os

from tests.program.rejoin_health import assert_pool_healthy, host_iqns, running_vms
from tests.program.scenario_cli import run
from tests.recovery.test_recovery_scenarios import start_sim
from tests.ui.test_wizard_sim import sdk_session

COMMON = ("--call-timeout", "2", "--time-scale", "0.01", "--verify-timeout", "15")


def test_designate_dead_record_forgets_it_then_hands_over(tmp_path):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    with start_sim("designate-dead-record", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}/xen2"
        before = running_vms(sim, "xen2")
        assert before, "the scenario runs VMs"
        plan = run("recover", target, "--plan", "--prefer-master", "xen3", *COMMON[:2], env=env)
        assert plan.returncode == 0, plan.stderr
        text = plan.stdout
        assert text.index("[forget-host:xen1") < text.index("[designate-master:xen3")
        assert "xe host-forget uuid=" in text and "--force" in text
        assert "Every host answers" in text  # designate's live check
        # Without the attestation nothing runs (the forget is typed-host-name level).
        refused = run("recover", target, "--run", "--prefer-master", "xen3", "--later", *COMMON, env=env)
        assert refused.returncode == 3, refused.stdout
        assert "--confirm-dead xen1" in refused.stdout
        ok = run(
            "recover", target, "--run", "--prefer-master", "xen3", "--later", "--confirm-dead", "xen1", *COMMON, env=env
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        assert_pool_healthy(sim, "xen3", ["xen2", "xen3"], before)
        audit = (tmp_path / "state" / "audit.jsonl").read_text()
        assert "old-iscsi-iqn" in audit and sim.endpoints.root_password not in audit


def test_rejoin_rebuilt_from_the_master(tmp_path):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    with start_sim("rejoin-rebuilt", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}/xen2"
        before = running_vms(sim, "xen2")
        old_iqn = host_iqns(sim, "xen2")["xen1"]
        new_uuid = sim.world.procs["xen1"].machine.uuid
        plan = run("recover", target, "--plan", *COMMON[:2], env=env)
        assert plan.returncode == 0, plan.stderr
        text = plan.stdout
        assert "HOST_REBUILT" in text and "TWO_MASTERS" not in text
        order = ["[forget-host:xen1", "[pool-enable-tls:xen2", "[pool-join:xen1", "[restore-iqn:xen1"]
        assert [text.index(s) for s in order] == sorted(text.index(s) for s in order), text
        assert f"iscsi_iqn={old_iqn}" in text
        ok = run("recover", target, "--run", *COMMON, env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        uuids = assert_pool_healthy(sim, "xen2", ["xen1", "xen2", "xen3"], before)
        assert uuids["xen1"] == new_uuid
        assert host_iqns(sim, "xen2")["xen1"] == old_iqn
        audit = (tmp_path / "state" / "audit.jsonl").read_text()
        assert old_iqn in audit  # written before the old record went
        assert sim.endpoints.root_password not in audit + ok.stdout + ok.stderr


def test_a_host_left_broken_by_a_failed_handover_is_made_master(tmp_path):
    """xapi_pool_transition.ml: a host that fails phase 2 (commit_new_master)
    leaves the new master Broken (HOST_BROKEN); the plan on its console is the
    emergency transition to master, then pool.recover_slaves."""
    from tests.sim.sessions import make_tcp_session, wait_until

    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    with start_sim("healthy", tmp_path / "sim") as sim:
        ep = sim.endpoints.host("xen1")
        session = make_tcp_session(ep.address, ep.port)
        session.login_with_password("root", sim.endpoints.root_password)
        hosts = {session.xenapi.host.get_name_label(h): h for h in session.xenapi.host.get_all()}
        before = running_vms(sim, "xen1")
        # xen3 dies between the phases: it never commits.
        sim.proc("xen2").between_commit_phases = lambda: sim.faults.power_off("xen3")
        session.xenapi.pool.designate_new_master(hosts["xen2"])
        xen2 = sim.proc("xen2")
        wait_until(lambda: xen2.up and xen2.role == "broken" and xen2.emergency, 10, what="xen2 broken")
        target = f"sim:{tmp_path / 'sim'}/xen2"
        plan = run("recover", target, "--plan", *COMMON[:2], env=env)
        text = plan.stdout
        assert text.index("[recover-broken:xen2") < text.index("[recover-members")
        ok = run("recover", target, "--run", "--confirm-dead", "xen3", *COMMON, env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        session = sdk_session(sim, "xen2")
        try:
            api = session.xenapi
            assert api.host.get_name_label(api.pool.get_master(api.pool.get_all()[0])) == "xen2"
            assert api.host.is_in_emergency_mode() is False
            for uuid in before:  # xen3's VMs were restarted on the survivors
                assert api.VM.get_power_state(api.VM.get_by_uuid(uuid)) == "Running", uuid
        finally:
            session.xenapi.session.logout()
        xen1 = sim.proc("xen1")
        assert xen1.role == "slave" and xen1.master_address == sim.endpoints.host("xen2").address
        assert not xen1.emergency and sim.world.double_starts == []


def test_rejoin_rebuilt_from_the_rebuilt_hosts_console(tmp_path):
    """On xen1, the reinstall: its plan cannot know the pool it left, and says
    the exact command (the master's address is the admin's to give). Given it
    (sim:DIR/<address>, as `xentui recover root@<address>` from xen1's shell),
    the run forgets the old record and runs pool.join on xen1 with the
    master's address, to a pool verified healthy through the SDK."""
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    with start_sim("rejoin-rebuilt", tmp_path / "sim") as sim:
        here = run("recover", f"sim:{tmp_path / 'sim'}/xen1", "--plan", *COMMON[:2], env=env)
        assert here.returncode == 0, here.stderr
        text = " ".join(here.stdout.split())
        assert "If it is a reinstalled former pool member" in text
        assert "xentui recover root@<master-address> --run" in text and "M asks for the master's address" in text
        assert "[pool-join:" not in text and "[forget-host:" not in text
        before = running_vms(sim, "xen2")
        master = next(h for h in sim.endpoints.hosts if h.name == "xen2")
        ok = run("recover", f"sim:{tmp_path / 'sim'}/{master.address}", "--run", *COMMON, env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Pool verified healthy" in ok.stdout
        assert_pool_healthy(sim, "xen2", ["xen1", "xen2", "xen3"], before)
        calls = [
            json.loads(line)
            for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
            if '"pool.join"' in line
        ]
        (join,) = [c for c in calls if c["kind"] == "call"]
        # Sent to xen1 (the joiner), naming the master: xen1's own xapi now follows it.
        assert join["step_id"] == "pool-join:xen1" and join["host"] == "xen1" and join["outcome"] == "ok"
        assert join["inputs"]["args"][0] == master.address and sim.endpoints.root_password not in json.dumps(join)
        xen1 = sim.proc("xen1")
        assert xen1.role == "slave" and xen1.master_address == master.address
