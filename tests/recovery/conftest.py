"""Fixtures of the recovery layer's tests."""

from __future__ import annotations

import pytest

from xentui.recovery import audit as au


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Where this test's audit log and run records go (XENTUI_STATE_DIR), inside its tmp_path."""
    monkeypatch.setenv(au.STATE_DIR_ENV, str(tmp_path / "xentui-state"))
    return tmp_path / "xentui-state"
