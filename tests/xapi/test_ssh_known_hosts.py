"""known_hosts parsing and host key checks (no network), fingerprints checked
against OpenSSH's own ssh-keygen where it is installed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import subprocess

import pytest

from tests.xapi.sshd_fixture import _write_keypair
from xentui.xapi.errors import HostKeyChanged, HostKeyUnknown
from xentui.xapi.known_hosts import (
    HostKeyRevoked,
    KnownHosts,
    accept_host_key,
    host_key_name,
    parse_known_hosts_line,
    xentui_known_hosts_path,
)
from xentui.xapi.tls import parse_fingerprint, sha256_fingerprint


@pytest.fixture
def keys(tmp_path):
    made = {}
    for name in ("a", "b", "c"):
        key_type, b64 = _write_keypair(tmp_path / f"key_{name}").split()[:2]
        made[name] = (key_type, b64, base64.b64decode(b64))
    return made


def hashed(name: str) -> str:
    salt = b"0123456789abcdefghij"
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


def test_host_key_name_matches_openssh():
    assert host_key_name("xcp1", 22) == "xcp1"
    assert host_key_name("127.0.0.1", 2222) == "[127.0.0.1]:2222"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_fingerprint_format_is_exactly_openssh(tmp_path, keys):
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "key_a.pub")], capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[1] == sha256_fingerprint(keys["a"][2])


def test_fingerprint_parsing_accepts_base64_and_hex():
    blob = b"some key blob"
    fp = sha256_fingerprint(blob)
    assert parse_fingerprint(fp) == hashlib.sha256(blob).digest()
    assert parse_fingerprint(hashlib.sha256(blob).hexdigest()) == hashlib.sha256(blob).digest()
    hex_colons = ":".join(f"{b:02X}" for b in hashlib.sha256(blob).digest())
    assert parse_fingerprint(hex_colons) == hashlib.sha256(blob).digest()
    for bad in ("", "SHA256:", "SHA256:abc", "MD5:aa:bb", "zz" * 32):
        with pytest.raises(ValueError):
            parse_fingerprint(bad)


def test_lines_openssh_accepts_and_lines_it_skips(keys):
    t, b64, _ = keys["a"]
    assert parse_known_hosts_line("# comment") is None
    assert parse_known_hosts_line("   ") is None
    assert parse_known_hosts_line(f"host {t}") is None  # no key
    assert parse_known_hosts_line(f"host {t} not*base64") is None
    assert parse_known_hosts_line(f"host ssh-rsa {b64}") is None  # type disagrees with blob
    assert parse_known_hosts_line(f"@bogus host {t} {b64}") is None
    entry = parse_known_hosts_line(f"@revoked host {t} {b64} comment words")
    assert entry.marker == "@revoked" and entry.patterns == ("host",)
    assert parse_known_hosts_line(f"a,b,[c]:2222 {t} {b64}").patterns == ("a", "b", "[c]:2222")


def test_patterns_hashes_and_negation(keys):
    t, b64, blob = keys["a"]
    known = KnownHosts(
        [
            parse_known_hosts_line(f"*.example.org,!bad.example.org {t} {b64}"),
            parse_known_hosts_line(f"{hashed('[10.0.0.5]:2222')} {t} {b64}"),
            parse_known_hosts_line(f"xcp?.lan {t} {b64}"),
            parse_known_hosts_line(f"[127.0.0.*]:2200 {t} {b64}"),
        ]
    )
    known.check("dom0.example.org", 22, t, blob)
    known.check("10.0.0.5", 2222, t, blob)
    known.check("XCP1.lan", 22, t, blob)
    known.check("127.0.0.9", 2200, t, blob)
    for host, port in (("bad.example.org", 22), ("10.0.0.5", 22), ("xcp10.lan", 22), ("127.0.0.9", 22)):
        with pytest.raises(HostKeyUnknown):
            known.check(host, port, t, blob)


def test_unknown_changed_and_revoked(keys):
    ta, b64a, blob_a = keys["a"]
    tb, b64b, blob_b = keys["b"]
    tc, b64c, blob_c = keys["c"]
    known = KnownHosts(
        [
            parse_known_hosts_line(f"xcp1 {ta} {b64a}"),
            parse_known_hosts_line(f"@cert-authority * {tc} {b64c}"),  # never trusts a plain key
            parse_known_hosts_line(f"@revoked * {tb} {b64b}"),
            parse_known_hosts_line(f"xcp2 {tb} {b64b}"),  # listed AND revoked: refused
        ]
    )
    known.check("xcp1", 22, ta, blob_a)
    with pytest.raises(HostKeyChanged) as changed:
        known.check("xcp1", 22, tc, blob_c)
    assert changed.value.fingerprint == sha256_fingerprint(blob_c)
    assert sha256_fingerprint(blob_a) in changed.value.expected
    assert not isinstance(changed.value, HostKeyRevoked)
    with pytest.raises(HostKeyRevoked):
        known.check("xcp2", 22, tb, blob_b)
    with pytest.raises(HostKeyRevoked):
        known.check("anything", 22, tb, blob_b)
    with pytest.raises(HostKeyUnknown) as unknown:
        known.check("xcp3", 2222, tc, blob_c)  # a CA key is not a host key
    assert unknown.value.key_base64 == b64c and unknown.value.port == 2222


def test_load_tolerates_missing_files_and_garbage(tmp_path, keys):
    t, b64, blob = keys["a"]
    good = tmp_path / "known_hosts"
    good.write_bytes(b"\xff\xfe garbage\n@cert-authority\n" + f"[h]:2222 {t} {b64}\n".encode())
    known = KnownHosts.load([tmp_path / "missing", good, good, tmp_path])
    assert len(known.entries) == 1
    known.check("h", 2222, t, blob)


def test_accept_host_key_writes_a_private_file(tmp_path, keys):
    t, b64, blob = keys["a"]
    path = tmp_path / "new_dir" / "known_hosts"
    accept_host_key(path, "127.0.0.1", 2222, t, b64)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    path.write_text(path.read_text().rstrip("\n"))  # no trailing newline
    accept_host_key(path, "xcp1", 22, t, b64)
    lines = path.read_text().splitlines()
    assert lines == [f"[127.0.0.1]:2222 {t} {b64}", f"xcp1 {t} {b64}"]
    KnownHosts.load([path]).check("xcp1", 22, t, blob)
    with pytest.raises(ValueError):
        accept_host_key(path, "xcp1", 22, "ssh-rsa", b64)
    with pytest.raises(ValueError):
        accept_host_key(path, "bad host", 22, t, b64)


def test_xentui_known_hosts_honours_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert xentui_known_hosts_path() == tmp_path / "xentui" / "known_hosts"
