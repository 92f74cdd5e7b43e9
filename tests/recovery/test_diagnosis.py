"""Diagnosis rules on hand-built observations: every finding code, its
severity, evidence and plain words (no simulator involved)."""

from __future__ import annotations

from tests.recovery.recovery_builders import PoolBuilder, codes, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.findings import Code, Severity
from xentui.xapi.error_table import explain


def seed_pool() -> PoolBuilder:
    b = PoolBuilder(master="xen1")
    b.host("xen1").host("xen2")
    b.vm("web01", "xen1").vm("db01", "xen1").vm("app01", "xen2").vm("spare01", None)
    return b


def by_code(findings, code):
    return [f for f in findings if f.code is code]


def test_healthy_pool_from_the_master():
    b = PoolBuilder().host("xen1").host("xen2").vm("web01", "xen1")
    gt = ground_truth(b, "xen1", role="master")
    obs = observation(
        b, "xen1", gt=gt, live=True, views=[view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    )
    f = diagnose(obs)
    assert codes(f) == ["POOL_HEALTHY"]
    assert f[0].severity is Severity.OK
    assert "xen1" in f[0].summary


def test_seed_article_master_down_member_in_emergency():
    b = seed_pool()
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "refused"})
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("INTERNAL_ERROR", ["Connection failed: No route to host"]),
        views=[view(b, "xen1", pv.REFUSED)],
    )
    f = diagnose(obs)
    assert codes(f) == ["EMERGENCY_MODE", "MASTER_UNREACHABLE", "VMS_ON_DEAD_HOST"]
    em = f[0]
    assert em.host == "xen2" and em.severity is Severity.CRITICAL
    assert em.data["reason_code"] == "INTERNAL_ERROR"
    # plain words from the error table, not the raw code
    assert em.data["reason_text"] == explain("INTERNAL_ERROR", (), in_emergency=True).title
    assert "INTERNAL_ERROR" not in em.summary
    mu = f[1]
    assert mu.host == "xen1" and mu.data["outcome"] == "refused"
    vms = f[2]
    assert vms.host == "xen1"
    assert set(vms.data["vm_names"].split(",")) == {"web01", "db01"}
    assert any("state.db" in e for e in vms.evidence)  # says where the VM list came from


def test_stored_reason_still_booting_is_not_read_as_wait():
    b = seed_pool()
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "timeout"})
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("HOST_STILL_BOOTING", []),
        views=[view(b, "xen1", pv.TIMEOUT)],
    )
    em = by_code(diagnose(obs), Code.EMERGENCY_MODE)[0]
    e = explain("HOST_STILL_BOOTING", (), in_emergency=True)
    assert em.data["reason_text"] == e.title
    assert e.next_step in em.explanation


def test_master_unreachable_distinguishes_refused_timeout_and_hung():
    for reach, outcome, words in (
        (pv.REFUSED, "refused", "refuses"),
        (pv.TIMEOUT, "timed out", "does not answer"),
        (pv.HUNG, "hung", "never answers"),
    ):
        b = seed_pool()
        gt = ground_truth(
            b, "xen2", master_address=b.address("xen1"), probes={"xen1": "open" if reach == pv.HUNG else reach}
        )
        obs = observation(b, "xen2", gt=gt, live=False, state="timed-out", views=[view(b, "xen1", reach)])
        mu = by_code(diagnose(obs), Code.MASTER_UNREACHABLE)
        assert len(mu) == 1, reach
        assert mu[0].data["outcome"] == outcome
        assert words in mu[0].summary


def test_ha_armed_blocks_promotion():
    b = seed_pool()
    b.ha = True
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "refused"})
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("HA_HOST_CANNOT_ACCESS_STATEFILE", []),
        views=[view(b, "xen1", pv.REFUSED)],
    )
    f = diagnose(obs)
    ha = by_code(f, Code.HA_ARMED)
    assert ha and ha[0].severity is Severity.CRITICAL
    assert "HA_IS_ENABLED" in ha[0].summary


def test_two_masters_flags_vms_both_claim():
    b = PoolBuilder(master="xen2").host("xen1").host("xen2").host("xen3")
    b.vm("web01", "xen1").vm("db01", "xen2")
    gt = ground_truth(b, "xen2", role="master")
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=True,
        views=[
            view(b, "xen1", pv.ANSWERS, pv.MASTER, running=["vm-web01"]),
            view(b, "xen3", pv.ANSWERS, pv.SLAVE, master=b.address("xen2")),
        ],
    )
    f = diagnose(obs)
    tm = by_code(f, Code.TWO_MASTERS)
    assert len(tm) == 1 and tm[0].severity is Severity.CRITICAL
    assert set(tm[0].data["masters"].split(",")) == {"xen1", "xen2"}
    assert tm[0].data["both_claim"] == "web01"
    assert f[0].code is Code.TWO_MASTERS


