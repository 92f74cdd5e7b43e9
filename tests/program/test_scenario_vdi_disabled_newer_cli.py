"""Issue 13 items 4, 8 and 3 end to end through the installed command:
`xentui recover --run` on vdi-locked and host-left-disabled to a pool
verified healthy through the real XenAPI SDK; on member-newer to a clear stop
that changes nothing (the pool's databases field for field, no action in the
audit log); and the refusals (no fence for the disk locks, promotion of the
newer member while its coordinator answers)."""

from __future__ import annotations

import copy
import json
import os

import XenAPI

from tests.program.scenario_cli import run
from tests.recovery.test_recovery_scenarios import start_sim
from xentui.sim.schema import CLASSES

FAST = ("--call-timeout", "2", "--time-scale", "0.01", "--verify-timeout", "20")
# Records of what a step did; run-start/findings/baseline/run-end only tell what was seen.
ACTIONS = {"step-start", "step-end", "call", "attest-fenced", "check", "note"}


def xentui(tmp_path, *args):
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    return run(*args, env=env, timeout=120)


def audit_kinds(tmp_path):
    path = tmp_path / "state" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["kind"] for line in path.read_text().splitlines() if line.strip()]


def sdk(sim, host):
    ep = sim.endpoints.host(host)
    s = XenAPI.Session(f"http://{ep.address}:{ep.port}/")
    s.xenapi.login_with_password("root", sim.endpoints.root_password, "1.0", "test")
    return s


def healthy_pool(sim, master, *, dead=(), running=()):
    """Through the SDK: one master, no emergency mode, every host but the dead
    ones live and enabled with its PBDs attached, `running` VMs Running."""
    s = sdk(sim, master)
    try:
        x = s.xenapi
        pool = x.pool.get_all()[0]
        assert x.host.get_name_label(x.pool.get_master(pool)) == master
        assert x.host.is_in_emergency_mode() is False
        for rec in x.host.get_all_records().values():
            if rec["name_label"] in dead:
                continue
            assert rec["enabled"] is True, rec["name_label"]
            assert x.host_metrics.get_live(rec["metrics"]) is True, rec["name_label"]
            for pbd in rec["PBDs"]:
                assert x.PBD.get_currently_attached(pbd) is True, rec["name_label"]
        vms = {r["name_label"]: r for r in x.VM.get_all_records().values() if not r["is_control_domain"]}
        for name in running:
            assert vms[name]["power_state"] == "Running", name
        return x.VM.get_all_records(), x.VDI.get_all_records()
    finally:
        s.xenapi.session.logout()


def test_vdi_locked_refused_without_the_fence_then_cleared_started_and_healthy(tmp_path):
    with start_sim("vdi-locked", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}"
        plan = xentui(tmp_path, "recover", target, "--plan", "--call-timeout", "2")
        assert plan.returncode == 0, plan.stderr
        assert "clear-vdi-locks:xen3" in plan.stdout and "resetvdis.py single" in plan.stdout
        assert "--confirm-dead xen3" in plan.stdout
        refused = xentui(tmp_path, "recover", target, "--run", *FAST)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "--confirm-dead xen3" in refused.stdout
        assert not ACTIONS & set(audit_kinds(tmp_path))
        ok = xentui(tmp_path, "recover", target, "--run", "--confirm-dead", "xen3", *FAST)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "[ok] done: removed:" in ok.stdout and "Pool verified healthy" in ok.stdout
        vms, vdis = healthy_pool(sim, "xen1", dead=("xen3",), running=("web01", "db01", "app01", "app02"))
        xen3 = next(h.name for h in sim.endpoints.hosts if h.name == "xen3")
        for rec in vdis.values():
            assert "activating" not in rec["sm_config"]
            assert not [k for k in rec["sm_config"] if k.startswith("host_") and xen3 in k]
        assert sim.world.double_starts == []
        assert sim.world.where_running(next(r["uuid"] for r in vms.values() if r["name_label"] == "app02")) == ["xen1"]


def test_host_left_disabled_guidance_cleared_pbd_plugged_host_enabled(tmp_path):
    with start_sim("host-left-disabled", tmp_path / "sim") as sim:
        target = f"sim:{tmp_path / 'sim'}"
        ok = xentui(tmp_path, "recover", target, "--run", *FAST)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        for step in ("plug-pbds", "clear-mandatory-guidance:xen2", "host-enable:xen2"):
            assert f"({step})" in ok.stdout
        assert "Pool verified healthy" in ok.stdout
        healthy_pool(sim, "xen1", running=("web01", "db01", "app01"))
        s = sdk(sim, "xen1")
        try:
            xen2 = s.xenapi.host.get_by_name_label("xen2")[0]
            assert s.xenapi.host.get_pending_guidances(xen2) == []
        finally:
            s.xenapi.session.logout()


