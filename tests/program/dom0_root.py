"""Helpers for the dom0 single-file tests: build it once, and run it inside an
empty root file system (only the file, /dev, /proc and /tmp) in a private
mount namespace, which shows it needs nothing from the host.

The build is packaging/build-dom0 itself, run once per session into a temp
directory (its build venv is cached by the script across sessions).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import pytest

import xentui

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "packaging" / "build-dom0"


@dataclass
class Dom0Build:
    file: Path
    run_script: Path  # OUTDIR/xentui-run (packaging/xentui-run)
    rpm: Path
    version: str
    seconds: float


def build(outdir: Path) -> Dom0Build:
    """Run packaging/build-dom0; fail loudly (never skip) when it cannot build."""
    for tool in ("unshare", "chroot", "mount"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: the dom0 file tests need util-linux and coreutils (.ci/run)")
    started = time.perf_counter()
    done = subprocess.run([str(BUILD_SCRIPT), str(outdir)], capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        pytest.fail("packaging/build-dom0 failed:\n" + "\n".join(done.stderr.splitlines()[-40:]))
    version = xentui.__version__
    built = Dom0Build(
        outdir / "xentui", outdir / "xentui-run", outdir / f"xentui-{version}-1.x86_64.rpm", version, seconds
    )
    print(
        f"\nbuild-dom0: {seconds:.1f} s; file {built.file.stat().st_size / 1e6:.1f} MB; "
        f"rpm {built.rpm.stat().st_size / 1e6:.1f} MB"
    )
    return built


class EmptyRoot:
    """A directory that becomes `/` for the file: /xentui, /dev, /proc, /tmp."""

    def __init__(self, path: Path, file: Path, inside: str = "/xentui") -> None:
        self.path = path
        self.inside = inside
        for name in ("dev", "proc"):
            (path / name).mkdir(parents=True, exist_ok=True)
        (path / "tmp").mkdir(exist_ok=True)
        os.chmod(path / "tmp", 0o1777)
        target = path / inside.lstrip("/")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)

    @property
    def tmp(self) -> Path:
        return self.path / "tmp"

    def argv(self, *args: str, noexec_tmp: bool = False, noexec_dirs: Sequence[str] = ()) -> List[str]:
        """Run `/xentui ARGS` chrooted here, in a private mount namespace whose
        /dev and /proc are the host's (bind mounts vanish with the namespace).
        /tmp (noexec_tmp) and the noexec_dirs, directories of this root, get
        an empty noexec tmpfs."""
        root = str(self.path)
        mounts = f'mount --rbind /dev "{root}/dev" && mount --rbind /proc "{root}/proc"'
        for inside in (["/tmp"] if noexec_tmp else []) + list(noexec_dirs):
            mounts += f' && mount -t tmpfs -o noexec,mode=1777 tmpfs "{root}{inside}"'
        script = f'{mounts} && exec chroot "{root}" "$@"'
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", self.inside, *args]

    def run(
        self,
        *args: str,
        env: Optional[Dict[str, str]] = None,
        timeout: float = 60,
        noexec_tmp: bool = False,
        noexec_dirs: Sequence[str] = (),
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args, noexec_tmp=noexec_tmp, noexec_dirs=noexec_dirs),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=minimal_env(env),
        )

    def popen(self, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        return subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=minimal_env(env)
        )

    def leftovers(self) -> List[str]:
        return sorted(p.name for p in self.tmp.iterdir() if p.name.startswith(("staticx-", "_MEI")))


# What packaging/xentui-run (/usr/bin/xentui in the RPM) runs besides its shell.
XENTUI_RUN_TOOLS = ("sh", "mktemp", "chmod", "rm")


def add_busybox(root: Path) -> None:
    """/bin/sh and the tools packaging/xentui-run uses, as a dom0 has them: one
    statically linked busybox (Debian's busybox-static) and its applet links."""
    busybox = shutil.which("busybox") or _install_busybox_static()
    if not busybox:
        pytest.fail("busybox is missing (Debian package busybox-static; .ci/run installs it)")
    if b"ld-linux" in Path(busybox).read_bytes()[:4096]:  # its ELF interpreter: a dynamic build
        pytest.fail(f"{busybox} is dynamically linked: install Debian's busybox-static")
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, bin_dir / "busybox")
    for tool in XENTUI_RUN_TOOLS:
        (bin_dir / tool).symlink_to("busybox")  # relative: it resolves inside the root


def _install_busybox_static() -> Optional[str]:
    """As packaging/build-dom0 does for its own packages: on a fresh machine
    where we are root with apt, install what the test needs rather than fail."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "busybox-static"],
    ):
        if (
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600).returncode
            != 0
        ):
            return None
    return shutil.which("busybox")


def minimal_env(extra: Optional[Dict[str, str]]) -> Dict[str, str]:
    """What a dom0 console gives: a PATH and nothing else unless asked."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    env.update(extra or {})
    return env


def console_env(home: str = "/tmp/home") -> Dict[str, str]:
    return {"HOME": home, "USER": "root", "TERM": "linux", "LANG": "C.UTF-8"}


def kill_tree(pids: Sequence[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def descendants(pid: int) -> List[int]:
    """pid's children, grandchildren, ... from /proc (no psutil)."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out
