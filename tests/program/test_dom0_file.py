"""The dom0 single file (packaging/build-dom0), run where it must work: inside
an empty root file system (the file, /dev, /proc, /tmp) in a private mount
namespace. `--version`; `sim serve` and `status` / `recover` / `report` with
the socket inside that root; the demo in tmux (TERM=linux, 80x25) from the
emergency banner through the seed recovery, driven by keys, to a pool the
XenAPI SDK confirms healthy, then `q`; the dom0 realities (noexec TMPDIR, no
HOME/USER/passwd entry, a locale it cannot load, CentOS CA paths, leftovers
of a killed run); and the RPM (requires, file list, install into an empty
--root), whose /usr/bin/xentui starter, like OUTDIR/xentui-run, picks an
exec-capable TMPDIR when /tmp is noexec. Needs root, util-linux, tmux and
busybox-static: .ci/run installs what is missing,
and anything still missing fails here loudly.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.program.dom0_root import EmptyRoot, add_busybox, build, console_env, descendants, kill_tree, minimal_env
from tests.program.test_wizard_tty import CSI, OSC, OTHER_ESC, Pane, next_keys, wait_until
from tests.recovery.test_recovery_scenarios import start_sim
from tests.sim.sessions import make_tcp_session
from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi
from xentui.ui.profile import CP437

pytestmark = pytest.mark.tty


@pytest.fixture(scope="session")
def dom0(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.fail("the dom0 file tests need root (unshare --mount, chroot); CI runs as root")
    return build(tmp_path_factory.mktemp("dom0-build"))


@pytest.fixture
def root(dom0, tmp_path):
    # A short path: the demo's unix sockets live under it (108-byte limit).
    return EmptyRoot(tmp_path / "r", dom0.file)


def test_version_from_an_empty_root(dom0, root):
    done = root.run("--version", env={})  # not even HOME or TERM
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"xentui {dom0.version}\n" and done.stderr == ""
    assert root.leftovers() == []


def test_sim_serve_status_recover_report_in_an_empty_root(dom0, root):
    env = console_env()
    serve = root.popen(
        "sim", "serve", "--scenario", "master-down", "--state-dir", "/tmp/sim", "--time-scale", "0.02", env=env
    )
    try:
        line = serve.stdout.readline()
        assert line.startswith("serving scenario master-down"), line + serve.stderr.read()
        endpoints = json.loads((root.tmp / "sim" / "endpoints.json").read_text())
        console = endpoints["console"]
        socket_inside = next(h["socket"] for h in endpoints["hosts"] if h["name"] == console)
        assert socket_inside.startswith("/tmp/sim/") and (root.path / socket_inside.lstrip("/")).is_socket()

        status = root.run("status", f"sim:/tmp/sim/{console}", env=env)
        assert status.returncode == 2, status.stdout + status.stderr  # 2 = critical: the master is down
        assert "xen1" in status.stdout and "Traceback" not in status.stderr
        as_json = json.loads(root.run("status", f"sim:/tmp/sim/{console}", "--json", env=env).stdout)
        assert as_json["connection"]["state"] == "emergency"
        assert any(f["code"] == "EMERGENCY_MODE" for f in as_json["findings"])

        plan = root.run("recover", f"sim:/tmp/sim/{console}", "--plan", "--call-timeout", "2", env=env)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert "xe pool-emergency-transition-to-master" in plan.stdout
        ran = root.run(
            "recover",
            f"sim:/tmp/sim/{console}",
            "--run",
            "--confirm-dead",
            "xen1",
            "--call-timeout",
            "2",
            "--time-scale",
            "0.02",
            "--verify-timeout",
            "30",
            env=env,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "Pool verified healthy" in ran.stdout
        report = root.run("report", "-o", "/tmp/report.md", env=env)
        assert report.returncode == 0, report.stderr
        assert (root.tmp / "report.md").read_text().startswith("# Pool incident report")
        healthy = root.run("status", f"sim:/tmp/sim/{console}", env=env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    finally:
        serve.send_signal(signal.SIGTERM)  # to the namespace's shell, which exec'd chroot, which exec'd the file
        assert serve.wait(timeout=30) == 0, serve.stderr.read()
    # SIGTERM is passed on through both unpacking layers, and each cleans up.
    assert root.leftovers() == []


def _screen_ok(screen: str) -> None:
    lines = screen.rstrip("\n").split("\n")
    assert len(lines) <= 25 and max(len(line) for line in lines) <= 80


def test_demo_recovers_by_keys_in_an_empty_root(dom0, root, tmp_path):
    tmux = shutil.which("tmux")
    if not tmux:
        pytest.fail("tmux is missing (.ci/run installs it)")
    raw, rc_file = tmp_path / "raw.out", tmp_path / "rc"
    pane = Pane()
    env = [f"{k}={v}" for k, v in minimal_env(console_env()).items()]
    script = tmp_path / "pane.sh"
    script.write_text(
        f"{shlex.join([tmux, '-L', pane.socket, 'wait-for', 'go'])}\n"
        f"{shlex.join(['env', '-i', *env, *root.argv('--demo', '--time-scale', '0.02')])}\n"
        f"echo $? > {shlex.quote(str(rc_file))}\n"
    )
    try:
        pane.tmux("new-session", "-d", "-s", "w", "-x", "80", "-y", "25", f"sh {shlex.quote(str(script))}")
        pane.tmux("pipe-pane", "-t", "w", "-o", f"cat >> {raw}")
        pane.tmux("wait-for", "-S", "go")
        assert wait_until(lambda: "Press r to start recovery" in pane.screen(), 60), pane.screen()
        first = pane.screen()
        assert "EMERGENCY MODE" in first and "DEMO" in first
        _screen_ok(first)
        # Every screen once: Textual imports its widgets lazily, so a module the
        # build missed would only show here.
        for key, needle in (
            ("2", "Virtual machines"),
            ("3", "Network interfaces"),
            ("?", "Help - xentui keys"),
            ("Escape", "Network interfaces"),
            ("d", "DEMO: inject"),
            ("Escape", "Network"),
            ("1", "EMERGENCY MODE"),
        ):
            pane.keys(key)
            assert wait_until(lambda needle=needle: needle in pane.screen(), 20), (key, pane.screen())
        pane.keys("r")
        assert wait_until(lambda: "[OVERVIEW]" in pane.screen(), 20), pane.screen()
        sent, deadline = ["DASHBOARD: r"], time.monotonic() + 120
        while True:
            screen = pane.screen()
            if "Incident report:" in screen and "[SUMMARY]" in screen:
                break
            assert time.monotonic() < deadline, (sent, screen)
            state, keys, name = next_keys(screen)
            if not keys and not name:
                time.sleep(0.05)
                continue
            if name:
                pane.text(name)
                assert wait_until(lambda name=name: f"> {name}_" in pane.screen(), 10), (sent, pane.screen())
                pane.keys("Enter")
                sent.append(f"{state}: {name} Enter")
            else:
                pane.keys(*keys)
                sent.append(f"{state}: {' '.join(keys)}")
            wait_until(lambda state=state: next_keys(pane.screen())[0] != state, 10)
        assert "The pool is healthy." in screen, screen
        _screen_ok(screen)
        report = re.search(r"Incident report: (\S+\.md)", screen)
        assert report and (root.path / report.group(1).lstrip("/")).exists(), screen
        _assert_healthy_through_the_sdk(root)
        pane.keys("Escape")
        assert wait_until(lambda: "[SUMMARY]" not in pane.screen(), 10), pane.screen()
        pane.keys("q")
        assert wait_until(rc_file.exists, 20), pane.screen()
        assert rc_file.read_text().strip() == "0"
    finally:
        pane.tmux("kill-server", check=False)
    output = raw.read_bytes().decode("utf-8", errors="replace")
    text = OTHER_ESC.sub("", OSC.sub("", CSI.sub("", output)))
    not_cp437 = sorted({ch for ch in text if ch not in "\r\n\t\b\x07\x0e\x0f" and ch not in CP437})
    assert not not_cp437, "glyphs missing from the console font: " + " ".join(f"U+{ord(c):04X}" for c in not_cp437)
    assert root.leftovers() == []


def _assert_healthy_through_the_sdk(root: EmptyRoot) -> None:
    """The demo's simulator, seen from outside the root with the real SDK."""
    state = next(root.tmp.glob("xentui-demo-*"))
    ep = json.loads((state / "endpoints.json").read_text())
    hosts = {h["name"]: h for h in ep["hosts"]}
    survivor = hosts[ep["console"]]
    session = make_tcp_session(survivor["address"], survivor["port"])
    session.xenapi.login_with_password("root", ep["root_password"], "1.0", "xentui-dom0-test")
    try:
        api = session.xenapi
        master = api.pool.get_master(api.pool.get_all()[0])
        assert api.host.get_name_label(master) == ep["console"]
        assert api.host.is_in_emergency_mode() is False
        for host in api.host.get_all():
            if api.host.get_name_label(host) == ep["console"]:
                assert api.host_metrics.get_live(api.host.get_metrics(host)) is True
        running_here = [
            vm
            for vm in api.VM.get_all()
            if not api.VM.get_is_control_domain(vm)
            and api.VM.get_resident_on(vm) == master
            and api.VM.get_power_state(vm) == "Running"
        ]
        assert running_here, "the dead master's VMs on shared storage run on the survivor"
        for pbd in api.host.get_PBDs(master):
            assert api.PBD.get_currently_attached(pbd) is True
    finally:
        session.xenapi.session.logout()


