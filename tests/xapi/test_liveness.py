"""The master's liveness probe: refused vs hung on its own connection, a
verdict only after N consecutive misses (never from one slow answer), and the
follow loop's banner driven by it. Intervals are injected; the simulator's
clock is scaled; nothing here asserts a duration."""

from __future__ import annotations

import threading

import pytest

from tests.sim.sessions import wait_until
from tests.xapi.sshd_fixture import ssh_target_to_sim
from tests.xapi.tls_front import TlsFront
from xentui.recovery.findings import Code
from xentui.recovery.observer import Observer
from xentui.ui import viewmodel as vm
from xentui.xapi import liveness as lv
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TcpEndpoint, open_endpoint


def _master_endpoint(sim, timeout: float) -> TcpEndpoint:
    host = sim.endpoints.host("xen1")
    return TcpEndpoint("http", host.address, host.port, connect_timeout=timeout)


def test_probe_tells_answers_refused_and_hung_apart(start_sim):
    sim = start_sim("healthy")
    endpoint = _master_endpoint(sim, 0.5)
    assert lv.probe_once(endpoint.open_stream, 0.5).outcome == lv.ANSWERS
    sim.faults.hang("xen1")
    hung = lv.probe_once(endpoint.open_stream, 0.3)
    assert hung.outcome == lv.HUNG and not hung.answers
    sim.faults.unhang("xen1")
    assert lv.probe_once(endpoint.open_stream, 0.5).outcome == lv.ANSWERS
    sim.faults.power_off("xen1")
    assert lv.probe_once(endpoint.open_stream, 0.5).outcome == lv.REFUSED


def test_probe_asks_system_is_alive_which_xapi_answers_without_a_session(start_sim):
    """The probe's own request bytes: `system.isAlive:<uuid>(uuid)` is echoed by
    xapi's dispatcher with no session check (gen_server.ml dispatch_call's
    fallthrough), so a probe each second logs no SESSION_INVALID on the master."""
    import xmlrpc.client

    sim = start_sim("healthy")
    token = "4b1c2a8e-0000-4000-8000-000000000001"
    request = lv._request("localhost", token)
    assert xmlrpc.client.loads(request.partition(b"\r\n\r\n")[2]) == ((token,), f"{lv.IS_ALIVE}:{token}")
    stream = _master_endpoint(sim, 1.0).open_stream(1.0)
    try:
        stream.sendall(request)
        reply = b""
        while True:
            chunk = stream.recv(65536)
            if not chunk:
                break
            reply += chunk
    finally:
        stream.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert xmlrpc.client.loads(body)[0] == ({"Status": "Success", "Value": token},)


def test_probe_of_a_slow_but_alive_master_answers(start_sim):
    sim = start_sim("healthy", time_scale=0.01)
    sim.faults.slow("xen1", "10")  # 10 simulated s = 0.1 s here, within the deadline
    assert lv.probe_once(_master_endpoint(sim, 1.0).open_stream, 1.0).outcome == lv.ANSWERS


def _scripted_monitor(misses: int = 2):
    changes = []
    monitor = lv.LivenessMonitor(lambda: lv.ProbeResult(lv.ANSWERS, 0.0), changes.append, misses=misses)
    return monitor, changes


def _result(outcome: str) -> lv.ProbeResult:
    return lv.ProbeResult(outcome, 0.1, "")


def test_one_missed_probe_in_a_busy_moment_is_not_a_dead_master():
    monitor, changes = _scripted_monitor(misses=2)
    outcomes = [lv.ANSWERS, lv.HUNG, lv.ANSWERS, lv.HUNG, lv.ANSWERS, lv.REFUSED, lv.ANSWERS]
    for seq, outcome in enumerate(outcomes, 1):
        monitor.record(seq, _result(outcome))
    assert changes == [] and not monitor.verdict.down


def test_the_verdict_comes_after_the_threshold_and_says_which():
    monitor, changes = _scripted_monitor(misses=3)
    monitor.record(1, _result(lv.ANSWERS))
    monitor.record(2, _result(lv.HUNG))
    monitor.record(3, _result(lv.HUNG))
    assert changes == []
    monitor.record(4, _result(lv.HUNG))
    assert [c.down for c in changes] == [True] and changes[0].outcome == lv.HUNG and changes[0].misses == 3
    monitor.record(5, _result(lv.ANSWERS))  # one answer: back up
    assert [c.down for c in changes] == [True, False]


