"""member-newer through the installed command after the member's 60 s retry
(issue 13 item 3, session 4): the coordinator is off, so the member's stored
error no longer names HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR, and still
`recover --run` stops with exit 6 and changes nothing; with --promote-newer the
cost is printed before the first step and audited.

xapi.ml attempt_host_status_check_with_coordinator: the member's xapi version
against the coordinator's software_version xapi_build (newer_member.py)."""

from __future__ import annotations

from tests.program.test_scenario_vdi_disabled_newer_cli import ACTIONS, FAST, audit_kinds, healthy_pool, xentui
from tests.recovery.test_newer_member_lasting import _past_the_retry
from tests.recovery.test_recovery_scenarios import start_sim

CODE = "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR"


def test_after_the_retry_run_still_stops_and_changes_nothing_unless_promotion_is_asked(tmp_path):
    with start_sim("member-newer", tmp_path / "sim") as sim:
        _past_the_retry(sim)
        files = {
            (h, name): (tmp_path / "sim" / h / name).read_bytes()
            for h in ("xen2", "xen3")
            for name in ("etc/xensource/pool.conf", "var/lib/xcp/state.db")
        }
        target = f"sim:{tmp_path / 'sim'}/xen2"
        stop = xentui(tmp_path, "recover", target, "--run", "--confirm-dead", "xen1", *FAST)
        assert stop.returncode == 6 and "STOPPED" in stop.stdout, stop.stdout + stop.stderr
        said = " ".join(stop.stdout.split())
        assert CODE in said and "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2" in said
        assert "Nothing was changed." in said and "--promote-newer" in said
        # the admin's attestation is recorded; no step, call or check ran
        assert not (ACTIONS - {"attest-fenced"}) & set(audit_kinds(tmp_path))
        with sim.world.lock:
            assert sim.proc("xen2").emergency and not sim.proc("xen2").is_master
            assert sim.proc("xen3").master_address == sim.endpoints.host("xen1").address
        assert sim.flush_files(10.0)
        for (h, name), data in files.items():
            assert (tmp_path / "sim" / h / name).read_bytes() == data, (h, name)

        ok = xentui(tmp_path, "recover", target, "--run", "--promote-newer", "--confirm-dead", "xen1", *FAST)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        out = " ".join(ok.stdout.split())
        assert out.index("NOTE: You chose to promote xen2, the newer member") < out.index("(promote:xen2)")
        assert "the old coordinator must be updated before it comes back" in out
        assert "Pool verified healthy" in out
        healthy_pool(sim, "xen2", dead=("xen1",), running=("web01", "db01", "app01"))
        assert "You chose to promote xen2" in (tmp_path / "state" / "audit.jsonl").read_text()


def test_an_ordinary_master_down_member_is_promoted_without_the_newer_gate(tmp_path):
    """Same xapi as its coordinator: no stop, no --promote-newer needed."""
    with start_sim("master-down", tmp_path / "sim"):
        target = f"sim:{tmp_path / 'sim'}/xen2"
        plan = xentui(tmp_path, "recover", target, "--plan", "--call-timeout", "2")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert "promote:xen2" in plan.stdout and CODE not in plan.stdout and "STOPPED" not in plan.stdout
