"""xentui/runtime_env.py: the dom0 realities, one by one, without the built
file (tests/program/test_dom0_file.py runs the same cases through the file in an
empty root). Also `--version` and its single source, and the tiny stand-in
process the simulator uses where there is no `cat`."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import ssl
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import xentui
from xentui import runtime_env
from xentui.cli import main
from xentui.runtime_env import EnvironmentProblem
from xentui.sim import stand_in_elf

REPO = Path(__file__).resolve().parents[2]


def no_entry(uid):
    raise KeyError(uid)


def entry(name="admin", home="/home-of-admin"):
    return lambda uid: pwd.struct_passwd((name, "x", uid, uid, "", home, "/bin/sh"))


# --- identity ----------------------------------------------------------------------------


def test_home_and_user_come_from_the_passwd_entry():
    env = {}
    assert runtime_env.ensure_identity(env, 1000, entry()) == {"HOME": "/home-of-admin", "USER": "admin"}
    assert env == {"HOME": "/home-of-admin", "USER": "admin"}


def test_no_home_and_no_passwd_entry_is_one_clear_line():
    with pytest.raises(EnvironmentProblem) as problem:
        runtime_env.ensure_identity({"USER": "root"}, 0, no_entry)
    message = str(problem.value)
    assert "\n" not in message and message.startswith("HOME is not set and user id 0 has no passwd entry")
    assert "set HOME" in message


def test_xdg_directories_stand_in_for_home():
    env = {"XDG_CONFIG_HOME": "/c", "XDG_DATA_HOME": "/d", "XENTUI_STATE_DIR": "/s", "USER": "u"}
    assert runtime_env.ensure_identity(env, 1000, no_entry) == {}


def test_no_user_and_no_passwd_entry():
    env = {"HOME": "/h"}
    assert runtime_env.ensure_identity(env, 0, no_entry) == {"USER": "root"}  # uid 0 is root
    with pytest.raises(EnvironmentProblem) as problem:
        runtime_env.ensure_identity({"HOME": "/h"}, 4242, no_entry)
    assert str(problem.value).startswith("USER is not set and user id 4242 has no passwd entry")


# --- CA paths ------------------------------------------------------------------------------


def _paths(cafile=None, capath=None):
    return ssl.DefaultVerifyPaths(
        cafile, capath, "SSL_CERT_FILE", "/usr/lib/ssl/cert.pem", "SSL_CERT_DIR", "/usr/lib/ssl/certs"
    )


def test_centos_ca_bundle_is_used_when_openssls_own_paths_are_absent(tmp_path):
    bundle = tmp_path / "pki" / "ca-bundle.crt"
    bundle.parent.mkdir()
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "x.pem").write_text("x")
    env = {}
    changed = runtime_env.ensure_ca_paths(
        env,
        default_paths=_paths(),
        ca_files=[str(tmp_path / "missing.crt"), str(bundle)],
        ca_dirs=[str(tmp_path / "empty"), str(certs)],
    )
    assert changed == env == {"SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(certs)}


def test_ca_paths_left_alone_when_openssl_finds_its_own_or_the_user_chose(tmp_path):
    bundle = tmp_path / "b.crt"
    bundle.write_text("x")
    assert (
        runtime_env.ensure_ca_paths({}, default_paths=_paths(cafile="/usr/lib/ssl/cert.pem"), ca_files=[str(bundle)])
        == {}
    )
    env = {"SSL_CERT_FILE": "/mine.pem"}
    assert runtime_env.ensure_ca_paths(env, default_paths=_paths(), ca_files=[str(bundle)]) == {}
    assert env == {"SSL_CERT_FILE": "/mine.pem"}


def test_nothing_found_changes_nothing(tmp_path):
    assert (
        runtime_env.ensure_ca_paths(
            {}, default_paths=_paths(), ca_files=[str(tmp_path / "no")], ca_dirs=[str(tmp_path)]
        )
        == {}
    )


# --- locale -------------------------------------------------------------------------------


def test_a_locale_this_libc_cannot_load_falls_back_to_c_utf8():
    code = (
        "import json, locale, os\n"
        "from xentui import runtime_env\n"
        "changed = runtime_env.ensure_locale(os.environ)\n"
        "print(json.dumps([changed, os.environ.get('LC_ALL'), locale.setlocale(locale.LC_CTYPE)]))\n"
    )
    env = dict(os.environ, LC_ALL="xx_NOWHERE.UTF-8", LANG="xx_NOWHERE.UTF-8")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    changed, lc_all, ctype = json.loads(done.stdout)
    assert changed == {"LC_ALL": "C.UTF-8"} and lc_all == "C.UTF-8" and ctype in ("C.UTF-8", "C")


def test_a_loadable_locale_is_kept():
    env = dict(os.environ, LC_ALL="C.UTF-8")
    code = "import os\nfrom xentui import runtime_env\nprint(runtime_env.ensure_locale(os.environ))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "{}", done.stderr


# --- leftovers ------------------------------------------------------------------------------


def _leftover(tmp: Path, name: str, marker: str, age: float = 3600) -> Path:
    path = tmp / name
    (path / marker).parent.mkdir(parents=True, exist_ok=True)
    if marker.endswith("/"):
        (path / marker).mkdir(exist_ok=True)
    else:
        (path / marker).write_bytes(b"")
    old = 1_000_000.0 - age
    os.utime(path, (old, old))
    return path


def test_leftovers_of_killed_runs_are_removed_but_nothing_else(tmp_path):
    now = 1_000_000.0
    dead_staticx = _leftover(tmp_path, "staticx-AAAAAA", ".staticx.interp")
    dead_mei = _leftover(tmp_path, "_MEI12345", "xentui/")
    other_app = _leftover(tmp_path, "_MEI99999", "otherapp/")  # another PyInstaller program's
    young = _leftover(tmp_path, "staticx-YOUNG1", ".staticx.interp", age=5)  # may still be unpacking
    own = _leftover(tmp_path, "_MEI00000", "xentui/")  # this run's own
    busy = _leftover(tmp_path, "staticx-BUSY11", ".staticx.interp")
    unrelated = _leftover(tmp_path, "notes", "x")
    removed = runtime_env.clean_leftovers(tmp_path, own=[str(own)], now=now, in_use=lambda p: p == busy)
    assert sorted(removed) == sorted([str(dead_staticx), str(dead_mei)])
    for kept in (other_app, young, own, busy, unrelated):
        assert kept.exists()


def test_a_directory_a_live_process_runs_from_is_in_use(tmp_path):
    if not stand_in_elf.supported():
        pytest.fail("this machine kind is x86_64 Linux")
    live = _leftover(tmp_path, "staticx-LIVE11", ".staticx.interp")
    program = live / "runner"
    program.write_bytes(stand_in_elf.image())
    program.chmod(0o755)
    proc = subprocess.Popen([str(program)], stdin=subprocess.PIPE)
    try:
        os.utime(live, (1_000_000.0 - 3600,) * 2)
        assert runtime_env.clean_leftovers(tmp_path, now=1_000_000.0) == []
        assert live.exists()
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    os.utime(live, (1_000_000.0 - 3600,) * 2)
    assert runtime_env.clean_leftovers(tmp_path, now=1_000_000.0) == [str(live)]


# --- --version and its single source ------------------------------------------------------


def test_version_prints_the_one_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"xentui {xentui.__version__}\n"


def test_the_version_has_one_source():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")  # (no tomllib on 3.9/3.10)
    assert not re.search(r"(?m)^version\s*=\s*\"", pyproject)
    assert re.search(r"(?m)^dynamic\s*=\s*\[\"version\"\]", pyproject)
    assert re.search(r"(?m)^version\s*=\s*\{\s*attr\s*=\s*\"xentui.__version__\"\s*\}", pyproject)
    assert metadata.version("xentui") == xentui.__version__


def test_installed_command_reports_it(tmp_path):
    command = Path(sys.executable).parent / "xentui"
    command = str(command) if command.exists() else shutil.which("xentui")
    assert command, "the xentui command is not installed (pip install -e .)"
    done = subprocess.run([command, "--version"], capture_output=True, text=True, env={})
    assert done.stdout == f"xentui {xentui.__version__}\n", done.stderr


# --- the simulator's stand-in where there is no `cat` --------------------------------------


def test_the_stand_in_blocks_until_eof_then_exits_0(tmp_path):
    if not stand_in_elf.supported():
        pytest.fail("this machine kind is x86_64 Linux")
    program = tmp_path / "xapi"
    program.write_bytes(stand_in_elf.image())
    program.chmod(0o755)
    proc = subprocess.Popen([str(program)], stdin=subprocess.PIPE)
    proc.stdin.write(b"lines\nof input\n")
    proc.stdin.flush()
    assert proc.poll() is None
    assert os.path.basename(os.readlink(f"/proc/{proc.pid}/exe")) == "xapi"
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
