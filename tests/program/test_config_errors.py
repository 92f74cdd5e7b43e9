"""A bad config.toml never stops xentui: bad bytes, bad TOML, an unknown
action id or key name, two actions on one key each give a visible warning
(on screen and on stderr) and the defaults for what was wrong. `q` always
keeps quitting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.ui.app import XenTuiApp
from xentui.ui.config import load_config, normalize_key
from xentui.ui.static_observer import StaticObserver

SIZE = (80, 25)

BAD_CONFIGS = {
    "bad-bytes": (b'[keys]\n"app.quit" = "\xff\xfeq"\n', "line 2: damaged bytes (not UTF-8)"),
    "bad-toml": (b'[keys\n"app.quit" = "x"\n', "not valid TOML"),
    "unknown-action": (b'[keys]\n"app.qiut" = "x"\n', "app.qiut: no such action id"),
    "unknown-key-name": (b'[keys]\n"app.quit" = "ctrl+bogus"\n', "no such key 'ctrl+bogus'"),
    "q-taken-by-a-screen": (
        b'[keys]\n"dashboard.recover" = "q"\n',
        "q is bound to both app.quit and dashboard.recover",
    ),
    "two-on-one-key": (b'[keys]\n"app.refresh" = "2"\n', "2 is bound to both app.refresh and app.screen.vms"),
    "keys-not-a-table": (b'keys = "q"\n', "[keys] must be a table"),
    "unknown-setting": (b'colours = "red"\n', "unknown setting 'colours'"),
    "not-a-string": (b'[keys]\n"app.quit" = 5\n', "expected a string"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_is_named_and_defaults_are_used(tmp_path, name):
    data, expected = BAD_CONFIGS[name]
    path = tmp_path / "config.toml"
    path.write_bytes(data)
    config = load_config(path)
    assert any(expected in p for p in config.problems), config.problems
    # Whatever was wrong is not applied: the defaults (no remap) stand.
    assert config.keys == {}


def test_good_remaps_survive_next_to_a_bad_one(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\n"app.quit" = "q,ctrl+q"\n"app.refresh" = "nonsense-key"\n"vms.filter" = "ctrl+F"\n')
    config = load_config(path)
    assert config.keys == {"app.quit": "q,ctrl+q", "vms.filter": "ctrl+f"}
    assert len(config.problems) == 1 and "app.refresh" in config.problems[0]


def test_a_fifo_or_directory_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in load_config(fifo).problems[0]
    assert "not a regular file" in load_config(tmp_path).problems[0]


@pytest.mark.parametrize(
    "key,expected",
    [
        ("?", "question_mark"),
        ("F5", "f5"),
        ("ctrl+Q", "ctrl+q"),
        ("/", "slash"),
        ("hyphen_minus", "minus"),
        ("shift+tab", "shift+tab"),
        ("f25", None),
        ("ctrl+ctrl+x", None),
        ("qq", None),
        ("hyper+", None),
    ],
)
def test_key_names_are_checked_as_textual_names_them(key, expected):
    assert normalize_key(key) == expected


def make_app(config) -> XenTuiApp:
    observer = StaticObserver(fx.master_down())
    return XenTuiApp(lambda: observer, config=config, clock=lambda: fx.FIXED_NOW)


@pytest.mark.parametrize("name", ["q-taken-by-a-screen", "unknown-key-name", "bad-bytes"])
async def test_warning_on_screen_and_q_still_quits(tmp_path, name):
    path = tmp_path / "config.toml"
    path.write_bytes(BAD_CONFIGS[name][0])
    app = make_app(load_config(path))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert await wait_for(pilot, lambda: app.observation is not None)
        assert await wait_for(pilot, lambda: "config: 1 problem(s)" in screen_text(app), timeout=5)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=5)


def test_installed_command_prints_the_problem_on_stderr_without_a_traceback(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(BAD_CONFIGS["bad-bytes"][0])
    # An invalid target makes `xentui` stop right after loading the config:
    # no terminal is needed, and the config warning must already be on stderr.
    env = dict(os.environ, XENTUI_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run(
        [sys.executable, "-m", "xentui", "--config", str(path), "bad host name!"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stderr
    assert f"xentui: config: {path}: line 2: damaged bytes (not UTF-8); using the defaults" in result.stderr


def test_problems_never_carry_raw_control_characters(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\n"app.\\u001b[2Jquit" = "q"\n"app.refresh" = "\\u001b]52;c;eA==\\u0007"\n')
    problems = load_config(path).problems
    assert len(problems) == 2
    assert not any(ch in "".join(problems) for ch in "\x1b\x07")


def test_a_named_config_that_is_missing_is_reported_the_default_one_is_not(tmp_path, monkeypatch):
    assert load_config(tmp_path / "typo.toml").problems == (
        f"{tmp_path / 'typo.toml'}: no such file; using the defaults",
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty-config-home"))
    assert load_config().problems == ()
