"""This host's way of checking its peers, read from its own files through its
access (xentui.host.pool_trust): the verification flag and the pool bundle."""

from __future__ import annotations

import os

from tests.xapi.tls_front import make_certificate
from xentui.host.access import SimulatedAccess
from xentui.host.pool_trust import RECHECK, PoolTrustReader, read_pool_trust


def dom0(tmp_path):
    root = tmp_path / "root"
    (root / "etc/stunnel").mkdir(parents=True)
    (root / "var/xapi").mkdir(parents=True)
    return SimulatedAccess(root), root / "etc/stunnel/xapi-pool-ca-bundle.pem", root / "var/xapi/verify-certificates"


def test_a_host_that_verifies_trusts_exactly_its_bundle(tmp_path):
    access, bundle, flag = dom0(tmp_path)
    a, _, fa = make_certificate(tmp_path, "a")
    _, _, fb = make_certificate(tmp_path, "b")
    flag.touch()
    bundle.write_bytes(a.read_bytes())
    trust = read_pool_trust(access)
    assert trust.verifies and trust.refusal(fa) == "" and "not in this host's pool bundle" in trust.refusal(fb)


def test_a_missing_or_odd_bundle_trusts_nobody_and_says_why(tmp_path):
    access, bundle, flag = dom0(tmp_path)
    flag.touch()
    assert "verifies TLS but has no pool bundle" in read_pool_trust(access).refusal("SHA256:x")
    os.mkfifo(bundle)
    assert "cannot be read" in read_pool_trust(access).problem  # refused, not a blocked read


def test_without_the_verification_flag_nothing_is_checked_as_xapi_checks_nothing(tmp_path):
    access, _, _ = dom0(tmp_path)
    trust = read_pool_trust(access)
    assert not trust.verifies and trust.refusal("SHA256:anything") == ""


def test_the_files_are_read_again_when_they_change(tmp_path):
    access, bundle, flag = dom0(tmp_path)
    a, _, fa = make_certificate(tmp_path, "a")
    b, _, fb = make_certificate(tmp_path, "b")
    flag.touch()
    bundle.write_bytes(a.read_bytes())
    reader = PoolTrustReader(lambda: access)
    first = reader.current()
    assert first.fingerprints == {fa} and reader.current() is first  # unchanged: not read again
    bundle.write_bytes(a.read_bytes() + b.read_bytes())  # a host joined
    assert reader.current().fingerprints == {fa, fb}
    flag.unlink()  # xe host-emergency-disable-tls-verification
    assert not reader.current().verifies


def test_through_an_access_that_cannot_tell_changes_it_is_read_again_after_a_while(tmp_path):
    access, bundle, flag = dom0(tmp_path)
    flag.touch()

    class Ssh:  # like SshAccess: no file_identity
        def __getattr__(self, name):
            if name == "file_identity":
                raise AttributeError(name)
            return getattr(access, name)

    now = [100.0]
    ssh = Ssh()
    reader = PoolTrustReader(lambda: ssh, clock=lambda: now[0])
    first = reader.current()
    assert "no pool bundle" in first.problem and reader.current() is first
    flag.unlink()
    now[0] += RECHECK + 1
    assert not reader.current().verifies


def test_without_an_access_nobody_is_trusted():
    assert "were not read" in PoolTrustReader(lambda: None).current().problem
