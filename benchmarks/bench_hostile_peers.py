"""Figures for hostile peers (issue 10): the reply cap against real replies,
peak memory against an endless reply, and the time to give up on a peer that
drips one byte at a time.

* the biggest replies of the simulator's `large` scenario (64 hosts, 2,000
  VMs), counted by the transport's own ReplyBudget: what the reply cap
  (endpoint.MAX_REPLY_BYTES) must leave room for, and the peak RSS (VmHWM,
  which unlike ru_maxrss restarts at exec) of a client reading the biggest;
* peak RSS of a process that logs in to a peer streaming an endless XML
  string, with the default cap and a long call timeout (so the cap, not the
  deadline, ends it), vs the same process's baseline;
* wall time of `xentui status --call-timeout 3` against a peer that drips
  one byte every 50 ms, over a unix socket, over http, and over https where
  it drips its TLS handshake (with --connect-timeout 30: the call's deadline
  ends it).

    .venv/bin/python benchmarks/bench_hostile_peers.py [--skip-large]

Measured 2026-12-05 (2 shared cores, Python 3.11):
  largest `large` reply: event.from full snapshot 16.5 MB (VM.get_all_records
  14.1 MB), 24.6 % of the 64 MB cap; reading it peaks at 56-58 MB RSS
  (baseline 23 MB);
  endless reply: with the former 256 MB cap, ReplyTooLarge after ~1 s, peak
  RSS 279 MB (baseline 23 MB); with the 64 MB cap (3.9x the largest `large`
  reply), ReplyTooLarge after 0.25-0.4 s, peak RSS 86 MB (baseline 22 MB);
  drip (1 byte / 50 ms), `xentui status --call-timeout 3`: exit 3 after
  3.2-3.4 s over a unix socket and over http; a TLS handshake dripped the
  same way (--connect-timeout 30): exit 3 after 3.4 s (60 bytes sent).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.xapi.hostile_peers import HostilePeer  # noqa: E402
from xentui.xapi.endpoint import MAX_REPLY_BYTES  # noqa: E402

_LARGE_CHILD = r"""
import re, sys, XenAPI
from xentui.xapi.model import SNAPSHOT_CLASSES
from xentui.xapi.transport import UnixSocketEndpoint
def hwm():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
endpoint = UnixSocketEndpoint(sys.argv[1])
transport = endpoint.make_xmlrpc_transport(300)
session = XenAPI.Session(endpoint.uri, transport=transport)
session.login_with_password("root", sys.argv[2], "1.1", "bench")
base = hwm()
session.xenapi.event_from(list(SNAPSHOT_CLASSES), "", 0.0)
print(transport.budget.received, base, hwm())
"""

_CHILD = r"""
import resource, sys, time
import XenAPI
from xentui.xapi.errors import XapiError
from xentui.xapi.transport import UnixSocketEndpoint
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
endpoint = UnixSocketEndpoint(sys.argv[1])
session = XenAPI.Session(endpoint.uri, transport=endpoint.make_xmlrpc_transport(float(sys.argv[2])))
began = time.perf_counter()
try:
    session.login_with_password("root", "x", "1.1", "bench")
    outcome = "no error?!"
except XapiError as exc:
    outcome = type(exc).__name__
