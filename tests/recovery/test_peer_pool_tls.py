"""A console on a dom0 asks its peers over TLS the way xapi does (SNI "pool";
on a host whose /var/xapi/verify-certificates is set, the certificate must be
in /etc/stunnel/xapi-pool-ca-bundle.pem: stunnel.ml `pool`, xapi.ml
init_tls_verification), and sends the root password only to a peer so
vouched for. Without that, it still learns the peer's role: xapi answers
HOST_IS_SLAVE or an emergency code before it checks a password, and only a
master checks one (xapi_session.ml login_with_password).

Each peer is the simulator's host behind `TlsFront`, a stand-in for its
stunnel on 443 that presents the pool certificate only for SNI "pool"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.xapi.sshd_fixture import ssh_target_to_sim
from tests.xapi.tls_front import TlsFront, make_certificate
from xentui.recovery import peers as pv
from xentui.recovery.observer import Observer
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import UnixSocketEndpoint

LOOPBACK_PEERS = ("127.0.0.41", "127.0.0.42")


@pytest.fixture
def dom0_pool(start_sim, tmp_path):
    """healthy (xen1 master), seen from xen2's console as on a real dom0: its
    peers reached on one https port (the fronts), trusted through a bundle file."""
    sim = start_sim("healthy", time_scale=1.0)
    fronts = {}
    port = 0
    for name, address in zip(("xen1", "xen3"), LOOPBACK_PEERS):
        host = sim.endpoints.host(name)
        fronts[name] = TlsFront(tmp_path, name, address, port, (host.address, host.port))
        port = fronts[name].port
    bundle, flag = pool_files(sim, "xen2")
    flag.touch()  # this host verifies TLS (XCP-ng 8.3, XenServer 8)
    observer = Observer(parse_target(f"sim:{sim.state_dir}/xen2"), call_timeout=3.0, probe_timeout=0.5)
    # xen2 as a real dom0 sees it: not the simulator's map of ports, its peers' 443
    observer._endpoint = UnixSocketEndpoint(sim.endpoints.host("xen2").socket, connect_timeout=2.0, peer_port=port)
    observer._endpoint.trust_peers_by(observer.pool_trust)
    yield sim, fronts, bundle, observer
    observer.close()
    for front in fronts.values():
        front.stop()


def pool_files(sim, host):
    """(bundle, flag) in `host`'s file system, read through its access as on a dom0."""
    root = Path(sim.endpoints.host(host).root)
    (root / "etc/stunnel").mkdir(parents=True, exist_ok=True)
    (root / "var/xapi").mkdir(parents=True, exist_ok=True)
    return root / "etc/stunnel/xapi-pool-ca-bundle.pem", root / "var/xapi/verify-certificates"


def write_bundle(bundle, *certificates):
    bundle.write_bytes(b"".join(c.read_bytes() for c in certificates))


def test_a_peer_in_the_pool_bundle_is_logged_into_with_sni_pool(dom0_pool):
    sim, fronts, bundle, observer = dom0_pool
    write_bundle(bundle, fronts["xen1"].pool_cert, fronts["xen3"].pool_cert)
    view = observer._ask_peer("xen1", LOOPBACK_PEERS[0], False)
    assert (view.reach, view.role) == (pv.ANSWERS, pv.MASTER)
    assert view.host_uuid == sim.endpoints.host("xen1").uuid  # logged in: its identity is known
    assert "pool" in fronts["xen1"].snis
    assert fronts["xen1"].saw(sim.endpoints.root_password)  # verified, so the password went
    member = observer._ask_peer("xen3", LOOPBACK_PEERS[1], False)
    assert (member.role, member.master_address) == (pv.SLAVE, sim.endpoints.host("xen1").address)


def test_a_peer_outside_the_bundle_gets_no_password_yet_its_role_is_known(dom0_pool, tmp_path):
    sim, fronts, bundle, observer = dom0_pool
    other, _, _ = make_certificate(tmp_path, "someone-else")
    # xen1's certificate for other clients is not its pool certificate: it does not count
    write_bundle(bundle, other, fronts["xen3"].pool_cert)
    view = observer._ask_peer("xen1", LOOPBACK_PEERS[0], False)
    assert (view.reach, view.role) == (pv.ANSWERS, pv.MASTER)
    assert view.host_uuid == "" and "not in this host's pool bundle" in view.detail
    assert "password was not sent" in view.detail
    assert not fronts["xen1"].saw(sim.endpoints.root_password)
    assert fronts["xen1"].saw('"session.login_with_password"')  # it was asked, without the password


def test_a_verifying_host_without_its_bundle_sends_nothing_yet_members_tell_their_master(dom0_pool):
    sim, fronts, bundle, observer = dom0_pool
    assert not bundle.exists()
    view = observer._ask_peer("xen3", LOOPBACK_PEERS[1], False)
    assert (view.reach, view.role) == (pv.ANSWERS, pv.SLAVE)
    assert view.master_address == sim.endpoints.host("xen1").address
    assert "no pool bundle" in view.detail
    assert not fronts["xen3"].saw(sim.endpoints.root_password)


def test_a_host_that_does_not_verify_reaches_its_peers_as_its_xapi_does(dom0_pool):
    sim, fronts, bundle, observer = dom0_pool
    pool_files(sim, "xen2")[1].unlink()  # a pool from before 8.3, or verification switched off
    view = observer._ask_peer("xen1", LOOPBACK_PEERS[0], False)
    assert (view.reach, view.role, view.host_uuid) == (pv.ANSWERS, pv.MASTER, sim.endpoints.host("xen1").uuid)
    assert set(fronts["xen1"].snis) == {"pool"}


@pytest.fixture
def ssh_pool(sshd_server, start_sim, tmp_path):
    """healthy seen from xen2 over SSH (`xentui root@xen2`): the peers are
    reached through the SSH host, to their 443, trusted through the SSH
    host's bundle (read over SFTP)."""
    sim = start_sim("healthy", time_scale=1.0)
    target = ssh_target_to_sim(sshd_server, sim, "xen2", tmp_path)
    xen1 = sim.endpoints.host("xen1")
    front = TlsFront(tmp_path, "xen1", LOOPBACK_PEERS[0], 0, (xen1.address, xen1.port))
    bundle, flag = pool_files(sim, "xen2")  # read over SFTP
    flag.touch()
    observer = Observer(target, password=sim.endpoints.root_password, call_timeout=3.0, probe_timeout=0.5)
    observer.open_endpoint().peer_port = front.port
    yield sim, front, bundle, observer
    observer.close()
    front.stop()


def test_over_ssh_a_vouched_peer_is_logged_into_through_the_ssh_host(ssh_pool):
    sim, front, bundle, observer = ssh_pool
    write_bundle(bundle, front.pool_cert)
    view = observer._ask_peer("xen1", LOOPBACK_PEERS[0], False)
    assert (view.reach, view.role, view.host_uuid) == (pv.ANSWERS, pv.MASTER, sim.endpoints.host("xen1").uuid)
    assert set(front.snis) == {"pool"} and front.saw(sim.endpoints.root_password)


def test_over_ssh_no_password_crosses_to_an_unvouched_peer(ssh_pool):
    sim, front, bundle, observer = ssh_pool
    assert not bundle.exists()
    view = observer._ask_peer("xen1", LOOPBACK_PEERS[0], False)
    assert (view.reach, view.role) == (pv.ANSWERS, pv.MASTER)
    assert "no pool bundle" in view.detail and view.host_uuid == ""
    assert not front.saw(sim.endpoints.root_password)
