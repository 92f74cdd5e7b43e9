"""Local and simulated host access, the xapi process check and the management link."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from xentui.host.access import AccessTimeout, FileMissing, LocalAccess, SimulatedAccess
from xentui.host.facts import Fact, Inventory
from xentui.host.gather import read_management_link
from xentui.host.iplink import IpLinkError, parse_ip_addr_json
from xentui.host.xapi_process import XAPI_PID_PATH, check_xapi_running
from xentui.sim.dom0_files import render_ip_addr_json
from xentui.sim.xapi_pid import XapiPidProcess, stand_in_executable

INV = Inventory("u", "d", "xenbr0")


def _clock():
    return 1000.0


def test_local_access_reads_under_root_with_mtime(tmp_path):
    target = tmp_path / "etc/xensource/pool.conf"
    target.parent.mkdir(parents=True)
    target.write_text("master")
    os.utime(target, (1_700_000_000, 1_700_000_000))
    access = LocalAccess(tmp_path)
    assert access.read_file("/etc/xensource/pool.conf") == (b"master", 1_700_000_000.0)
    assert access.exists("/etc/xensource") and not access.exists("/etc/nothing")
    assert access.describe("/etc/xensource/pool.conf") == str(target)
    with pytest.raises(FileMissing):
        access.read_file("/etc/xensource-inventory")
    with pytest.raises(ValueError):
        access.read_file("etc/relative")


def test_local_access_runs_commands_with_a_timeout(tmp_path):
    access = LocalAccess(tmp_path)
    assert access.run([sys.executable, "-c", "import sys; print('o'); print('e', file=sys.stderr); sys.exit(4)"]) == (
        4,
        b"o\n",
        b"e\n",
    )
    assert access.run(["/nonexistent/command"])[0] == 127
    started = time.monotonic()
    with pytest.raises(AccessTimeout):
        access.run([sys.executable, "-c", "import time; time.sleep(10)"], timeout=0.3)
    assert time.monotonic() - started < 3


def test_local_ip_command_on_this_machine():
    # The real `ip` on the real loopback interface, through the same parser.
    rc, out, err = LocalAccess("/").run(["ip", "-j", "addr", "show", "dev", "lo"], timeout=5)
    if rc == 127:
        pytest.skip("iproute2 not installed")
    link = parse_ip_addr_json(out.decode(), "lo")
    assert link.ifname == "lo" and any(a.address == "127.0.0.1" for a in link.ipv4)


def test_simulated_access_serves_ip_and_proc_from_files(tmp_path):
    access = SimulatedAccess(tmp_path)
    rc, out, err = access.run(["ip", "-j", "addr", "show", "dev", "xenbr0"])
    assert (rc, out, err) == (1, b"", b'Device "xenbr0" does not exist.\n')
    (tmp_path / "var/lib/xentui-sim").mkdir(parents=True)
    (tmp_path / "var/lib/xentui-sim/ip-addr.json").write_text(
        render_ip_addr_json("xenbr0", "aa:bb:cc:00:00:01", "UP", [("inet", "127.0.0.31", 8)])
    )
    rc, out, _ = access.run(["ip", "-j", "addr", "show", "dev", "xenbr0"])
    assert rc == 0 and parse_ip_addr_json(out.decode(), "xenbr0").ipv4[0].address == "127.0.0.31"
    assert access.run(["ip", "-j", "addr", "show", "xenbr1"])[0] == 1
    assert access.run(["test", "-d", "/proc/%d" % os.getpid()])[0] == 0
    assert access.run(["xl", "list"])[0] == 127
    assert access.describe().startswith("sim:")


def _write_pid(root, text):
    path = root / XAPI_PID_PATH.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_xapi_running_from_pid_file_and_proc(tmp_path):
    access = SimulatedAccess(tmp_path)
    absent = check_xapi_running(access, _clock)
    assert absent.value is False and absent.ok and not absent.error and "absent" in absent.source
    xapi = XapiPidProcess(stand_in_executable(tmp_path / "bin"))
    try:
        _write_pid(tmp_path, "%d\n" % xapi.pid)
        running = check_xapi_running(access, _clock)
        assert running.value is True and running.observed_at == 1000.0
        assert running.source.endswith("/exe -> %s" % (tmp_path / "bin" / "xapi"))
    finally:
        xapi.stop()
    _write_pid(tmp_path, "%d\n" % os.getpid())  # a live process, but not xapi (as xsconsole checks)
    other = check_xapi_running(access, _clock)
    assert other.value is False and "is not xapi" in other.source
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_pid(tmp_path, "%d\n" % dead.pid)  # stale pid file: the process is gone
    assert check_xapi_running(access, _clock).value is False
    _write_pid(tmp_path, "garbage")
    bad = check_xapi_running(access, _clock)
    assert bad.value is None and "not a pid" in bad.error


def test_xapi_running_locally_uses_real_readlink(tmp_path):
    xapi = XapiPidProcess(stand_in_executable(tmp_path / "bin"))
    try:
        _write_pid(tmp_path, str(xapi.pid))
        assert check_xapi_running(LocalAccess(tmp_path), _clock).value is True
    finally:
        xapi.stop()
    assert check_xapi_running(LocalAccess(tmp_path), _clock).value is False  # stale pid file
    _write_pid(tmp_path, str(os.getpid()))
    assert check_xapi_running(LocalAccess(tmp_path), _clock).value is False  # python is not xapi


def test_management_link_facts(tmp_path):
    access = SimulatedAccess(tmp_path)
    missing = read_management_link(access, Fact(INV, "inv", 1.0), _clock)
    assert not missing.ok and "does not exist" in missing.error
    empty = read_management_link(access, Fact(Inventory("u", "d", ""), "inv", 1.0), _clock)
    assert "MANAGEMENT_INTERFACE is empty" in empty.error
    unknown = read_management_link(access, Fact(None, "inv", 1.0, error="x"), _clock)
    assert "inventory unreadable" in unknown.error
    (tmp_path / "var/lib/xentui-sim").mkdir(parents=True)
    (tmp_path / "var/lib/xentui-sim/ip-addr.json").write_text(
        render_ip_addr_json("xenbr0", "aa:bb:cc:00:00:01", "UP", [], carrier=False)
    )
    down = read_management_link(access, Fact(INV, "inv", 1.0), _clock)
    assert down.ok and down.value.carrier is False and down.value.ipv4 == ()
    assert down.observed_at == 1000.0 and "ip -j addr show dev xenbr0" in down.source


@pytest.mark.parametrize("text", ["", "{}", "[]", "[1]", "nope"])
def test_ip_parser_rejects_garbage(text):
    with pytest.raises(IpLinkError):
        parse_ip_addr_json(text, "xenbr0")
