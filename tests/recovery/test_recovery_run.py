"""Plans executed against the simulator until the pool verifies healthy,
the refusals, and faults in the middle of a run (the audit trail stays
correct and a second run resumes). Health is checked at the end through the
real XenAPI SDK, as an admin's script would."""

from __future__ import annotations

import json
import time

import pytest
import XenAPI

from tests.recovery.test_recovery_scenarios import mark_replaced_nics_like_xapi, start_sim
from xentui.cli import main as xentui_main
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.findings import Code, Severity
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.report import render_report
from xentui.recovery.steps import promote
from xentui.xapi.targets import parse_target

SCALE = 0.01


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


def sdk_session(sim, host: str) -> XenAPI.Session:
    ep = next(h for h in sim.endpoints.hosts if h.name == host)
    session = XenAPI.Session(f"http://{ep.address}:{ep.port}/")
    session.xenapi.login_with_password("root", sim.endpoints.root_password, "1.1", "test")
    return session


def sdk_pool_state(sim, master: str) -> dict:
    """The pool as the real SDK sees it on `master` (raises if it is not master)."""
    s = sdk_session(sim, master)
    try:
        x = s.xenapi
        pool = x.pool.get_all()[0]
        master_ref = x.pool.get_master(pool)
        hosts = x.host.get_all_records()
        vms = {
            r["name_label"]: r
            for r in x.VM.get_all_records().values()
            if not r["is_a_template"] and not r["is_control_domain"]
        }
        return {
            "master": hosts[master_ref]["name_label"],
            "emergency": x.host.is_in_emergency_mode(),
            "hosts": {r["name_label"]: r for r in hosts.values()},
            "vms": {
                n: (r["power_state"], hosts.get(r["resident_on"], {}).get("name_label", "")) for n, r in vms.items()
            },
            "uuids": {n: r["uuid"] for n, r in vms.items()},
        }
    finally:
        s.xenapi.session.logout()


def run_plan(observer, audit, fenced=(), keep_master="", stop_on_failure=True):
    executor = PlanExecutor(observer, audit, fenced=fenced, time_scale=SCALE)
    plan = build_plan(observer.observe(), keep_master=keep_master)
    results = []
    for step in plan.steps:
        if step.phase == "later" and step.risk != "none":
            continue
        result = executor.run(step, choice=keep_master if step.kind == "keep-master" else "")
        results.append(result)
        if stop_on_failure and not result.ok:
            break
    return plan, results


def wait_healthy(observer, budget=10.0):
    deadline = time.monotonic() + budget
    obs = observer.observe()
    while obs.worst >= Severity.WARNING and time.monotonic() < deadline:
        time.sleep(0.1)
        obs = observer.observe()
    return obs


def open_observer(tmp_path, host=None):
    target = parse_target(f"sim:{tmp_path}" + (f"/{host}" if host else ""))
    return Observer(target, call_timeout=2.0, probe_timeout=0.5)


# --- end to end ------------------------------------------------------------------------


