"""SnapshotHeadStart: the first look's login and snapshot, begun before the
rest of a command loads, and taken over by the observer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import xentui.xapi.live as live
from tests.xapi.test_xapi_client_sim import SimTcpEndpoint, unix_endpoint
from xentui.recovery.observer import Observer
from xentui.xapi import jsonrpc
from xentui.xapi.errors import AuthenticationFailed, XapiFailure
from xentui.xapi.head_start import SnapshotHeadStart
from xentui.xapi.live import load_snapshot
from xentui.xapi.targets import parse_target


def _begin(endpoint, password=""):
    return SnapshotHeadStart.begin(endpoint, username="root", password=password, call_timeout=3.0)


def _session_is_gone(endpoint, ref) -> bool:
    try:
        jsonrpc.call(endpoint, "session.get_this_host", [ref, ref], timeout=3.0)
    except XapiFailure as failure:
        return failure.code == "SESSION_INVALID"
    return False


def test_it_hands_over_a_login_and_the_snapshot_load_snapshot_gives(start_sim):
    sim = start_sim("healthy")
    head_start = _begin(unix_endpoint(sim, "xen1"))
    client = head_start.client()
    early = head_start.snapshot()
    assert client.session_ref and early is not None
    later = load_snapshot(client)
    assert {h.name_label for h in early.hosts.values()} == {h.name_label for h in later.hosts.values()}
    assert sorted(v.name_label for v in early.guest_vms()) == sorted(v.name_label for v in later.guest_vms())
    # the halted guest's disks come with it, as with load_snapshot
    assert early.vbds.keys() == later.vbds.keys() and early.vdis.keys() == later.vdis.keys() and early.vbds
    client.close()


def test_a_refused_login_is_raised_to_the_taker_and_no_snapshot_is_asked_for(start_sim):
    sim = start_sim("healthy")
    head_start = _begin(SimTcpEndpoint(sim, "xen1"), password="not-the-password")
    with pytest.raises(AuthenticationFailed):
        head_start.client()
    assert head_start.snapshot() is None


def test_a_member_in_emergency_mode_is_not_asked_for_the_pool(start_sim):
    sim = start_sim("master-down")
    head_start = _begin(unix_endpoint(sim, "xen2"))
    client = head_start.client()
    assert client.in_emergency is True
    assert head_start.snapshot() is None  # the observer's look says why
    client.close()


def test_abandoned_it_logs_out_once_its_work_is_done(start_sim):
    sim = start_sim("healthy")
    endpoint = unix_endpoint(sim, "xen1")
    head_start = _begin(endpoint)
    assert head_start.snapshot() is not None
    ref = head_start._client.session_ref  # nobody took the client over
    closer = head_start.abandon()
    assert closer is not None
    closer.join(timeout=5.0)
    assert not closer.is_alive()
    assert _session_is_gone(endpoint, ref)
    assert head_start.abandon() is None  # once


def test_the_observer_takes_it_over_instead_of_asking_again(start_sim, monkeypatch):
    sim = start_sim("healthy")
    asked = []

    def counted(*args, **kwargs):
        asked.append(threading.current_thread().name)
        return load_snapshot(*args, **kwargs)

    monkeypatch.setattr(live, "load_snapshot", counted)
    head_start = _begin(unix_endpoint(sim, "xen1"))
    with Observer(
        parse_target(f"sim:{sim.state_dir}"), call_timeout=3.0, probe_timeout=0.3, head_start=head_start
    ) as observer:
        obs = observer.observe()
        assert observer.client is head_start.client()
        assert obs.snapshot is head_start.snapshot()
        assert obs.connection.state == "connected" and obs.this_host_name == "xen1"
        assert asked == ["xentui-head-start"]  # and not again by the observer's look
        again = observer.observe()  # later looks ask xapi themselves
        assert len(asked) == 2 and asked[1].startswith("xentui-observe") and again.snapshot is not obs.snapshot


def test_an_observer_closed_before_its_first_look_logs_the_head_start_out(start_sim, monkeypatch):
    sim = start_sim("healthy")
    endpoint = unix_endpoint(sim, "xen1")
    head_start = _begin(endpoint)
    closers = []
    abandon = SnapshotHeadStart.abandon
    monkeypatch.setattr(SnapshotHeadStart, "abandon", lambda self: closers.append(abandon(self)) or closers[-1])
    assert head_start.snapshot() is not None  # its work is done
    ref = head_start._client.session_ref
    Observer(parse_target(f"sim:{sim.state_dir}"), head_start=head_start).close()
    (closer,) = closers
    closer.join(timeout=5.0)
    assert not closer.is_alive()
    assert _session_is_gone(endpoint, ref)


def test_status_asks_xapi_before_it_imports_the_recovery_layer(start_sim):
    """The point of the head start: xapi builds its answer while the command
    imports the observer, the diagnosis and the rendering."""
    sim = start_sim("healthy")
    probe = textwrap.dedent(
        """
        import sys
        import xentui.xapi.head_start as hs
        begin = hs.SnapshotHeadStart.begin
        seen = []
        def spy(*args, **kwargs):
            seen.append(sorted(m for m in sys.modules if m.startswith(("xentui.recovery", "xentui.commands.status_"))))
            return begin(*args, **kwargs)
        hs.SnapshotHeadStart.begin = spy
        from xentui.cli import main
        code = main(["status", sys.argv[1], "--json"])
        print("LOADED-AT-BEGIN", seen)
        sys.exit(code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, f"sim:{sim.state_dir}"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED-AT-BEGIN [[]]" in result.stdout
