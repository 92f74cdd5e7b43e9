"""Observer.follow is incremental (event.from with a token, not a full look per
event), still notices outages, stops promptly; the first look on master-hung
always finds this host; EmergencyState.since comes from xapi's pid file."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.sim.sessions import make_unix_session
from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.sim.runner import Simulator
from xentui.xapi.client import XapiClient
from xentui.xapi.targets import parse_target


@pytest.fixture
def event_calls(monkeypatch):
    """Every event.from the XapiClient makes: token "" = a full snapshot."""
    tokens = []
    original = XapiClient.call

    def counting(self, method, *args, **kwargs):
        if method == "event.from" and len(args) >= 2:
            tokens.append(args[1])
        return original(self, method, *args, **kwargs)

    monkeypatch.setattr(XapiClient, "call", counting)
    return tokens


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_follow_applies_events_without_a_full_snapshot_per_event(start_sim, event_calls):
    sim = start_sim("healthy")
    sim.flush_files(10)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=1.0, probe_timeout=0.3)
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: [o for o in seen if not o.peers_pending], 10)
        # The first look is reported before any peer login, claiming no health; the peers' answers follow.
        assert seen[0].peers_pending and Code.POOL_HEALTHY not in {f.code for f in seen[0].findings}
        answered = next(o for o in seen if not o.peers_pending)
        assert answered.findings[0].code is Code.POOL_HEALTHY and answered.peer_views
        full_before = event_calls.count("")
        session = make_unix_session(sim.endpoints.host("xen1").socket)
        session.xenapi.login_with_password("root", sim.endpoints.root_password)
        try:
            api = session.xenapi
            vm = api.VM.get_by_name_label("web01")[0]
            for i in range(5):
                api.VM.set_name_label(vm, f"web01-renamed-{i}")
                assert wait_for(
                    lambda i=i: any(
                        v.name_label == f"web01-renamed-{i}" for o in seen for v in o.snapshot.vms.values()
                    ),
                    5,
                ), i
        finally:
            session.xenapi.session.logout()
        # five changes arrived through incremental event.from calls, not five full looks
        assert event_calls.count("") - full_before <= 1
        assert sum(1 for t in event_calls if t) >= 5
    finally:
        stop.set()
        t0 = time.monotonic()
        worker.join(10)
        assert not worker.is_alive() and time.monotonic() - t0 < 3.0  # stops promptly
        observer.close()


def test_follow_notices_a_member_powered_off(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=1.0, probe_timeout=0.3)
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: seen, 10)
        sim.faults.power_off("xen3")
        assert wait_for(
            lambda: any(f.code is Code.MEMBER_UNREACHABLE and f.host == "xen3" for o in seen for f in o.findings), 15
        )
    finally:
        stop.set()
        worker.join(10)
        assert not worker.is_alive()
        observer.close()


def test_first_look_on_master_hung_always_finds_this_host(tmp_path):
    """The state.db of a freshly started member may reach the disk after the
    observer read the files (the xapi look then takes a whole call timeout):
    the observer reads it again instead of planning without this host."""
    for i in range(10):
        with Simulator.start("master-hung", tmp_path / f"sim{i}", time_scale=0.01) as sim:
            with Observer(parse_target(f"sim:{sim.state_dir}/xen2"), call_timeout=0.5, probe_timeout=0.3) as obs:
                observation = obs.observe()
            plan = build_plan(observation)
            assert observation.this_host_name == "xen2", i
            assert observation.snapshot is not None and observation.snapshot_source.startswith("state.db"), i
            assert not any("not found in the pool database" in n for n in plan.notes), (i, plan.notes)


def test_emergency_since_is_the_start_of_the_emergency_mode_xapi(start_sim):
    sim = start_sim("master-down")
    sim.flush_files(10)
    pid_file = sim.state_dir / "xen2" / "var" / "run" / "xapi.pid"
    with Observer(parse_target(f"sim:{sim.state_dir}/xen2"), call_timeout=1.0, probe_timeout=0.3) as observer:
        obs = observer.observe()
    assert obs.emergency is not None and obs.emergency.in_emergency
    assert obs.emergency.since == pytest.approx(os.stat(pid_file).st_mtime)
    assert "xapi.pid" in obs.emergency.since_source


def test_follow_notices_its_own_xapi_going_away_promptly(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=1.0, probe_timeout=0.3)
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: seen, 10)
        sim.faults.power_off("xen1")  # the event call fails -> a full look at once
        t0 = time.monotonic()
        assert wait_for(lambda: any(Code.XAPI_DOWN in {f.code for f in o.findings} for o in seen), 10)
        assert time.monotonic() - t0 < 1.0 + 1.0 + 3.0  # event call + one look, not a refresh period
        assert seen[-1].connection.state in ("refused", "lost", "timed-out")
    finally:
        stop.set()
        worker.join(10)
        assert not worker.is_alive()
        observer.close()
