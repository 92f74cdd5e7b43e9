"""What the user asked us to connect to, parsed and validated.

A `Target` is pure data: it names the xapi to reach and the knobs of the way
there (socket path, SSH identity, known_hosts, TLS pin, timeouts). Opening a
connection is `transport.open_endpoint(target)`'s job.

Accepted forms (one line each, errors are one-line `ValueError`s):

    (nothing) / "local"            unix socket /var/lib/xcp/xapi (or --socket PATH)
    [ssh://][user@]host[:port]     SSH to a dom0 (IPv6 as [addr]); ~/.ssh/config applies
    https://[user@]host[:port]     xapi over TLS (default port 443)
    http://[user@]host[:port]      xapi over plain TCP (default port 80)
    sim:STATE_DIR/HOST             one host of a running simulator, as if at its console
    sim:STATE_DIR                  the simulator's console host
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

DEFAULT_XAPI_SOCKET = "/var/lib/xcp/xapi"
DEFAULT_SSH_PORT = 22
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_CALL_TIMEOUT = 10.0
KINDS = ("local", "ssh", "http", "https", "sim")

# DNS names and ssh_config aliases: letters, digits, dot, dash, underscore.
_HOSTNAME_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMERIC_HOST_RE = re.compile(r"^[0-9.]+$")


@dataclass(frozen=True)
class SimHostEndpoint:
    """One host of a running simulator, as listed in <state_dir>/endpoints.json."""

    name: str
    uuid: str
    address: str  # the host's (simulated) management address, as xapi reports it
    port: int  # the 127.0.0.1 TCP port its xapi listens on
    socket: str  # its unix socket (<state_dir>/<name>/var/lib/xcp/xapi)
    root: str  # its file-system root (<state_dir>/<name>)


@dataclass(frozen=True)
class SimEndpoints:
    """The content of a simulator's endpoints.json."""

    scenario: str
    console: str
    root_password: str = field(repr=False)  # never printed
    hosts: Tuple[SimHostEndpoint, ...] = ()

    def find(self, key: str) -> Optional[SimHostEndpoint]:
        """A host by name, uuid or management address."""
        for host in self.hosts:
            if key in (host.name, host.uuid, host.address):
                return host
        return None


