"""Recovery over SSH (a real sshd on 127.0.0.1 forwarding to the simulated
survivor's xapi socket), with the SSH connection dropped in the middle of
the promotion: the observer reconnects, the audit trail stays correct, and
the pool ends healthy."""

from __future__ import annotations

import XenAPI

from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.xapi.targets import parse_target

SCALE = 0.01


def test_master_down_over_ssh_with_a_drop_mid_promotion(tmp_path, sshd_server, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "state"))
    with start_sim("master-down", tmp_path / "sim") as sim:
        xen2 = next(h for h in sim.endpoints.hosts if h.name == "xen2")
        target = parse_target(
            f"ssh://{sshd_server.user}@{sshd_server.host}:{sshd_server.port}",
            identity=str(sshd_server.client_key_path),
            known_hosts=str(sshd_server.known_hosts_path),
            xapi_socket=xen2.socket,
            host_root=xen2.root,
        )
        with Observer(target, password=sim.endpoints.root_password, call_timeout=2.0, probe_timeout=0.3) as observer:
            obs = observer.observe()
            assert obs.this_host_name == "xen2"
            assert {Code.EMERGENCY_MODE, Code.MASTER_UNREACHABLE} <= {f.code for f in obs.findings}
            assert obs.ground_truth.pool_role.value.role == "slave"  # read over SFTP
            plan = build_plan(obs)
            audit = AuditLog(tmp_path / "audit.jsonl")
            executor = PlanExecutor(observer, audit, fenced=["xen1"], time_scale=SCALE)
            dropped = []

            def drop_ssh(progress):
                # during the fuse countdown, i.e. after xapi took the request
                if progress.step_id.startswith("promote") and "restart" in progress.message and not dropped:
                    dropped.append(progress.message)
                    observer.endpoint.ssh_client.get_transport().close()

            results = []
            for step in plan.now_steps:
                results.append(executor.run(step, progress=drop_ssh))
            assert dropped, "the SSH connection was never dropped"
            statuses = {r.step_id: r.status for r in results}
            if statuses["promote:xen2"] != "done":  # a second run resumes
                for step in build_plan(observer.observe()).now_steps:
                    results.append(executor.run(step))
            final = observer.observe()
            assert Code.POOL_HEALTHY in {f.code for f in final.findings}, [f.summary for f in final.findings]
        recs = audit.records()
        assert [r.step_id for r in recs if r.kind == au.STEP_START] == [
            r.step_id for r in recs if r.kind == au.STEP_END
        ]
        session = XenAPI.Session(f"http://{xen2.address}:{xen2.port}/")
        session.xenapi.login_with_password("root", sim.endpoints.root_password, "1.1", "test")
        try:
            pool = session.xenapi.pool.get_all()[0]
            master = session.xenapi.pool.get_master(pool)
            assert session.xenapi.host.get_name_label(master) == "xen2"
        finally:
            session.xenapi.session.logout()
        assert sim.world.double_starts == []
