"""The observer: never raises for outages, bounded by its timeouts, follows changes."""

from __future__ import annotations

import threading
import time

from tests.recovery.test_recovery_scenarios import start_sim
from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.xapi.targets import parse_target


def test_observe_survives_the_simulator_vanishing(tmp_path):
    with start_sim("healthy", tmp_path) as sim:
        observer = Observer(parse_target(f"sim:{tmp_path}"), call_timeout=1.0, probe_timeout=0.3)
        first = observer.observe()
        assert first.connection.state == "connected" and first.this_host_name == "xen1"
        sim.faults.power_off("xen1")
        t0 = time.monotonic()
        second = observer.observe()  # xapi gone: no exception, a state and findings instead
        assert time.monotonic() - t0 < 1.0 + 0.3 + 2.0
        assert second.connection.state in ("refused", "lost", "timed-out")
        assert second.snapshot_source.startswith("state.db")
        assert Code.XAPI_DOWN in {f.code for f in second.findings}
        observer.close()


def test_follow_reports_changes_until_stopped(tmp_path):
    with start_sim("healthy", tmp_path) as sim:
        observer = Observer(parse_target(f"sim:{tmp_path}"), call_timeout=1.0, probe_timeout=0.3)
        seen = []
        stop = threading.Event()
        worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
        worker.start()
        deadline = time.monotonic() + 10
        while not [o for o in seen if not o.peers_pending] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [o for o in seen if not o.peers_pending][0].findings[0].code is Code.POOL_HEALTHY
        sim.faults.power_off("xen3")
        while time.monotonic() < deadline and not any(
            Code.MEMBER_UNREACHABLE in {f.code for f in o.findings} for o in seen
        ):
            time.sleep(0.05)
        stop.set()
        worker.join(timeout=10)
        assert not worker.is_alive()
        changed = [o for o in seen if Code.MEMBER_UNREACHABLE in {f.code for f in o.findings}]
        assert changed and changed[0].peer_views
        assert any(f.host == "xen3" for f in changed[0].findings)
        observer.close()


def test_peer_views_tell_roles_apart(tmp_path):
    with start_sim("split-brain", tmp_path):
        with Observer(parse_target(f"sim:{tmp_path}"), call_timeout=2.0, probe_timeout=0.3) as observer:
            obs = observer.observe()
    roles = {v.host_name: (v.reach, v.role, v.master_address) for v in obs.peer_views}
    assert roles["xen1"][:2] == ("answers", "master")
    assert roles["xen3"] == ("answers", "slave", "127.0.0.12")
    assert "xenroot" not in repr(obs)