def load_sim_endpoints(state_dir: "str | Path") -> SimEndpoints:
    """Read <state_dir>/endpoints.json. ValueError if missing or malformed."""
    path = Path(state_dir) / "endpoints.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no simulator at {state_dir}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    try:
        hosts = tuple(
            SimHostEndpoint(
                name=str(h["name"]),
                uuid=str(h.get("uuid", "")),
                address=str(h.get("address", "")),
                port=int(h.get("port", 0)),
                socket=str(h.get("socket") or Path(state_dir) / str(h["name"]) / DEFAULT_XAPI_SOCKET.lstrip("/")),
                root=str(h.get("root") or Path(state_dir) / str(h["name"])),
            )
            for h in data.get("hosts", [])
        )
        return SimEndpoints(
            scenario=str(data.get("scenario", "")),
            console=str(data.get("console", "")),
            root_password=str(data.get("root_password", "")),
            hosts=hosts,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed {path}: {exc}") from None


@dataclass(frozen=True)
class Target:
    """Where xapi is and how to get there. Built by `parse_target`."""

    kind: str  # one of KINDS
    raw: str = ""  # what the user typed ("" for the default local socket)
    # local / sim: the unix socket we connect to
    socket_path: str = ""
    # ssh / http / https: the host as typed (an ssh_config alias for ssh)
    host: str = ""
    port: Optional[int] = None  # None = default for the kind / from ssh_config
    user: Optional[str] = None  # ssh: SSH user; http(s): xapi user named in the URL
    # ssh: xapi's unix socket on the remote host, used as root via streamlocal
    xapi_socket: str = DEFAULT_XAPI_SOCKET
    # ssh: xapi's TCP port on the remote loopback, used via direct-tcpip (tests change it)
    xapi_port: int = 80
    identity: Optional[str] = None  # ssh: private key file (--identity)
    known_hosts: Optional[str] = None  # ssh: the only file read, and where F8 writes (--known-hosts)
    # ssh: where keys accepted inside xentui are written and read besides known_hosts
    # (None = --known-hosts if given, else the platformdirs user data dir)
    accepted_known_hosts: Optional[str] = None
    ssh_config: Optional[str] = None  # ssh: config file (None = ~/.ssh/config if present)
    proxy_jump: Optional[str] = None  # ssh: overrides ssh_config's ProxyJump ("none" disables)
    # ssh: None = automatic (streamlocal as root, else tcp); "streamlocal" or "tcp" forces one
    ssh_channel: Optional[str] = None
    tls_fingerprint: Optional[str] = None  # https: pin "SHA256:<base64>" (or hex) instead of CAs
    tls_verify: bool = True  # https: always True; there is no way to switch verification off
    # local / sim: root of the host's file system (ground truth files); "/" on a real dom0
    host_root: str = "/"
    sim_state_dir: Optional[str] = None
    sim_host: Optional[str] = None
    sim_hosts: Tuple[SimHostEndpoint, ...] = ()  # the simulator's hosts at parse time
    xapi_user: str = "root"  # user for password logins (--user)
    password_env: Optional[str] = None  # env var holding the xapi password (--password-env)
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    call_timeout: float = DEFAULT_CALL_TIMEOUT

    @property
    def label(self) -> str:
        """Short human name for the top bar and reports."""
        if self.kind == "local":
            return "local" if self.socket_path == DEFAULT_XAPI_SOCKET else f"local {self.socket_path}"
        if self.kind == "sim":
            return f"sim {self.sim_host}"
        if self.kind == "ssh":
            who = f"{self.user}@" if self.user else ""
            port = f":{self.port}" if self.port else ""
            return f"ssh {who}{_bracket(self.host)}{port}"
        port = f":{self.port}" if self.port else ""
        return f"{self.kind}://{_bracket(self.host)}{port}"

    @property
    def is_local_socket(self) -> bool:
        return self.kind in ("local", "sim")

    def sim_endpoints(self) -> SimEndpoints:
        """Fresh read of the simulator's endpoints.json (ports may change on restart)."""
        if self.kind != "sim" or not self.sim_state_dir:
            raise ValueError(f"{self.label} is not a simulator target")
        return load_sim_endpoints(self.sim_state_dir)

    def published_password(self) -> Optional[str]:
        """The root password the simulator publishes in endpoints.json; real
        targets never publish one (None)."""
        if self.kind != "sim":
            return None
        try:
            return self.sim_endpoints().root_password
        except ValueError:
            return None


def password_from_env(target: Target) -> Optional[str]:
    """The xapi password from the variable named by --password-env, or None.
    ValueError if a variable was named but is not set."""
    if not target.password_env:
        return None
    value = os.environ.get(target.password_env)
    if value is None:
        raise ValueError(f"--password-env {target.password_env}: that environment variable is not set")
    return value


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _parse_port(text: str, raw: str) -> int:
    if not text.isdigit():
        raise ValueError(f"invalid port {text!r} in {raw!r}")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range 1-65535 in {raw!r}")
    return port


def _split_host_port(hostport: str, raw: str) -> Tuple[str, Optional[int]]:
    """'host', 'host:port', '[v6]', '[v6]:port', or a bare IPv6 address (no port)."""
    if not hostport:
        raise ValueError(f"empty host in {raw!r}")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"missing ']' after IPv6 address in {raw!r}")
        inner, rest = hostport[1:end], hostport[end + 1 :]
        if not inner:
            raise ValueError(f"empty host in {raw!r}")
        try:
            ipaddress.ip_address(inner)
        except ValueError:
            raise ValueError(f"invalid IP address [{inner}] in {raw!r}") from None
        if not rest:
            return inner, None
        if not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after [{inner}] in {raw!r}")
        return inner, _parse_port(rest[1:], raw)
    if hostport.count(":") > 1:
        try:
            ipaddress.IPv6Address(hostport)
        except ValueError:
            raise ValueError(f"invalid host {hostport!r} in {raw!r} (write IPv6 addresses as [addr]:port)") from None
        return hostport, None
    host, sep, port_text = hostport.partition(":")
    if not host:
        raise ValueError(f"empty host in {raw!r}")
    if not _HOSTNAME_RE.match(host):
        raise ValueError(f"invalid host name {host!r} in {raw!r}")
    if _NUMERIC_HOST_RE.match(host):
        # Only digits and dots: meant as an IPv4 address. The C resolver would
        # turn '1.2.3' into 1.2.0.3 and '300.1.2.3' into a failed DNS lookup,
        # so a typo would be misreported as a TLS, DNS or password problem.
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(
                f"invalid IPv4 address {host!r} in {raw!r} (four numbers 0-255, like 192.0.2.10)"
            ) from None
    return host, (_parse_port(port_text, raw) if sep else None)