def test_a_probe_path_that_never_answered_raises_no_alarm():
    """A firewalled port or a master dead before we started: the probe knows
    nothing, the ordinary look at the pool reports it."""
    monitor, changes = _scripted_monitor(misses=2)
    for seq in range(1, 6):
        monitor.record(seq, _result(lv.REFUSED))
    assert changes == [] and not monitor.verdict.down and monitor.verdict.misses == 5


def test_a_late_result_of_an_older_probe_does_not_count():
    monitor, changes = _scripted_monitor(misses=2)
    monitor.record(1, _result(lv.ANSWERS))
    monitor.record(3, _result(lv.REFUSED))
    monitor.record(2, _result(lv.REFUSED))  # started before #3, finished after it
    assert changes == [] and monitor.verdict.misses == 1


def test_monitor_never_cries_wolf_under_a_slow_master(start_sim):
    sim = start_sim("healthy", time_scale=0.01)
    sim.faults.slow("xen1", "20")  # every answer 0.2 s late; the deadline is 1 s
    endpoint = _master_endpoint(sim, 1.0)
    changes = []
    monitor = lv.LivenessMonitor(
        lambda: lv.probe_once(endpoint.open_stream, 1.0), changes.append, interval=0.02, misses=2
    ).start()
    try:
        wait_until(lambda: monitor.probes_done >= 15, 30, what="15 probes")
    finally:
        monitor.stop()
    assert changes == [] and not monitor.verdict.down


def test_monitor_declares_a_hung_master_down_after_the_threshold(start_sim):
    sim = start_sim("healthy")
    endpoint = _master_endpoint(sim, 0.2)
    changes = []
    done = threading.Event()
    monitor = lv.LivenessMonitor(
        lambda: lv.probe_once(endpoint.open_stream, 0.2),
        lambda v: (changes.append(v), done.set()),
        interval=0.05,
        misses=2,
    )
    monitor.start()
    try:
        wait_until(lambda: monitor.probes_done >= 2, 10, what="two answered probes")
        assert changes == []
        sim.faults.hang("xen1")
        wait_until(done.is_set, 10, what="the verdict")
    finally:
        monitor.stop()
    assert changes[0].down and changes[0].outcome == lv.HUNG and changes[0].misses >= 2


def _follow(observer):
    seen, stop = [], threading.Event()
    worker = threading.Thread(target=observer.follow, args=(seen.append, stop), daemon=True)
    worker.start()
    return seen, stop, worker


def _unreachable(seen):
    for obs in list(seen):
        finding = next((f for f in obs.findings if f.code is Code.MASTER_UNREACHABLE), None)
        if finding is not None:
            return obs, finding
    return None