def test_status_over_ssh_from_an_empty_root(dom0, root, tmp_path, sshd_server):
    """paramiko and its native crypto (cryptography, bcrypt, PyNaCl) work from the
    file: a real sshd on 127.0.0.1 forwards to the simulated survivor's socket."""
    keys = root.tmp / "ssh"
    keys.mkdir()
    shutil.copy(sshd_server.client_key_path, keys / "id")
    shutil.copy(sshd_server.known_hosts_path, keys / "known_hosts")
    with start_sim("master-down", tmp_path / "sim") as sim:
        xen2 = sim.endpoints.host("xen2")
        done = root.run(
            "status",
            f"ssh://{sshd_server.user}@{sshd_server.host}:{sshd_server.port}",
            "--identity",
            "/tmp/ssh/id",
            "--known-hosts",
            "/tmp/ssh/known_hosts",
            "--xapi-socket",
            xen2.socket,
            "--host-root",
            xen2.root,
            "--password-env",
            "XPW",
            env=dict(console_env(), XPW=sim.endpoints.root_password),
        )
    assert done.returncode == 2, done.stdout + done.stderr  # critical: the master is down
    assert "xen1" in done.stdout and "ssh" in done.stdout.lower() and done.stderr == ""


# --- the dom0 realities: each one clear line, never a traceback ----------------------


