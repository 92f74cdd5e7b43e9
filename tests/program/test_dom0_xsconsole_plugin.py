"""The xsconsole plugin (packaging/xsconsole/XSFeatureXentui.py).

Always (CI): it compiles under a real Python 3.6 (the dom0's); it keeps
xsconsole's plugin contract as xsconsole's own code defines it (each rule
below names the xsconsole file it comes from); and its TMPDIR choice, run
under Python 3.6, skips a noexec mount.

With a checkout of xapi-project/xsconsole (XSCONSOLE_SRC) and a Python 3.6
that has xsconsole's imports (XenAPI, pam; XSCONSOLE_PYTHON), it is also run
for real: xsconsole's own Importer loads it, then xsconsole itself runs in
tmux (TERM=linux, 80x25), the entry is chosen, xsconsole's own PAM login
refuses a wrong password and accepts the right one, xentui takes the
terminal, and `q` returns to xsconsole. xsconsole's code is never part of
this repository, so CI cannot run that part.
"""

from __future__ import annotations

import ast
import builtins
import os
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Optional

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "packaging" / "xsconsole" / "XSFeatureXentui.py"

# What xsconsole's Importer reads from a RegisterNamedPlugIn dict
# (XSConsoleImporter.py: BuildRootMenu, CallReadyHandlers, ActivateNamedPlugIn).
IMPORTER_KEYS = {
    "menuname",
    "menutext",
    "menupriority",
    "statusupdatehandler",
    "statushandler",
    "activatehandler",
    "readyhandler",
    "readyhandlerpriority",
}
# Names the plugin may take from `from XSConsoleStandard import *`, each defined by xsconsole:
XSCONSOLE_NAMES = {
    "Lang",  # XSConsoleLang.py
    "Layout",  # XSConsoleLayout.py: Inst(), PushDialogue, ExitBannerSet, SubshellCommandSet
    "InfoDialogue",  # XSConsoleDialogueBases.py: InfoDialogue(inText, inInfo=None)
    "DialogueUtils",  # XSConsoleDialogueBases.py: AuthenticatedOnly(inFunc)
    "Importer",  # XSConsoleImporter.py: RegisterNamedPlugIn(inObj, inName, inParams)
    "XSLog",  # XSConsoleLog.py
}


def python36() -> str:
    """A working Python 3.6: `python3.6` on PATH, or pyenv's 3.6.x (never a fixed path)."""
    found = shutil.which("python3.6")
    if found and subprocess.run([found, "-c", "0"], capture_output=True).returncode == 0:
        return found
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True).stdout.split()
        for version in (v for v in versions if v.startswith("3.6.")):
            prefix = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True).stdout.strip()
            candidate = Path(prefix) / "bin" / "python3.6"
            if candidate.exists():
                return str(candidate)
    pytest.fail("no Python 3.6 here: the plugin must be checked with the dom0's Python (pyenv install 3.6)")


def test_plugin_compiles_under_python_36():
    done = subprocess.run(
        [
            python36(),
            "-c",
            "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec'); print(sys.version_info[:2])",
            str(PLUGIN),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 6)"


def _tree() -> ast.Module:
    return ast.parse(PLUGIN.read_text(encoding="utf-8"))


def _call_name(node: ast.Call) -> str:
    return ast.unparse(node.func)


def test_plugin_keeps_xsconsoles_plugin_contract():
    tree = _tree()
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    # Plugins import xsconsole's star bundle (XSConsoleStandard.py) and register on import
    # (every plugins-base/XSFeature*.py ends with `XSFeatureX().Register()`).
    assert any(
        isinstance(n, ast.ImportFrom) and n.module == "XSConsoleStandard" and n.names[0].name == "*" for n in tree.body
    )
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and ast.unparse(last.value) == "XSFeatureXentui().Register()"
    # One named plug-in in the root menu (XSConsoleImporter.py: RegisterNamedPlugIn, BuildRootMenu).
    register = [c for c in calls if _call_name(c) == "Importer.RegisterNamedPlugIn"]
    assert len(register) == 1 and len(register[0].args) == 3
    params = register[0].args[2]
    assert isinstance(params, ast.Dict)
    keys = {k.value for k in params.keys}
    assert keys <= IMPORTER_KEYS and {"menuname", "menutext", "activatehandler"} <= keys
    values = {k.value: v for k, v in zip(params.keys, params.values)}
    assert ast.literal_eval(values["menuname"]) == "MENU_ROOT"
    assert ast.unparse(values["menutext"]) == "Lang('Pool recovery (xentui)')"
    # Activation goes through xsconsole's own authentication, as XSFeatureLocalShell.py does.
    activate = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "ActivateHandler")
    assert [_call_name(c) for c in ast.walk(activate) if isinstance(c, ast.Call)][
        0
    ] == "DialogueUtils.AuthenticatedOnly"
    # The terminal is handed over with a sub-shell command, so xsconsole comes back when
    # xentui exits (XSConsoleTerm.py: os.system for SubshellCommandSet, os.execv for ExitCommandSet).
    names = {_call_name(c) for c in calls}
    assert "Layout.Inst().SubshellCommandSet" in names and "Layout.Inst().ExitCommandSet" not in names
    # Nothing else from xsconsole than the names above.
    bound = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    bound |= {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names
    }
    bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    foreign = loaded - bound - set(dir(builtins)) - {"__name__"}
    assert "Importer" in foreign and foreign <= XSCONSOLE_NAMES, sorted(foreign - XSCONSOLE_NAMES)


