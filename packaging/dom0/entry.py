"""PyInstaller's entry script for the dom0 single file: the same `xentui` command."""

from xentui.cli import main

raise SystemExit(main())
