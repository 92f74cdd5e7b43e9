"""xapi over SSH (paramiko): one SSH connection, one channel per HTTP stream.

As root we open `direct-streamlocal@openssh.com` to xapi's unix socket on the
remote host: the same pre-authenticated root session xsconsole gets, with the
SSH key as the only credential. Otherwise (or when the server refuses that
channel) we open `direct-tcpip` to the remote 127.0.0.1:80 and the session
layer logs in with xapi credentials.

Host keys are checked strictly (known_hosts.py): unknown keys raise
HostKeyUnknown with the fingerprint and are never accepted implicitly.
~/.ssh/config is honoured for HostName, Port, User, IdentityFile,
UserKnownHostsFile, ProxyJump (hops are chained by hand, each one
host-key-checked) and ProxyCommand. TCP_NODELAY is set on the SSH socket: without it every
XML-RPC call costs ~44 ms (Nagle + delayed ACK) instead of ~0.4 ms.
"""

from __future__ import annotations

import getpass
import logging
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

import paramiko
from paramiko.channel import Channel
from paramiko.common import cMSG_CHANNEL_OPEN
from paramiko.message import Message
from paramiko.ssh_exception import ChannelException, SSHException

from xentui.xapi.channel_socket import socket_over_channel
from xentui.xapi.endpoint import XapiEndpoint, connect_tcp
from xentui.xapi.errors import (
    AuthenticationFailed,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    HostKeyUnknown,
    XapiError,
)
from xentui.xapi.known_hosts import (
    KnownHosts,
    accept_host_key,
    default_user_known_hosts,
    xentui_known_hosts_path,
)
from xentui.xapi.pool_tls import PoolTrustSource, not_read
from xentui.xapi.safe_text import one_line
from xentui.xapi.targets import DEFAULT_CONNECT_TIMEOUT, DEFAULT_SSH_PORT, Target
from xentui.xapi.tls_connect import XAPI_HTTPS_PORT, wrap_pool_tls

# paramiko's transport thread logs a server's protocol errors with a
# traceback; with no handler configured Python's last-resort handler prints
# that to stderr, under our one-line message (and a hostile server chooses
# what it says). We report every failure ourselves: keep paramiko quiet.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
STREAMLOCAL = "direct-streamlocal@openssh.com"
# RFC 4254 channel open failure reason codes
_OPEN_ADMINISTRATIVELY_PROHIBITED = 1
_OPEN_CONNECT_FAILED = 2
_OPEN_UNKNOWN_CHANNEL_TYPE = 3


class ChannelRefused(ConnectFailed):
    """sshd refused to open the channel (AllowTcpForwarding / PermitOpen /
    AllowStreamLocalForwarding), as opposed to xapi not listening."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__("channel-refused", message)
        self.code = code


@dataclass(frozen=True)
class SshHop:
    """One SSH server on the way, with ssh_config applied."""

    alias: str  # as written by the user (target or ProxyJump entry)
    hostname: str  # after HostName
    port: int
    user: str
    identity_files: Tuple[str, ...] = ()
    known_hosts_files: Tuple[str, ...] = ()  # read
    accepted_known_hosts: str = ""  # where explicitly accepted keys are written
    proxy_command: str = ""  # ssh_config ProxyCommand (tokens expanded); first hop only

    @property
    def label(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.user}@{host}:{self.port}"


# --- configuration -------------------------------------------------------------


def _load_ssh_config(path: Optional[str]) -> paramiko.SSHConfig:
    config_path = Path(path).expanduser() if path else Path("~/.ssh/config").expanduser()
    if not config_path.is_file():
        if path:
            raise ConnectFailed("ssh", f"SSH config {config_path} does not exist")
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(config_path))
    except (OSError, ValueError, SSHException) as exc:
        raise ConnectFailed("ssh", f"cannot read SSH config {config_path}: {exc}") from None


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def _proxy_command(value: Any) -> str:
    text = " ".join(_as_list(value)) if not isinstance(value, str) else value
    return "" if not text or text.strip().lower() == "none" else text.strip()


def _parse_jump(spec: str) -> Tuple[Optional[str], str, Optional[int]]:
    """'[ssh://][user@]host[:port]' of one ProxyJump entry."""
    from xentui.xapi.targets import parse_target  # same grammar as the target

    try:
        hop = parse_target(spec if "://" in spec else "ssh://" + spec)
    except ValueError as exc:
        raise ConnectFailed("ssh", f"invalid ProxyJump entry {spec!r}: {exc}") from None
    return hop.user, hop.host, hop.port


def _accepted_keys_file(target: Target) -> Tuple[str, Tuple[str, ...]]:
    """(where a key trusted with F8 is written, extra files read besides the
    known_hosts files). `--known-hosts FILE` means that file alone: it is
    the only file read and the one a trusted key is added to, so the next
    run with the same options finds it. Without it, keys trusted inside
    xentui go to xentui's own file, which is read next to ~/.ssh/known_hosts."""
    if target.accepted_known_hosts:
        return target.accepted_known_hosts, (target.accepted_known_hosts,)
    if target.known_hosts:
        return target.known_hosts, ()
    path = str(xentui_known_hosts_path())
    return path, (path,)


