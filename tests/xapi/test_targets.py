"""Target parsing: every kind, valid and invalid, and the shared CLI options."""

from __future__ import annotations

import argparse
import json

import pytest

from xentui.xapi.targets import (
    DEFAULT_XAPI_SOCKET,
    add_target_arguments,
    load_sim_endpoints,
    parse_target,
    password_from_env,
    target_from_args,
)


@pytest.fixture
def sim_dir(tmp_path):
    state = tmp_path / "sim_state"
    state.mkdir()
    hosts = []
    for i, name in enumerate(["xcp1", "xcp2"]):
        hosts.append(
            {
                "name": name,
                "uuid": f"uuid-{i}",
                "address": f"10.0.0.{i + 1}",
                "port": 40000 + i,
                "socket": str(state / name / "var/lib/xcp/xapi"),
                "root": str(state / name),
            }
        )
    (state / "endpoints.json").write_text(
        json.dumps(
            {
                "scenario": "healthy",
                "console": "xcp2",
                "root_password": "s3cret",
                "hosts": hosts,
            }
        )
    )
    return state


def test_default_is_the_local_socket():
    for text in (None, "", "local", "  "):
        target = parse_target(text)
        assert target.kind == "local"
        assert target.socket_path == DEFAULT_XAPI_SOCKET == "/var/lib/xcp/xapi"
        assert target.host_root == "/"
        assert target.label == "local"


def test_socket_override_keeps_underscores():
    target = parse_target(None, socket_path="/tmp/my_sim/xapi_sock")
    assert target.socket_path == "/tmp/my_sim/xapi_sock"


@pytest.mark.parametrize(
    "text,user,host,port",
    [
        ("root@xcp1", "root", "xcp1", None),
        ("root@xcp1:2222", "root", "xcp1", 2222),
        ("ssh://root@127.0.0.1:2222", "root", "127.0.0.1", 2222),
        ("ssh://admin@xcp1.example.org/", "admin", "xcp1.example.org", None),
        ("xcp1", None, "xcp1", None),
        ("ssh://xcp1", None, "xcp1", None),
        ("root@[::1]:2222", "root", "::1", 2222),
        ("root@[fe80::1]", "root", "fe80::1", None),
        ("root@::1", "root", "::1", None),
        ("root@[127.0.0.1]:22", "root", "127.0.0.1", 22),
    ],
)
def test_ssh_targets(text, user, host, port):
    target = parse_target(text)
    assert (target.kind, target.user, target.host, target.port) == ("ssh", user, host, port)
    assert target.xapi_socket == "/var/lib/xcp/xapi"
    assert target.raw == text


@pytest.mark.parametrize(
    "text,kind,host,port",
    [
        ("https://xcp1", "https", "xcp1", 443),
        ("https://xcp1:8443/", "https", "xcp1", 8443),
        ("http://127.0.0.1:8080", "http", "127.0.0.1", 8080),
        ("http://xcp1", "http", "xcp1", 80),
        ("HTTPS://[::1]:443", "https", "::1", 443),
    ],
)
def test_http_targets(text, kind, host, port):
    target = parse_target(text)
    assert (target.kind, target.host, target.port) == (kind, host, port)
    assert target.tls_verify is True


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("root@xcp1:0", "out of range"),
        ("root@xcp1:65536", "out of range"),
        ("root@xcp1:abc", "invalid port"),
        ("root@xcp1:", "invalid port"),
        ("root@", "empty host"),
        ("@xcp1", "empty user"),
        ("ssh://", "empty host"),
        ("https://", "empty host"),
        ("https://:443", "empty host"),
        ("ftp://xcp1", "unknown scheme"),
        ("root@[1.2.3.999]:22", "invalid IP"),
        ("root@[not-an-ip]", "invalid IP"),
        ("root@[::1", "missing ']'"),
        ("root@[::1]x", "unexpected"),
        ("root:pw@xcp1", "--password-env"),
        ("https://root:pw@xcp1", "--password-env"),
        ("https://xcp1/some/path", "unexpected path"),
        ("root@xc p1", "white space"),
        ("root@xcp1!", "invalid host name"),
        ("root@1:2:3:zz", "invalid host"),
        ("some/relative/path", "cannot parse"),
    ],
)
def test_invalid_targets_give_one_line_value_errors(text, fragment):
    with pytest.raises(ValueError) as error:
        parse_target(text)
    message = str(error.value)
    assert fragment in message
    assert "\n" not in message


def test_sim_target_by_host(sim_dir):
    target = parse_target(f"sim:{sim_dir}/xcp1")
    assert target.kind == "sim"
    assert target.sim_host == "xcp1"
    assert target.socket_path == str(sim_dir / "xcp1" / "var/lib/xcp/xapi")
    assert target.host_root == str(sim_dir / "xcp1")
    assert target.sim_state_dir == str(sim_dir)
    assert {h.name: h.port for h in target.sim_hosts} == {"xcp1": 40000, "xcp2": 40001}
    assert "s3cret" not in repr(target) and "s3cret" not in repr(target.sim_endpoints())
    assert target.sim_endpoints().root_password == "s3cret"


