"""How xentui reaches a dom0's files and commands without xapi.

Three ways, one small protocol (`HostAccess`):

* `LocalAccess(root)`      - this machine; files under `root` (the `--host-root`
                             option, "/" on a dom0), commands run with subprocess.
* `SimulatedAccess(root)`  - a simulated host's root directory; like local for
                             files, but commands are answered from files the
                             simulator writes (see xentui/sim/dom0_files.py).
* `SshAccess(client)`      - a remote dom0 over an existing paramiko connection:
                             SFTP for files, exec channels for commands.

Paths given to the protocol are always the dom0's absolute paths
("/etc/xensource/pool.conf"); each implementation maps them to where they really
are. Every operation has a timeout; failures raise `AccessError` (or its
subclasses) so that callers can turn them into facts with an error.
"""

from __future__ import annotations

import errno
import os
import select
import shlex
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover
    import paramiko

try:  # Protocol is typing-only here; keep 3.9-compatible imports.
    from typing import Protocol
except ImportError:  # pragma: no cover
    Protocol = object  # type: ignore

DEFAULT_TIMEOUT = 5.0
# The largest dom0 file we read (state.db is tens of MB on the biggest pools):
# neither a broken or hostile SFTP server nor a huge or endless local file
# (a FIFO or device swapped in, a /proc-like file whose size lies) can make
# us buffer more.
MAX_FILE_BYTES = 256 * 1024 * 1024
_SFTP_CHUNK = 1024 * 1024
_LOCAL_CHUNK = 1024 * 1024


