"""Plans built from hand-built observations: order, contents, fencing needs."""

from __future__ import annotations

import json

from tests.recovery.recovery_builders import PoolBuilder, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.plan import RISKS, Confirm
from xentui.recovery.plan_builder import build_plan


def ids(plan):
    return [s.id for s in plan.steps]


def seed_obs(ha=False, third=False, hung=False, xen3_version="25.1.0"):
    b = PoolBuilder(master="xen1", ha=ha)
    b.host("xen1").host("xen2")
    if third:
        b.host("xen3", xapi=xen3_version)
    b.vm("web01", "xen1").vm("db01", "xen1").vm("app01", "xen2")
    probes = {"xen1": "open" if hung else "refused"}
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes=probes)
    views = [view(b, "xen1", pv.HUNG if hung else pv.REFUSED)]
    if third:
        views.append(view(b, "xen3", pv.ANSWERS, pv.EMERGENCY, reason="HOST_STILL_BOOTING"))
    reason = "HA_HOST_CANNOT_ACCESS_STATEFILE" if ha else "INTERNAL_ERROR"
    return observation(b, "xen2", gt=gt, live=False, state="emergency", emergency=(reason, []), views=views)


def test_seed_article_plan():
    plan = build_plan(seed_obs())
    assert ids(plan) == [
        "confirm-master-down:xen1",
        "promote:xen2",
        "declare-dead:xen1",
        "plug-pbds",
        "check-default-sr",
        "start-vms",
        "backup-db",
    ]
    assert plan.requires_fenced == ("xen1",)
    promote = plan.step("promote:xen2")
    assert promote.xe == ("xe pool-emergency-transition-to-master",)
    assert promote.calls == ("pool.emergency_transition_to_master()",)
    assert {p.id for p in promote.preconditions} >= {"fenced:xen1", "silent:xen1", "answers:xen2"}
    assert promote.requires_fenced == ("xen1",) and promote.risk == "high"
    dead = plan.step("declare-dead:xen1")
    assert dead.confirm is Confirm.TYPED_HOST and dead.target_host == "xen1" and dead.risk == "critical"
    assert dead.xe == ("xe host-declare-dead uuid=uuid-xen1 --force",)
    start = plan.step("start-vms")
    assert set(start.params["vm_names"].split(",")) == {"web01", "db01"}
    assert plan.step("backup-db").phase == "later"
    for s in plan.steps:
        assert s.why and s.changes and s.verify and s.on_failure and s.xe, s.id
        assert s.risk in RISKS
    doc = json.loads(json.dumps(plan.to_json()))
    assert doc["requires_fenced"] == ["xen1"] and doc["steps"][1]["id"] == "promote:xen2"


def test_ha_plan_disarms_first_and_reenables_later():
    plan = build_plan(seed_obs(ha=True, third=True))
    order = ids(plan)
    assert order.index("ha-disable:xen2") < order.index("promote:xen2")
    assert "ha-disable:xen3" in order
    assert plan.step("ha-disable:xen2").xe == ("xe host-emergency-ha-disable --force soft=false",)
    assert plan.step("ha-disable:xen2").calls == ("host.emergency_ha_disable(false)",)
    assert any(p.id == "ha-disarmed:xen2" for p in plan.step("promote:xen2").preconditions)
    assert plan.step("enable-ha").phase == "later"


def test_three_hosts_recover_members_then_reset_orphans():
    plan = build_plan(seed_obs(third=True))
    order = ids(plan)
    assert order.index("promote:xen2") < order.index("recover-members") < order.index("reset-master:xen3")
    assert plan.step("recover-members").xe == ("xe pool-recover-slaves",)
    assert plan.step("reset-master:xen3").xe[0].startswith("xe pool-emergency-reset-master master-address=127.0.0.12")


def test_hung_master_plan_says_power_it_off():
    plan = build_plan(seed_obs(hung=True))
    assert "promote:xen2" in ids(plan)
    assert any("Power it off" in n for n in plan.notes)


def test_version_skew_recommends_the_newest_survivor():
    plan = build_plan(seed_obs(third=True, xen3_version="26.0.0"))
    assert any("xen3 runs a newer xapi" in n for n in plan.notes)


