"""follow()'s first look is drawn before the VM records arrive (a 2,000-VM pool's
biggest reply): it claims no health, counts VMs from the hosts' resident_VMs,
and the VM records come right after, before the peers are asked."""

from __future__ import annotations

import threading
import time

from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.ui import viewmodel as vm
from xentui.xapi.targets import parse_target


def _follow_until(observer, done, timeout=10.0):
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    deadline = time.monotonic() + timeout
    try:
        while not done(seen) and time.monotonic() < deadline:
            stop.wait(0.02)
    finally:
        stop.set()
        observer.close()
    assert done(seen), [(o.snapshot is not None and o.snapshot.vms_pending, o.peers_pending) for o in seen]
    return seen


def test_first_look_without_vms_claims_no_health_then_vms_then_peers(start_sim):
    sim = start_sim("healthy")
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen1"), call_timeout=1.0, probe_timeout=0.3)
    seen = _follow_until(observer, lambda s: any(Code.POOL_HEALTHY in {f.code for f in o.findings} for o in s))
    first = seen[0]
    assert first.snapshot.vms_pending and not first.snapshot.vms
    assert Code.POOL_HEALTHY not in {f.code for f in first.findings}
    banner = vm.banner(first, time.time())
    assert banner.level == "info" and "reading the VMs" in banner.title
    # the dashboard's VM counts are there already (from host.resident_VMs)
    assert sum(r.vm_count for r in vm.host_rows(first)) == 4
    with_vms = next(o for o in seen if not o.snapshot.vms_pending)
    assert len(with_vms.snapshot.guest_vms()) == 5
    assert seen.index(with_vms) < next(i for i, o in enumerate(seen) if not o.peers_pending)
