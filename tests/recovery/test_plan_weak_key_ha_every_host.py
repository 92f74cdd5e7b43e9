"""Plans for the weak-key case (issue 13 item 1) and the HA mismatch whose
coordinator cannot run pool-ha-disable (item 2): what is found, which path is
chosen, and what each step declares."""

from __future__ import annotations

import pytest

from tests.recovery.test_recovery_scenarios import observe, start_sim
from xentui.recovery.findings import Code
from xentui.recovery.plan import Confirm
from xentui.recovery.plan_builder import build_plan

SCALE = 0.01
EVERY_HOST = ["ha-emergency-disable:xen1", "ha-emergency-disable:xen2", "ha-emergency-disable:xen3"]


@pytest.mark.parametrize("console", ["xen1", "xen2", "xen3"])
def test_weak_key_names_the_key_and_the_host_holding_it(tmp_path, console):
    with start_sim("tls-weak-key", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    found = [f for f in obs.findings if f.code is Code.TLS_VERIFY_FAILED]
    assert sorted(f.host for f in found) == ["xen2", "xen3"], obs.findings
    for f in found:
        assert f"{f.host} rejects xen1's pool certificate: its key is too weak" in f.summary
        assert "EE certificate key too weak" in f.summary
        assert f.data["weak_key_host"] == "xen1"
        assert "xe host-emergency-reset-server-certificate" in f.explanation  # named, for xapi-ssl.pem
    ids = [s.id for s in build_plan(obs).steps]
    assert ids[:5] == [
        "tls-disable:xen2",
        "tls-disable:xen3",
        "tls-refresh-certificate:xen1",
        "tls-reenable:xen2",
        "tls-reenable:xen3",
    ], ids


@pytest.mark.parametrize("console", ["xen1", "xen2", "xen3"])
def test_coordinator_in_ha_startup_loop_gets_every_host_disarmed(tmp_path, console):
    with start_sim("ha-mismatch-no-statefile", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/{console}")
    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert ids[:5] == EVERY_HOST + ["member-restart:xen3", "check-coordinator:xen1"], ids
    assert "pool-ha-disable" not in ids and "ha-disable:xen1" not in ids, ids
    steps = {s.id: s for s in plan.steps}
    coordinator, armed, stuck = (steps[i] for i in EVERY_HOST)
    assert coordinator.xe == ("xe host-emergency-ha-disable --force soft=false   # on xen1's console",)
    assert armed.params["soft"] == "false" and armed.confirm is Confirm.F8
    assert stuck.params["soft"] == "true" and stuck.confirm is Confirm.ENTER and stuck.risk == "none"
    assert {p.id for p in coordinator.preconditions} == {"answers:xen1"}
    assert any("HA start-up loop" in n for n in plan.notes), plan.notes


def test_a_coordinator_that_answers_still_gets_pool_ha_disable(tmp_path):
    with start_sim("ha-armed-mismatch", state_dir=tmp_path / "sim", time_scale=SCALE):
        obs = observe(f"{tmp_path / 'sim'}/xen1")
    ids = [s.id for s in build_plan(obs).steps]
    assert ids[0] == "pool-ha-disable" and not any(i.startswith("ha-emergency-disable") for i in ids), ids