def resolve_hops(target: Target) -> List[SshHop]:
    """The chain of SSH servers for `target`: ProxyJump hops, then the target."""
    config = _load_ssh_config(target.ssh_config)
    accepted, also_read = _accepted_keys_file(target)

    def hop_for(alias: str, user: Optional[str], port: Optional[int], is_target: bool) -> SshHop:
        options = config.lookup(alias)
        if target.known_hosts:
            known = [target.known_hosts]
        else:
            known = _as_list(options.get("userknownhostsfile")) or [str(default_user_known_hosts())]
        identities = [str(Path(p).expanduser()) for p in _as_list(options.get("identityfile"))]
        if target.identity:
            # --identity wins for the target; jump hosts may use it as well.
            identities = [target.identity] if is_target else identities + [target.identity]
        try:
            config_port = int(options["port"]) if "port" in options else None
        except ValueError:
            raise ConnectFailed("ssh", f"invalid Port in SSH config for {alias!r}") from None
        return SshHop(
            alias=alias,
            hostname=options.get("hostname", alias),
            port=port or config_port or DEFAULT_SSH_PORT,
            user=user or options.get("user") or getpass.getuser(),
            identity_files=tuple(p for p in identities if Path(p).expanduser().is_file()),
            known_hosts_files=tuple(str(Path(p).expanduser()) for p in known) + also_read,
            accepted_known_hosts=accepted,
            proxy_command=_proxy_command(options.get("proxycommand")),
        )

    final = hop_for(target.host, target.user, target.port, True)
    jump_spec = target.proxy_jump or config.lookup(target.host).get("proxyjump") or ""
    hops: List[SshHop] = []
    if jump_spec and jump_spec.strip().lower() != "none":
        # ProxyJump wins over the target's ProxyCommand (as in OpenSSH, where
        # they compete); a jump host's own ProxyCommand still applies.
        final = replace(final, proxy_command="")
        for spec in jump_spec.split(","):
            user, host, port = _parse_jump(spec.strip())
            hops.append(hop_for(host, user, port, False))
    return hops + [final]


# How long a ProxyCommand gets to exit after SIGTERM before it is killed.
PROXY_EXIT_TIMEOUT = 1.0


