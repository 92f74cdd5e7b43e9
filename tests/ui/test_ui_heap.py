"""The UI fixes glibc's mmap threshold so that big reads (state.db, an
event.from reply) are given back to the system when freed."""

from __future__ import annotations

import platform

import pytest

from xentui.ui.heap import fix_mmap_threshold


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_accepts_the_fixed_mmap_threshold():
    assert fix_mmap_threshold() is True