def test_member_unreachable_then_declared_dead_is_info():
    b = PoolBuilder().host("xen1").host("xen2").host("xen3").vm("app01", "xen3")
    gt = ground_truth(b, "xen1", role="master", probes={"xen3": "timeout"})
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1")), view(b, "xen3", pv.TIMEOUT)]
    f = diagnose(observation(b, "xen1", gt=gt, live=True, views=views))
    mu = by_code(f, Code.MEMBER_UNREACHABLE)
    assert mu and mu[0].severity is Severity.WARNING and mu[0].host == "xen3"
    assert by_code(f, Code.VMS_ON_DEAD_HOST)[0].host == "xen3"
    # after host.declare_dead: disabled, VM halted
    b2 = PoolBuilder().host("xen1").host("xen2").host("xen3", enabled=False).vm("app01", None)
    gt2 = ground_truth(b2, "xen1", role="master", probes={"xen3": "timeout"})
    f2 = diagnose(
        observation(
            b2,
            "xen1",
            gt=gt2,
            live=True,
            views=[view(b2, "xen2", pv.ANSWERS, pv.SLAVE, master=b2.address("xen1")), view(b2, "xen3", pv.TIMEOUT)],
        )
    )
    assert codes(f2) == ["MEMBER_UNREACHABLE", "POOL_HEALTHY"]
    assert f2[0].severity is Severity.INFO
    assert "reinstall" in f2[0].explanation.lower()


def test_orphaned_member_after_promotion():
    b = PoolBuilder(master="xen2").host("xen1").host("xen2").host("xen3")
    gt = ground_truth(b, "xen2", role="master", probes={"xen1": "refused"})
    views = [view(b, "xen1", pv.REFUSED), view(b, "xen3", pv.ANSWERS, pv.EMERGENCY, reason="HOST_STILL_BOOTING")]
    f = diagnose(observation(b, "xen2", gt=gt, live=True, views=views))
    orphan = by_code(f, Code.ORPHANED_MEMBER)
    assert len(orphan) == 1 and orphan[0].host == "xen3"
    # following the dead old master's address also counts
    views[1] = view(b, "xen3", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))
    orphan = by_code(diagnose(observation(b, "xen2", gt=gt, live=True, views=views)), Code.ORPHANED_MEMBER)
    assert orphan and b.address("xen1") in orphan[0].summary


def test_no_management_ip_from_link_and_reason():
    b = seed_pool()
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
    f = diagnose(obs)
    nm = by_code(f, Code.NO_MANAGEMENT_IP)
    assert len(nm) == 1 and nm[0].host == "xen2" and nm[0].data["interface"] == "xenbr0"
    assert any("no IPv4" in e for e in nm[0].evidence)
    assert "xe-reset-networking" in nm[0].explanation  # warned against
    assert not by_code(f, Code.MASTER_UNREACHABLE)  # the master answers


def test_stale_pif_only_on_contradiction_not_for_spare_nics():
    b = PoolBuilder().host("xen1").host("xen2")
    b.pif("xen2", "eth1", attached=False, carrier=False)  # a spare NIC without cable
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    assert not by_code(diagnose(observation(b, "xen1", gt=gt, live=True, views=views)), Code.STALE_PIF)
    # xen2 answers over its management network, yet its management PIF has no NIC: replaced
    b2 = PoolBuilder().host("xen1").host("xen2")
    mgmt = next(p for p in b2.tables["pif"].values() if p["host"].endswith("xen2"))
    mgmt["currently_attached"] = False
    b2.tables["pif_metrics"][mgmt["metrics"]]["carrier"] = False
    b2.pif("xen2", "eth1", attached=False, carrier=False)
    gt2 = ground_truth(b2, "xen1", role="master")
    views2 = [view(b2, "xen2", pv.ANSWERS, pv.SLAVE, master=b2.address("xen1"))]
    stale = by_code(diagnose(observation(b2, "xen1", gt=gt2, live=True, views=views2)), Code.STALE_PIF)
    assert len(stale) == 1 and stale[0].host == "xen2" and stale[0].data["management"] == "true"
    assert len(stale[0].data["pif_uuids"].split(",")) == 2


def test_pbd_unplugged_only_from_a_live_snapshot():
    b = PoolBuilder().host("xen1").host("xen2", pbd_attached=False)
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    f = diagnose(observation(b, "xen1", gt=gt, live=True, views=views))
    assert by_code(f, Code.PBD_UNPLUGGED)[0].host == "xen2"
    f2 = diagnose(observation(b, "xen1", gt=gt, live=False, views=views))
    assert not by_code(f2, Code.PBD_UNPLUGGED)


def test_version_skew_names_the_newest():
    b = PoolBuilder().host("xen1", xapi="25.1.0").host("xen2", xapi="25.6.0")
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    vs = by_code(diagnose(observation(b, "xen1", gt=gt, live=True, views=views)), Code.VERSION_SKEW)
    assert vs and vs[0].data["newest"] == "xen2" and vs[0].severity is Severity.WARNING


def test_default_sr_invalid_and_host_disabled():
    b = PoolBuilder().host("xen1").host("xen2", enabled=False)
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    f = diagnose(observation(b, "xen1", gt=gt, live=True, views=views, default_sr=False))
    assert by_code(f, Code.DEFAULT_SR_INVALID)
    assert by_code(f, Code.HOST_DISABLED)[0].host == "xen2"
    assert not by_code(f, Code.POOL_HEALTHY)


