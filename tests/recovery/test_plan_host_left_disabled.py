"""HOST_DISABLED with its cause, and the steps for a host left disabled
(issue 13 item 8). Hand-built observations.

xen-api: xapi_host.ml enable -> assert_safe_to_reenable ->
Repository_helpers.assert_no_host_pending_mandatory_guidance
(HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY); xapi_host.ml
emergency_clear_mandatory_guidance empties the LOCAL host's pending_guidances
(datamodel_host.ml: no parameters, _R_LOCAL_ROOT_ONLY; the CLI's
host-emergency-clear-mandatory-guidance is Neverforward); the field is
datamodel_host.ml `pending_guidances` (Set update_guidances)."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.findings import Code
from xentui.recovery.plan import Confirm
from xentui.recovery.plan_builder import build_plan
from xentui.xapi.model import RECORD_FIELDS, Host


def _observe(b: PoolBuilder):
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, h, pv.ANSWERS, pv.SLAVE, master=b.address("xen1")) for h in b.hosts if h != "xen1"]
    obs = observation(b, "xen1", gt=gt, live=True, views=views)
    return obs, diagnose(obs)


def _pool(*, guidance=(), pbd_attached=True, ha=False) -> PoolBuilder:
    b = PoolBuilder(ha=ha).host("xen1").host("xen2", enabled=False, pbd_attached=pbd_attached).host("xen3")
    b.tables["host"]["OpaqueRef:host-xen2"]["pending_guidances"] = list(guidance)
    return b.vm("web01", "xen1")


def test_the_model_reads_pending_guidances_and_nothing_more():
    assert "pending_guidances" in RECORD_FIELDS["host"]
    assert not {"pending_guidances_recommended", "pending_guidances_full"} & RECORD_FIELDS["host"]
    host = Host.from_record("OpaqueRef:h", {"pending_guidances": ["reboot_host", "restart_toolstack"]})
    assert host.pending_guidances == ("reboot_host", "restart_toolstack")
    assert Host.from_record("OpaqueRef:h", {"pending_guidances": "garbage"}).pending_guidances == ("garbage",)
    assert Host.from_record("OpaqueRef:h", {}).pending_guidances == ()


def test_guidance_and_a_pbd_that_did_not_plug_clear_plug_enable_in_that_order():
    obs, findings = _observe(_pool(guidance=("reboot_host",), pbd_attached=False))
    (disabled,) = [f for f in findings if f.code is Code.HOST_DISABLED]
    assert disabled.summary == "xen2 is disabled: mandatory guidance pending (reboot_host)"
    assert "HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY" in disabled.explanation
    assert "xe host-emergency-clear-mandatory-guidance" in disabled.explanation
    assert "did not plug either (SAN)" in disabled.explanation and disabled.data["cause"] == "guidance"
    assert "host.pending_guidances = ['reboot_host']" in disabled.evidence
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert ids.index("plug-pbds") < ids.index("clear-mandatory-guidance:xen2") < ids.index("host-enable:xen2")
    clear = plan.step("clear-mandatory-guidance:xen2")
    assert clear.xe == ("xe host-emergency-clear-mandatory-guidance   # on xen2's own console (it is local-only)",)
    assert clear.confirm is Confirm.F8 and "answers:xen2" in {p.id for p in clear.preconditions}
    assert "reboot_host (reboot the host)" in clear.why and "without the update in effect" in clear.risk_text
    enable = plan.step("host-enable:xen2")
    assert enable.xe == ("xe host-enable uuid=uuid-xen2",)
    assert "every PBD of it is attached" in enable.verify
    assert not any("re-enabled by xapi once it has rejoined" in n for n in plan.notes)


def test_a_pbd_that_did_not_plug_keeps_it_disabled_only_with_ha_on():
    """Xapi_host_helpers.consider_enabling_host_nolock: `(not ha_enabled) || all_pbds_ok`."""
    obs, findings = _observe(_pool(pbd_attached=False, ha=True))
    (disabled,) = [f for f in findings if f.code is Code.HOST_DISABLED]
    assert disabled.summary == "xen2 is disabled: a PBD did not plug (HA is on)"
    assert disabled.data["cause"] == "storage"
    ids = [s.id for s in build_plan(obs).steps]
    assert "clear-mandatory-guidance:xen2" not in ids
    assert ids.index("plug-pbds") < ids.index("host-enable:xen2")
    # HA off: start-up would have enabled it anyway, so the PBD is not why; no host-enable
    obs, findings = _observe(_pool(pbd_attached=False))
    (disabled,) = [f for f in findings if f.code is Code.HOST_DISABLED]
    assert disabled.summary == "xen2 is disabled" and disabled.data["cause"] == ""
    assert "did not plug either (SAN)" in disabled.explanation
    ids = [s.id for s in build_plan(obs).steps]
    assert "plug-pbds" in ids and "host-enable:xen2" not in ids


def test_a_host_disabled_for_no_known_cause_is_left_to_the_admin():
    """An admin's host-disable (maintenance) or a member still rejoining: no step re-enables it."""
    obs, findings = _observe(_pool())
    (disabled,) = [f for f in findings if f.code is Code.HOST_DISABLED]
    assert disabled.summary == "xen2 is disabled" and "rejoins" in disabled.explanation
    assert "maintenance" in disabled.explanation
    plan = build_plan(obs)
    assert not [s for s in plan.steps if s.kind in ("host-enable", "clear-mandatory-guidance")]
    assert any("xe host-enable" in n for n in plan.notes)


def test_enabling_before_the_guidance_is_cleared_is_refused_by_xapi_and_said_plainly(start_sim, tmp_path):
    """Run out of order (by hand), host-enable fails with xapi's own refusal and
    changes nothing; in the plan's order the host ends enabled, PBDs attached."""
    from xentui.recovery.audit import AuditLog
    from xentui.recovery.executor import PlanExecutor
    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import parse_target

    sim = start_sim("host-left-disabled")
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=2.0, probe_timeout=0.5)
    try:
        plan = build_plan(observer.observe())
        executor = PlanExecutor(observer, AuditLog(tmp_path / "audit.jsonl"), time_scale=0.01)
        early = executor.run(plan.step("host-enable:xen2"))
        assert early.status == "failed" and "HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY" in early.detail, early
        with sim.world.lock:
            db = sim.proc("xen1").db
            xen2 = db.by_name_label("host", "xen2")[0]
            assert db.get_field("host", xen2, "enabled") is False
        for step in plan.now_steps:
            assert executor.run(step).status in ("done", "skipped"), step.id
        with sim.world.lock:
            assert db.get_field("host", xen2, "enabled") is True
            assert db.get_field("host", xen2, "pending_guidances") == []
            assert all(db.get_field("PBD", p, "currently_attached") for p in db.find("PBD", host=xen2))
    finally:
        observer.close()
