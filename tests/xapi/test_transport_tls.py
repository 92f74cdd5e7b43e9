"""https transport: system-CA verification by default, or a pinned SHA256
certificate fingerprint (xapi pool certificates are self-signed)."""

from __future__ import annotations

import ssl

import pytest
import XenAPI

from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi
from tests.xapi.tls_front import make_certificate
from xentui.xapi.targets import parse_target
from xentui.xapi.transport import TlsCertificateUntrusted, open_endpoint


def self_signed(tmp_path, name="xcp1"):
    cert_path, key_path, fingerprint = make_certificate(tmp_path, name)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, fingerprint


@pytest.fixture
def tls_fake(tmp_path):
    context, fingerprint = self_signed(tmp_path)
    server = FakeXapi(tcp=True, tls_context=context).start()
    server.fingerprint = fingerprint
    yield server
    server.stop()


def test_self_signed_certificate_is_refused_with_its_fingerprint(tls_fake):
    endpoint = open_endpoint(parse_target(f"https://127.0.0.1:{tls_fake.tcp_port}"))
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3))
    with pytest.raises(TlsCertificateUntrusted) as error:
        session.login_with_password("root", ROOT_PASSWORD)
    assert error.value.reason == "tls"
    assert error.value.fingerprint == tls_fake.fingerprint
    assert tls_fake.fingerprint in str(error.value)


def test_pinned_fingerprint_connects(tls_fake):
    target = parse_target(f"https://127.0.0.1:{tls_fake.tcp_port}", tls_fingerprint=tls_fake.fingerprint)
    endpoint = open_endpoint(target)
    assert endpoint.transport_name == "https" and endpoint.uri.startswith("https://")
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3))
    session.login_with_password("root", ROOT_PASSWORD)
    assert session.xenapi.test.peer() == "tcp"
    before = tls_fake.connections
    for _ in range(5):
        session.xenapi.host.get_all()
    assert tls_fake.connections == before  # keep-alive over TLS too


def test_wrong_pin_is_refused(tls_fake, tmp_path):
    _, other = self_signed(tmp_path, "other")
    target = parse_target(f"https://127.0.0.1:{tls_fake.tcp_port}", tls_fingerprint=other)
    endpoint = open_endpoint(target)
    with pytest.raises(TlsCertificateUntrusted) as error:
        XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(3)).login_with_password("root", "x")
    assert error.value.fingerprint == tls_fake.fingerprint and other in str(error.value)