def _database(sim):
    """Every record of the coordinator's database, minus what xapi rewrites by
    itself as time passes: host_metrics.last_updated (each host's heartbeat)
    and the sessions a login creates. (The members' copies are the
    coordinator's, re-sent by its periodic pool_db_backup sync.)"""
    with sim.world.lock:
        db = sim.proc("xen1").db
        out = {cls: copy.deepcopy(db.records(cls)) for cls in CLASSES if cls != "session"}
    for rec in out["host_metrics"].values():
        rec.pop("last_updated", None)
    return out


def test_member_newer_stops_clearly_and_changes_nothing(tmp_path):
    with start_sim("member-newer", tmp_path / "sim") as sim:
        before = _database(sim)
        pool_confs = {
            h: (tmp_path / "sim" / h / "etc/xensource/pool.conf").read_bytes() for h in ("xen1", "xen2", "xen3")
        }
        for console in ("xen2", "xen1"):
            stop = xentui(tmp_path, "recover", f"sim:{tmp_path / 'sim'}/{console}", "--run", *FAST)
            assert stop.returncode == 6, stop.stdout + stop.stderr
            out = " ".join(stop.stdout.split())
            assert "STOPPED. xentui changes nothing here:" in out
            assert "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR" in out
            assert "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2" in out
            assert "Update the coordinator first" in out and "Nothing was changed." in out
        # promotion is not in the plan unless asked for; asked for, it needs the coordinator off
        plan = xentui(tmp_path, "recover", f"sim:{tmp_path / 'sim'}/xen2", "--plan", "--call-timeout", "2")
        assert "promote:xen2" not in plan.stdout and "--promote-newer" in plan.stdout
        asked = xentui(
            tmp_path,
            "recover",
            f"sim:{tmp_path / 'sim'}/xen2",
            "--run",
            "--promote-newer",
            "--confirm-dead",
            "xen1",
            *FAST,
        )
        assert asked.returncode == 3 and "xen1 ANSWERS, it is not dead" in asked.stdout, asked.stdout
        assert _database(sim) == before
        assert {h: (tmp_path / "sim" / h / "etc/xensource/pool.conf").read_bytes() for h in pool_confs} == pool_confs
        assert sim.proc("xen2").emergency
        kinds = audit_kinds(tmp_path)
        assert kinds and not ACTIONS & set(kinds), kinds


def test_member_newer_promoted_when_explicitly_asked_and_its_coordinator_is_off(tmp_path):
    """Item 3's one way out xentui runs, and only when the admin asks for it:
    `--promote-newer`. The scenario's coordinator (xen1) answers; the admin
    powers it off first (its BMC; here the simulator's power_off fault), then
    attests it with --confirm-dead. The run states the consequences before the
    first step, promotes xen2, points xen3 at it, restarts xen1's VM there and
    ends healthy through the SDK with xen1 down and disabled (it must be
    updated before it comes back)."""
    with start_sim("member-newer", tmp_path / "sim") as sim:
        with sim.world.lock:
            sim.faults.power_off("xen1")
            # xen2's next hello (every 60 s, Permanent) would find its coordinator gone and
            # store "master unreachable" over the version error (xapi.ml does the same). At
            # time scale 0.01 that minute is 0.6 s: the admin acts within it, so the retry is held.
            for timer in sim.proc("xen2")._timers:
                if timer.name == "xen2:hello":
                    timer.cancel()
        target = f"sim:{tmp_path / 'sim'}/xen2"
        # Not asked for: still the stop, even with the coordinator off.
        stop = xentui(tmp_path, "recover", target, "--run", "--confirm-dead", "xen1", *FAST)
        assert stop.returncode == 6 and "STOPPED" in stop.stdout, stop.stdout + stop.stderr
        assert sim.proc("xen2").emergency and not sim.proc("xen2").is_master
        ok = xentui(tmp_path, "recover", target, "--run", "--promote-newer", "--confirm-dead", "xen1", *FAST)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        out = " ".join(ok.stdout.split())
        said = out.index("NOTE: You chose to promote xen2, the newer member")
        assert said < out.index("(promote:xen2)")
        assert "the old coordinator must be updated before it comes back" in out
        assert "(recover-members)" in out and "(start-vms)" in out
        assert "Pool verified healthy" in out
        healthy_pool(sim, "xen2", dead=("xen1",), running=("web01", "db01", "app01"))
        assert sim.proc("xen2").is_master and not sim.proc("xen2").emergency
        xen3 = sim.proc("xen3")
        assert xen3.role == "slave" and xen3.master_address == sim.endpoints.host("xen2").address
        assert sim.world.double_starts == []
        s = sdk(sim, "xen2")
        try:
            x = s.xenapi
            xen1 = x.host.get_by_name_label("xen1")[0]
            assert x.host.get_enabled(xen1) is False  # declared dead, waits for its update
        finally:
            s.xenapi.session.logout()
        audit = (tmp_path / "state" / "audit.jsonl").read_text()
        assert "You chose to promote xen2" in audit  # the choice and its cost are on record
