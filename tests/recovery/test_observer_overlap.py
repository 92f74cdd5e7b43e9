"""follow(): the other hosts are asked while the first look's VM records are
still on their way (on a real pool each host is another machine), and no
observation claims health before both are in."""

from __future__ import annotations

import threading
import time

from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.xapi import live
from xentui.xapi.targets import parse_target


def test_peers_are_asked_while_the_vm_records_are_read(start_sim, monkeypatch):
    sim = start_sim("healthy")
    sim.flush_files(10)
    peer_asked = threading.Event()
    asked_before_vms_in = []
    load_vms, ask_peer = live.load_vms, Observer._ask_peer

    def slow_vm_records(*args, **kwargs):
        # The VM records come in only once a peer was asked (or never would be).
        asked_before_vms_in.append(peer_asked.wait(20))
        return load_vms(*args, **kwargs)

    def asking(self, *args, **kwargs):
        peer_asked.set()
        return ask_peer(self, *args, **kwargs)

    monkeypatch.setattr(live, "load_vms", slow_vm_records)
    monkeypatch.setattr(Observer, "_ask_peer", asking)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=5.0, probe_timeout=0.3)
    seen, stop, done = [], threading.Event(), threading.Event()

    def record(obs):
        seen.append(obs)
        if not obs.peers_pending and not obs.snapshot.vms_pending:
            done.set()

    worker = threading.Thread(target=observer.follow, args=(record, stop), daemon=True)
    worker.start()
    try:
        assert done.wait(30)
    finally:
        stop.set()
        worker.join(10)
        observer.close()
    assert asked_before_vms_in == [True]
    assert seen[0].snapshot.vms_pending and seen[0].peers_pending
    for obs in seen[:-1]:
        assert obs.peers_pending or obs.snapshot.vms_pending
        assert Code.POOL_HEALTHY not in {f.code for f in obs.findings}
    final = seen[-1]
    assert final.findings[0].code is Code.POOL_HEALTHY
    assert {v.host_name for v in final.peer_views} == {"xen2", "xen3"}
    assert len(final.snapshot.guest_vms()) >= 1


def test_vm_records_in_before_the_peers_still_claim_no_health(start_sim, monkeypatch):
    sim = start_sim("healthy")
    sim.flush_files(10)
    peers_may_answer = threading.Event()
    ask_peer = Observer._ask_peer

    def held(self, *args, **kwargs):
        peers_may_answer.wait(20)
        return ask_peer(self, *args, **kwargs)

    monkeypatch.setattr(Observer, "_ask_peer", held)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=5.0, probe_timeout=0.3)
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not any(not o.snapshot.vms_pending for o in seen) and time.monotonic() < deadline:
            stop.wait(0.02)
        vms_in = next(o for o in seen if not o.snapshot.vms_pending)
        assert vms_in.peers_pending
        assert Code.POOL_HEALTHY not in {f.code for f in vms_in.findings}
        peers_may_answer.set()
        while not any(not o.peers_pending for o in seen) and time.monotonic() < deadline:
            stop.wait(0.02)
    finally:
        peers_may_answer.set()
        stop.set()
        worker.join(10)
        observer.close()
    assert seen[-1].findings[0].code is Code.POOL_HEALTHY and not seen[-1].peers_pending
