#!/usr/bin/env python3
"""Per-call latency of the xapi transports, same xapi behind all of them.

    .venv/bin/python benchmarks/bench_transports.py [--calls 500] [--sim]

Starts a fake xapi (unix socket + 127.0.0.1 TCP) in its own process -- or,
with --sim, the "healthy" simulated pool (host xen1) in this process -- and a
throwaway OpenSSH sshd on
127.0.0.1 (as tests/xapi/sshd_fixture.py does), then times `host.get_all` through
the real XenAPI SDK over:

    local unix socket, plain TCP, SSH streamlocal, SSH direct-tcpip,
    SSH streamlocal through one ProxyJump hop, and SSH streamlocal with
    TCP_NODELAY switched off again (paramiko's default) to show that the
    single-write request (transport.py) keeps even that case fast.

Prints a table (ms per call) and the SSH/local ratios. Needs /usr/sbin/sshd.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.xapi.fake_xapi, tests.xapi.sshd_fixture

import XenAPI  # noqa: E402

from xentui.xapi.endpoint import XapiEndpoint  # noqa: E402
from xentui.xapi.targets import parse_target  # noqa: E402
from xentui.xapi.transport import open_endpoint  # noqa: E402

# The fake xapi as a separate process: the client must not share a GIL with
# "xapi" (it does not on a real host), or the baseline is distorted.
_FAKE_SERVER = """
import sys, time
sys.path.insert(0, {tests!r})
from tests.xapi.fake_xapi import FakeXapi
fake = FakeXapi(unix_path={socket!r}, tcp=True).start()
print(fake.tcp_port, flush=True)
time.sleep(3600)  # killed by the benchmark when done
"""


def time_calls(
    endpoint: XapiEndpoint,
    password: str,
    calls: int,
    warmup: int = 20,
    after_connect: Optional[Callable[[XapiEndpoint], None]] = None,
) -> List[float]:
    session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(10))
    session.login_with_password("root", password)
    if after_connect:
        after_connect(endpoint)
    for _ in range(warmup):
        session.xenapi.host.get_all()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        session.xenapi.host.get_all()
        samples.append((time.perf_counter() - started) * 1000.0)
    session.xenapi.session.logout()
    return samples


class _PeerOnly:
    """for_address(address) of an SSH endpoint, closing the base on close()."""

    def __init__(self, base: XapiEndpoint, address: str) -> None:
        self.base, self.peer = base, base.for_address(address)
        self.uri, self.ssh_client = self.peer.uri, base.ssh_client

    def make_xmlrpc_transport(self, call_timeout: float):
        return self.peer.make_xmlrpc_transport(call_timeout)

    def close(self) -> None:
        self.peer.close()
        self.base.close()


def nagle_on(endpoint: XapiEndpoint) -> None:
    endpoint.ssh_client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--sim", action="store_true", help="use the simulator (in this process) instead of the fake")
    parser.add_argument("--in-process", action="store_true", help="run the fake xapi in this process")
    args = parser.parse_args()
    if not Path("/usr/sbin/sshd").exists():
        print("needs /usr/sbin/sshd", file=sys.stderr)
        return 2

    from tests.xapi.sshd_fixture import start_sshd

    work = Path(tempfile.mkdtemp(prefix="xentui-bench-"))
    stoppers: List[Callable[[], None]] = []
    try:
        if args.sim:
            from xentui.sim.runner import Simulator

            sim = Simulator.start("healthy", work / "sim", time_scale=0.01)
            stoppers.append(sim.stop)
            host = sim.endpoints.host(sim.endpoints.console)
            unix_path, tcp_host, tcp_port = host.socket, host.address, host.port
            password = sim.endpoints.root_password
            # a pool member's TCP login answers HOST_IS_SLAVE: time the master
            master = [h for h in sim.endpoints.hosts if h.name == "xen1"][0]
            unix_path, tcp_host, tcp_port = master.socket, master.address, master.port
            what = f"simulator 'healthy', host {master.name}"
        elif args.in_process:
            from tests.xapi.fake_xapi import ROOT_PASSWORD, FakeXapi

            fake = FakeXapi(unix_path=work / "var_lib_xcp" / "xapi", tcp=True).start()
            stoppers.append(fake.stop)
            unix_path, tcp_host, tcp_port, password = str(fake.unix_path), "127.0.0.1", fake.tcp_port, ROOT_PASSWORD
            what = "fake xapi (tests/xapi/fake_xapi.py) in THIS process (shares the GIL with the client)"
        else:
            from tests.xapi.fake_xapi import ROOT_PASSWORD

            unix_path = str(work / "var_lib_xcp" / "xapi")
            server = subprocess.Popen(
                [sys.executable, "-c", _FAKE_SERVER.format(tests=str(ROOT), socket=unix_path)],
                stdout=subprocess.PIPE,
                text=True,
            )
            stoppers.append(lambda: (server.kill(), server.wait()))
            tcp_host, tcp_port, password = "127.0.0.1", int(server.stdout.readline()), ROOT_PASSWORD
            what = f"fake xapi (tests/xapi/fake_xapi.py) in its own process (pid {server.pid}), like xapi"

        sshd = start_sshd(work / "sshd")
        stoppers.append(sshd.stop)
        config = work / "ssh_config"
        config.write_text(
            f"Host jump\n  HostName {sshd.host}\n  Port {sshd.port}\n  User root\n"
            f"Host dom0-via-jump\n  HostName {sshd.host}\n  Port {sshd.port}\n  User root\n  ProxyJump jump\n"
        )
        ssh_options = dict(
            identity=str(sshd.client_key_path),
            known_hosts=str(sshd.known_hosts_path),
            accepted_known_hosts=str(work / "accepted"),
            ssh_config=str(config),
            xapi_socket=str(unix_path),
            xapi_port=int(tcp_port),
        )

        cases = [
            ("local unix socket", lambda: open_endpoint(parse_target(None, socket_path=str(unix_path))), None),
            ("plain TCP (http)", lambda: open_endpoint(parse_target(f"http://{tcp_host}:{tcp_port}")), None),
            (
                "SSH streamlocal",
                lambda: open_endpoint(
                    parse_target(f"root@{sshd.host}:{sshd.port}", ssh_channel="streamlocal", **ssh_options)
                ),
                None,
            ),
            (
                "SSH direct-tcpip",
                lambda: open_endpoint(parse_target(f"root@{sshd.host}:{sshd.port}", ssh_channel="tcp", **ssh_options)),
                None,
            ),
            (
                "SSH streamlocal via ProxyJump",
                lambda: open_endpoint(parse_target("dom0-via-jump", ssh_channel="streamlocal", **ssh_options)),
                None,
            ),
            (
                "SSH streamlocal, NODELAY off",
                lambda: open_endpoint(
                    parse_target(f"root@{sshd.host}:{sshd.port}", ssh_channel="streamlocal", **ssh_options)
                ),
                nagle_on,
            ),
        ]
        if tcp_host != "127.0.0.1":
            # the simulator's host listens on its own loopback address: reach
            # it like a pool peer, direct-tcpip to address:port over SSH
            cases[3] = (
                "SSH direct-tcpip",
                lambda: _PeerOnly(
                    open_endpoint(parse_target(f"root@{sshd.host}:{sshd.port}", ssh_channel="tcp", **ssh_options)),
                    tcp_host,
                ),
                None,
            )

        print(f"xapi: {what}; sshd: OpenSSH on {sshd.host}:{sshd.port}; {args.calls} x host.get_all per transport")
        print(f"{'transport':32} {'connect ms':>10} {'mean':>7} {'median':>7} {'p95':>7} {'min':>7}")
        medians = {}
        for name, opener, hook in cases:
            started = time.perf_counter()
            endpoint = opener()
            connect_ms = (time.perf_counter() - started) * 1000.0
            calls = 20 if hook is nagle_on else args.calls
            try:
                samples = time_calls(endpoint, password, calls, warmup=5 if hook else 20, after_connect=hook)
            finally:
                endpoint.close()
            samples.sort()
            medians[name] = statistics.median(samples)
            print(
                f"{name:32} {connect_ms:10.1f} {statistics.mean(samples):7.3f} {medians[name]:7.3f} "
                f"{samples[int(len(samples) * 0.95) - 1]:7.3f} {samples[0]:7.3f}"
            )
        local = medians["local unix socket"]
        print()
        for name, median in medians.items():
            if name.startswith("SSH"):
                print(f"ratio {name:32} / local unix socket (median): {median / local:5.2f}x")
        return 0
    finally:
        for stop in reversed(stoppers):
            stop()


if __name__ == "__main__":
    sys.exit(main())
