"""A real OpenSSH sshd on 127.0.0.1 for integration tests (reusable).

Its fixtures are registered for the whole suite in tests/conftest.py:

    def test_x(sshd_server):
        client = sshd_server.connect()          # paramiko SSHClient, host key pinned
        ...

    def test_two(sshd_factory):
        a = sshd_factory()
        b = sshd_factory(extra_config=["AllowTcpForwarding no"])

    @pytest.mark.parametrize("sshd_server", [["PermitOpen none"]], indirect=True)
    def test_extra(sshd_server): ...

Each instance gets throwaway ed25519 host and client keys (made with
`cryptography`, no ssh-keygen needed), a free port, a known_hosts file that pins
its host key, and runs `/usr/sbin/sshd -D -e -f <cfg>` in its own session. The
fixture waits for "Server listening on" and kills the process (by its pid, plus
its own process group for the per-connection children) at teardown. Tests are
skipped only when /usr/sbin/sshd is absent.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import pytest

SSHD = Path("/usr/sbin/sshd")
START_TIMEOUT = 10.0


def _write_keypair(private_path: Path) -> str:
    """Write an OpenSSH ed25519 private key (0600) and .pub; return the public line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    fd = os.open(str(private_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    line = public.decode("ascii") + " xentui-test"
    Path(str(private_path) + ".pub").write_text(line + "\n", encoding="ascii")
    return line


def _free_port(host: str) -> int:
    # sshd cannot bind port 0, so we pick one; a rare race is handled by retrying.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class SshdServer:
    """One running sshd and what a client needs to reach it."""

    host: str
    port: int
    user: str
    directory: Path
    host_key_path: Path
    client_key_path: Path
    known_hosts_path: Path
    config_path: Path
    process: Optional[subprocess.Popen] = None
    _log: List[str] = field(default_factory=list)
    _listening: threading.Event = field(default_factory=threading.Event)

    @property
    def log(self) -> str:
        return "".join(self._log)

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def connect(self, timeout: float = 5.0, **kwargs):
        """A paramiko SSHClient logged in with the client key; unknown host keys rejected."""
        import paramiko

        client = paramiko.SSHClient()
        client.load_host_keys(str(self.known_hosts_path))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        options = dict(
            username=self.user,
            key_filename=str(self.client_key_path),
            look_for_keys=False,
            allow_agent=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
        options.update(kwargs)
        client.connect(self.host, port=self.port, **options)
        sock = client.get_transport().sock
        try:  # paramiko leaves Nagle on: 40 ms per round trip without this
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return client

    def connection_processes(self) -> List[int]:
        """PIDs of the per-connection sshd processes (descendants of the
        listener: the privsep monitor and its post-auth child). Killing them
        drops the SSH connections mid-session while the listener keeps
        accepting new ones."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(entry.name)] = int(fields[1])
        found, frontier = [], {self.pid}
        while frontier:
            children = {pid for pid, ppid in parents.items() if ppid in frontier}
            found.extend(children)
            frontier = children
        return found

    def stop(self) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        # Per-connection sshd children live in the group we created for this sshd.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        self.process = None


def start_sshd(
    directory: Path,
    *,
    extra_config: Sequence[str] = (),
    host: str = "127.0.0.1",
    user: Optional[str] = None,
    attempts: int = 3,
) -> SshdServer:
    """Start an sshd whose files live in `directory` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    host_key = directory / "host_ed25519"
    client_key = directory / "client_ed25519"
    host_pub = _write_keypair(host_key)
    client_pub = _write_keypair(client_key)
    authorized = directory / "authorized_keys"
    authorized.write_text(client_pub + "\n", encoding="ascii")
    user = user or getpass.getuser()
    last_error = ""
    for _ in range(attempts):
        port = _free_port(host)
        config = directory / "sshd_config"
        lines = [
            "Port %d" % port,
            "ListenAddress %s" % host,
            "HostKey %s" % host_key,
            "PidFile none",
            "AuthorizedKeysFile %s" % authorized,
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "AllowTcpForwarding yes",
            "AllowStreamLocalForwarding yes",
            "PermitOpen any",
            "Subsystem sftp internal-sftp",
            "LogLevel INFO",
        ]
        # Extra lines go first: for most keywords sshd keeps the FIRST value it reads.
        config.write_text("\n".join(list(extra_config) + lines) + "\n", encoding="ascii")
        known_hosts = directory / "known_hosts"
        key_type, key_b64 = host_pub.split()[:2]
        known_hosts.write_text("[%s]:%d %s %s\n" % (host, port, key_type, key_b64), encoding="ascii")
        server = SshdServer(host, port, user, directory, host_key, client_key, known_hosts, config)
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        server.process = proc

        def pump(stream=proc.stderr, server=server) -> None:
            # Closes the pipe at EOF: left to the garbage collector it is an
            # unclosed-file warning (an error under `pytest -W error`).
            with stream, open(directory / "sshd.log", "a", encoding="utf-8", errors="replace") as log:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", "replace")
                    server._log.append(line)
                    log.write(line)
                    log.flush()
                    if "Server listening on" in line:
                        server._listening.set()
            server._listening.set()  # EOF: sshd exited; the waiter checks poll()

        threading.Thread(target=pump, name="sshd-log-%d" % port, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not server._listening.wait(0.05):
            pass
        if proc.poll() is None and "Server listening on" in server.log:
            return server
        server.stop()
        last_error = server.log.strip() or "sshd did not start within %.0f s" % START_TIMEOUT
    raise RuntimeError("could not start sshd: %s" % last_error)


def _require_sshd() -> None:
    if not SSHD.exists():
        pytest.skip("/usr/sbin/sshd is not installed")


@pytest.fixture
def sshd_factory(tmp_path_factory) -> Callable[..., SshdServer]:
    """Call it to start an sshd (any number; extra_config lines allowed); all stop at teardown."""
    _require_sshd()
    started: List[SshdServer] = []

    def factory(extra_config: Sequence[str] = (), **kwargs) -> SshdServer:
        server = start_sshd(tmp_path_factory.mktemp("sshd"), extra_config=extra_config, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def sshd_server(request, sshd_factory) -> SshdServer:
    """One running sshd. Indirect parametrisation passes extra sshd_config lines."""
    extra = getattr(request, "param", ()) or ()
    return sshd_factory(extra_config=list(extra))


def ssh_target_to_sim(server: SshdServer, sim: Any, host: str, tmp_path: Path) -> Any:
    """`xentui root@<sshd>` for a simulator host: xapi is its socket (streamlocal)
    or its TCP port (direct-tcpip), behind the real sshd; its files are read
    (SFTP) from the simulated host's root."""
    from xentui.xapi.targets import parse_target

    config = tmp_path / "ssh_config"
    config.write_text("")
    return parse_target(
        f"root@{server.host}:{server.port}",
        identity=str(server.client_key_path),
        known_hosts=str(server.known_hosts_path),
        accepted_known_hosts=str(tmp_path / "xentui_known_hosts"),
        ssh_config=str(config),
        xapi_socket=sim.endpoints.host(host).socket,
        xapi_port=sim.endpoints.host(host).port,
        host_root=sim.endpoints.host(host).root,
        connect_timeout=5.0,
    )
