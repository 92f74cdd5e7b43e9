"""Fixtures for the whole suite. Each layer's shared fixtures live in its own
folder and are registered here: the simulator's (a pool per test, SDK sessions
into it) in tests/sim/sessions.py, the real OpenSSH sshd in
tests/xapi/sshd_fixture.py. Tests are laid out like the package: tests/sim,
tests/xapi, tests/host, tests/recovery, tests/ui, and tests/program for the
whole program (installed command, tmux, sshd end to end, crash points, the
dom0 file, static checks)."""

from __future__ import annotations

import pytest

pytest_plugins = ("tests.sim.sessions", "tests.xapi.sshd_fixture")

# Where xentui keeps the user's audit log, config (key map, profiles) and
# accepted SSH host keys. A test that read the real ones would depend on
# whatever the developer (or a previous CI run on the same machine) did last:
# an open recovery run in ~/.local/state/xentui/audit.jsonl changes every
# dashboard. So each test gets empty directories of its own; subprocesses
# (the installed command in tmux) inherit them through the environment.
_USER_DIR_VARIABLES = {
    "XENTUI_STATE_DIR": "xentui-state",
    "XDG_STATE_HOME": "xdg-state",
    "XDG_CONFIG_HOME": "xdg-config",
    "XDG_DATA_HOME": "xdg-data",
    "XDG_CACHE_HOME": "xdg-cache",
}


def _point_user_dirs_at(root, monkeypatch) -> None:
    for variable, name in _USER_DIR_VARIABLES.items():
        (root / name).mkdir()
        monkeypatch.setenv(variable, str(root / name))


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs_for_the_session(tmp_path_factory):
    """Module- and session-scoped fixtures (the crash-point references, for
    one) run before any function-scoped fixture: they get directories of
    their own too, never the real ones."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _point_user_dirs_at(tmp_path_factory.mktemp("session-user-dirs"), monkeypatch)
        yield


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    _point_user_dirs_at(tmp_path_factory.mktemp("user-dirs"), monkeypatch)
