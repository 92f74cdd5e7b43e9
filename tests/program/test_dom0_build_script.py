"""packaging/build-dom0's own failures: each one clear line, nothing built.
(The successful build is exercised by tests/program/test_dom0_file.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "packaging" / "build-dom0"


def test_usage_is_one_line(tmp_path):
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "build-dom0: usage: packaging/build-dom0 OUTDIR\n"


def test_missing_build_tools_without_apt_are_named_in_one_line(tmp_path):
    # A PATH with the few basic tools the script needs first, but neither
    # objdump (binutils), rpmbuild (rpm) nor apt-get: it cannot install them.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "uname", "dirname", "mkdir", "date", "id", "env"):
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, bin_dir / tool)
    done = subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines == [
        "build-dom0: missing build tools: install the Debian packages binutils rpm "
        "(apt-get install binutils rpm) and run again"
    ], done.stderr
    assert list((tmp_path / "out").iterdir()) == []
