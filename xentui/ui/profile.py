"""The two looks: the normal one, and the Linux-console (VT) profile.

The VT profile (TERM=linux or --basic) must read with the 8 background
colours of the Linux console and draw only glyphs its CP437 font has. It
uses an ANSI theme (native SGR 30-37/40-47 codes), a scrollbar drawn with
spaces only, no animation and no mouse. Our own widgets use only ASCII and
the single/double box lines, so the two profiles share layouts and CSS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, FrozenSet, Mapping, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from textual.theme import Theme

# Every character the Linux console's default (CP437) font can draw.
CP437: FrozenSet[str] = frozenset(bytes([i]).decode("cp437") for i in range(32, 256)) | {"\n"}


def console_safe(text: str) -> bool:
    return all(ch in CP437 for ch in text)


@dataclass(frozen=True)
class ConsoleProfile:
    basic: bool  # the VT-safe profile
    reason: str  # why: "TERM=linux", "--basic", "" (normal)

    @property
    def theme(self) -> str:
        return "xentui-vt" if self.basic else "xentui"


def detect_profile(*, basic_flag: bool = False, env: Optional[Mapping[str, str]] = None) -> ConsoleProfile:
    env = os.environ if env is None else env
    if basic_flag:
        return ConsoleProfile(True, "--basic")
    if env.get("TERM", "") == "linux":
        return ConsoleProfile(True, "TERM=linux")
    return ConsoleProfile(False, "")


def make_themes() -> Tuple["Theme", "Theme"]:
    """Textual Theme objects: xsconsole's blue/cream look and an 8-colour VT theme."""
    from textual.theme import Theme

    rich = Theme(
        name="xentui",
        primary="#0060a8",
        secondary="#00a0c8",
        accent="#f0e8a0",
        warning="#e0a000",
        error="#d02020",
        success="#20a040",
        foreground="#e8e4c8",
        background="#002850",
        surface="#003468",
        panel="#00447c",
        dark=True,
        variables={
            "footer-key-foreground": "#f0e8a0",
            "block-cursor-background": "#e8e4c8",
            "block-cursor-foreground": "#000000",
            "block-cursor-text-style": "bold",
            "alarm-foreground": "#ffffff",
            "title-background": "#0060a8",
            "title-foreground": "#f0e8a0",
        },
    )
    # Only the 8 VGA colours for backgrounds (the VT shows 100-107 as 40-47).
    vt = Theme(
        name="xentui-vt",
        ansi=True,
        primary="ansi_blue",
        secondary="ansi_cyan",
        accent="ansi_yellow",
        warning="ansi_yellow",
        error="ansi_red",
        success="ansi_green",
        foreground="ansi_white",
        background="ansi_blue",
        surface="ansi_blue",
        panel="ansi_black",
        boost="ansi_blue",
        dark=True,
        variables={
            "ansi-background": "ansi_blue",
            "ansi-foreground": "ansi_white",
            "border-blurred": "ansi_white",
            "block-cursor-foreground": "ansi_black",
            "block-cursor-background": "ansi_white",
            "block-cursor-blurred-foreground": "ansi_white",
            "block-cursor-blurred-background": "ansi_black",
            "block-hover-background": "ansi_blue",
            "input-cursor-background": "ansi_white",
            "input-cursor-foreground": "ansi_black",
            "input-cursor-text-style": "none",
            "input-selection-background": "ansi_cyan",
            "footer-background": "ansi_black",
            "footer-key-foreground": "ansi_yellow",
            "footer-description-foreground": "ansi_white",
            "footer-key-background": "ansi_black",
            "footer-description-background": "ansi_black",
            "footer-item-background": "ansi_black",
            "scrollbar": "ansi_white",
            "scrollbar-hover": "ansi_white",
            "scrollbar-active": "ansi_white",
            "scrollbar-background": "ansi_black",
            "scrollbar-background-hover": "ansi_black",
            "scrollbar-background-active": "ansi_black",
            "scrollbar-corner-color": "ansi_black",
            "alarm-foreground": "ansi_white",
            # Pane titles: cyan bars with black text read well on the VGA palette.
            "title-background": "ansi_cyan",
            "title-foreground": "ansi_black",
        },
    )
    return rich, vt


def install_console_safe_scrollbars() -> None:
    """Scrollbars drawn with spaces only (the default ends use U+2581..U+2587)."""
    from textual.scrollbar import ScrollBar, ScrollBarRender

    class SpaceScrollBarRender(ScrollBarRender):
        VERTICAL_BARS = [" "]
        HORIZONTAL_BARS = [" "]

    ScrollBar.renderer = SpaceScrollBarRender
