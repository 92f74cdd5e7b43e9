"""known_hosts files, read the way OpenSSH reads them, and host key checks.

paramiko's own HostKeys.load() raises on any `@cert-authority` / `@revoked`
line and ignores patterns, so a perfectly normal ~/.ssh/known_hosts can break
it. This parser accepts every line OpenSSH accepts and skips (never dies on)
the rest:

- comments and blank lines;
- hashed host names (`|1|salt|hmac`);
- patterns with `*`, `?` and negation `!`, and `[host]:port` names;
- `@revoked` lines: a revoked key is REFUSED even if listed as known elsewhere;
- `@cert-authority` lines: we do not do host certificates, so they are kept
  out of the plain-key lookup (they neither trust nor break anything).

Keys are never accepted implicitly: `check()` raises HostKeyUnknown with the
SHA256 fingerprint, and only an explicit `accept_host_key()` writes one.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from xentui.xapi.errors import ConnectFailed, HostKeyChanged, HostKeyUnknown
from xentui.xapi.tls import sha256_fingerprint

DEFAULT_SSH_PORT = 22


class KnownHostsFileRefused(ConnectFailed):
    """A known_hosts path names a FIFO, a directory, a device...: refused,
    never read (opening a FIFO waits for a writer, forever)."""

    def __init__(self, path: Path, mode: int) -> None:
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
        super().__init__("ssh", f"known_hosts file {path}: it is {kind}, not a regular file; refused")
        self.path = path


def _read_known_hosts_file(path: Path) -> Optional[str]:
    """The file's text; None if it does not exist, cannot be read or is a
    directory (it knows no hosts). KnownHostsFileRefused for a FIFO, a device,
    a socket."""
    try:
        # O_NONBLOCK: a FIFO opens at once (and is refused below) instead of waiting for a writer.
        fd = os.open(str(path), os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        os.close(fd)
        return None  # like a missing file (it cannot block); trusting a key into it is refused
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise KnownHostsFileRefused(path, mode)
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8", errors="replace")


class HostKeyRevoked(HostKeyChanged):
    """The server's key is marked @revoked in a known_hosts file: refused,
    exactly like a changed key (never offered for acceptance)."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, source: str) -> None:
        super().__init__(host, port, key_type, fingerprint, f"@revoked in {source}")
        self.message = f"SSH host key {key_type} {fingerprint} of {host}:{port} is REVOKED ({source})"
        self.args = (self.message,)


def xentui_known_hosts_path() -> Path:
    """Where keys accepted inside xentui are kept (platformdirs user data dir;
    honours XDG_DATA_HOME)."""
    import platformdirs  # only needed for SSH targets

    return Path(platformdirs.user_data_dir("xentui", appauthor=False)) / "known_hosts"


def default_user_known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


def host_key_name(host: str, port: int) -> str:
    """The name OpenSSH writes: 'host' on port 22, '[host]:port' otherwise."""
    return host if int(port) == DEFAULT_SSH_PORT else f"[{host}]:{int(port)}"


@dataclass(frozen=True)
class KnownHostEntry:
    patterns: Tuple[str, ...]  # host patterns (plain, wildcard, negated or |1| hashed)
    key_type: str
    key_blob: bytes
    marker: str = ""  # "", "@revoked" or "@cert-authority"
    source: str = ""  # "file:line"

    @property
    def fingerprint(self) -> str:
        return sha256_fingerprint(self.key_blob)

    @property
    def key_base64(self) -> str:
        return base64.b64encode(self.key_blob).decode("ascii")

    def matches(self, name: str) -> bool:
        """OpenSSH semantics: any positive match and no negated match."""
        positive = False
        for pattern in self.patterns:
            if pattern.startswith("|1|"):
                positive = positive or _hashed_match(pattern, name)
            elif pattern.startswith("!"):
                if _wildcard_match(pattern[1:], name):
                    return False
            elif _wildcard_match(pattern, name):
                positive = True
        return positive


def _wildcard_match(pattern: str, name: str) -> bool:
    # Host names are case-insensitive; fnmatchcase on lowered strings keeps
    # '[' literal-ish handling predictable for '[host]:port' names.
    pattern, name = pattern.lower(), name.lower()
    if not any(c in pattern for c in "*?"):
        return pattern == name
    escaped = pattern.replace("[", "[[]")  # '[' is literal in ssh patterns
    return fnmatch.fnmatchcase(name, escaped)