# The plugin's own helpers, run by Python 3.6 without xsconsole: its top-level
# imports, constants and Xentui* functions, taken from the file itself.
_HELPERS = r"""
import ast, json, sys
source = open(sys.argv[1]).read()
tree = ast.parse(source)
keep = [n for n in tree.body
        if isinstance(n, (ast.Import, ast.Try, ast.Assign))
        or (isinstance(n, ast.FunctionDef) and n.name.startswith('Xentui'))]
scope = {}
exec(compile(ast.Module(body=keep), sys.argv[1], 'exec'), scope)
noexec, plain = sys.argv[2], sys.argv[3]
print(json.dumps({
    'skips_noexec': scope['XentuiExecCapableDir']([noexec, plain]),
    'none_left': scope['XentuiExecCapableDir']([noexec]),
    'command': scope['XentuiCommandLine']({'TMPDIR': noexec, 'HOME': '/root'}),
    'candidates': scope['TMPDIR_CANDIDATES'],
}))
"""


def test_plugin_picks_an_exec_capable_tmpdir_under_python_36(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.fail("needs root and unshare (util-linux) to mount a noexec tmpfs; CI runs as root")
    noexec, plain = tmp_path / "noexec", tmp_path / "plain"
    noexec.mkdir()
    plain.mkdir()
    script = tmp_path / "helpers.py"
    script.write_text(_HELPERS)
    inner = f"mount -t tmpfs -o noexec tmpfs {shlex.quote(str(noexec))} && exec " + shlex.join(
        [python36(), str(script), str(PLUGIN), str(noexec), str(plain)]
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", inner],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    assert result["skips_noexec"] == str(plain)
    assert result["none_left"] is None
    # The starter (/usr/bin/xentui, packaging/xentui-run) picks TMPDIR, from the same list.
    assert result["command"] == "HOME=/root exec /usr/bin/xentui"
    starter = (PLUGIN.parents[1] / "xentui-run").read_text()
    assert f'for dir in ${{TMPDIR:+"$TMPDIR"}} {" ".join(result["candidates"])}; do' in starter


# --- xsconsole itself (needs its source: an extra, not run in CI) ------------------------


def _xsconsole() -> Optional[Path]:
    src = os.environ.get("XSCONSOLE_SRC")
    return Path(src) if src else None


needs_xsconsole = pytest.mark.skipif(
    _xsconsole() is None,
    reason="extra: set XSCONSOLE_SRC to a checkout of xapi-project/xsconsole (and XSCONSOLE_PYTHON "
    "to a Python 3.6 with XenAPI and pam) to run the plugin inside xsconsole itself",
)


def _xsconsole_python() -> str:
    return os.environ.get("XSCONSOLE_PYTHON") or python36()


@needs_xsconsole
def test_xsconsoles_own_loader_registers_the_menu_entry(tmp_path):
    code = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from XSConsoleImporter import Importer\n"
        "Importer.Reset()\n"
        "Importer.ImportAbsDir(sys.argv[1] + '/plugins-base')\n"
        "Importer.ImportAbsDir(sys.argv[2])\n"
        "entry = Importer.plugIns['XENTUI']\n"
        "menu = Importer.BuildRootMenu(None)\n"
        "texts = [c.name for c in menu.GetMenu('MENU_ROOT').ChoiceDefs()]\n"
        "print(entry['menutext']); print('|'.join(texts))\n"
    )
    done = subprocess.run(
        [_xsconsole_python(), "-c", code, str(_xsconsole()), str(PLUGIN.parent)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    name, menu = done.stdout.splitlines()[:2]
    assert name == "Pool recovery (xentui)"
    items = menu.split("|")
    assert "Pool recovery (xentui)" in items and "Local Command Shell" in items
    assert items.index("Pool recovery (xentui)") == items.index("Resource Pool Configuration") + 1


DOM0_INVENTORY = """PRODUCT_BRAND='XCP-ng'
BRAND_CONSOLE='XCP-ng'
COMPANY_NAME_SHORT='Vates'
PRODUCT_VERSION='8.3.0'
PRODUCT_VERSION_TEXT='8.3'
PRODUCT_VERSION_TEXT_SHORT='8.3'
BUILD_NUMBER='test'
INSTALLATION_UUID='5a5ac2f6-f8ce-55e1-a8ca-39f3c4e2bf58'
"""


@needs_xsconsole
def test_xsconsole_hands_the_console_to_xentui_and_gets_it_back(tmp_path):
    """xsconsole in tmux; its /etc (a dom0's few files, a known root password for its
    PAM login) and /usr/bin (with xentui) are overlays in a private mount namespace."""
    tmux = shutil.which("tmux")
    xentui = Path(sys.executable).parent / "xentui"
    if not xentui.exists():
        xentui = Path(shutil.which("xentui") or "")
    assert tmux and xentui.is_file(), "needs tmux and the installed xentui command"
    src = tmp_path / "xsconsole"
    shutil.copytree(_xsconsole(), src, ignore=shutil.ignore_patterns(".git"))
    (src / "plugins-extras").mkdir(exist_ok=True)
    shutil.copy(PLUGIN, src / "plugins-extras")
    etc, usr_bin = tmp_path / "etc-upper", tmp_path / "bin-upper"
    (etc / "sysconfig").mkdir(parents=True)
    (etc / "dhcp" / "dhclient.d").mkdir(parents=True)
    (etc / "sysconfig" / "network").write_text("NETWORKING=yes\nHOSTNAME=xen2\n")
    (etc / "dhcp" / "dhclient.d" / "chrony.sh").write_text("#!/bin/sh\n")
    os.chmod(etc / "dhcp" / "dhclient.d" / "chrony.sh", 0o755)  # NTP from DHCP, as installed
    (etc / "xensource-inventory").write_text(DOM0_INVENTORY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated, still in 3.11/3.12; only this extra test uses it

    hashed = crypt.crypt("right-pass", crypt.mksalt(crypt.METHOD_SHA512))
    shadow = [line.split(":") for line in Path("/etc/shadow").read_text().splitlines()]
    (etc / "shadow").write_text(
        "\n".join(":".join([f[0], hashed, *f[2:]] if f[0] == "root" else f) for f in shadow) + "\n"
    )
    os.chmod(etc / "shadow", 0o600)
    usr_bin.mkdir()
    shutil.copy2(xentui, usr_bin / "xentui")
    for name in ("etc-work", "bin-work"):
        (tmp_path / name).mkdir()
    inner = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={etc},workdir={tmp_path}/etc-work /etc && "
        f"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir={usr_bin},workdir={tmp_path}/bin-work /usr/bin "
        f"&& cd {src} && exec {shlex.quote(_xsconsole_python())} XSConsole.py"
    )
    socket = f"xsc-{os.getpid()}"

    def tmux_(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [tmux, "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=10
        )

    def screen() -> str:
        return tmux_("capture-pane", "-p", "-t", "x").stdout

    def wait_for(text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = screen()
            if text in now:
                return now
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared:\n{screen()}")

    def login(password: str) -> None:
        tmux_("send-keys", "-t", "x", "Enter")  # the highlighted entry
        wait_for("Please log in to perform this function")
        tmux_("send-keys", "-t", "x", "Tab")
        tmux_("send-keys", "-t", "x", "-l", password)
        tmux_("send-keys", "-t", "x", "Enter")

    try:
        tmux_(
            "new-session",
            "-d",
            "-s",
            "x",
            "-x",
            "80",
            "-y",
            "25",
            f"env TERM=linux unshare --mount --propagation private sh -c {shlex.quote(inner)} || sleep 30",
        )
        wait_for("Local Command Shell")
        if "xapi is not running" in screen():  # xsconsole's own question: no
            tmux_("send-keys", "-t", "x", "Escape")
        for _ in range(30):
            if "Press <Enter> to start xentui" in screen():
                break
            tmux_("send-keys", "-t", "x", "Down")
            time.sleep(0.2)
        wait_for("Press <Enter> to start xentui")
        login("wrong-pass")
        wait_for("Login Failed")
        tmux_("send-keys", "-t", "x", "Enter")
        wait_for("Press <Enter> to start xentui")
        login("right-pass")
        wait_for("Findings", 60)  # xentui's dashboard
        tmux_("send-keys", "-t", "x", "q")
        back = wait_for("Local Command Shell", 30)  # xsconsole rebuilt its screens
        if "xapi is not running" in back:
            tmux_("send-keys", "-t", "x", "Escape")
        assert "Pool recovery (xentui)" in wait_for("Pool recovery (xentui)")
    finally:
        tmux_("kill-server")
