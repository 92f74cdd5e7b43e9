"""The pool bundle a dom0 trusts its peers by (xentui.xapi.pool_tls)."""

from __future__ import annotations

import os

from tests.xapi.tls_front import make_certificate
from xentui.xapi.pool_tls import PoolTrustFile, load_pool_trust, parse_bundle


def test_every_certificate_of_the_bundle_is_trusted_and_junk_is_skipped(tmp_path):
    a, _, fa = make_certificate(tmp_path, "a")
    b, _, fb = make_certificate(tmp_path, "b")
    junk = b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
    assert parse_bundle(a.read_bytes() + junk + b"\n" + b.read_bytes()) == {fa, fb}
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(a.read_bytes())
    trust = load_pool_trust(str(bundle), str(verifying(tmp_path)))
    assert trust.refusal(fa) == "" and "not in this host's pool bundle" in trust.refusal(fb)


def verifying(tmp_path):
    flag = tmp_path / "verify-certificates"
    flag.touch()
    return flag


def test_a_missing_empty_or_odd_bundle_trusts_nobody_and_says_why(tmp_path):
    flag = str(verifying(tmp_path))
    missing = load_pool_trust(str(tmp_path / "none.pem"), flag)
    assert not missing.fingerprints and "verifies TLS but has no pool bundle" in missing.refusal("SHA256:x")
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    assert "holds no certificate" in load_pool_trust(str(empty), flag).problem
    fifo = tmp_path / "fifo.pem"
    os.mkfifo(fifo)
    assert "cannot be read" in load_pool_trust(str(fifo), flag).problem  # refused, not a blocked read


def test_without_the_verification_flag_nothing_is_checked_as_xapi_checks_nothing(tmp_path):
    trust = load_pool_trust(str(tmp_path / "none.pem"), str(tmp_path / "verify-certificates"))
    assert not trust.verifies and trust.refusal("SHA256:anything") == ""


def test_the_bundle_and_the_flag_are_read_again_when_they_change(tmp_path):
    a, _, fa = make_certificate(tmp_path, "a")
    b, _, fb = make_certificate(tmp_path, "b")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(a.read_bytes())
    flag = verifying(tmp_path)
    file = PoolTrustFile(str(bundle), str(flag))
    first = file.current()
    assert first.fingerprints == {fa} and file.current() is first  # unchanged: not parsed again
    bundle.write_bytes(a.read_bytes() + b.read_bytes())  # a host joined
    assert file.current().fingerprints == {fa, fb}
    flag.unlink()  # xe host-emergency-disable-tls-verification
    assert not file.current().verifies


def test_a_dom0_peer_passes_its_way_of_checking_on_to_the_next_peer(tmp_path):
    from xentui.xapi.transport import UnixSocketEndpoint

    console = UnixSocketEndpoint(str(tmp_path / "xapi"), pool_bundle_path=str(tmp_path / "b"), peer_port=8443)
    peer = console.for_address("127.0.0.2")
    master = peer.for_address("127.0.0.3")  # e.g. following HOST_IS_SLAVE
    assert (peer.uri, master.uri) == ("https://127.0.0.2:8443/", "https://127.0.0.3:8443/")
    assert peer.pool_trust is console.pool_trust and master.pool_trust is console.pool_trust
