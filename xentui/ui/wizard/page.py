"""A page of text lines with optional styles, pre-wrapped for an 80-column console.

The wizard renders everything as plain text it wraps itself, so the words on
screen are exactly the words a test reads (`plain()`), and nothing outside
CP437 can sneak in through a widget's decorations.
"""

from __future__ import annotations

import textwrap
from typing import List, Tuple

from rich.text import Text

from xentui.xapi.safe_text import multiline

WIDTH = 76  # 80 columns minus the body's padding and a spare column

# Typographic characters that other layers' text may carry (an em dash in an
# error detail, the audit log's "OpaqueRef:…") and their CP437-safe spelling.
_ASCII_FOR = {
    "\u2014": "-",
    "\u2013": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u2192": "->",
    "\u2190": "<-",
    "\u2022": "*",
    "\u00a0": " ",
}


def console_text(text: str) -> str:
    """`text` with every character the Linux console's CP437 font lacks replaced,
    and control characters (peer text: names, xapi errors) escaped first: CP437
    "has" them, but a terminal obeys them."""
    out = []
    for ch in multiline(str(text)):
        ch = _ASCII_FOR.get(ch, ch)
        try:
            ch.encode("cp437")
        except UnicodeEncodeError:
            ch = "?"
        out.append(ch)
    return "".join(out)


class Page:
    def __init__(self, width: int = WIDTH) -> None:
        self.width = width
        self.lines: List[Tuple[str, str]] = []

    def add(self, text: str = "", style: str = "", indent: int = 0) -> "Page":
        """Append `text`, wrapped to the page width; continuation lines indented."""
        pad = " " * indent
        text = console_text(text)
        if not text:
            self.lines.append(("", style))
            return self
        for paragraph in str(text).split("\n"):
            wrapped = textwrap.wrap(
                paragraph,
                width=self.width,
                initial_indent=pad,
                subsequent_indent=pad + "  " if indent or paragraph[:1] in "-*[" else pad,
                break_long_words=True,
                break_on_hyphens=False,
            ) or [""]
            for line in wrapped:
                self.lines.append((line, style))
        return self

    def field(self, label: str, value: str, style: str = "") -> "Page":
        """'Label: value' with the value wrapped under itself."""
        head = f"{label}: "
        wrapped = textwrap.wrap(console_text(value), width=self.width - len(head)) or [""]
        self.lines.append((head + wrapped[0], style))
        for line in wrapped[1:]:
            self.lines.append((" " * len(head) + line, style))
        return self

    def blank(self) -> "Page":
        if self.lines and self.lines[-1][0] != "":
            self.lines.append(("", ""))
        return self

    def plain(self) -> str:
        return "\n".join(line for line, _ in self.lines)

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for i, (line, style) in enumerate(self.lines):
            if i:
                out.append("\n")
            out.append(line, style=style or None)
        return out


def fit(text: str, width: int) -> str:
    """Cut `text` to `width` columns, marking the cut with '...'."""
    text = " ".join(console_text(text).split())
    if len(text) <= width:
        return text
    return text[: max(0, width - 3)] + "..."