def test_seed_article_master_down_to_healthy(tmp_path, state_dir):
    with start_sim("master-down", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            audit = AuditLog(state_dir / "audit.jsonl")
            plan, results = run_plan(observer, audit, fenced=["xen1"])
            assert [r.status for r in results] == ["done", "done", "done", "skipped", "skipped", "done", "done"]
            obs = wait_healthy(observer)
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        state = sdk_pool_state(sim, "xen2")
        assert state["master"] == "xen2" and state["emergency"] is False
        assert state["vms"]["web01"] == ("Running", "xen2") and state["vms"]["db01"] == ("Running", "xen2")
        assert state["vms"]["app01"] == ("Running", "xen2")
        assert state["vms"]["local01"][0] == "Halted"  # its disk is on the dead host's local SR
        assert state["hosts"]["xen1"]["enabled"] is False
        assert sim.world.double_starts == []
        for name in ("web01", "db01", "app01"):  # physically: exactly one domain each, on xen2
            assert sim.world.where_running(state["uuids"][name]) == ["xen2"], name
    recs = audit.records()
    ends = [r for r in recs if r.kind == au.STEP_END]
    assert [r.step_id for r in ends] == [s.id for s in plan.steps]
    calls = [r.inputs["method"] for r in recs if r.kind == "call"]
    assert "pool.emergency_transition_to_master" in calls and "host.declare_dead" in calls
    assert "xenroot" not in audit.path.read_text()
    report = render_report(recs, obs.findings)
    assert "xe pool-emergency-transition-to-master" in report and "## Timeline" in report


def test_master_down_with_ha_to_healthy(tmp_path, state_dir):
    with start_sim("master-down-ha", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            plan, results = run_plan(observer, AuditLog(state_dir / "audit.jsonl"), fenced=["xen1"])
            by_id = {r.step_id: r.status for r in results}
            assert by_id["ha-disable:xen2"] == "done" and by_id["ha-disable:xen3"] == "done"
            assert by_id["promote:xen2"] == "done" and by_id["recover-members"] == "done"
            assert all(r.ok for r in results), [(r.step_id, r.detail) for r in results if not r.ok]
            obs = wait_healthy(observer)
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        state = sdk_pool_state(sim, "xen2")
        assert state["master"] == "xen2"
        assert state["vms"]["web01"] == ("Running", "xen2")
        assert sim.world.double_starts == []
        xen3 = sdk_session(sim, "xen2")  # xen3 follows xen2: its own login says HOST_IS_SLAVE
        xen3.xenapi.session.logout()
        with pytest.raises(XenAPI.Failure) as info:
            sdk_session(sim, "xen3")
        assert info.value.details[0] == "HOST_IS_SLAVE" and info.value.details[1] == "127.0.0.12"


def test_no_management_ip_waits_for_the_link_then_runs_to_healthy(tmp_path, state_dir):
    """xen2's link is down: xapi cannot bring its address back (local_management_reconfigure
    assigns none), so xentui calls nothing, waits for the link and says what to check; when
    the link returns during the wait the host rejoins and the pool verifies healthy."""
    with start_sim("no-management-ip", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        audit = AuditLog(state_dir / "audit.jsonl")
        with open_observer(tmp_path / "sim") as observer:
            plan, results = run_plan(observer, audit)
            assert [(r.step_id, r.status) for r in results] == [("management-reconfigure:xen2", "failed")]
            assert "cable" in results[0].detail and "by hand" in results[0].detail
            # the cable is plugged back in while the step waits
            sim.world.scheduler.call_later(20.0, lambda: sim.faults.restore_management_ip("xen2"), "cable")
            plan, results = run_plan(observer, audit)
            assert results[0].step_id == "management-reconfigure:xen2" and results[0].status == "done"
            obs = wait_healthy(observer)
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        assert obs.ground_truth.management_link.value.ipv4
        state = sdk_pool_state(sim, "xen1")
        assert state["vms"]["app01"] == ("Running", "xen2")  # its VM kept running: no reboot
    calls = [r.inputs.get("method") for r in audit.records() if r.kind == "call"]
    assert "host.local_management_reconfigure" not in calls


def test_replaced_nics(tmp_path, state_dir):
    """Scan (xapi re-matches the PIFs to the NICs now present: same device
    names, new MACs), plug the management PIF again, nothing stale is left to
    forget, the pool ends healthy."""
    with start_sim("replaced-nics-same-names", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        mark_replaced_nics_like_xapi(sim, "xen3")
        with open_observer(tmp_path / "sim") as observer:
            plan, results = run_plan(observer, AuditLog(state_dir / "audit.jsonl"))
            by_id = {r.step_id: r for r in results}
            assert by_id["pif-scan:xen3"].status == "done"
            assert by_id["management-reconfigure:xen3"].status == "done"
            assert by_id["forget-stale-pifs:xen3"].status in ("skipped", "done")
            obs = wait_healthy(observer)
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        assert not [f for f in obs.findings if f.code is Code.STALE_PIF and f.severity > Severity.INFO]
        s = sdk_session(sim, "xen1")
        try:
            x = s.xenapi
            host = x.host.get_by_name_label("xen3")[0]
            pifs = [x.PIF.get_record(p) for p in x.host.get_PIFs(host)]
            macs = {n.mac.lower() for n in sim.world.machines["xen3"].nics}
            assert {p["MAC"].lower() for p in pifs} == macs  # every PIF describes a NIC that exists
            mgmt = [p for p in pifs if p["management"]]
            assert len(mgmt) == 1 and mgmt[0]["IP"] == "127.0.0.13" and mgmt[0]["currently_attached"]
        finally:
            s.xenapi.session.logout()


@pytest.mark.parametrize("keep,other", [("xen2", "xen1"), ("xen1", "xen2")])
def test_split_brain_resolved_to_one_master(tmp_path, state_dir, keep, other):
    """The operator keeps either master; the console host (xen2) may be the one demoted."""
    with start_sim("split-brain", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            plan, results = run_plan(observer, AuditLog(state_dir / "audit.jsonl"), keep_master=keep)
            assert [r.step_id for r in results][:2] == [f"keep-master:{keep}", f"demote-master:{other}"]
            assert all(r.ok for r in results), [(r.step_id, r.detail) for r in results if not r.ok]
            obs = wait_healthy(observer)
        assert Code.TWO_MASTERS not in {f.code for f in obs.findings}
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        assert sdk_pool_state(sim, keep)["master"] == keep
        address = next(h.address for h in sim.endpoints.hosts if h.name == keep)
        for member in sorted({"xen1", "xen2", "xen3"} - {keep}):
            with pytest.raises(XenAPI.Failure) as info:
                sdk_session(sim, member)
            assert info.value.details[:2] == ["HOST_IS_SLAVE", address]
        assert sim.world.double_starts == []


# --- refusals ---------------------------------------------------------------------------


def test_refuses_to_promote_while_the_old_master_answers(tmp_path, state_dir):
    with start_sim("master-down", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim") as observer:
            plan = build_plan(observer.observe())  # built while xen1 was down
            sim.faults.power_on("xen1")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                obs = observer.observe()
                if any(v.host_name == "xen1" and v.answers for v in obs.peer_views):
                    break
                time.sleep(0.1)
            audit = AuditLog(state_dir / "audit.jsonl")
            executor = PlanExecutor(observer, audit, fenced=["xen1"], time_scale=SCALE)
            for step_id in ("confirm-master-down:xen1", "promote:xen2"):
                result = executor.run(plan.step(step_id))
                assert result.status == "refused", result
                assert "silent:xen1" in result.detail and "ANSWERS" in result.detail
        calls = [r for r in audit.records() if r.kind == "call"]
        assert not any(c.inputs["method"] == "pool.emergency_transition_to_master" for c in calls)
        assert [r.outcome for r in audit.records() if r.kind == au.STEP_END] == ["refused", "refused"]


def test_read_only_executes_nothing(tmp_path, state_dir):
    with start_sim("master-down", state_dir=tmp_path / "sim", time_scale=SCALE):
        with open_observer(tmp_path / "sim") as observer:
            plan = build_plan(observer.observe())
            audit = AuditLog(state_dir / "audit.jsonl")
            executor = PlanExecutor(observer, audit, read_only=True, fenced=["xen1"], time_scale=SCALE)
            assert {executor.run(s).status for s in plan.steps} == {"read-only"}
            assert not [r for r in audit.records() if r.kind == "call"]
            assert Code.EMERGENCY_MODE in {f.code for f in observer.observe().findings}


def cli(capsys, *argv) -> tuple:
    code = xentui_main(list(argv))
    return code, capsys.readouterr().out


def test_cli_plan_json_and_run_refusals_on_master_hung(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("master-hung", state_dir=sim_dir, time_scale=SCALE) as sim:
        base = [
            "recover",
            f"sim:{sim_dir}",
            "--call-timeout",
            "1",
            "--probe-timeout",
            "0.5",
            "--time-scale",
            str(SCALE),
            "--verify-timeout",
            "10",
        ]
        code, out = cli(capsys, *base, "--plan", "--json")
        assert code == 0
        doc = json.loads(out)
        assert [s["id"] for s in doc["plan"]["steps"]][:2] == ["confirm-master-down:xen1", "promote:xen2"], (
            doc["findings"],
            doc["connection"],
            doc["peers"],
        )
        assert doc["plan"]["requires_fenced"] == ["xen1"]
        # --run before the operator attests
        code, out = cli(capsys, *base, "--run")
        assert code == 3 and "REFUSED" in out and "--confirm-dead xen1" in out
        # attesting a host that still accepts connections (hung, powered on)
        code, out = cli(capsys, *base, "--run", "--confirm-dead", "xen1")
        assert code == 3 and "still accepts connections" in out
        # an unknown name
        code, out = cli(capsys, *base, "--run", "--confirm-dead", "xen9")
        assert code == 3 and "no such host" in out
        # nothing changed so far
        assert not [r for r in AuditLog(state_dir / "audit.jsonl").records() if r.kind == "call"]
        # the operator powers it off through the BMC, then attests
        sim.faults.power_off("xen1")
        code, out = cli(capsys, *base, "--run", "--confirm-dead", "xen1")
        assert code == 0, out
        assert "Pool verified healthy" in out
        assert sdk_pool_state(sim, "xen2")["vms"]["web01"] == ("Running", "xen2")
        assert sim.world.double_starts == []


def test_cli_confirm_dead_naming_a_live_host_is_refused(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("master-down-ha", state_dir=sim_dir, time_scale=SCALE):
        code, out = cli(
            capsys,
            "recover",
            f"sim:{sim_dir}",
            "--run",
            "--confirm-dead",
            "xen1",
            "--confirm-dead",
            "xen3",
            "--call-timeout",
            "2",
            "--time-scale",
            str(SCALE),
        )
        assert code == 3 and "xen3 ANSWERS" in out
        assert not [r for r in AuditLog(state_dir / "audit.jsonl").records() if r.kind == "call"]


# --- faults mid-run -----------------------------------------------------------------------------


def test_crash_mid_step_then_second_run_resumes(tmp_path, state_dir, capsys, monkeypatch):
    """The process dies right after asking xen2 to become master (before the
    verification). The audit log shows the step started and never ended; the
    same command run again resumes that run and finishes it."""
    sim_dir = tmp_path / "sim"
    args = [
        "recover",
        f"sim:{sim_dir}",
        "--run",
        "--confirm-dead",
        "xen1",
        "--call-timeout",
        "2",
        "--probe-timeout",
        "0.5",
        "--time-scale",
        str(SCALE),
        "--verify-timeout",
        "10",
    ]

    class Killed(BaseException):
        pass

    def die(ex, ctx, name):
        raise Killed()

    with start_sim("master-down", state_dir=sim_dir, time_scale=SCALE) as sim:
        monkeypatch.setattr(promote, "wait_for_own_restart_as_master", die)
        with pytest.raises(Killed):
            xentui_main(args)
        monkeypatch.undo()
        monkeypatch.setenv(au.STATE_DIR_ENV, str(state_dir))
        recs = AuditLog(state_dir / "audit.jsonl").records()
        run_id = recs[0].run_id
        assert au.progress_from_audit(recs)["promote:xen2"] == "interrupted"
        assert au.last_open_run(recs) == run_id
        capsys.readouterr()
        code, out = cli(capsys, *args)
        assert code == 0, out
        assert f"Run {run_id} (resuming)" in out
        assert "confirm-master-down:xen1" in out.split("Already done in this run:")[1].splitlines()[0]
        assert sdk_pool_state(sim, "xen2")["master"] == "xen2"
        assert sim.world.double_starts == []
    recs = AuditLog(state_dir / "audit.jsonl").records()
    assert {r.run_id for r in recs} == {run_id}
    assert [r.outcome for r in recs if r.kind == au.RUN_END][-1] == "healthy"
    # the report tells the interrupted step apart
    assert "has no end record" in render_report(recs, ())


def test_xapi_restart_mid_step_leaves_a_correct_trail(tmp_path, state_dir, capsys, monkeypatch):
    """xen2's xapi restarts just as the dead host's VMs are being reset. The
    step either rides it out (reconnect) or fails cleanly; either way the
    audit trail has matching records and running again finishes the job."""
    sim_dir = tmp_path / "sim"
    args = [
        "recover",
        f"sim:{sim_dir}",
        "--run",
        "--confirm-dead",
        "xen1",
        "--call-timeout",
        "2",
        "--probe-timeout",
        "0.5",
        "--time-scale",
        str(SCALE),
        "--verify-timeout",
        "10",
    ]
    original = PlanExecutor.call_xapi
    fired = []

    with start_sim("master-down", state_dir=sim_dir, time_scale=SCALE) as sim:

        def flaky(self, ctx, client, method, *a, **kw):
            if method == "host.declare_dead" and not fired:
                fired.append(method)
                sim.faults.restart_xapi("xen2")
            return original(self, ctx, client, method, *a, **kw)

        monkeypatch.setattr(PlanExecutor, "call_xapi", flaky)
        first, out1 = cli(capsys, *args)
        monkeypatch.setattr(PlanExecutor, "call_xapi", original)
        assert fired
        assert first in (0, 1), out1
        if first == 1:
            second, out2 = cli(capsys, *args)
            assert second == 0, out2
            assert "(resuming)" in out2
        state = sdk_pool_state(sim, "xen2")
        assert state["vms"]["web01"] == ("Running", "xen2")
        assert sim.world.double_starts == []
    recs = AuditLog(state_dir / "audit.jsonl").records()
    starts = [r.step_id for r in recs if r.kind == au.STEP_START]
    ends = [r.step_id for r in recs if r.kind == au.STEP_END]
    assert starts == ends  # every attempt that started has its outcome recorded
    dd = [r for r in recs if r.kind == "call" and r.inputs["method"] == "host.declare_dead"]
    assert dd and dd[0].outcome in ("ok", "lost", "ConnectionRefused", "xapi-error", "CallTimeout")


def test_report_command_writes_markdown(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    with start_sim("master-down", state_dir=sim_dir, time_scale=SCALE):
        code, _ = cli(
            capsys,
            "recover",
            f"sim:{sim_dir}",
            "--run",
            "--confirm-dead",
            "xen1",
            "--call-timeout",
            "2",
            "--probe-timeout",
            "0.5",
            "--time-scale",
            str(SCALE),
        )
        assert code == 0
    out_file = tmp_path / "incident.md"
    code, out = cli(capsys, "report", "--since", "1h", "-o", str(out_file))
    assert code == 0 and out_file.exists()
    text = out_file.read_text()
    assert "# Pool incident report" in text and "outcome: **healthy**" in text
    assert "xe host-declare-dead uuid=" in text and "Operator attested as powered off / fenced: xen1" in text
    code, out = cli(capsys, "report", "--since", "2000-01-01T00:00")
    assert code == 0 and "## Timeline" in out
    assert cli(capsys, "report", "--since", "yesterday-ish")[0] == 2


# --- back to normal (the seed article's last part) ------------------------------------------


def wait_rejoined(observer, host, budget=15.0):
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        obs = observer.observe()
        views = {v.host_name: v for v in obs.peer_views}
        v = views.get(host)
        if v is not None and v.answers and v.role == "slave" and obs.worst < Severity.WARNING:
            return obs
        time.sleep(0.1)
    raise AssertionError(f"{host} did not rejoin: {[f.summary for f in obs.findings]}")


def test_repaired_old_master_rejoins_and_gets_the_role_back(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    base = [
        "recover",
        f"sim:{sim_dir}",
        "--call-timeout",
        "2",
        "--probe-timeout",
        "0.5",
        "--time-scale",
        str(SCALE),
        "--verify-timeout",
        "15",
    ]
    with start_sim("master-down", sim_dir) as sim:
        assert cli(capsys, *base, "--run", "--confirm-dead", "xen1")[0] == 0
        sim.faults.power_on("xen1")  # repaired; it finds xen2 is master and joins it
        with open_observer(sim_dir) as observer:
            wait_rejoined(observer, "xen1")
        code, out = cli(capsys, *base, "--plan", "--prefer-master", "xen1")
        assert "xe pool-designate-new-master host-uuid=" in out
        # without --later the role change is not made
        code, out = cli(capsys, *base, "--run", "--prefer-master", "xen1")
        assert code == 0 and "nothing to do" in out
        assert sdk_pool_state(sim, "xen2")["master"] == "xen2"
        code, out = cli(capsys, *base, "--run", "--later", "--prefer-master", "xen1")
        assert code == 0, out
        state = sdk_pool_state(sim, "xen1")
        assert state["master"] == "xen1" and state["emergency"] is False
        assert state["vms"]["web01"][0] == "Running"
        with pytest.raises(XenAPI.Failure) as info:
            sdk_session(sim, "xen2")
        assert info.value.details[:2] == ["HOST_IS_SLAVE", "127.0.0.11"]


def test_ha_is_reenabled_once_every_host_is_back(tmp_path, state_dir, capsys):
    sim_dir = tmp_path / "sim"
    base = [
        "recover",
        f"sim:{sim_dir}",
        "--call-timeout",
        "2",
        "--probe-timeout",
        "0.5",
        "--time-scale",
        str(SCALE),
        "--verify-timeout",
        "15",
    ]
    with start_sim("master-down-ha", sim_dir) as sim:
        code, out = cli(capsys, *base, "--run", "--confirm-dead", "xen1")
        assert code == 0, out
        s = sdk_session(sim, "xen2")
        try:
            assert s.xenapi.pool.get_ha_enabled(s.xenapi.pool.get_all()[0]) is False
        finally:
            s.xenapi.session.logout()
        sim.faults.restore_statefile()
        sim.faults.power_on("xen1")
        with open_observer(sim_dir) as observer:
            wait_rejoined(observer, "xen1")
        code, out = cli(capsys, *base, "--plan")
        assert "xe pool-ha-enable heartbeat-sr-uuids=" in out  # remembered from the audit log
        code, out = cli(capsys, *base, "--run", "--later")
        assert "Re-enable HA" in out
        assert code == 0, out
        s = sdk_session(sim, "xen2")
        try:
            assert s.xenapi.pool.get_ha_enabled(s.xenapi.pool.get_all()[0]) is True
        finally:
            s.xenapi.session.logout()
        # and it is not proposed again
        code, out = cli(capsys, *base, "--run", "--later")
        assert code == 0 and "nothing to do" in out


def test_replaced_nics_seen_from_the_host_itself(tmp_path, state_dir):
    """No help from the database this time: on xen3's own console the kernel
    reports a different MAC behind the management bridge than the PIF says."""
    with start_sim("replaced-nics-same-names", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        with open_observer(tmp_path / "sim", host="xen3") as observer:
            obs = observer.observe()
            stale = [f for f in obs.findings if f.code is Code.STALE_PIF]
            assert stale and stale[0].host == "xen3" and "runs on MAC" in stale[0].evidence[0]
            plan, results = run_plan(observer, AuditLog(state_dir / "audit.jsonl"))
            assert [r.step_id for r in results][:2] == ["pif-scan:xen3", "management-reconfigure:xen3"]
            assert all(r.ok for r in results), [(r.step_id, r.detail) for r in results if not r.ok]
            obs = wait_healthy(observer)
        assert Code.POOL_HEALTHY in {f.code for f in obs.findings}
        s = sdk_session(sim, "xen1")
        try:
            host = s.xenapi.host.get_by_name_label("xen3")[0]
            macs = {s.xenapi.PIF.get_MAC(p).lower() for p in s.xenapi.host.get_PIFs(host)}
        finally:
            s.xenapi.session.logout()
        assert macs == {n.mac.lower() for n in sim.world.machines["xen3"].nics}


def test_unplugged_storage_and_lost_default_sr_are_repaired(tmp_path, state_dir):
    with start_sim("healthy", state_dir=tmp_path / "sim", time_scale=SCALE) as sim:
        s = sdk_session(sim, "xen1")
        try:
            x = s.xenapi
            xen3 = x.host.get_by_name_label("xen3")[0]
            san = x.SR.get_by_name_label("SAN")[0]
            x.VM.hard_shutdown(x.VM.get_by_name_label("db01")[0])  # the SR must be unused there
            pbd = next(p for p in x.SR.get_PBDs(san) if x.PBD.get_host(p) == xen3)
            x.PBD.unplug(pbd)
            x.pool.set_default_SR(x.pool.get_all()[0], "OpaqueRef:NULL")
        finally:
            x.session.logout()
        with open_observer(tmp_path / "sim") as observer:
            obs = observer.observe()
            assert {(f.code, f.host) for f in obs.findings} >= {
                (Code.PBD_UNPLUGGED, "xen3"),
                (Code.DEFAULT_SR_INVALID, ""),
            }
            plan, results = run_plan(observer, AuditLog(state_dir / "audit.jsonl"))
            assert [(r.step_id, r.status) for r in results] == [
                ("plug-pbds", "done"),
                ("check-default-sr", "done"),
                ("backup-db", "done"),
            ]
            assert "SAN on xen3" in results[0].detail
            obs = wait_healthy(observer)
        assert [f.code for f in obs.findings] == [Code.POOL_HEALTHY]
        s = sdk_session(sim, "xen1")
        try:
            x = s.xenapi
            assert x.PBD.get_currently_attached(pbd) is True
            assert x.pool.get_default_SR(x.pool.get_all()[0]) == san
        finally:
            x.session.logout()