def _split_user(rest: str, raw: str) -> Tuple[Optional[str], str]:
    if "@" not in rest:
        return None, rest
    user, _, hostport = rest.rpartition("@")
    if not user:
        raise ValueError(f"empty user name in {raw!r}")
    if ":" in user:
        raise ValueError(f"passwords do not belong in the target ({raw!r}); use --password-env VAR")
    if not _USER_RE.match(user):
        raise ValueError(f"invalid user name {user!r} in {raw!r}")
    return user, hostport


def _parse_url(kind: str, rest: str, raw: str) -> Dict[str, Any]:
    rest = rest.rstrip("/")
    if "/" in rest or "?" in rest or "#" in rest:
        raise ValueError(f"unexpected path in {raw!r}: give only {kind}://host[:port]")
    user, hostport = _split_user(rest, raw)
    host, port = _split_host_port(hostport, raw)
    return dict(kind=kind, host=host, port=port, user=user)


def _parse_sim(rest: str, raw: str) -> Dict[str, Any]:
    if not rest:
        raise ValueError(f"empty simulator path in {raw!r}: use sim:STATE_DIR/HOST")
    path = Path(rest).expanduser()
    if (path / "endpoints.json").is_file():
        state_dir, host_key = path, None  # sim:STATE_DIR -> the console host
    else:
        state_dir, host_key = path.parent, path.name
        if not (state_dir / "endpoints.json").is_file():
            raise ValueError(
                f"no simulator at {rest!r}: neither {path}/endpoints.json nor {state_dir}/endpoints.json exists"
            )
    endpoints = load_sim_endpoints(state_dir)
    host_key = host_key or endpoints.console
    host = endpoints.find(host_key)
    if host is None:
        names = ", ".join(h.name for h in endpoints.hosts) or "none"
        raise ValueError(f"unknown simulator host {host_key!r} in {raw!r} (hosts: {names})")
    return dict(
        kind="sim",
        socket_path=host.socket,
        host_root=host.root,
        sim_state_dir=str(state_dir),
        sim_host=host.name,
        sim_hosts=endpoints.hosts,
    )


def _parse_text(text: str) -> Dict[str, Any]:
    raw = text
    text = text.strip()
    if not text or text == "local":
        return dict(kind="local", socket_path=DEFAULT_XAPI_SOCKET, host_root="/")
    if any(c.isspace() for c in text):
        raise ValueError(f"unexpected white space in target {raw!r}")
    if text.startswith("sim:"):
        return _parse_sim(text[len("sim:") :], raw)
    scheme, sep, rest = text.partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme in ("http", "https"):
            return _parse_url(scheme, rest, raw)
        if scheme == "ssh":
            if "/" in rest.rstrip("/"):
                raise ValueError(f"unexpected path in {raw!r}: give only ssh://user@host[:port]")
            text = rest.rstrip("/")
        else:
            raise ValueError(f"unknown scheme {scheme!r} in {raw!r} (use ssh://, https://, http:// or sim:)")
    elif "/" in text:
        raise ValueError(f"cannot parse target {raw!r} (use [ssh://]user@host[:port], https://host, sim:DIR/HOST)")
    user, hostport = _split_user(text, raw)
    host, port = _split_host_port(hostport, raw)
    return dict(kind="ssh", host=host, port=port, user=user)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Target))


def parse_target(text: Optional[str], **overrides: Any) -> Target:
    """Parse a target string; `overrides` (Target field names) win over parsed
    values when not None. Raises ValueError with a one-line message."""
    unknown = set(overrides) - _FIELD_NAMES
    if unknown:
        raise TypeError(f"parse_target: unknown override(s) {sorted(unknown)}")
    values = _parse_text(text or "")
    values["raw"] = (text or "").strip()
    kind = values["kind"]
    given = {k: v for k, v in overrides.items() if v is not None}
    _check_overrides(kind, given, values["raw"] or "local")
    values.update(given)
    if kind == "https" and values.get("port") is None:
        values["port"] = 443
    if kind == "http" and values.get("port") is None:
        values["port"] = 80
    target = Target(**values)
    _validate(target)
    return target


def _check_overrides(kind: str, given: Dict[str, Any], shown: str) -> None:
    if "socket_path" in given and kind not in ("local", "sim"):
        raise ValueError(f"--socket applies to a local target, not {shown!r}")
    if "xapi_socket" in given and kind != "ssh":
        raise ValueError(f"--xapi-socket applies to an SSH target, not {shown!r}")
    if "tls_fingerprint" in given and kind != "https":
        raise ValueError(f"--tls-fingerprint applies to an https:// target, not {shown!r}")
    if "kind" in given and given["kind"] != kind:
        raise ValueError(f"target {shown!r} is {kind}, not {given['kind']}")


