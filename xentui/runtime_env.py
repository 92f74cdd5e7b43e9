"""What a dom0's console may lack, settled before any command runs.

The single-file build (packaging/build-dom0) runs on CentOS-7-based dom0s with
a bundled glibc and OpenSSL built for Debian. Each gap below either gets fixed
quietly (when the fix is certain) or becomes ONE clear line for the user:

- identity: no HOME, no USER, no passwd entry. platformdirs and paramiko
  would otherwise crash deep inside (getpass.getuser, a relative "~" path);
- CA certificates: the bundled OpenSSL looks in Debian's paths; on CentOS the
  bundle lives under /etc/pki, so https targets would never verify;
- the locale: a LANG the bundled glibc cannot load falls back to C.UTF-8
  (built into glibc 2.35+), so stdio and Textual still get UTF-8;
- leftovers: a SIGKILLed file leaves its unpacked copies in TMPDIR (staticx's
  `staticx-*`, PyInstaller's `_MEI*`); the next run removes the ones that no
  live process uses.

A noexec TMPDIR cannot be handled here: both unpacking layers need to
execute from it before any Python runs. The sh starter (packaging/xentui-run:
the RPM's /usr/bin/xentui, OUTDIR/xentui-run next to the file) picks an
exec-capable TMPDIR before starting the file, or names TMPDIR in one line.
"""

from __future__ import annotations

import locale
import os
import pwd
import shutil
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, MutableMapping, Optional, Tuple

# CA bundles and directories of the distributions a dom0 or a jump box runs,
# CentOS/RHEL first (that is what a dom0 is).
CA_FILES = (
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)
CA_DIRS = ("/etc/pki/tls/certs", "/etc/ssl/certs")

FALLBACK_LOCALE = "C.UTF-8"
# Unpacked copies younger than this may belong to a run that is still unpacking.
LEFTOVER_MIN_AGE_S = 120.0


class EnvironmentProblem(Exception):
    """Something the user must set; str() is the one line to show."""


@dataclass
class Prepared:
    """What prepare() changed, for tests and for `--debug`-style reporting."""

    set_vars: Dict[str, str] = field(default_factory=dict)
    removed_leftovers: List[str] = field(default_factory=list)


def ensure_identity(
    environ: MutableMapping[str, str], uid: int, getpwuid: Callable[[int], "pwd.struct_passwd"] = pwd.getpwuid
) -> Dict[str, str]:
    """Fill HOME and USER from the passwd entry; raise EnvironmentProblem when
    neither the environment nor the passwd database can say."""
    try:
        entry: Optional[pwd.struct_passwd] = getpwuid(uid)
    except KeyError:
        entry = None
    changed: Dict[str, str] = {}
    if not environ.get("HOME") and not _xdg_dirs_set(environ):
        if entry is None or not entry.pw_dir:
            raise EnvironmentProblem(
                f"HOME is not set and user id {uid} has no passwd entry: set HOME "
                f"(for example HOME=/root) so xentui knows where its config and audit log go"
            )
        changed["HOME"] = entry.pw_dir
    if not (environ.get("USER") or environ.get("LOGNAME")):
        if entry is not None:
            changed["USER"] = entry.pw_name
        elif uid == 0:
            changed["USER"] = "root"  # uid 0 is root by definition (xsconsole's wrapper does the same)
        else:
            raise EnvironmentProblem(
                f"USER is not set and user id {uid} has no passwd entry: set USER to your user name"
            )
    environ.update(changed)
    return changed


def _xdg_dirs_set(environ: MutableMapping[str, str]) -> bool:
    state = environ.get("XDG_STATE_HOME") or environ.get("XENTUI_STATE_DIR")
    return bool(state and environ.get("XDG_CONFIG_HOME") and environ.get("XDG_DATA_HOME"))


def ensure_ca_paths(
    environ: MutableMapping[str, str],
    *,
    default_paths: Optional[ssl.DefaultVerifyPaths] = None,
    ca_files: Iterable[str] = CA_FILES,
    ca_dirs: Iterable[str] = CA_DIRS,
) -> Dict[str, str]:
    """Point OpenSSL at this host's CA store when its compiled-in one is absent."""
    if environ.get("SSL_CERT_FILE") or environ.get("SSL_CERT_DIR"):
        return {}  # the user chose
    paths = default_paths if default_paths is not None else ssl.get_default_verify_paths()
    if paths.cafile or (paths.capath and _non_empty_dir(paths.capath)):
        return {}  # OpenSSL's own paths exist here (cafile/capath are None when absent)
    changed: Dict[str, str] = {}
    found_file = next((f for f in ca_files if os.path.isfile(f)), None)
    if found_file:
        changed["SSL_CERT_FILE"] = found_file
    found_dir = next((d for d in ca_dirs if _non_empty_dir(d)), None)
    if found_dir:
        changed["SSL_CERT_DIR"] = found_dir
    environ.update(changed)
    return changed