def test_follow_shows_a_hung_master_from_the_probe(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    # A call timeout far beyond the test's patience: only the probe can tell.
    observer = Observer(
        parse_target(f"sim:{sim.state_dir}/xen2"),
        call_timeout=60.0,
        probe_timeout=0.3,
        liveness_interval=0.05,
        liveness_timeout=0.3,
        liveness_misses=2,
    )
    seen, stop, worker = _follow(observer)
    try:
        wait_until(lambda: seen and Code.POOL_HEALTHY in {f.code for f in seen[-1].findings}, 20, what="healthy")
        sim.faults.hang("xen1")
        obs, finding = wait_until(lambda: _unreachable(seen), 20, what="master not answering")
    finally:
        # The loop itself sits in its event call until the simulator stops
        # (the daemon thread then ends): no join here.
        stop.set()
        observer.close()
    assert finding.data["reach"] == "hung"
    assert any("liveness probe: 2 probes in a row failed" in e for e in finding.evidence)
    shown = vm.banner(obs, obs.at)
    assert shown.level == "emergency" and "NOT ANSWERING" in shown.title
    assert any("accepts connections but xapi never answers" in line for line in shown.lines)


def test_follow_shows_a_powered_off_master_as_refusing(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    observer = Observer(
        parse_target(f"sim:{sim.state_dir}/xen2"),
        call_timeout=60.0,
        probe_timeout=0.3,
        liveness_interval=0.05,
        liveness_timeout=0.3,
        liveness_misses=2,
    )
    seen, stop, worker = _follow(observer)
    try:
        wait_until(lambda: seen and Code.POOL_HEALTHY in {f.code for f in seen[-1].findings}, 20, what="healthy")
        sim.faults.power_off("xen1")
        obs, finding = wait_until(lambda: _unreachable(seen), 20, what="master not answering")
    finally:
        stop.set()
        worker.join(10)
        observer.close()
    assert finding.data["reach"] == "refused"
    shown = vm.banner(obs, obs.at)
    assert shown.level == "emergency" and "NOT ANSWERING" in shown.title
    assert any("refuses connections" in line for line in shown.lines)


def test_follow_raises_no_alarm_under_a_slow_master(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    observer = Observer(
        parse_target(f"sim:{sim.state_dir}/xen2"),
        call_timeout=5.0,
        probe_timeout=0.3,
        liveness_interval=0.02,
        liveness_timeout=1.0,
        liveness_misses=2,
    )
    seen, stop, worker = _follow(observer)
    try:
        wait_until(lambda: seen and Code.POOL_HEALTHY in {f.code for f in seen[-1].findings}, 20, what="healthy")
        sim.faults.slow("xen1", "20")  # 0.2 s late on every answer, deadline 1 s
        liveness = observer._liveness
        wait_until(
            lambda: liveness._monitor is not None and liveness._monitor.probes_done >= 20,
            30,
            what="20 probes of the slow master",
        )
    finally:
        stop.set()
        worker.join(10)
        observer.close()
    assert _unreachable(seen) is None


@pytest.mark.sshd
def test_probe_through_ssh_direct_tcpip(sshd_server, start_sim, tmp_path):
    """From a member reached over SSH, the master is probed through a
    direct-tcpip channel of the same SSH connection, to its port 443 (here a
    stand-in for its stunnel), without any certificate check: this member has
    no pool bundle at all, and that must not read as a dead master."""
    sim = start_sim("healthy")
    target = ssh_target_to_sim(sshd_server, sim, "xen2", tmp_path)
    xen1 = sim.endpoints.host("xen1")
    front = TlsFront(tmp_path, "xen1", "127.0.0.43", 0, (xen1.address, xen1.port))
    endpoint = open_endpoint(target)
    try:
        endpoint.peer_port = front.port
        master = endpoint.for_address("127.0.0.43")
        master.connect_timeout = 0.5
        assert lv.probe_once(lv.stream_opener(master), 0.5).outcome == lv.ANSWERS
        sim.faults.hang("xen1")
        assert lv.probe_once(lv.stream_opener(master), 0.3).outcome == lv.HUNG
        sim.faults.unhang("xen1")
        front.stop()  # powered off: nothing listens on its 443 any more
        assert lv.probe_once(lv.stream_opener(master), 0.5).outcome == lv.REFUSED
    finally:
        front.stop()
        endpoint.close()


def test_probe_of_an_https_master_with_a_self_signed_certificate_answers(tmp_path):
    """Pool certificates are self-signed: the probe must see a live master,
    not a certificate error, while the endpoint itself still refuses the cert."""
    from tests.xapi.fake_xapi import FakeXapi
    from tests.xapi.test_transport_tls import self_signed

    context, _fingerprint = self_signed(tmp_path)
    server = FakeXapi(tcp=True, tls_context=context).start()
    try:
        endpoint = TcpEndpoint("https", "127.0.0.1", server.tcp_port, connect_timeout=1.0)
        assert lv.probe_once(lv.stream_opener(endpoint), 1.0).outcome == lv.ANSWERS
        assert lv.probe_once(endpoint.open_stream, 1.0).outcome == lv.UNREACHABLE  # verification stays on
    finally:
        server.stop()


def test_a_master_that_accepts_but_never_shakes_hands_is_hung_not_gone():
    """Something listens on its 443 and says nothing (a hung host): HUNG, as
    before the probe went through the endpoint's unverified twin."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        endpoint = TcpEndpoint("https", "127.0.0.1", listener.getsockname()[1], connect_timeout=0.3)
        result = lv.probe_once(lv.stream_opener(endpoint), 0.3)
        assert result.outcome == lv.HUNG and "no TLS handshake" in result.detail
    finally:
        listener.close()