def test_xapi_down_and_findings_sorted_most_severe_first():
    b = PoolBuilder().host("xen1").host("xen2", xapi="26.0.0")
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), xapi_running=False)
    obs = observation(b, "xen2", gt=gt, live=False, state="refused", views=[view(b, "xen1", pv.ANSWERS, pv.MASTER)])
    f = diagnose(obs)
    assert f[0].code is Code.XAPI_DOWN
    sev = [int(x.severity) for x in f]
    assert sev == sorted(sev, reverse=True)
    for finding in f:
        assert finding.summary and finding.explanation and finding.evidence


def test_stale_management_pif_next_to_a_working_one_is_only_info():
    b = PoolBuilder().host("xen1").host("xen2")
    old = next(p for p in b.tables["pif"].values() if p["host"].endswith("xen2"))
    old["currently_attached"] = False
    b.tables["pif_metrics"][old["metrics"]]["carrier"] = False
    b.pif("xen2", "eth0", management=True, mac="02:00:01:00:02:00")  # the new NIC, same network
    gt = ground_truth(b, "xen1", role="master")
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1"))]
    f = diagnose(observation(b, "xen1", gt=gt, live=True, views=views))
    stale = by_code(f, Code.STALE_PIF)
    assert len(stale) == 1 and stale[0].severity is Severity.INFO and stale[0].data["management"] == "shadowed"
    assert by_code(f, Code.POOL_HEALTHY)


def test_ha_on_with_a_working_master_is_not_a_finding():
    b = PoolBuilder(ha=True).host("xen1").host("xen2").host("xen3")
    gt = ground_truth(b, "xen1", role="master", probes={"xen3": "timeout"})
    views = [view(b, "xen2", pv.ANSWERS, pv.SLAVE, master=b.address("xen1")), view(b, "xen3", pv.TIMEOUT)]
    f = diagnose(observation(b, "xen1", gt=gt, live=True, views=views))
    assert not by_code(f, Code.HA_ARMED)  # HA itself deals with a dead member
    assert by_code(f, Code.MEMBER_UNREACHABLE)


# --- issue 13: findings that name xapi's real error (recovery/rules_failures.py) ---


def _member_in_emergency(code, params):
    b = seed_pool()
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "open"})
    return observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=(code, params),
        views=[view(b, "xen1", pv.ANSWERS, pv.MASTER)],
    )


def test_issue13_findings_table():
    stunnel = 'INTERNAL_ERROR: [ Stunnel.Stunnel_verify_error("certificate has expired") ]'
    table = [
        # (stored emergency error, params, code expected, words the summary must name)
        ("INTERNAL_ERROR", [stunnel], Code.TLS_VERIFY_FAILED, "certificate has expired"),
        (
            "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",
            [],
            Code.HA_ARMED_MISMATCH,
            "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED",
        ),
    ]
    for code, params, expected, words in table:
        f = diagnose(_member_in_emergency(code, params))
        found = by_code(f, expected)
        assert len(found) == 1, (code, [x.code for x in f])
        assert found[0].severity is Severity.CRITICAL and found[0].host == "xen2"
        assert words in found[0].summary
        assert by_code(f, Code.EMERGENCY_MODE)  # still said: the host is cut off


def test_issue13_findings_stay_quiet_for_other_errors():
    for code, params in (
        ("INTERNAL_ERROR", ["Connection failed: no route to host."]),
        ("HOST_STILL_BOOTING", []),
        ("HA_HOST_CANNOT_ACCESS_STATEFILE", []),
    ):
        f = diagnose(_member_in_emergency(code, params))
        assert not by_code(f, Code.TLS_VERIFY_FAILED) and not by_code(f, Code.HA_ARMED_MISMATCH), code


def test_tls_finding_gives_the_xe_fix_in_order():
    stunnel = 'INTERNAL_ERROR: [ Stunnel.Stunnel_verify_error("self signed certificate") ]'
    tls = by_code(diagnose(_member_in_emergency("INTERNAL_ERROR", [stunnel])), Code.TLS_VERIFY_FAILED)[0]
    text = tls.explanation
    order = [
        text.index(cmd)
        for cmd in (
            "host-emergency-disable-tls-verification",
            "pool-certificate-sync",
            "host-emergency-reenable-tls-verification",
        )
    ]
    assert order == sorted(order)
    assert tls.data["reason"] == "self signed certificate"


def test_ha_armed_mismatch_of_a_member_seen_from_the_master():
    b = seed_pool()
    gt = ground_truth(b, "xen1", role="master")
    obs = observation(
        b,
        "xen1",
        gt=gt,
        live=True,
        views=[view(b, "xen2", pv.ANSWERS, pv.EMERGENCY, reason="HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED")],
    )
    found = by_code(diagnose(obs), Code.HA_ARMED_MISMATCH)
    assert [f.host for f in found] == ["xen2"]
    assert "pool-ha-disable" in found[0].explanation and "HA_NOT_ENABLED" in found[0].explanation
