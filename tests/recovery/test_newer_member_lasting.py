"""A member newer than its coordinator is still recognised after its stored
error stops saying so.

xen-api xapi.ml attempt_host_status_check_with_coordinator compares the
member's Xapi_version.version with the coordinator's software_version
"xapi_build" (Xapi_version.compare_version: major, then minor) and stores
HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR, Permanent, retried every 60 s.
Once the coordinator is off, the next try fails before that comparison and
stores the connection error. What lasts is what xapi compares: the installed
xapi (`rpm -q xapi-core`) against the coordinator's recorded xapi_build."""

from __future__ import annotations

import dataclasses

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation
from tests.recovery.test_recovery_scenarios import observe, start_sim
from tests.sim.sessions import wait_until
from xentui.host.facts import Fact
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.findings import Code
from xentui.recovery.newer_member import NEWER_CODE, newer_members, version_higher
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.situation import Situation


def _past_the_retry(sim, member="xen2", coordinator="xen1"):
    """Power the coordinator off and let the member's 60 s retry (0.6 s at the
    scaled clock) replace its stored version error."""
    sim.faults.power_off(coordinator)
    wait_until(
        lambda: sim.proc(member).emergency_error.code not in (NEWER_CODE, "HOST_STILL_BOOTING"),
        timeout=20,
        what=f"{member}'s retry after {coordinator} went off",
    )
    assert sim.proc(member).emergency
    assert sim.flush_files(10.0)


def test_after_the_retry_the_finding_still_names_the_version_skew_and_the_plan_stops(tmp_path):
    with start_sim("member-newer", tmp_path) as sim:
        _past_the_retry(sim)
        obs = observe(tmp_path / "xen2")
    assert obs.emergency is not None and obs.emergency.reason_code != NEWER_CODE
    (skew,) = [f for f in diagnose(obs) if f.code is Code.VERSION_SKEW]
    assert skew.severity.label == "critical" and skew.host == "xen2"
    assert skew.summary == f"xen2 runs a newer xapi (24.39.0) than its coordinator xen1 (24.19.2): {NEWER_CODE}"
    assert "xapi 24.39.0 installed" in skew.evidence[0] and "rpm -q xapi-core" in skew.evidence[0]
    assert obs.emergency.reason_code in skew.evidence[0]
    plan = build_plan(obs)
    assert plan.steps == () and plan.stop[-1] == "Nothing was changed."
    assert "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2" in plan.stop[0]
    # xapi.ml server_init: no longer the Permanent refusal (60 s) but a Temporary failure (5 s)
    assert "retries every 5 s and is refused again as soon as the coordinator answers" in plan.stop[0]
    assert "every 5 s" in skew.explanation and "every 60 s" not in skew.explanation
    asked = build_plan(obs, promote_newer=True)
    assert asked.stop == () and "promote:xen2" in [s.id for s in asked.steps]
    assert any("You chose to promote xen2, the newer member" in n for n in asked.notes)


def test_an_ordinary_master_down_member_of_the_same_version_is_not_newer(tmp_path):
    with start_sim("master-down", tmp_path):
        obs = observe(tmp_path / "xen2")
    assert obs.ground_truth is not None and obs.ground_truth.installed_xapi is not None
    assert obs.ground_truth.installed_xapi.value == "24.19.2"  # as its coordinator's xapi_build
    assert not [f for f in diagnose(obs) if f.code is Code.VERSION_SKEW]
    plan = build_plan(obs)
    assert plan.stop == () and "promote:xen2" in [s.id for s in plan.steps]


def _member_installed(version: str, *, emergency=("INTERNAL_ERROR", ["Connection failed"]), live=False):
    b = PoolBuilder().host("xen1", xapi="24.19").host("xen2", xapi="24.19").vm("web01", "xen1")
    b.tables["host"]["OpaqueRef:host-xen1"]["software_version"]["xapi_build"] = "24.19.2"
    gt = ground_truth(b, "xen2", role="slave", master_address=b.address("xen1"), probes={"xen1": "refused"})
    gt = dataclasses.replace(gt, installed_xapi=Fact(version, "rpm -q xapi-core", gt.gathered_at))
    state = "emergency" if emergency else "connected"
    return observation(b, "xen2", gt=gt, live=live, state=state, emergency=emergency)


def test_only_major_and_minor_count_as_in_xapi():
    """Xapi_version.compare_version ignores everything after major.minor."""
    assert version_higher("24.39.0", "24.19.2") is True
    assert version_higher("25.0.0", "24.39.1") is True
    assert version_higher("24.19.9", "24.19.2") is False
    assert version_higher("24.19.2", "24.39.0") is False
    assert version_higher("garbage", "24.19.2") is None and version_higher("24.39.0", "") is None
    assert [m.member_version for m in newer_members(Situation(_member_installed("24.20.0")))] == ["24.20.0"]
    assert newer_members(Situation(_member_installed("24.19.7"))) == []
    assert newer_members(Situation(_member_installed("not-a-version"))) == []


def test_a_member_working_live_is_never_called_newer():
    """Its xapi answers as a member: the coordinator accepted it, whatever is installed."""
    assert newer_members(Situation(_member_installed("24.39.0", emergency=None, live=True))) == []
