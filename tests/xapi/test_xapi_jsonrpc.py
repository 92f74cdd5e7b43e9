"""JSON-RPC for the big reads: the same PoolSnapshot as XML-RPC in every
scenario, a fall back to XML-RPC where /jsonrpc is not served, SESSION_INVALID
handled like XML-RPC's, and the same over SSH (streamlocal and direct-tcpip)."""

from __future__ import annotations

import pytest

from tests.sim.sessions import wait_until
from tests.xapi.sshd_fixture import ssh_target_to_sim
from tests.xapi.tls_front import TlsFront
from xentui.sim import httpd
from xentui.sim.scenarios import available
from xentui.xapi import jsonrpc
from xentui.xapi.client import XapiClient
from xentui.xapi.errors import MalformedReply, XapiError, XapiFailure
from xentui.xapi.live import load_snapshot
from xentui.xapi.model import PoolSnapshot, lean_event_hook
from xentui.xapi.pool_tls import not_verifying
from xentui.xapi.ssh import SshEndpoint
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import open_endpoint


def _client(sim, host: str, *, json: bool, timeout: float = 3.0) -> XapiClient:
    client = XapiClient(call_timeout=timeout, prefer_jsonrpc=json)
    client.connect(open_endpoint(parse_target(f"sim:{sim.state_dir}/{host}")), password=sim.endpoints.root_password)
    return client


def _pair(read_a, read_b):
    """Two snapshots of ONE database generation (equal event.from tokens): the
    pool may change between two reads, so read again until it did not."""
    for _ in range(20):
        a, b = read_a(), read_b()
        if a.token == b.token:
            return a, b
    raise AssertionError("the pool never stood still for two reads")


def _both(sim, host: str, timeout: float = 3.0):
    """(json snapshot, xml snapshot, json calls made) of one database
    generation, or None when the host cannot list the pool."""
    try:
        json_client = _client(sim, host, json=True, timeout=timeout)
        xml_client = _client(sim, host, json=False, timeout=timeout)
    except XapiError:
        return None
    try:
        json_snap, xml_snap = _pair(lambda: load_snapshot(json_client), lambda: load_snapshot(xml_client))
        return json_snap, xml_snap, json_client.jsonrpc_calls
    except XapiError:
        return None
    finally:
        json_client.close()
        xml_client.close()


def _same(a: PoolSnapshot, b: PoolSnapshot) -> None:
    assert set(a.raw) == set(b.raw)
    for cls in a.raw:
        assert a.raw[cls] == b.raw[cls], cls
        # compare=False fields too (other_config, software_version, device_config)
        for ref, obj in a.raw[cls].items():
            assert vars(obj) == vars(b.raw[cls][ref]), (cls, ref)
    assert a.hosts == b.hosts and a.pifs == b.pifs


@pytest.mark.parametrize("scenario", sorted(available()))
def test_json_and_xml_give_identical_snapshots(start_sim, scenario):
    sim = start_sim(scenario)
    # every host of the small pools; the master of `large`
    hosts = sorted((h.name for h in sim.endpoints.hosts), key=lambda n: (len(n), n))[: 1 if scenario == "large" else 3]
    compared = 0
    for host in hosts:
        # a hung host costs a login timeout: short, but enough for `large`
        both = _both(sim, host, timeout=5.0 if scenario == "large" else 0.5)
        if both is None:
            continue  # emergency mode, hung or powered off: no live pool here
        json_snap, xml_snap, json_calls = both
        assert json_calls >= 1  # the snapshot really came through /jsonrpc
        _same(json_snap, xml_snap)
        compared += 1
    if compared == 0:
        # No live pool in this scenario (master off or hung): bring the
        # machines back and compare the scenario's database as the master serves it.
        sim.faults.restore_statefile()
        for name in hosts:
            sim.faults.unhang(name)
            sim.faults.power_on(name, immediate=True)
        both = wait_until(lambda: _both(sim, hosts[0]), 20, what="the master listing the pool")
        _same(both[0], both[1])
        assert both[2] >= 1


def test_falls_back_to_xml_rpc_where_jsonrpc_is_not_served(start_sim, monkeypatch):
    sim = start_sim("healthy")
    monkeypatch.setattr(httpd, "JSONRPC_PATHS", ())  # an xapi without /jsonrpc: HTTP 404
    client, xml_client = _client(sim, "xen1", json=True), _client(sim, "xen1", json=False)
    try:
        first, reference = _pair(lambda: load_snapshot(client), lambda: load_snapshot(xml_client))
        load_snapshot(client)
        assert client.jsonrpc_calls == 0
        assert client._jsonrpc_refused_by is not None  # remembered: asked once, not per call
    finally:
        client.close()
        xml_client.close()
    _same(first, reference)


def test_session_invalid_over_jsonrpc_logs_in_again(start_sim):
    sim = start_sim("healthy")
    client = _client(sim, "xen1", json=True)
    try:
        load_snapshot(client)
        per_snapshot = client.jsonrpc_calls  # the pool, and the halted guest's disks
        ref = client.session_ref
        sim.faults.restart_xapi("xen1", immediate=True)  # a new xapi forgets every session
        snap = load_snapshot(client, recover_within=10.0)
        assert client.session_ref != ref and client.jsonrpc_calls == 2 * per_snapshot
        assert len(snap.hosts) == 3
    finally:
        client.close()


