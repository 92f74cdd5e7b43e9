"""Every scenario the simulator ships has one line in the help screen and the
same line in the README (issue 13: both know them all)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from xentui.sim.scenarios import available
from xentui.ui.scenario_guide import SCENARIO_GUIDE
from xentui.ui.screens.help import help_text

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_shipped_scenario_has_one_guide_line():
    names = [name for name, _ in SCENARIO_GUIDE]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(available())
    assert all(line and "\n" not in line for _, line in SCENARIO_GUIDE)


def test_the_readme_lists_the_same_lines():
    text = README.read_text(encoding="utf-8")
    for name, line in SCENARIO_GUIDE:
        assert f"| `{name}` | {line} |" in text, name


def test_the_help_screen_names_every_scenario_at_80_columns_in_cp437():
    console = Console(width=80, record=True, color_system=None, legacy_windows=False)
    console.print(help_text({}, read_only=False, demo=True))
    shown = console.export_text()
    shown = shown[shown.index("Failures xentui knows") :]
    shown.encode("cp437")
    assert all(len(row) <= 80 for row in shown.splitlines())
    flat = " ".join(shown.split())
    for name, line in SCENARIO_GUIDE:
        assert name in shown, name
        assert " ".join(line.split()[:3]) in flat, name
