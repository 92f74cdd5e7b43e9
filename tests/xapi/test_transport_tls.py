"""https transport: system-CA verification by default, or a pinned SHA256
certificate fingerprint (xapi pool certificates are self-signed)."""

from __future__ import annotations

import datetime
import ssl

import pytest
import XenAPI
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi
from xentui.xapi.targets import parse_target
from xentui.xapi.tls import sha256_fingerprint
from xentui.xapi.transport import TlsCertificateUntrusted, open_endpoint


def self_signed(tmp_path, name="xcp1"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, sha256_fingerprint(cert.public_bytes(serialization.Encoding.DER))


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