def _non_empty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def ensure_locale(environ: MutableMapping[str, str]) -> Dict[str, str]:
    """Keep the user's locale when this libc can load it, else use C.UTF-8."""
    try:
        locale.setlocale(locale.LC_CTYPE, "")  # what Python itself did at start-up
        return {}
    except locale.Error:
        pass
    changed = {"LC_ALL": FALLBACK_LOCALE}
    environ.update(changed)
    try:
        locale.setlocale(locale.LC_ALL, FALLBACK_LOCALE)
    except locale.Error:
        locale.setlocale(locale.LC_ALL, "C")  # a libc older than 2.35 without C.UTF-8: ASCII still works
    return changed


def clean_leftovers(
    tmp_root: Path,
    *,
    own: Iterable[str] = (),
    now: Optional[float] = None,
    in_use: Optional[Callable[[Path], bool]] = None,
    min_age_s: float = LEFTOVER_MIN_AGE_S,
) -> List[str]:
    """Remove unpacked copies of a killed single-file run that no process uses.

    Only directories this user owns and that look like the bundle's layers
    (staticx's loader, or PyInstaller's copy holding xentui's data) are
    considered, and only when older than `min_age_s` (a younger one may be a
    run that is still unpacking)."""
    now = time.time() if now is None else now
    own_paths = {os.path.realpath(p) for p in own if p}
    candidates = []
    try:
        entries = list(os.scandir(tmp_root))
    except OSError:
        return []
    for entry in entries:
        if not (entry.name.startswith("staticx-") or entry.name.startswith("_MEI")):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        path = Path(entry.path)
        if (
            not entry.is_dir(follow_symlinks=False)
            or info.st_uid != os.getuid()
            or os.path.realpath(path) in own_paths
            or now - info.st_mtime < min_age_s
        ):
            continue
        if entry.name.startswith("staticx-") and not (path / ".staticx.interp").exists():
            continue
        if entry.name.startswith("_MEI") and not (path / "xentui").is_dir():
            continue
        candidates.append(path)
    if not candidates:
        return []
    used = in_use or _used_by_a_live_process(candidates)
    removed = []
    for path in candidates:
        if used(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(str(path))
    return removed


def _used_by_a_live_process(candidates: List[Path]) -> Callable[[Path], bool]:
    """A directory is in use when a live process runs or maps one of its files.

    Files are compared by device and inode, not by path: a process in another
    mount namespace or chroot names the same file differently."""
    owner: Dict[Tuple[int, int], Path] = {}
    for directory in candidates:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            owner[(info.st_dev, info.st_ino)] = directory
    used = set()
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            info = os.stat(f"/proc/{pid}/exe")
            if (info.st_dev, info.st_ino) in owner:
                used.add(owner[(info.st_dev, info.st_ino)])
        except OSError:
            pass
        try:
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    fields = line.split(None, 5)  # address perms offset dev(major:minor, hex) inode [path]
                    if len(fields) < 6 or fields[4] == "0":
                        continue
                    major, _, minor = fields[3].partition(":")
                    key = (os.makedev(int(major, 16), int(minor, 16)), int(fields[4]))
                    if key in owner:
                        used.add(owner[key])
        except (OSError, ValueError):
            pass
    return lambda path: path in used


def prepare(environ: Optional[MutableMapping[str, str]] = None) -> Prepared:
    """Run every check; raises EnvironmentProblem with the one line to show."""
    env = os.environ if environ is None else environ
    done = Prepared()
    done.set_vars.update(ensure_identity(env, os.getuid()))
    done.set_vars.update(ensure_locale(env))
    done.set_vars.update(ensure_ca_paths(env))
    if getattr(sys, "frozen", False):
        import tempfile

        own = (getattr(sys, "_MEIPASS", ""), os.environ.get("STATICX_BUNDLE_DIR", ""))
        done.removed_leftovers = clean_leftovers(Path(tempfile.gettempdir()), own=own)
    return done
