"""How a dom0 trusts its peers (xentui.xapi.pool_tls): the bundle's certificates,
and the endpoints that hand that trust on. Reading the files: tests/host/test_pool_trust.py."""

from __future__ import annotations

from tests.xapi.tls_front import make_certificate
from xentui.xapi.pool_tls import not_read, not_verifying, parse_bundle, trust_from_bytes


def test_every_certificate_of_the_bundle_is_trusted_and_junk_is_skipped(tmp_path):
    a, _, fa = make_certificate(tmp_path, "a")
    b, _, fb = make_certificate(tmp_path, "b")
    junk = b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    assert parse_bundle(a.read_bytes() + junk + b"\n" + b.read_bytes()) == {fa, fb}
    trust = trust_from_bytes(a.read_bytes(), "bundle.pem")
    assert trust.refusal(fa) == "" and "not in this host's pool bundle" in trust.refusal(fb)
    assert "holds no certificate" in trust_from_bytes(b"", "bundle.pem").refusal(fa)


def test_a_host_that_does_not_verify_checks_nothing_and_an_unread_one_trusts_nobody():
    assert not_verifying("/var/xapi/verify-certificates").refusal("SHA256:anything") == ""
    assert "were not read" in not_read().refusal("SHA256:anything")


def test_a_dom0_peer_passes_its_way_of_checking_on_to_the_next_peer(tmp_path):
    from xentui.xapi.transport import UnixSocketEndpoint

    console = UnixSocketEndpoint(str(tmp_path / "xapi"), peer_port=8443)
    assert console.for_address("127.0.0.2").pool_trust is not_read  # until told, nobody is vouched for

    def source():
        return not_read()

    console.trust_peers_by(source)
    peer = console.for_address("127.0.0.2")
    master = peer.for_address("127.0.0.3")  # e.g. following HOST_IS_SLAVE
    assert (peer.uri, master.uri) == ("https://127.0.0.2:8443/", "https://127.0.0.3:8443/")
    assert peer.pool_trust is source and master.pool_trust is source