def test_decode_reply_error_forms():
    with pytest.raises(XapiFailure) as err:
        jsonrpc.decode_reply(
            b'{"jsonrpc":"2.0","error":{"code":-32000,"message":"SESSION_INVALID","data":["OpaqueRef:x"]},"id":1}',
            "event.from",
        )
    assert err.value.code == "SESSION_INVALID" and err.value.params == ("OpaqueRef:x",)
    with pytest.raises(XapiFailure) as err:
        jsonrpc.decode_reply(b'{"jsonrpc":"2.0","error":["MESSAGE_METHOD_UNKNOWN","x.y"],"id":0}', "x.y")
    assert err.value.code == "MESSAGE_METHOD_UNKNOWN"
    with pytest.raises(jsonrpc.JsonRpcUnavailable):
        jsonrpc.decode_reply(b"<?xml version='1.0'?><methodResponse/>", "event.from")
    for junk in (b"not json", b"[1,2]", b'{"id":1}', b'{"error":{"data":1},"id":1,"jsonrpc":"2.0"}'[:10]):
        with pytest.raises(MalformedReply):
            jsonrpc.decode_reply(junk, "event.from")
    assert jsonrpc.decode_reply(b'{"jsonrpc":"2.0","result":"","id":1}', "VM.start") == ""


def test_lean_hook_builds_records_while_decoding():
    body = (
        b'{"jsonrpc":"2.0","id":1,"result":{"token":"t1","valid_ref_counts":{},"events":['
        b'{"id":"1","timestamp":"0","class":"VM","operation":"add","ref":"OpaqueRef:v",'
        b'"snapshot":{"uuid":"u","name_label":"web","power_state":"Running","other_config":{"a":"b"},'
        b'"is_a_template":false,"is_control_domain":false,"is_a_snapshot":false}},'
        b'{"id":"2","timestamp":"0","class":"message","operation":"add","ref":"OpaqueRef:m",'
        b'"snapshot":{"body":"ignored"}}]}}'
    )
    reply = jsonrpc.decode_reply(body, "event.from", object_hook=lean_event_hook)
    snap = PoolSnapshot.from_event_from(reply)
    vm = snap.vms["OpaqueRef:v"]
    assert vm.name_label == "web" and vm.is_guest and reply["token"] == "t1"
    assert reply["events"][1]["snapshot"] is None  # a class the model does not keep


@pytest.mark.sshd
def test_jsonrpc_over_ssh_streamlocal_and_direct_tcpip(sshd_server, start_sim, tmp_path):
    sim = start_sim("healthy")
    endpoint = open_endpoint(ssh_target_to_sim(sshd_server, sim, "xen1", tmp_path))
    xml_client = _client(sim, "xen1", json=False)
    try:
        assert endpoint.transport_name == "ssh-streamlocal"
        xen1 = sim.endpoints.host("xen1")
        tcp = SshEndpoint(
            endpoint.connection, mode="tcp", tcp_host=xen1.address, tcp_port=xen1.port, owns_connection=False
        )
        # another pool host through the SSH host: TLS to its 443 (a stand-in for its stunnel)
        front = TlsFront(tmp_path, "xen1", "127.0.0.44", 0, (xen1.address, xen1.port))
        endpoint.peer_port = front.port
        endpoint.trust_peers_by(lambda: not_verifying("/var/xapi/verify-certificates"))  # as xapi there
        peer = endpoint.for_address("127.0.0.44")
        assert peer.transport_name == "ssh-tls"
        for ep in (endpoint, tcp, peer):
            for json in (True, False):
                client = XapiClient(call_timeout=5.0, prefer_jsonrpc=json)
                client.connect(ep, password=sim.endpoints.root_password)
                try:
                    over_ssh, reference = _pair(lambda c=client: load_snapshot(c), lambda: load_snapshot(xml_client))
                    _same(over_ssh, reference)
                    assert (client.jsonrpc_calls > 0) == json, (ep.transport_name, json)
                finally:
                    client.close(close_endpoint=False)
        tcp.close()
        front.stop()
    finally:
        xml_client.close()
        endpoint.close()


def test_the_follow_loop_reads_events_through_jsonrpc(start_sim, unix_session):
    from xentui.xapi.live import SnapshotFollower

    sim = start_sim("healthy")
    client = _client(sim, "xen1", json=True)
    updates = []
    follower = SnapshotFollower(client, updates.append, event_timeout=30.0, call_timeout=5.0).start()
    try:
        wait_until(lambda: updates, 10, what="the first snapshot")
        session = unix_session(sim.endpoints.host("xen1").socket)
        session.xenapi.login_with_password("root", sim.endpoints.root_password)
        vm = session.xenapi.VM.get_by_name_label("web01")[0]
        session.xenapi.VM.set_name_label(vm, "web01-json")
        wait_until(
            lambda: any(v.name_label == "web01-json" for v in updates[-1].vms.values()),
            10,
            what="the rename through an incremental event.from",
        )
    finally:
        follower.stop(wait=False)
    assert follower.reloads == 1 and client.jsonrpc_calls >= 2
    client.close()


def test_hostile_records_decode_to_defaults_or_one_clear_error():
    body = (
        b'{"result":{"token":"t","events":['
        b'{"class":[1],"operation":"add","ref":{"a":1},"snapshot":{"uuid":{"a":1}}},'
        b'{"class":"host_metrics","operation":"add","ref":"r","snapshot":{"memory_total":1e400,'
        b'"last_updated":{"x":1}}},'
        b'{"class":"host","operation":"add","ref":"h","snapshot":{"software_version":[1],"PIFs":{"a":1}}}]}}'
    )
    snap = PoolSnapshot.from_event_from(jsonrpc.decode_reply(body, "event.from", object_hook=lean_event_hook))
    assert snap.raw["host_metrics"]["r"].memory_total == 0 and snap.raw["host"]["h"].pifs == ()

    def broken_hook(obj):
        raise TypeError("a record of the wrong shape")

    with pytest.raises(MalformedReply):
        jsonrpc.decode_reply(b'{"result":{"a":1}}', "event.from", object_hook=broken_hook)
