"""Text and JSON renderings of findings and ground truth (used by status and recover)."""

from __future__ import annotations

import json

from tests.recovery.recovery_builders import NOW, PoolBuilder, ground_truth, observation, view
from xentui.recovery import peers as pv
from xentui.recovery.diagnosis import diagnose
from xentui.recovery.summary import ground_truth_json, render_findings, render_ground_truth


def test_renderings_fit_80_columns_and_say_where_facts_come_from():
    b = PoolBuilder().host("xen1").host("xen2").vm("web01", "xen1")
    gt = ground_truth(b, "xen2", master_address=b.address("xen1"), probes={"xen1": "refused"}, link_ip=False)
    obs = observation(
        b,
        "xen2",
        gt=gt,
        live=False,
        state="emergency",
        emergency=("HOST_HAS_NO_MANAGEMENT_IP", []),
        views=[view(b, "xen1", pv.REFUSED)],
    )
    text = render_findings(diagnose(obs)) + render_ground_truth(gt, obs.peer_views, now=NOW)
    assert all(len(line) <= 80 for line in text.splitlines()), max(text.splitlines(), key=len)
    assert "NO_MANAGEMENT_IP" in text and "seen: " in text
    assert "slave of 127.0.0.11" in text and "NO IPv4 ADDRESS" in text and "4 min old" in text
    doc = json.loads(json.dumps(ground_truth_json(gt, obs.peer_views, now=NOW)))
    assert doc["pool_conf"] == {"role": "slave", "master_address": "127.0.0.11"}
    assert doc["management"]["ipv4"] == [] and doc["state_db_age_seconds"] == 240.0
    assert doc["probes"][0]["outcome"] == "refused" and doc["peers"][0]["reach"] == "refused"
    assert ground_truth_json(None) is None and "not available" in render_ground_truth(None)
