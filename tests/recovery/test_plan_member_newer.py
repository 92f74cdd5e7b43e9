"""A member updated before its coordinator (issue 13 item 3): the plan is a
clear stop that names HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR and both
versions, says to update the coordinator first and holds no step; promotion
of the newer member is planned only when the admin asks for it.

xen-api xapi.ml attempt_host_status_check_with_coordinator: the member's
Xapi_version.version against the coordinator's software_version xapi_build;
higher -> HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR [version], Permanent
(retried every Db_globs.permanent_master_failure_retry_interval = 60 s)."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.findings import Code
from xentui.recovery.plan_builder import build_plan

CODE = "HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR"


def _pool() -> PoolBuilder:
    b = PoolBuilder().host("xen1", xapi="24.19").host("xen2", xapi="24.19").host("xen3", xapi="24.19")
    b.tables["host"]["OpaqueRef:host-xen1"]["software_version"]["xapi_build"] = "24.19.2"
    return b.vm("web01", "xen1").vm("db01", "xen2")


def _on_member():
    b = _pool()
    gt = ground_truth(b, "xen2", role="slave", master_address=b.address("xen1"))
    obs = observation(b, "xen2", gt=gt, live=False, state="emergency", emergency=(CODE, ["24.39.0"]))
    return obs


def test_the_newer_member_stops_with_both_versions_and_no_step():
    obs = _on_member()
    findings = diagnose(obs)
    (skew,) = [f for f in findings if f.code is Code.VERSION_SKEW and f.severity.label == "critical"]
    assert skew.summary == f"xen2 runs a newer xapi (24.39.0) than its coordinator xen1 (24.19.2): {CODE}"
    assert skew.data["member_version"] == "24.39.0" and skew.data["coordinator_version"] == "24.19.2"
    plan = build_plan(obs)
    assert plan.steps == ()
    text = " ".join(plan.stop)
    assert CODE in text and "24.39.0" in text and "24.19.2" in text
    assert "Update the coordinator first (xen1" in text and "xentui cannot update anything" in text
    assert plan.stop[-1] == "Nothing was changed."
    assert plan.to_json()["stop"] == list(plan.stop)


def test_promoting_the_newer_member_only_when_asked_and_behind_the_coordinators_fence():
    plan = build_plan(_on_member(), promote_newer=True)
    ids = [s.id for s in plan.steps]
    assert plan.stop == ()
    assert ids.index("confirm-master-down:xen1") < ids.index("promote:xen2")
    assert plan.requires_fenced[0] == "xen1"
    promote = plan.step("promote:xen2")
    assert {"fenced:xen1", "silent:xen1"} <= {p.id for p in promote.preconditions}
    consequences = " ".join(plan.notes)
    assert "You chose to promote xen2" in consequences and "coordinator must be powered off" in consequences
    assert "own database copy" in consequences


def test_seen_from_the_coordinator_it_is_a_stop_too():
    """Not 'recover the orphaned member': its xapi would restart into the same refusal."""
    b = _pool()
    gt = ground_truth(b, "xen1", role="master")
    newer = pv.PeerView(
        "xen2", b.address("xen2"), pv.ANSWERS, role=pv.EMERGENCY, reason_code=CODE, reason_params=("24.39.0",)
    )
    views = [newer, view(b, "xen3", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    obs = observation(b, "xen1", gt=gt, live=True, views=views)
    plan = build_plan(obs)
    assert plan.steps == () and "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2" in plan.stop[0]
    # asking for promotion there says where it can be done, and still changes nothing
    asked = build_plan(obs, promote_newer=True)
    assert asked.steps == () and "run xentui on the newer member's console (xen2)" in asked.stop[-1]