def test_noexec_tmpdir_is_one_clear_line(dom0, root):
    # The bare file, before any of our code runs: staticx's own line. The
    # starters (below, with the RPM) pick another directory or name TMPDIR.
    done = root.run("sim", "scenarios", env=console_env(), noexec_tmp=True)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Permission denied" in lines[0] and "/tmp/" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_no_home_user_or_passwd_entry_is_one_clear_line(dom0, root):
    done = root.run("sim", "scenarios", env={})  # the root has no /etc/passwd either
    assert done.returncode == 2
    assert done.stderr.startswith("xentui: HOME is not set and user id 0 has no passwd entry")
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
    # USER alone missing: uid 0 is root, the run goes on.
    ok = root.run("sim", "scenarios", env={"HOME": "/tmp/home"})
    assert ok.returncode == 0 and "master-down" in ok.stdout and ok.stderr == ""


def test_a_locale_the_bundled_libc_cannot_load_falls_back(dom0, root):
    env = dict(console_env(), LANG="de_DE.UTF-8", LC_ALL="de_DE.UTF-8")
    done = root.run("sim", "scenarios", env=env)
    assert done.returncode == 0 and "master-down" in done.stdout, done.stderr
    assert done.stderr == ""


def _ca_and_server_context(tmp_path: Path):
    """A CA-signed certificate for 127.0.0.1 (as a pool whose admin installed one)."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test pool CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "server.pem", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return ca.public_bytes(serialization.Encoding.PEM), context


def test_centos_ca_paths_make_https_targets_verify(dom0, root, tmp_path):
    ca_pem, context = _ca_and_server_context(tmp_path)
    server = FakeXapi(tcp=True, tls_context=context).start()
    try:
        env = dict(console_env(), XPW=ROOT_PASSWORD)
        argv = (
            "status",
            f"https://127.0.0.1:{server.tcp_port}",
            "--password-env",
            "XPW",
            "--connect-timeout",
            "3",
            "--call-timeout",
            "3",
        )
        without = root.run(*argv, env=env)
        print(without.stderr)
        assert without.returncode == 3, without.stdout + without.stderr  # cannot connect: not trusted
        assert "Traceback" not in without.stderr and "certificate" in (without.stdout + without.stderr).lower()
        bundle = root.path / "etc" / "pki" / "tls" / "certs" / "ca-bundle.crt"  # where CentOS keeps it
        bundle.parent.mkdir(parents=True)
        bundle.write_bytes(ca_pem)
        with_ca = root.run(*argv, env=env)
        # Verified: the calls reach xapi (this small fake then lacks a call status makes).
        assert "certificate" not in (with_ca.stdout + with_ca.stderr).lower(), with_ca.stderr
        assert server.requests > 0 and "Traceback" not in with_ca.stderr
        assert "xapi does not know this call" in with_ca.stderr, with_ca.stderr
    finally:
        server.stop()


def test_leftovers_of_a_killed_run_are_removed_by_the_next(dom0, root):
    env = console_env()
    killed = root.popen("sim", "serve", "--scenario", "healthy", "--state-dir", "/tmp/a", env=env)
    alive = root.popen("sim", "serve", "--scenario", "healthy", "--state-dir", "/tmp/b", env=env)
    try:
        for proc in (killed, alive):
            assert proc.stdout.readline().startswith("serving scenario"), proc.stderr.read()
        kill_tree([killed.pid, *descendants(killed.pid)], signal.SIGKILL)
        killed.wait(timeout=10)
        left = root.leftovers()
        assert len([n for n in left if n.startswith("staticx-")]) == 2, left  # the killed run's and the live one's
        long_ago = time.time() - 3600  # older than any unpacking in progress
        for name in left:
            os.utime(root.tmp / name, (long_ago, long_ago))
        done = root.run("sim", "scenarios", env=env)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        still = root.leftovers()
        # The live run's two unpacked copies stay; the killed run's are gone.
        assert set(still) < set(left) and sorted(n[:4] for n in still) == ["_MEI", "stat"], (left, still)
        assert alive.poll() is None
    finally:
        for proc in (killed, alive):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    assert root.leftovers() == []


# --- the RPM ----------------------------------------------------------------------------


def test_rpm_requires_only_rpmlib_and_ships_the_file_its_starter_and_the_plugin(dom0):
    if not shutil.which("rpm"):
        pytest.fail("rpm is missing (Debian package rpm; .ci/run installs it)")
    requires = subprocess.run(["rpm", "-qpR", str(dom0.rpm)], capture_output=True, text=True, check=True).stdout
    lines = [line.strip() for line in requires.splitlines() if line.strip()]
    assert lines and all(line.startswith("rpmlib(") for line in lines), lines  # not even /bin/sh
    files = subprocess.run(["rpm", "-qlp", str(dom0.rpm)], capture_output=True, text=True, check=True).stdout
    assert files.split() == [
        "/usr/bin/xentui",
        "/usr/lib64/xsconsole/plugins-extras/XSFeatureXentui.py",
        "/usr/libexec/xentui",
        "/usr/libexec/xentui/xentui",
    ]
    info = subprocess.run(
        ["rpm", "-qp", "--qf", "%{VERSION} %{RELEASE} %{ARCH} %{PAYLOADCOMPRESSOR}", str(dom0.rpm)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert info == f"{dom0.version} 1 x86_64 gzip"


def _rpm_root(dom0, target: Path) -> Path:
    """The RPM installed into an empty --root."""
    target.mkdir()
    subprocess.run(["rpm", "--root", str(target), "--initdb"], check=True, capture_output=True)
    done = subprocess.run(["rpm", "--root", str(target), "-i", str(dom0.rpm)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return target


def test_rpm_installs_into_an_empty_root_and_runs_there(dom0, tmp_path):
    target = _rpm_root(dom0, tmp_path / "rpmroot")
    installed = target / "usr" / "libexec" / "xentui" / "xentui"
    assert installed.read_bytes() == dom0.file.read_bytes() and os.access(installed, os.X_OK)
    starter = target / "usr" / "bin" / "xentui"
    assert os.access(starter, os.X_OK) and starter.read_text().startswith("#!/bin/sh\n")
    assert "\nxentui_file=/usr/libexec/xentui/xentui\n" in starter.read_text()
    plugin = target / "usr" / "lib64" / "xsconsole" / "plugins-extras" / "XSFeatureXentui.py"
    assert "Pool recovery (xentui)" in plugin.read_text()
    query = subprocess.run(["rpm", "--root", str(target), "-q", "xentui"], capture_output=True, text=True)
    assert query.stdout.strip() == f"xentui-{dom0.version}-1.x86_64"
    chroot = EmptyRoot(target, dom0.file, inside="/usr/libexec/xentui/xentui")
    version = chroot.run("--version", env={})
    assert version.stdout == f"xentui {dom0.version}\n", version.stderr


# --- a noexec /tmp: /usr/bin/xentui (and OUTDIR/xentui-run) pick another directory ----------
# The root holds a static busybox as /bin/sh with the few tools the starter uses
# (a dom0 has bash and coreutils there); /dev/shm is the host's unless mounted noexec.


def test_rpm_command_picks_an_exec_capable_tmpdir_when_tmp_is_noexec(dom0, tmp_path):
    target = _rpm_root(dom0, tmp_path / "rpmroot")
    add_busybox(target)
    chroot = EmptyRoot(target, dom0.file, inside="/usr/bin/xentui")
    (target / "root").mkdir(mode=0o700, exist_ok=True)  # Debian's rpm keeps --root's database in /root/.rpmdb
    # /var/tmp missing, /tmp and /dev/shm noexec: only /root can take it.
    for env in ({}, {"TMPDIR": "/tmp"}, {"TMPDIR": "/nowhere"}):
        done = chroot.run("--version", env=env, noexec_tmp=True, noexec_dirs=["/dev/shm"])
        assert done.returncode == 0, (env, done.stderr)
        assert done.stdout == f"xentui {dom0.version}\n" and done.stderr == "", (env, done.stderr)
    assert [p.name for p in (target / "root").iterdir()] == [".rpmdb"]  # unpacked, probed and cleaned up there
    # A whole command with arguments, from a /var/tmp that allows exec.
    (target / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    os.chmod(target / "var" / "tmp", 0o1777)
    scenarios = chroot.run(
        "sim", "scenarios", env=console_env("/root"), noexec_tmp=True, noexec_dirs=["/dev/shm", "/root"]
    )
    assert scenarios.returncode == 0 and "master-down" in scenarios.stdout, scenarios.stderr
    assert scenarios.stderr == "" and list((target / "var" / "tmp").iterdir()) == []


def test_rpm_command_names_tmpdir_in_one_line_when_nothing_allows_exec(dom0, tmp_path):
    target = _rpm_root(dom0, tmp_path / "rpmroot")
    add_busybox(target)
    chroot = EmptyRoot(target, dom0.file, inside="/usr/bin/xentui")
    (target / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    (target / "root").mkdir(mode=0o700, exist_ok=True)
    done = chroot.run(
        "--version", env={"TMPDIR": "/tmp"}, noexec_tmp=True, noexec_dirs=["/var/tmp", "/dev/shm", "/root"]
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "xentui: no exec-capable temporary directory (/tmp noexec, /var/tmp noexec, "
        "/dev/shm noexec, /root noexec); set TMPDIR to a writable directory on a file "
        "system that allows exec: TMPDIR=/path/to/dir xentui\n"
    ), done.stderr
    # The same with /var/tmp, /root and TMPDIR missing.
    (target / "var" / "tmp").rmdir()
    shutil.rmtree(target / "root")
    done = chroot.run("--version", env={"TMPDIR": "/nowhere"}, noexec_tmp=True, noexec_dirs=["/dev/shm"])
    assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(
        "xentui: no exec-capable temporary directory (/nowhere missing, /tmp noexec, "
        "/var/tmp missing, /dev/shm noexec, /root missing); set TMPDIR"
    ), done.stderr


def test_xentui_run_next_to_the_file_picks_an_exec_capable_tmpdir(dom0, root):
    """`sh /mnt/xentui-run` for the file carried in on media."""
    add_busybox(root.path)
    shutil.copy2(dom0.run_script, root.path / "xentui-run")
    source = Path(__file__).resolve().parents[2] / "packaging" / "xentui-run"
    assert dom0.run_script.read_bytes() == source.read_bytes() and os.access(dom0.run_script, os.X_OK)
    (root.path / "var" / "tmp").mkdir(parents=True)
    os.chmod(root.path / "var" / "tmp", 0o1777)
    starter = EmptyRoot(root.path, dom0.file, inside="/bin/sh")
    done = starter.run("/xentui-run", "--version", env={}, noexec_tmp=True)
    assert done.returncode == 0 and done.stdout == f"xentui {dom0.version}\n", done.stderr
    assert done.stderr == ""
    none = starter.run("/xentui-run", "--version", env={}, noexec_tmp=True, noexec_dirs=["/var/tmp", "/dev/shm"])
    assert none.returncode == 2 and none.stdout == ""
    assert none.stderr == (
        "xentui: no exec-capable temporary directory (/tmp noexec, /var/tmp noexec, "
        "/dev/shm noexec, /root missing); set TMPDIR to a writable directory on a file "
        "system that allows exec: TMPDIR=/path/to/dir sh /xentui-run\n"
    ), none.stderr