class _ReapedProxyCommand(paramiko.ProxyCommand):
    """paramiko's ProxyCommand whose close() also reaps the command. paramiko
    only sends SIGTERM (paramiko issues #1713, #2568), so every connection
    through a ProxyCommand left a zombie behind until xentui exited, and the
    UI reconnects its SSH session whenever it drops during an outage. The
    pipes are not closed here, which could pull them from under the transport
    thread's select() (paramiko issue #1715): the connection closes them once
    that thread has ended (`release_pipes`)."""

    def close(self) -> None:
        process = self.process
        process.terminate()  # a no-op once the command has been reaped
        try:
            process.wait(timeout=PROXY_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            try:
                process.wait(timeout=PROXY_EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("ProxyCommand pid %d did not exit after SIGKILL", process.pid)

    def release_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _open_first_hop(hop: SshHop, timeout: float) -> Any:
    if hop.proxy_command:
        try:
            proxy = _ReapedProxyCommand(hop.proxy_command)
        except (OSError, SSHException) as exc:
            raise ConnectFailed("ssh", f"SSH {hop.label}: ProxyCommand failed to start: {exc}") from None
        proxy.settimeout(timeout)
        return proxy
    return _tune_ssh_socket(connect_tcp(hop.hostname, hop.port, timeout, f"SSH {hop.label}"))


# --- host key policy -----------------------------------------------------------


class _StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Called for EVERY server key (paramiko's own stores stay empty): our
    known_hosts check, or the single fingerprint the user confirmed."""

    def __init__(self, hop: SshHop, known: KnownHosts, accept_fingerprint: Optional[str]) -> None:
        self.hop = hop
        self.known = known
        self.accept_fingerprint = accept_fingerprint

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        try:
            self.known.check(self.hop.hostname, self.hop.port, key.get_name(), key.asbytes())
        except HostKeyUnknown as exc:
            if self.accept_fingerprint and exc.fingerprint == self.accept_fingerprint:
                accept_host_key(self.hop.accepted_known_hosts, exc.host, exc.port, exc.key_type, exc.key_base64)
                return
            raise


def _preferring_known_key_types(known_types: Sequence[str]) -> Callable[..., paramiko.Transport]:
    """A paramiko transport factory that asks the server for the host key type
    we already know (as OpenSSH does), so a host with several keys does not
    look 'changed' just because another type was negotiated."""
    wanted: List[str] = []
    for key_type in known_types:
        wanted.extend(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if key_type == "ssh-rsa" else [key_type])

    def factory(sock: Any, **kwargs: Any) -> paramiko.Transport:
        transport = paramiko.Transport(sock, **kwargs)
        options = transport.get_security_options()
        offered = list(options.key_types)
        first = [t for t in wanted if t in offered]
        if first:
            options.key_types = first + [t for t in offered if t not in first]
        return transport

    return factory


# --- the connection -------------------------------------------------------------

_TCP_QUICKACK: Optional[int] = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _QuickAckSocket(socket.socket):
    """The SSH client's TCP socket, ACKing every segment at once.

    sshd does not set TCP_NODELAY on forwarding-only connections. When xapi's
    reply reaches sshd in two pieces (headers, body), sshd sends two SSH
    packets and Nagle holds the second until our ACK of the first -- which
    Linux delays up to 40 ms. Re-arming TCP_QUICKACK after every read makes
    that ACK immediate (measured: p95 42 ms -> <1 ms per call)."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        try:
            # only made where the option exists (_tune_ssh_socket)
            self.setsockopt(socket.IPPROTO_TCP, cast(int, _TCP_QUICKACK), 1)
        except OSError:
            pass  # socket closing: nothing to speed up
        return data


def _tune_ssh_socket(sock: socket.socket) -> socket.socket:
    # THE latency fix: paramiko leaves Nagle on (44 ms -> 0.4 ms per call).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if _TCP_QUICKACK is None:
        return sock
    timeout = sock.gettimeout()
    tuned = _QuickAckSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    tuned.settimeout(timeout)
    tuned.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
    return tuned


def _map_channel_error(
    exc: BaseException, what: str, transport: Optional[paramiko.Transport], timeout: float
) -> XapiError:
    if isinstance(exc, ChannelException):
        if exc.code == _OPEN_CONNECT_FAILED:
            # OpenSSH also answers "connect failed" (not "prohibited") when
            # AllowStreamLocalForwarding is off: say both possibilities.
            hint = (
                " - xapi not running, no socket there, or sshd forbids it (AllowStreamLocalForwarding)"
                if "streamlocal" in what
                else " - nothing listening there (xapi not running?)"
            )
            return ConnectionRefused(f"{what}: connect failed on the SSH server{hint}")
        return ChannelRefused(f"{what}: refused by the SSH server ({exc.text}, code {exc.code})", exc.code)
    if transport is None or not transport.is_active():
        return ConnectionLost(f"{what}: SSH connection lost ({one_line(exc, 160)})")
    if "Timeout" in str(exc):
        return ConnectFailed("timeout", f"{what}: no answer from the SSH server within {timeout:g} s")
    return ConnectFailed("ssh", f"{what}: {one_line(exc, 160)}")


def open_streamlocal_channel(transport: paramiko.Transport, path: str, timeout: float) -> Channel:
    """direct-streamlocal@openssh.com (OpenSSH PROTOCOL §2.4): string path,
    string reserved, uint32 reserved. paramiko has no API for it (#544), so
    this mirrors Transport.open_channel (paramiko 5.x internals; covered by a
    test against real sshd)."""
    if not transport.is_active():
        raise SSHException("SSH session not active")
    # paramiko's private API is not in its type stubs: reach it untyped.
    internal: Any = transport
    with transport.lock:
        window = internal._sanitize_window_size(None)
        packet = internal._sanitize_packet_size(None)
        chanid = internal._next_channel()
        message = Message()
        message.add_byte(cMSG_CHANNEL_OPEN)
        message.add_string(STREAMLOCAL)
        message.add_int(chanid)
        message.add_int(window)
        message.add_int(packet)
        message.add_string(path)
        message.add_string("")
        message.add_int(0)
        channel = Channel(chanid)
        internal._channels.put(chanid, channel)
        transport.channel_events[chanid] = event = threading.Event()
        transport.channels_seen[chanid] = True
        channel_internal: Any = channel
        channel_internal._set_transport(transport)
        channel_internal._set_window(window, packet)
    internal._send_user_message(message)
    if not event.wait(timeout):
        raise SSHException("Timeout opening channel.")
    opened: Optional[Channel] = internal._channels.get(chanid)
    if opened is not None:
        return opened
    raise transport.get_exception() or SSHException(f"streamlocal channel to {path} refused")


class SshConnection:
    """One authenticated SSH connection (possibly through ProxyJump hops)."""

    def __init__(
        self,
        target: Target,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        accept_host_key: Optional[str] = None,
        keepalive: int = KEEPALIVE_SECONDS,
    ) -> None:
        self.target = target
        self.connect_timeout = float(connect_timeout)
        self.accept_fingerprint = accept_host_key
        self.keepalive = keepalive
        self._clients: List[paramiko.SSHClient] = []  # jump hops first, target last
        self._final_client: Optional[paramiko.SSHClient] = None
        self._lock = threading.RLock()
        self.hops: List[SshHop] = []

    # state
    @property
    def client(self) -> paramiko.SSHClient:
        """The target's SSHClient; the same object across reconnects (its
        transport is None or dead while disconnected)."""
        with self._lock:
            if self._final_client is None:
                raise ConnectionLost(f"SSH connection to {self.target.label} was never established")
            return self._final_client

    @property
    def username(self) -> str:
        return self.hops[-1].user if self.hops else (self.target.user or getpass.getuser())

    @property
    def label(self) -> str:
        return self.hops[-1].label if self.hops else self.target.label

    def is_active(self) -> bool:
        with self._lock:
            if not self._clients:
                return False
            transport = self._clients[-1].get_transport()
            return bool(transport and transport.is_active())

    def live_transport(self) -> paramiko.Transport:
        with self._lock:
            transport = self._clients[-1].get_transport() if self._clients else None
        if transport is None or not transport.is_active():
            raise ConnectionLost(f"SSH connection to {self.label} lost")
        return transport

    # lifecycle
    def connect(self) -> None:
        with self._lock:
            self._close_clients()
            self.hops = resolve_hops(self.target)
            sock: Any = None
            try:
                for index, hop in enumerate(self.hops):
                    if index == 0:
                        sock = _open_first_hop(hop, self.connect_timeout)
                    else:
                        # a connected client: it has a transport
                        previous = cast(paramiko.Transport, self._clients[-1].get_transport())
                        try:
                            sock = previous.open_channel(
                                "direct-tcpip",
                                (hop.hostname, hop.port),
                                ("127.0.0.1", 0),
                                timeout=self.connect_timeout,
                            )
                        except (SSHException, EOFError, OSError) as exc:
                            raise _map_channel_error(
                                exc, f"ProxyJump to {hop.label}", previous, self.connect_timeout
                            ) from None
                    is_last = index == len(self.hops) - 1
                    # The last hop's SSHClient object survives reconnects, so
                    # holders of `ssh_client` (SFTP/exec users) keep working.
                    reuse = self._final_client if is_last else None
                    self._clients.append(self._connect_hop(hop, sock, reuse))
                    if is_last:
                        self._final_client = self._clients[-1]
                    sock = None
            except BaseException:
                if sock is not None:
                    sock.close()
                self._close_clients()
                raise

    def _connect_hop(self, hop: SshHop, sock: Any, client: Optional[paramiko.SSHClient] = None) -> paramiko.SSHClient:
        known = KnownHosts.load(hop.known_hosts_files)
        known_types = [e.key_type for e in known.known_keys(hop.hostname, hop.port)]
        client = client or paramiko.SSHClient()
        client.set_missing_host_key_policy(_StrictPolicy(hop, known, self.accept_fingerprint))
        timeout = self.connect_timeout
        try:
            client.connect(
                hop.hostname,
                port=hop.port,
                username=hop.user,
                sock=sock,
                # paramiko takes a list of files too (SSHClient.connect); its stub says str
                key_filename=list(hop.identity_files) or None,  # type: ignore[arg-type]
                allow_agent=True,
                look_for_keys=not hop.identity_files,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
                transport_factory=_preferring_known_key_types(known_types),
            )
        except XapiError:
            client.close()
            raise
        except paramiko.AuthenticationException as exc:
            client.close()
            raise AuthenticationFailed(f"SSH authentication as {hop.label} failed: {one_line(exc, 160)}") from None
        except socket.timeout:
            client.close()
            raise ConnectFailed("timeout", f"SSH {hop.label}: no answer within {timeout:g} s") from None
        except SSHException as exc:
            client.close()
            text = one_line(exc, 200)  # may quote the server's banner or packets
            if "No authentication methods" in text:
                raise AuthenticationFailed(f"SSH authentication as {hop.label} failed: no usable key") from None
            if "No existing session" in text:
                # paramiko's start_client() gives up silently at its timeout;
                # the next step then finds no session: the handshake timed out.
                raise ConnectFailed("timeout", f"SSH {hop.label}: no SSH handshake within {timeout:g} s") from None
            reason = "timeout" if "timeout" in text.lower() or "banner" in text.lower() else "ssh"
            raise ConnectFailed(reason, f"SSH {hop.label}: {text}") from None
        except (EOFError, OSError) as exc:
            client.close()
            raise ConnectFailed(
                "ssh", f"SSH {hop.label}: connection closed during handshake ({one_line(repr(exc), 160)})"
            ) from None
        transport = cast(paramiko.Transport, client.get_transport())  # connected just now
        transport.set_keepalive(self.keepalive)
        return client

    def reconnect(self) -> None:
        """Drop whatever is left of the connection and connect again."""
        self.connect()

    def _close_clients(self) -> None:
        for client in reversed(self._clients):
            transport = client.get_transport()
            try:
                client.close()
            except (OSError, EOFError, SSHException):
                pass  # already dead: nothing to free
            proxy = getattr(transport, "sock", None)
            if transport is not None and isinstance(proxy, _ReapedProxyCommand):
                # Its command is gone, so the transport thread reads EOF and ends.
                if transport.is_alive() and transport is not threading.current_thread():
                    transport.join(PROXY_EXIT_TIMEOUT)
                if not transport.is_alive():
                    proxy.release_pipes()
        self._clients = []

    def close(self) -> None:
        with self._lock:
            self._close_clients()

    # channels
    def open_streamlocal(self, path: str, timeout: Optional[float] = None) -> Channel:
        timeout = self.connect_timeout if timeout is None else timeout
        transport = self.live_transport()
        try:
            return open_streamlocal_channel(transport, path, timeout)
        except (SSHException, EOFError, OSError) as exc:
            raise _map_channel_error(exc, f"SSH {self.label} streamlocal {path}", transport, timeout) from None

    def open_direct_tcpip(self, host: str, port: int, timeout: Optional[float] = None) -> Channel:
        timeout = self.connect_timeout if timeout is None else timeout
        transport = self.live_transport()
        try:
            return transport.open_channel("direct-tcpip", (host, int(port)), ("127.0.0.1", 0), timeout=timeout)
        except (SSHException, EOFError, OSError) as exc:
            raise _map_channel_error(exc, f"SSH {self.label} tcp {host}:{port}", transport, timeout) from None


# --- the endpoint ----------------------------------------------------------------


class SshEndpoint(XapiEndpoint):
    """xapi reached through an SshConnection, via streamlocal or direct-tcpip."""

    def __init__(
        self,
        connection: SshConnection,
        *,
        mode: str,
        xapi_socket: str = "",
        tcp_host: str = "127.0.0.1",
        tcp_port: int = 80,
        owns_connection: bool = True,
        address: str = "",
        note: str = "",
        peer_port: int = XAPI_HTTPS_PORT,
    ) -> None:
        super().__init__(connection.connect_timeout)
        if mode not in ("streamlocal", "tcp"):
            raise ValueError(f"unknown SSH channel mode {mode!r}")
        self.connection = connection
        self.peer_port = peer_port
        self.pool_trust: PoolTrustSource = not_read
        self.xapi_socket = xapi_socket
        self.tcp_host = tcp_host
        self.tcp_port = int(tcp_port)
        self._owns = owns_connection
        self.note = note  # why we fell back, for the UI
        self.address = address
        self._set_mode(mode)

    def _set_mode(self, mode: str) -> None:
        self.mode = mode
        self.preauthenticated_root = mode == "streamlocal"
        self.transport_name = "ssh-streamlocal" if mode == "streamlocal" else "ssh-tcp"
        via = self.connection.label
        if mode == "streamlocal":
            self.uri = "http://localhost/"
            self.description = f"xapi socket {self.xapi_socket} via SSH {via}"
        else:
            host = f"[{self.tcp_host}]" if ":" in self.tcp_host else self.tcp_host
            self.uri = f"http://{host}:{self.tcp_port}/"
            self.description = f"xapi {host}:{self.tcp_port} via SSH {via}"
        if self.note:
            self.description += f" ({self.note})"

    @property
    def ssh_client(self) -> paramiko.SSHClient:
        """The target host's paramiko SSHClient (for SFTP/exec). The same
        object across reconnect(); its transport is replaced."""
        return self.connection.client

    def open_stream(self, call_timeout: float) -> Channel:
        if self.mode == "streamlocal":
            channel = self.connection.open_streamlocal(self.xapi_socket, self.connect_timeout)
        else:
            channel = self.connection.open_direct_tcpip(self.tcp_host, self.tcp_port, self.connect_timeout)
        channel.settimeout(call_timeout)
        return channel

    def trust_peers_by(self, source: PoolTrustSource) -> None:
        self.pool_trust = source

    def for_address(self, address: str) -> XapiEndpoint:
        """Another pool host, through a direct-tcpip channel of THIS connection
        to its port 443, in TLS checked as the SSH host's xapi checks it
        (pool_tls.py). Never the plain port 80: the password would cross the
        management network in clear."""
        return SshPoolPeerEndpoint(self.connection, address, self.peer_port, self.pool_trust)

    def reconnect(self, force: bool = False) -> None:
        """Reconnect the SSH connection if it is dead (or always, with
        `force`: e.g. after CallTimeouts on a silently dead network path).
        Shared with for_address endpoints; streams opened afterwards use the
        new connection. `ssh_client` stays the same object (new transport)."""
        if self.connection.is_active() and not force:
            return  # only xapi's stream died (xapi restart): SSH is fine
        self.connection.reconnect()
        if self._owns:
            mode, note = choose_channel_mode(
                self.connection, self.xapi_socket, self.tcp_host, self.tcp_port, self.connection.target.ssh_channel
            )
            self.note = note
            self._set_mode(mode)

    def close(self) -> None:
        super().close()
        if self._owns:
            self.connection.close()


class SshPoolPeerEndpoint(XapiEndpoint):
    """Another host of the pool, reached from the SSH host: a direct-tcpip
    channel to its port 443 carrying TLS with SNI "pool", its certificate
    checked as the SSH host's xapi checks it (`verify=False`: checked by
    nobody, for a question without secrets; see unverified())."""

    transport_name = "ssh-tls"
    preauthenticated_root = False

    def __init__(
        self, connection: SshConnection, address: str, port: int, trust: PoolTrustSource, *, verify: bool = True
    ) -> None:
        super().__init__(connection.connect_timeout)
        self.connection = connection
        self.address = address
        self.port = int(port)
        self.trust = trust
        self.verify = verify
        host = f"[{address}]" if ":" in address else address
        self.uri = f"https://{host}:{self.port}/"
        self.description = f"xapi {host}:{self.port} (pool TLS) via SSH {connection.label}"

    @property
    def ssh_client(self) -> paramiko.SSHClient:
        return self.connection.client

    def open_stream(self, call_timeout: float) -> Any:
        started = time.monotonic()
        channel = self.connection.open_direct_tcpip(self.address, self.port, self.connect_timeout)
        sock = socket_over_channel(channel, name=f"xentui-peer-{self.address}", channel_errors=(SSHException,))
        seconds = max(0.001, min(self.connect_timeout - (time.monotonic() - started), call_timeout))
        tls = wrap_pool_tls(sock, self.description, seconds, self.trust() if self.verify else None)
        tls.settimeout(call_timeout)
        return tls

    def unverified(self) -> "SshPoolPeerEndpoint":
        """This peer without any certificate check (a question that sends no secret)."""
        return SshPoolPeerEndpoint(self.connection, self.address, self.port, self.trust, verify=False)

    def for_address(self, address: str) -> XapiEndpoint:
        return SshPoolPeerEndpoint(self.connection, address, self.port, self.trust)


def _probe(open_channel: Any) -> Optional[XapiError]:
    try:
        channel = open_channel()
    except (ChannelRefused, ConnectionRefused) as exc:
        return exc
    channel.close()
    return None


def choose_channel_mode(
    connection: SshConnection, xapi_socket: str, tcp_host: str, tcp_port: int, forced: Optional[str] = None
) -> Tuple[str, str]:
    """("streamlocal"|"tcp", note). Root prefers streamlocal; when sshd
    refuses it, or the socket is not there but TCP works, fall back to TCP.
    When neither answers (xapi down) keep the preferred mode: calls will say
    ConnectionRefused, and the SSH connection stays useful for files.
    `forced` ("streamlocal"/"tcp") skips the choice and the probes."""
    if forced:
        return forced, ""
    preferred = "streamlocal" if connection.username == "root" else "tcp"
    if preferred == "tcp":
        return "tcp", ""
    streamlocal_error = _probe(lambda: connection.open_streamlocal(xapi_socket))
    if streamlocal_error is None:
        return "streamlocal", ""
    tcp_error = _probe(lambda: connection.open_direct_tcpip(tcp_host, tcp_port))
    if tcp_error is None or isinstance(streamlocal_error, ChannelRefused):
        return "tcp", f"streamlocal unavailable: {streamlocal_error}"
    return "streamlocal", ""


def open_ssh_endpoint(
    target: Target, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, accept_host_key: Optional[str] = None
) -> SshEndpoint:
    """Connect, check the host key, authenticate, pick the channel kind."""
    connection = SshConnection(target, connect_timeout=connect_timeout, accept_host_key=accept_host_key)
    connection.connect()
    try:
        mode, note = choose_channel_mode(
            connection, target.xapi_socket, "127.0.0.1", target.xapi_port, target.ssh_channel
        )
    except BaseException:
        connection.close()
        raise
    return SshEndpoint(
        connection,
        mode=mode,
        xapi_socket=target.xapi_socket,
        tcp_host="127.0.0.1",
        tcp_port=target.xapi_port,
        note=note,
        address=target.host,
    )