def _validate(target: Target) -> None:
    if target.kind not in KINDS:
        raise ValueError(f"unknown target kind {target.kind!r}")
    for name in ("connect_timeout", "call_timeout"):
        value = getattr(target, name)
        if not (isinstance(value, (int, float)) and value > 0 and value < 86400):
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number of seconds, not {value!r}")
    if target.is_local_socket and not target.socket_path:
        raise ValueError("--socket needs a path")
    if target.kind == "local":
        _check_socket_path(target.socket_path)
    if target.kind == "ssh" and not target.xapi_socket.startswith("/"):
        raise ValueError(f"--xapi-socket must be an absolute path on the remote host, not {target.xapi_socket!r}")
    if target.ssh_channel not in (None, "streamlocal", "tcp"):
        raise ValueError(f"SSH channel must be 'streamlocal' or 'tcp', not {target.ssh_channel!r}")
    if not 1 <= int(target.xapi_port) <= 65535:
        raise ValueError(f"xapi port {target.xapi_port} out of range 1-65535")
    if target.password_env is not None and not _ENV_NAME_RE.match(target.password_env):
        raise ValueError(f"--password-env takes the NAME of an environment variable, not {target.password_env!r}")
    if target.tls_fingerprint is not None:
        from xentui.xapi.tls import parse_fingerprint  # validation only

        parse_fingerprint(target.tls_fingerprint)
    if not target.tls_verify:
        raise ValueError("TLS verification cannot be switched off; pin the certificate with --tls-fingerprint")


def _check_socket_path(path: str) -> None:
    """--socket must name a unix socket. A missing one is left to the
    connection (xapi may be starting); a regular file or a directory is
    a mistake that would otherwise read as 'xapi is not running'."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ValueError(f"--socket {path}: {exc.strerror or exc}") from None
    if not stat.S_ISSOCK(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a regular file" if stat.S_ISREG(mode) else "not a socket"
        raise ValueError(f"--socket {path}: it is {kind}, not xapi's unix socket")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds: {text!r}")
    return value


class _RefusePassword(argparse.Action):
    """`--password` exists only to refuse it (and to stop argparse from
    expanding it to --password-env): never echo the value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        parser.error("passwords are never given on the command line; use --password-env VAR")


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection options every sub-command shares (the target itself is
    the sub-command's positional argument)."""
    group = parser.add_argument_group("connection")
    group.add_argument("--socket", metavar="PATH", help="local xapi unix socket (default /var/lib/xcp/xapi)")
    group.add_argument(
        "--xapi-socket", metavar="PATH", help="xapi's unix socket on the SSH host (default /var/lib/xcp/xapi)"
    )
    group.add_argument("--identity", metavar="FILE", help="SSH private key file")
    group.add_argument(
        "--known-hosts",
        metavar="FILE",
        help="the only SSH known_hosts file to read; a host key trusted with F8 is added to it "
        "(default: ~/.ssh/known_hosts, plus xentui's own file for keys trusted with F8)",
    )
    group.add_argument("--ssh-config", metavar="FILE", help="SSH client config instead of ~/.ssh/config")
    group.add_argument("--host-root", metavar="DIR", help="root of the host's file system (default /)")
    group.add_argument("--user", metavar="NAME", help="xapi user for password logins (default root)")
    group.add_argument("--password", action=_RefusePassword, help=argparse.SUPPRESS)
    group.add_argument("--password-env", metavar="VAR", help="read the xapi password from this environment variable")
    group.add_argument(
        "--connect-timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="seconds to wait for a connection (default 5)",
    )
    group.add_argument(
        "--call-timeout",
        metavar="S",
        type=_seconds,
        default=DEFAULT_CALL_TIMEOUT,
        help="seconds to wait for each xapi answer (default 10)",
    )
    group.add_argument("--tls-fingerprint", metavar="SHA256:...", help="accept exactly this https certificate")


def target_from_args(args: argparse.Namespace, target_text: Optional[str]) -> Target:
    """Combine the positional target with the shared options (ValueError on conflicts)."""

    def opt(name: str) -> Any:
        return getattr(args, name, None)

    def path(name: str) -> Optional[str]:
        value = opt(name)
        return str(Path(value).expanduser()) if value else None

    return parse_target(
        target_text,
        socket_path=path("socket"),
        xapi_socket=opt("xapi_socket"),
        identity=path("identity"),
        known_hosts=path("known_hosts"),
        ssh_config=path("ssh_config"),
        host_root=path("host_root"),
        xapi_user=opt("user"),
        password_env=opt("password_env"),
        connect_timeout=opt("connect_timeout"),
        call_timeout=opt("call_timeout"),
        tls_fingerprint=opt("tls_fingerprint"),
    )
