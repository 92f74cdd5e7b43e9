"""`--known-hosts FILE` means that file alone, and a key trusted with F8 goes
where the next run with the same options looks for it."""

from __future__ import annotations

import pytest

from tests.ui import ui_fixtures as fx
from tests.xapi.fake_xapi import FakeXapi
from tests.xapi.test_ssh_sshd import host_key_fingerprint, host_key_line
from xentui.ui.connecting import connect
from xentui.ui.static_observer import StaticObserver
from xentui.xapi.known_hosts import xentui_known_hosts_path
from xentui.xapi.ssh import resolve_hops
from xentui.xapi.targets import parse_target


@pytest.fixture
def empty_config(tmp_path):
    path = tmp_path / "ssh_config"
    path.write_text("")
    return path


def test_known_hosts_option_is_the_only_file_read_and_written(tmp_path, empty_config):
    mine = tmp_path / "mine_known_hosts"
    hop = resolve_hops(parse_target("root@192.0.2.7", known_hosts=str(mine), ssh_config=str(empty_config)))[-1]
    assert hop.known_hosts_files == (str(mine),)
    assert hop.accepted_known_hosts == str(mine)


def test_without_the_option_xentuis_own_file_is_read_and_written(tmp_path, empty_config):
    hop = resolve_hops(parse_target("root@192.0.2.7", ssh_config=str(empty_config)))[-1]
    own = str(xentui_known_hosts_path())
    assert hop.accepted_known_hosts == own
    assert hop.known_hosts_files[-1] == own and len(hop.known_hosts_files) == 2
    assert hop.known_hosts_files[0].endswith("/.ssh/known_hosts")


@pytest.fixture
def fake(tmp_path):
    server = FakeXapi(unix_path=tmp_path / "remote_root" / "var_lib_xcp" / "xapi", tcp=True).start()
    yield server
    server.stop()


@pytest.mark.sshd
def test_f8_key_lands_where_the_next_run_with_the_same_options_looks(sshd_server, fake, tmp_path, empty_config):
    # xentui's own file already trusts this host: with --known-hosts it must not count.
    own = xentui_known_hosts_path()
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text(f"[{sshd_server.host}]:{sshd_server.port} {host_key_line(sshd_server)}\n")
    mine = tmp_path / "ops" / "known_hosts"  # does not exist yet
    overrides = dict(
        identity=str(sshd_server.client_key_path),
        known_hosts=str(mine),
        ssh_config=str(empty_config),
        xapi_socket=str(fake.unix_path),
        connect_timeout=5.0,
    )
    text = f"root@{sshd_server.host}:{sshd_server.port}"
    observers = []

    def make_observer(target, password=None, read_only=False):
        observers.append(target)
        return StaticObserver(fx.healthy())

    first = connect(text, "", make_observer=make_observer, overrides=overrides)
    assert first.kind == "hostkey-unknown", first.message  # the other file does not count
    assert first.fingerprint == host_key_fingerprint(sshd_server)
    trusted = connect(text, "", accept_fingerprint=first.fingerprint, make_observer=make_observer, overrides=overrides)
    assert trusted.kind == "ok", trusted.message
    assert f"[{sshd_server.host}]:{sshd_server.port} ssh-ed25519 " in mine.read_text()
    assert oct(mine.stat().st_mode & 0o777) == "0o600" and oct(mine.parent.stat().st_mode & 0o777) == "0o700"
    own_before = own.read_text()
    # The next run with the same options: known, no F8 needed.
    again = connect(text, "", make_observer=make_observer, overrides=overrides)
    assert again.kind == "ok", again.message
    assert own.read_text() == own_before  # nothing was written to the file the option replaced