print(outcome, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - began)
"""


def largest_replies() -> None:
    import XenAPI

    from xentui.sim.runner import Simulator
    from xentui.xapi.model import SNAPSHOT_CLASSES
    from xentui.xapi.transport import UnixSocketEndpoint

    with tempfile.TemporaryDirectory() as tmp:
        sim = Simulator.start("large", Path(tmp), time_scale=1.0)
        try:
            master = next(p for p in sim.world.procs.values() if p.is_master)
            endpoint = UnixSocketEndpoint(str(master.socket_path))
            transport = endpoint.make_xmlrpc_transport(120)
            session = XenAPI.Session(endpoint.uri, transport=transport)
            session.login_with_password("root", sim.endpoints.root_password, "1.1", "bench")
            sizes = {}
            for label, call in (
                (
                    "event.from (full snapshot, all classes)",
                    lambda: session.xenapi.event_from(list(SNAPSHOT_CLASSES), "", 0.0),
                ),
                ("VM.get_all_records", lambda: session.xenapi.VM.get_all_records()),
                ("host.get_all_records", lambda: session.xenapi.host.get_all_records()),
                ("PIF.get_all_records", lambda: session.xenapi.PIF.get_all_records()),
            ):
                call()
                sizes[label] = transport.budget.received
            for label, size in sizes.items():
                print(f"  {label}: {size / 1e6:.2f} MB")
            biggest = max(sizes.values())
            print(
                f"largest `large` reply: {biggest / 1e6:.2f} MB = {100 * biggest / MAX_REPLY_BYTES:.1f} % "
                f"of the {MAX_REPLY_BYTES >> 20} MB cap"
            )
            session.xenapi.session.logout()
            # In a fresh process: this one holds the whole simulated pool.
            done = subprocess.run(
                [sys.executable, "-c", _LARGE_CHILD, str(master.socket_path), sim.endpoints.root_password],
                capture_output=True,
                text=True,
                timeout=900,
            )
            size, base, peak = done.stdout.split()
            print(
                f"reading event.from ({int(size) / 1e6:.2f} MB) peaks at {int(peak) / 1024:.0f} MB RSS "
                f"(baseline {int(base) / 1024:.0f} MB)"
            )
        finally:
            sim.stop()


def endless_peak_rss() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xapi"
        with HostilePeer("endless", unix_path=path):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), "600"], capture_output=True, text=True, timeout=900
            )
        outcome, base, peak, seconds = done.stdout.split()
        print(
            f"endless reply, default cap ({MAX_REPLY_BYTES >> 20} MB), 600 s timeout: {outcome} after "
            f"{float(seconds):.2f} s; "
            f"peak RSS {int(peak) / 1024:.0f} MB (baseline {int(base) / 1024:.0f} MB)"
        )
        with HostilePeer("endless", unix_path=path):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), "3"], capture_output=True, text=True, timeout=900
            )
        outcome, base, peak, seconds = done.stdout.split()
        print(
            f"endless reply, default cap, 3 s timeout: {outcome} after {float(seconds):.2f} s; "
            f"peak RSS {int(peak) / 1024:.0f} MB"
        )


def drip_give_up() -> None:
    xentui = shutil.which("xentui", path=str(Path(sys.executable).parent))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        env = dict(
            os.environ,
            XDG_STATE_HOME=str(Path(tmp) / "state"),
            XDG_CONFIG_HOME=str(Path(tmp) / "cfg"),
            XENTUI_BENCH_PW="x",
        )
        with HostilePeer("drip", unix_path=Path(tmp) / "xapi", drip_interval=0.05) as peer:
            began = time.perf_counter()
            done = subprocess.run(
                [xentui, "status", "--socket", peer.unix_path, "--host-root", str(root), "--call-timeout", "3"],
                capture_output=True,
                text=True,
                env=env,
            )
            print(
                f"drip over a unix socket, --call-timeout 3: exit {done.returncode} after "
                f"{time.perf_counter() - began:.2f} s (partial reply: no slave-local retry)"
            )
        with HostilePeer("drip", drip_interval=0.05) as peer:
            began = time.perf_counter()
            done = subprocess.run(
                [
                    xentui,
                    "status",
                    f"http://127.0.0.1:{peer.port}",
                    "--password-env",
                    "XENTUI_BENCH_PW",
                    "--call-timeout",
                    "3",
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            print(f"drip over http, --call-timeout 3: exit {done.returncode} after {time.perf_counter() - began:.2f} s")
            print("  " + done.stderr.strip().splitlines()[-1][:160])
        from tests.xapi.test_transport_tls import self_signed

        context, fingerprint = self_signed(Path(tmp), "dripper")
        with HostilePeer("drip_handshake", tls_context=context, drip_interval=0.05) as peer:
            began = time.perf_counter()
            done = subprocess.run(
                [
                    xentui,
                    "status",
                    f"https://127.0.0.1:{peer.port}",
                    "--tls-fingerprint",
                    fingerprint,
                    "--password-env",
                    "XENTUI_BENCH_PW",
                    "--call-timeout",
                    "3",
                    "--connect-timeout",
                    "30",
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            print(
                f"TLS handshake drip over https, --call-timeout 3 --connect-timeout 30: exit {done.returncode} "
                f"after {time.perf_counter() - began:.2f} s ({peer.bytes_sent} handshake bytes sent)"
            )
            print("  " + done.stderr.strip().splitlines()[-1][:160])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    endless_peak_rss()  # first: ru_maxrss survives exec, so measure before the parent grows
    drip_give_up()
    if not args.skip_large:
        largest_replies()
    return 0


if __name__ == "__main__":
    sys.exit(main())
