"""~/.ssh/config resolution into SSH hops (no network)."""

from __future__ import annotations

import getpass

import pytest

from xentui.xapi.errors import ConnectFailed
from xentui.xapi.ssh import resolve_hops
from xentui.xapi.targets import parse_target


@pytest.fixture
def files(tmp_path):
    for name in ("id_config", "id_cli", "id_jump"):
        (tmp_path / name).write_text("not really a key")
    return tmp_path


def write_config(tmp_path, text):
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return str(path)


def test_config_values_apply_and_command_line_wins(files):
    config = write_config(
        files,
        (
            "Host xcp1\n  HostName 127.0.0.5\n  Port 2022\n  User admin\n"
            f"  IdentityFile {files}/id_config\n  IdentityFile {files}/id_missing\n"
            f"  UserKnownHostsFile {files}/kh1 {files}/kh2\n"
        ),
    )
    accepted = str(files / "accepted")
    [hop] = resolve_hops(parse_target("xcp1", ssh_config=config, accepted_known_hosts=accepted))
    assert (hop.alias, hop.hostname, hop.port, hop.user) == ("xcp1", "127.0.0.5", 2022, "admin")
    assert hop.identity_files == (f"{files}/id_config",)  # missing files dropped
    assert hop.known_hosts_files == (f"{files}/kh1", f"{files}/kh2", accepted)
    assert hop.accepted_known_hosts == accepted

    [hop] = resolve_hops(
        parse_target(
            "root@xcp1:2200",
            ssh_config=config,
            identity=f"{files}/id_cli",
            known_hosts=f"{files}/kh_cli",
            accepted_known_hosts=accepted,
        )
    )
    assert (hop.user, hop.port) == ("root", 2200)
    assert hop.identity_files == (f"{files}/id_cli",)
    assert hop.known_hosts_files == (f"{files}/kh_cli", accepted)


def test_defaults_without_config(files):
    config = write_config(files, "")
    [hop] = resolve_hops(parse_target("10.1.2.3", ssh_config=config, accepted_known_hosts="/x/acc"))
    assert (hop.hostname, hop.port, hop.user) == ("10.1.2.3", 22, getpass.getuser())
    assert hop.known_hosts_files[0].endswith("/.ssh/known_hosts")


def test_proxyjump_chain_from_config_and_override(files):
    config = write_config(
        files,
        (
            "Host bastion\n  HostName 127.0.0.2\n  User jumper\n"
            f"  IdentityFile {files}/id_jump\n"
            "Host dom0\n  HostName 127.0.0.9\n  ProxyJump bastion,ops@127.0.0.3:2222\n"
            "Host direct\n  HostName 127.0.0.8\n  ProxyJump none\n"
        ),
    )
    hops = resolve_hops(
        parse_target("root@dom0", ssh_config=config, identity=f"{files}/id_cli", accepted_known_hosts="/x/acc")
    )
    assert [(h.hostname, h.port, h.user) for h in hops] == [
        ("127.0.0.2", 22, "jumper"),
        ("127.0.0.3", 2222, "ops"),
        ("127.0.0.9", 22, "root"),
    ]
    # --identity is offered to jump hosts too, after their own keys
    assert hops[0].identity_files == (f"{files}/id_jump", f"{files}/id_cli")
    assert len(resolve_hops(parse_target("direct", ssh_config=config, accepted_known_hosts="/x/acc"))) == 1
    hops = resolve_hops(parse_target("dom0", ssh_config=config, proxy_jump="none", accepted_known_hosts="/x/a"))
    assert len(hops) == 1
    hops = resolve_hops(
        parse_target("dom0", ssh_config=config, proxy_jump="ssh://me@[::1]:2022", accepted_known_hosts="/x/a")
    )
    assert (hops[0].hostname, hops[0].port, hops[0].user) == ("::1", 2022, "me")


def test_config_errors_are_connect_failed(files):
    with pytest.raises(ConnectFailed, match="does not exist"):
        resolve_hops(parse_target("xcp1", ssh_config=str(files / "nope")))
    config = write_config(files, "Host xcp1\n  Port notanumber\n")
    with pytest.raises(ConnectFailed, match="invalid Port"):
        resolve_hops(parse_target("xcp1", ssh_config=config))
    config = write_config(files, "Host xcp1\n  ProxyJump bad host!\n")
    with pytest.raises(ConnectFailed, match="invalid ProxyJump"):
        resolve_hops(parse_target("xcp1", ssh_config=config))