def _not_regular(mode: int) -> str:
    """What a non-regular file is, for the one-line refusal ("" if regular)."""
    for test, kind in (
        (stat.S_ISREG, ""),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "an unknown kind of file"


class AccessError(Exception):
    """A file could not be read or a command could not be run."""


class AccessTimeout(AccessError):
    """The operation did not finish within its timeout."""


class FileMissing(AccessError):
    """The file does not exist on the host."""


class HostAccess(Protocol):
    """What `xentui.host` needs from a dom0 (local, simulated or over SSH)."""

    def read_file(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> Tuple[bytes, float]:
        """The whole file and its mtime (POSIX seconds). Raises FileMissing/AccessError."""

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Tuple[int, bytes, bytes]:
        """Run a command on the host: (exit code, stdout, stderr). Raises AccessTimeout."""

    def exists(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Whether the path exists on the host."""

    def describe(self, path: str = "") -> str:
        """Human readable source label, e.g. "root@127.0.0.1:2222:/etc/xensource/pool.conf"."""


def _dom0_path(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if not p.is_absolute():
        raise ValueError("dom0 paths are absolute: %r" % (path,))
    return p


class LocalAccess:
    """Files under `root` on this machine; commands run here with subprocess.

    Only regular files are read (a FIFO would block the open, a device such
    as /dev/zero never ends), each within its timeout and `max_file_bytes`."""

    def __init__(self, root: "os.PathLike[str] | str" = "/", *, max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self.root = Path(root)
        self.max_file_bytes = max_file_bytes

    def local_path(self, path: str) -> Path:
        rel = _dom0_path(path).relative_to("/")
        return self.root / rel

    def describe(self, path: str = "") -> str:
        if not path:
            return str(self.root)
        return str(self.local_path(path))

    def read_file(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> Tuple[bytes, float]:
        local = self.local_path(path)
        deadline = time.monotonic() + timeout
        try:
            # Refuse before opening: opening a device can have side effects.
            kind = _not_regular(os.stat(local).st_mode)
            if kind:
                raise AccessError("%s: %s, not a regular file; not read" % (local, kind))
            # O_NONBLOCK: if a FIFO is swapped in after the stat, the open
            # returns at once instead of waiting for a writer forever.
            fd = os.open(local, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
            with open(fd, "rb", buffering=0) as handle:
                # fstat the open file: what we read is a regular file, and the
                # mtime belongs to the bytes we read even if the file is
                # replaced (renamed over) meanwhile.
                info = os.fstat(fd)
                kind = _not_regular(info.st_mode)
                if kind:
                    raise AccessError("%s: %s, not a regular file; not read" % (local, kind))
                data = self._read_capped(handle, info.st_size, str(local), deadline, timeout)
        except FileNotFoundError:
            raise FileMissing("%s: no such file" % (local,)) from None
        except OSError as exc:
            raise AccessError("%s: %s" % (local, exc.strerror or exc)) from None
        return data, info.st_mtime

    def _read_capped(self, handle: Any, size: int, where: str, deadline: float, timeout: float) -> bytes:
        limit = self.max_file_bytes
        if size > limit:
            raise AccessError(
                "%s: %d bytes, more than the %s a dom0 file may have; not read" % (where, size, _size_text(limit))
            )
        # The size fstat gives first, in ONE buffer: a 13 MB state.db read as
        # 1 MiB chunks then joined would need twice its size at once.
        first = handle.read(size) if size > 0 else b""
        chunks: List[bytes] = [first] if first else []
        total = len(first)
        while True:
            # Regular files can still be endless (/proc-like sizes lie) or
            # slow (a stuck network mount): the cap and one deadline decide.
            if time.monotonic() > deadline:
                raise AccessTimeout("%s: not read within %.1f s" % (where, timeout))
            chunk = handle.read(_LOCAL_CHUNK)
            if not chunk:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            total += len(chunk)
            if total > limit:
                raise AccessError("%s: more than the %s a dom0 file may have; not read" % (where, _size_text(limit)))
            chunks.append(chunk)

    def exists(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
        return self.local_path(path).exists()

    def file_identity(self, path: str) -> Optional[Tuple[int, int, int, int]]:
        """(device, inode, size, mtime in ns) of the file, None when it cannot
        be stat'ed: equal identities mean the same unchanged file, so a caller
        may skip re-reading it (xapi writes state.db anew on every change)."""
        try:
            info = os.stat(self.local_path(path))
        except (OSError, ValueError):
            return None
        return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Tuple[int, bytes, bytes]:
        try:
            done = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AccessTimeout("%s: no answer within %.1f s" % (shlex.join(argv), timeout)) from None
        except FileNotFoundError:
            return 127, b"", ("%s: command not found\n" % argv[0]).encode()
        except OSError as exc:
            raise AccessError("%s: %s" % (shlex.join(argv), exc)) from None
        return done.returncode, done.stdout, done.stderr


def _size_text(size: int) -> str:
    return "%d MB" % (size >> 20) if size >= 1 << 20 else "%d bytes" % size


class SimulatedAccess(LocalAccess):
    """A simulated host's root directory (xentui/sim/dom0_files.py writes it).

    Commands a real dom0 would run are answered from files:
      `ip -j addr show [dev] <if>` -> var/lib/xentui-sim/ip-addr.json
      `ip -j link show`            -> every link in that file
      `test -d /proc/<pid>`        -> this machine's /proc (the simulator's
      `readlink /proc/<pid>/exe`      var/run/xapi.pid names a real local
                                      process whose executable is `xapi`)
      `rpm -q --qf %{VERSION} xapi-core` -> var/lib/xentui-sim/xapi-core.version
    Anything else exits 127 as an unknown command would.
    """

    IP_ADDR_JSON = "/var/lib/xentui-sim/ip-addr.json"
    XAPI_CORE_VERSION = "/var/lib/xentui-sim/xapi-core.version"
    # What an install or update rewrites (xapi_installed.InstalledXapiCache).
    package_database_paths = (XAPI_CORE_VERSION,)

    def describe(self, path: str = "") -> str:
        return "sim:" + super().describe(path)

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Tuple[int, bytes, bytes]:
        args = list(argv)
        if args[:4] == ["ip", "-j", "addr", "show"] and len(args) in (5, 6):
            ifname = args[-1]
            if len(args) == 6 and args[4] != "dev":
                return 255, b"", b'Error: either "dev" is duplicate, or "%s" is a garbage.\n' % args[4].encode()
            return self._ip_addr_show(ifname, timeout)
        if args == ["ip", "-j", "link", "show"]:
            return self._ip_link_show(timeout)
        if len(args) == 3 and args[:2] == ["test", "-d"] and args[2].startswith("/proc/"):
            return (0 if os.path.isdir(args[2]) else 1), b"", b""
        if len(args) == 2 and args[0] == "readlink" and args[1].startswith("/proc/") and args[1].endswith("/exe"):
            # The simulator's xapi.pid names a real local process called `xapi`.
            try:
                return 0, (os.readlink(args[1]) + "\n").encode(), b""
            except OSError:
                return 1, b"", b""
        if args == ["rpm", "-q", "--qf", "%{VERSION}", "xapi-core"]:
            try:
                data, _ = self.read_file(self.XAPI_CORE_VERSION, timeout)
            except FileMissing:
                return 1, b"package xapi-core is not installed\n", b""
            return 0, data.strip(), b""
        return 127, b"", ("%s: command not available on a simulated host\n" % args[0]).encode()

    def _ip_link_show(self, timeout: float) -> Tuple[int, bytes, bytes]:
        """Every link of the file, without addresses (as `ip -j link show` prints)."""
        import json

        try:
            data, _ = self.read_file(self.IP_ADDR_JSON, timeout)
            links = json.loads(data.decode("utf-8"))
        except FileMissing:
            links = []
        except ValueError:
            return 1, b"", b"simulated ip-addr.json is not JSON\n"
        out = [{k: v for k, v in link.items() if k != "addr_info"} for link in links if isinstance(link, dict)]
        return 0, (json.dumps(out, separators=(",", ":")) + "\n").encode(), b""

    def _ip_addr_show(self, ifname: str, timeout: float) -> Tuple[int, bytes, bytes]:
        import json

        missing = ('Device "%s" does not exist.\n' % ifname).encode()
        try:
            data, _ = self.read_file(self.IP_ADDR_JSON, timeout)
        except FileMissing:
            return 1, b"", missing
        try:
            links = json.loads(data.decode("utf-8"))
        except ValueError:
            return 1, b"", b"simulated ip-addr.json is not JSON\n"
        chosen = [link for link in links if isinstance(link, dict) and link.get("ifname") == ifname]
        if not chosen:
            return 1, b"", missing
        return 0, (json.dumps(chosen, separators=(",", ":")) + "\n").encode(), b""


class SshAccess:
    """A remote dom0 over an existing paramiko `SSHClient` or `Transport`.

    Files come over SFTP, commands over exec channels; both with timeouts. The
    caller owns the connection (and its host-key policy); this class never
    connects or authenticates by itself.
    """

    def __init__(self, client: Any, root: str = "/", label: str = "") -> None:
        transport = client.get_transport() if hasattr(client, "get_transport") else client
        if transport is None or not transport.is_active():
            raise AccessError("the SSH connection is not open")
        self._transport = transport
        self._sftp: Optional["paramiko.SFTPClient"] = None
        # One SFTP channel, used by one caller at a time (the observer may read from
        # several worker threads); exec channels are independent and need no lock.
        self._sftp_lock = threading.RLock()
        self.root = PurePosixPath(root)
        if not label:
            user = transport.get_username() or "?"
            host, port = transport.getpeername()[:2]
            label = "%s@%s:%s" % (user, host, port)
        self.label = label

    def remote_path(self, path: str) -> str:
        return str(self.root / _dom0_path(path).relative_to("/"))

    def describe(self, path: str = "") -> str:
        return "%s:%s" % (self.label, self.remote_path(path) if path else str(self.root))

    def _sftp_client(self, timeout: float) -> "paramiko.SFTPClient":
        if self._sftp is None:
            import paramiko

            try:
                chan = self._transport.open_session(timeout=timeout)
                chan.settimeout(timeout)
                chan.invoke_subsystem("sftp")
                self._sftp = paramiko.SFTPClient(chan)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise AccessError("%s: cannot open SFTP: %s" % (self.label, exc or type(exc).__name__)) from None
        self._sftp.get_channel().settimeout(timeout)  # type: ignore[union-attr]  # made from a channel above
        return self._sftp

    def _drop_sftp(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except Exception:  # noqa: BLE001 - closing a broken channel may fail any way
                pass
            self._sftp = None

    def read_file(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> Tuple[bytes, float]:
        with self._sftp_lock:
            return self._read_file(path, timeout)

    def _read_file(self, path: str, timeout: float) -> Tuple[bytes, float]:
        import paramiko

        remote = self.remote_path(path)
        sftp = self._sftp_client(timeout)
        try:
            # One deadline for the whole file (not per read) and a size cap.
            deadline = time.monotonic() + timeout
            with sftp.open(remote, "rb") as handle:
                attrs = handle.stat()
                kind = _not_regular(attrs.st_mode) if attrs.st_mode is not None else ""
                if kind:
                    raise AccessError("%s: %s, not a regular file; not read" % (self.describe(path), kind))
                if attrs.st_size is not None and attrs.st_size > MAX_FILE_BYTES:
                    raise AccessError(
                        "%s: %d bytes, more than the %d MB a dom0 file may have"
                        % (self.describe(path), attrs.st_size, MAX_FILE_BYTES >> 20)
                    )
                handle.prefetch(attrs.st_size)
                chunks, total = [], 0
                while True:
                    if time.monotonic() > deadline:
                        raise AccessTimeout("%s: not read within %.1f s" % (self.describe(path), timeout))
                    chunk = handle.read(_SFTP_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > MAX_FILE_BYTES:
                        raise AccessError("%s: more than %d MB" % (self.describe(path), MAX_FILE_BYTES >> 20))
                    chunks.append(chunk)
            return b"".join(chunks), float(attrs.st_mtime or 0)
        except FileNotFoundError:
            raise FileMissing("%s: no such file" % self.describe(path)) from None
        except IOError as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                raise FileMissing("%s: no such file" % self.describe(path)) from None
            self._drop_sftp()
            if isinstance(exc, socket.timeout):
                raise AccessTimeout("%s: no answer within %.1f s" % (self.describe(path), timeout)) from None
            raise AccessError("%s: %s" % (self.describe(path), exc)) from None
        except (paramiko.SSHException, EOFError) as exc:
            self._drop_sftp()
            raise AccessError("%s: %s" % (self.describe(path), exc or type(exc).__name__)) from None

    def exists(self, path: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
        with self._sftp_lock:
            return self._exists(path, timeout)

    def _exists(self, path: str, timeout: float) -> bool:
        import paramiko

        sftp = self._sftp_client(timeout)
        try:
            sftp.stat(self.remote_path(path))
            return True
        except FileNotFoundError:
            return False
        except IOError as exc:
            if getattr(exc, "errno", None) == errno.ENOENT:
                return False
            self._drop_sftp()
            raise AccessError("%s: %s" % (self.describe(path), exc)) from None
        except (paramiko.SSHException, EOFError) as exc:
            self._drop_sftp()
            raise AccessError("%s: %s" % (self.describe(path), exc or type(exc).__name__)) from None

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> Tuple[int, bytes, bytes]:
        import paramiko

        command = shlex.join(list(argv))
        deadline = time.monotonic() + timeout
        try:
            chan = self._transport.open_session(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise AccessError("%s: cannot open a channel: %s" % (self.label, exc or type(exc).__name__)) from None
        try:
            chan.settimeout(timeout)
            chan.exec_command(command)
            out, err = [], []
            while True:
                progressed = False
                while chan.recv_ready():
                    out.append(chan.recv(65536))
                    progressed = True
                while chan.recv_stderr_ready():
                    err.append(chan.recv_stderr(65536))
                    progressed = True
                # OpenSSH sends all data before exit-status, and paramiko handles
                # packets in order, so a ready status means the buffers are complete.
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AccessTimeout("%s: %s: no answer within %.1f s" % (self.label, command, timeout))
                if not progressed:
                    # The channel's pipe wakes select for stdout and close; stderr and
                    # exit-status are picked up by the short poll interval.
                    select.select([chan], [], [], min(0.05, remaining))
            return chan.recv_exit_status(), b"".join(out), b"".join(err)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if isinstance(exc, socket.timeout):
                raise AccessTimeout("%s: %s: no answer within %.1f s" % (self.label, command, timeout)) from None
            raise AccessError("%s: %s: %s" % (self.label, command, exc or type(exc).__name__)) from None
        finally:
            chan.close()

    def close(self) -> None:
        with self._sftp_lock:
            self._drop_sftp()