def test_sim_target_without_host_is_the_console_host(sim_dir):
    target = parse_target(f"sim:{sim_dir}")
    assert target.sim_host == "xcp2"


def test_sim_target_errors(sim_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown simulator host 'xcp9'.*xcp1, xcp2"):
        parse_target(f"sim:{sim_dir}/xcp9")
    with pytest.raises(ValueError, match="endpoints.json"):
        parse_target(f"sim:{tmp_path}/nowhere/xcp1")
    with pytest.raises(ValueError, match="empty simulator path"):
        parse_target("sim:")
    (sim_dir / "endpoints.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot read"):
        load_sim_endpoints(sim_dir)


def test_sim_endpoints_without_socket_field_use_the_default_layout(tmp_path):
    (tmp_path / "endpoints.json").write_text(
        json.dumps(
            {
                "scenario": "x",
                "console": "a",
                "root_password": "",
                "hosts": [{"name": "a", "port": 1}],
            }
        )
    )
    target = parse_target(f"sim:{tmp_path}/a")
    assert target.socket_path == str(tmp_path / "a" / "var/lib/xcp/xapi")


def test_overrides_that_do_not_apply_are_rejected():
    with pytest.raises(ValueError, match="--socket applies to a local target"):
        parse_target("root@xcp1", socket_path="/x")
    with pytest.raises(ValueError, match="--xapi-socket applies to an SSH target"):
        parse_target(None, xapi_socket="/x")
    with pytest.raises(ValueError, match="--tls-fingerprint"):
        parse_target("http://xcp1:80", tls_fingerprint="SHA256:" + "A" * 43)
    with pytest.raises(ValueError, match="absolute path"):
        parse_target("root@xcp1", xapi_socket="relative")
    with pytest.raises(ValueError, match="cannot be switched off"):
        parse_target("https://xcp1", tls_verify=False)
    with pytest.raises(ValueError, match="invalid SHA256 fingerprint"):
        parse_target("https://xcp1", tls_fingerprint="SHA256:short")
    with pytest.raises(TypeError):
        parse_target(None, no_such_field=1)


def test_tls_fingerprint_forms_accepted():
    b64 = "SHA256:" + "q" * 43
    hexform = ":".join(["ab"] * 32)
    assert parse_target("https://xcp1", tls_fingerprint=b64).tls_fingerprint == b64
    assert parse_target("https://xcp1", tls_fingerprint=hexform).tls_fingerprint == hexform


def _parser():
    parser = argparse.ArgumentParser(prog="xentui status")
    add_target_arguments(parser)
    parser.add_argument("target", nargs="?")
    return parser


def test_shared_options_defaults_and_target_from_args():
    args = _parser().parse_args([])
    assert args.connect_timeout == 5 and args.call_timeout == 10
    target = target_from_args(args, args.target)
    assert target.kind == "local" and target.connect_timeout == 5.0 and target.call_timeout == 10.0


def test_shared_options_reach_the_target(tmp_path):
    args = _parser().parse_args(
        [
            "--identity",
            str(tmp_path / "id"),
            "--known-hosts",
            str(tmp_path / "kh"),
            "--xapi-socket",
            "/var/xapi/xapi",
            "--user",
            "admin",
            "--password-env",
            "XAPI_PW",
            "--connect-timeout",
            "2.5",
            "--call-timeout",
            "30",
            "root@127.0.0.1:2222",
        ]
    )
    target = target_from_args(args, args.target)
    assert target.kind == "ssh" and target.port == 2222
    assert target.identity == str(tmp_path / "id")
    assert target.known_hosts == str(tmp_path / "kh")
    assert target.xapi_socket == "/var/xapi/xapi"
    assert target.xapi_user == "admin" and target.password_env == "XAPI_PW"
    assert (target.connect_timeout, target.call_timeout) == (2.5, 30.0)


def test_no_insecure_option_and_no_password_option():
    parser = _parser()
    for bad in (["--insecure-no-verify"], ["--password", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_timeouts_are_rejected(value):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--call-timeout", value])


def test_password_from_env(monkeypatch):
    target = parse_target("https://xcp1", password_env="XENTUI_TEST_PW")
    monkeypatch.delenv("XENTUI_TEST_PW", raising=False)
    with pytest.raises(ValueError, match="not set"):
        password_from_env(target)
    monkeypatch.setenv("XENTUI_TEST_PW", "pw")
    assert password_from_env(target) == "pw"
    assert password_from_env(parse_target("https://xcp1")) is None
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        parse_target("https://xcp1", password_env="my password")
