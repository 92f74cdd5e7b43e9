"""forget-stale-pifs against the simulator's PIF.forget, which (like xapi_pif.ml
forget_internal -> nm.ml bring_pif_down) destroys the PIF's bridge: an old PIF on the
bridge that carries the host's management address is kept, the others are forgotten,
and the host keeps its address."""

from __future__ import annotations

import pytest

from tests.recovery.test_recovery_run import open_observer
from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery import audit as au
from xentui.recovery.audit import AuditLog
from xentui.recovery.executor import PlanExecutor
from xentui.recovery.steps.forget_stale_pifs import declare as step_forget_stale_pifs


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"


def test_a_stale_pif_on_the_management_bridge_is_kept(tmp_path, state_dir):
    with start_sim("healthy", state_dir=tmp_path / "sim") as sim:
        db = sim.proc("xen1").db
        with sim.world.lock:  # what a NIC swap can leave: old rows on xenbr0 and xenbr1
            xen2 = db.by_name_label("host", "xen2")[0]
            net = {db.get_field("network", n, "bridge"): n for n in db.refs("network")}
            stale0 = db.create(
                "PIF",
                device="eth9",
                host=xen2,
                network=net["xenbr0"],
                MAC="02:00:00:00:00:99",
                physical=True,
                currently_attached=False,
                managed=True,
            )
            stale1 = db.create(
                "PIF",
                device="eth8",
                host=xen2,
                network=net["xenbr1"],
                MAC="02:00:00:00:00:98",
                physical=True,
                currently_attached=False,
                managed=True,
            )
        with open_observer(tmp_path / "sim") as observer:
            obs = observer.observe()
            snap = obs.snapshot
            pifs = [snap.pifs[stale0], snap.pifs[stale1]]
            step = step_forget_stale_pifs(snap.host_by_name("xen2"), pifs, snap.host_by_name("xen1"))
            result = PlanExecutor(observer, AuditLog(state_dir / "audit.jsonl"), time_scale=0.01).run(step)
        assert result.status == "done", result.detail
        assert "kept: 1 old PIF(s) on the bridge that carries the management address" in result.detail
        with sim.world.lock:
            assert db.exists("PIF", stale0) and not db.exists("PIF", stale1)
        assert sim.world.machines["xen2"].has_ip