def two_masters_obs():
    b = PoolBuilder(master="xen2").host("xen1").host("xen2").host("xen3")
    b.vm("web01", "xen1").vm("db01", "xen2")
    gt = ground_truth(b, "xen2", role="master")
    return observation(
        b,
        "xen2",
        gt=gt,
        live=True,
        views=[
            view(b, "xen1", pv.ANSWERS, pv.MASTER, running=["vm-web01"]),
            view(b, "xen3", pv.ANSWERS, pv.SLAVE, master=b.address("xen2")),
        ],
    )


def test_two_masters_keep_one_demote_the_other():
    plan = build_plan(two_masters_obs())
    assert ids(plan)[:3] == ["keep-master:xen2", "demote-master:xen1", "recover-members"]
    keep = plan.step("keep-master:xen2")
    assert set(keep.choice) == {"xen1", "xen2"} and keep.confirm is Confirm.TYPED_HOST
    demote = plan.step("demote-master:xen1")
    assert demote.xe[0].startswith("xe pool-emergency-reset-master master-address=127.0.0.12")
    assert "web01" in demote.risk_text
    assert any("web01" in n for n in plan.notes)
    other = build_plan(two_masters_obs(), keep_master="xen1")
    assert ids(other)[:2] == ["keep-master:xen1", "demote-master:xen2"]


def test_no_management_ip_plan_says_what_really_brings_the_address_back():
    # xapi_host.ml local_management_reconfigure assigns no address: with the link up and
    # no address (a lost lease) the fix is xe-toolstack-restart (networkd re-applies);
    # xentui makes no xapi call for it.
    b = PoolBuilder().host("xen1").host("xen2")
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), link_ip=False)
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("HOST_HAS_NO_MANAGEMENT_IP", []),
        views=[view(b, "xen1", pv.ANSWERS, pv.MASTER)],
    )
    plan = build_plan(obs)
    assert ids(plan)[0] == "management-reconfigure:xen2"
    step = plan.step("management-reconfigure:xen2")
    assert step.params["mode"] == "emergency" and step.params["cause"] == "address"
    assert step.xe == ("xe-toolstack-restart",) and step.calls == ()
    assert "running VMs keep running" in step.on_failure
    assert "promote:xen2" not in ids(plan)


def test_stale_pif_plan_scans_moves_then_forgets():
    b = PoolBuilder().host("xen1").host("xen2")
    mgmt = next(p for p in b.tables["pif"].values() if p["host"].endswith("xen2"))
    mgmt["currently_attached"] = False
    b.tables["pif_metrics"][mgmt["metrics"]]["carrier"] = False
    gt = ground_truth(b, "xen1", role="master")
    obs = observation(
        b, "xen1", gt=gt, live=True, views=[view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    )
    order = ids(build_plan(obs))
    assert (
        order.index("pif-scan:xen2")
        < order.index("management-reconfigure:xen2")
        < order.index("forget-stale-pifs:xen2")
    )


def test_healthy_pool_has_an_empty_plan():
    b = PoolBuilder().host("xen1").host("xen2")
    gt = ground_truth(b, "xen1", role="master")
    obs = observation(
        b, "xen1", gt=gt, live=True, views=[view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    )
    plan = build_plan(obs)
    assert plan.steps == () and plan.finding_codes == ("POOL_HEALTHY",)


def test_preferred_master_adds_a_later_designate_step():
    b = PoolBuilder(master="xen2").host("xen1").host("xen2").host("xen3", enabled=False)
    gt = ground_truth(b, "xen2", role="master", probes={"xen3": "refused"})
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=True,
        views=[view(b, "xen1", pv.ANSWERS, pv.SLAVE, master=b.address("xen1")), view(b, "xen3", pv.REFUSED)],
    )
    plan = build_plan(obs, preferred_master="xen1")
    d = plan.step("designate-master:xen1")
    assert d.phase == "later" and any(p.id == "single-flight" for p in d.preconditions)
    assert d.xe == ("xe pool-designate-new-master host-uuid=uuid-xen1",)