def _hashed_match(pattern: str, name: str) -> bool:
    try:
        _, _, salt_b64, hash_b64 = pattern.split("|", 3)
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(hash_b64)
    except (ValueError, binascii.Error):
        return False
    digest = hmac.new(salt, name.lower().encode("utf-8"), hashlib.sha1).digest()
    return hmac.compare_digest(digest, expected)


def parse_known_hosts_line(line: str, source: str = "") -> Optional[KnownHostEntry]:
    """One entry, or None for comments, blanks and lines we cannot read."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    marker = ""
    if fields[0].startswith("@"):
        marker = fields.pop(0)
        if marker not in ("@revoked", "@cert-authority"):
            return None
    if len(fields) < 3:
        return None
    hosts, key_type, key_b64 = fields[0], fields[1], fields[2]
    try:
        blob = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not _blob_has_type(blob, key_type):
        return None
    return KnownHostEntry(tuple(p for p in hosts.split(",") if p), key_type, blob, marker, source)


def _blob_has_type(blob: bytes, key_type: str) -> bool:
    """An SSH public key blob starts with its own type string; a line whose
    type and blob disagree is corrupt and ignored (as OpenSSH does)."""
    if len(blob) < 4:
        return False
    length = int.from_bytes(blob[:4], "big")
    return blob[4 : 4 + length] == key_type.encode("ascii", "replace")


class KnownHosts:
    """The merged content of several known_hosts files."""

    def __init__(self, entries: Sequence[KnownHostEntry] = ()) -> None:
        self.entries: List[KnownHostEntry] = list(entries)

    @classmethod
    def load(cls, paths: Iterable["str | Path"]) -> "KnownHosts":
        entries: List[KnownHostEntry] = []
        seen = set()
        for path in paths:
            path = Path(path).expanduser()
            if path in seen:
                continue
            seen.add(path)
            text = _read_known_hosts_file(path)
            if text is None:
                continue  # a missing file simply knows no hosts
            for number, line in enumerate(text.splitlines(), 1):
                entry = parse_known_hosts_line(line, f"{path}:{number}")
                if entry is not None:
                    entries.append(entry)
        return cls(entries)

    def known_keys(self, host: str, port: int) -> List[KnownHostEntry]:
        """Plain (unmarked) keys listed for host:port, revoked ones excluded."""
        name = host_key_name(host, port)
        return [e for e in self.entries if not e.marker and e.matches(name) and self.revoked_entry(e.key_blob) is None]

    def revoked_entry(self, key_blob: bytes) -> Optional[KnownHostEntry]:
        for entry in self.entries:
            if entry.marker == "@revoked" and entry.key_blob == key_blob:
                return entry
        return None

    def check(self, host: str, port: int, key_type: str, key_blob: bytes) -> None:
        """Return if the key is known for host:port; raise HostKeyRevoked,
        HostKeyChanged or HostKeyUnknown otherwise."""
        fingerprint = sha256_fingerprint(key_blob)
        revoked = self.revoked_entry(key_blob)
        if revoked is not None:
            raise HostKeyRevoked(host, port, key_type, fingerprint, revoked.source)
        known = self.known_keys(host, port)
        if any(e.key_blob == key_blob for e in known):
            return
        if known:
            # A different key (or a key of another type than the ones we
            # know) is treated as changed: possible man in the middle.
            expected = ", ".join(f"{e.key_type} {e.fingerprint} ({e.source})" for e in known)
            raise HostKeyChanged(host, port, key_type, fingerprint, expected)
        raise HostKeyUnknown(host, port, key_type, fingerprint, base64.b64encode(key_blob).decode("ascii"))


def accept_host_key(known_hosts_path: "str | Path", host: str, port: int, key_type: str, key_base64: str) -> None:
    """Append `host:port key_type key` to `known_hosts_path` (created 0600 in
    a 0700 directory). Call only after the user confirmed the fingerprint."""
    try:
        blob = base64.b64decode(key_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("accept_host_key: key is not valid base64") from None
    if not _blob_has_type(blob, key_type):
        raise ValueError(f"accept_host_key: key is not a {key_type} key")
    if not host or any(c.isspace() or c == "," for c in host):
        raise ValueError(f"accept_host_key: invalid host {host!r}")
    path = Path(known_hosts_path).expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = f"{host_key_name(host, port)} {key_type} {base64.b64encode(blob).decode('ascii')}\n"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        raise KnownHostsFileRefused(path, mode)  # opening a FIFO to write would wait for a reader
    fd = os.open(str(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
    try:
        # Start on a fresh line if the file lacks a trailing newline.
        if os.fstat(fd).st_size > 0:
            with open(path, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    line = "\n" + line
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)
