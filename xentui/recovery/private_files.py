"""Files xentui writes are private: directories 0700, files 0600.

The audit log names hosts and steps, incident reports list the pool's
findings and a pool database backup holds SR credentials, so none of them
may be readable by other local users, whatever the umask. Modes are set
explicitly (fchmod/chmod after creation) because `os.open(..., 0o600)` and
`mkdir(mode=0o700)` only ever narrow by the umask and leave an existing
file's or directory's mode as it was.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Union

DIR_MODE = 0o700
FILE_MODE = 0o600

PathLike = Union[str, "os.PathLike[str]"]


def make_private_dir(path: PathLike, *, fix_existing: bool = False) -> Path:
    """Create `path` (and missing parents) as 0700 directories.

    `fix_existing`: also narrow an existing `path` to 0700. Only for
    directories that are xentui's own (the state dir, its backups), and only
    while they hold nothing but xentui's files: a directory the user named
    for a file (`-o /var/log/x.md`) or a shared one keeps its mode.
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by another xentui
        os.chmod(directory, DIR_MODE)
    if fix_existing and not missing:
        st = os.stat(path)
        if (
            stat.S_ISDIR(st.st_mode)
            and stat.S_IMODE(st.st_mode) != DIR_MODE
            and st.st_uid == os.geteuid()
            and _holds_only_our_files(path)
        ):
            os.chmod(path, DIR_MODE)
    return path


# What xentui keeps in its state dir and backup dir. A directory holding
# anything else (XENTUI_STATE_DIR=/var/lib by mistake) is shared: narrowing it
# would break other programs, so its mode is left as it is.
_OUR_NAMES = re.compile(r"^(audit\.jsonl|backups|incident-[^/]*\.md|pool-db-[^/]*\.xml|\..*\.tmp)$")


def _holds_only_our_files(path: Path) -> bool:
    if os.stat(path).st_mode & stat.S_ISVTX:
        return False  # /tmp and the like
    try:
        return all(_OUR_NAMES.match(name) for name in os.listdir(path))
    except OSError:
        return False


def fix_file_mode(fd: int) -> None:
    """Make an open regular file 0600 (a file created before this rule, or
    under another umask, is narrowed too)."""
    if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
        os.fchmod(fd, FILE_MODE)


def file_kind(mode: int) -> str:
    """'a directory', 'a FIFO', ... for one-line refusals."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


class NotRegularFile(OSError):
    """The path names a FIFO, a directory, a device...: xentui only writes
    and reads regular files (a FIFO would block forever, a device would
    swallow the record)."""

    def __init__(self, path: PathLike, mode: int) -> None:
        self.what = f"it is {file_kind(mode)}, not a regular file"
        super().__init__(f"{path}: {self.what}")


def os_error_reason(exc: OSError) -> str:
    """The cause of an OSError without its path, for a one-line message
    that names the path once."""
    if isinstance(exc, NotRegularFile):
        return exc.what
    return exc.strerror or str(exc)


def refuse_non_regular(path: PathLike) -> None:
    """Raise NotRegularFile if `path` exists and is not a regular file
    (symbolic links are followed, as opening would)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, st.st_mode)


def write_private_file(path: PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temp file, fsync, rename) as 0600.

    A reader sees the old content or the new, never half a file; a failure
    (full disk, read-only mount) leaves no partial file behind and raises
    the OSError."""
    path = Path(path)
    refuse_non_regular(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        try:
            fix_file_mode(fd)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def fsync_dir(path: PathLike) -> None:
    """Make a new or renamed name in `path` survive a power cut."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories
    finally:
        os.close(fd)
