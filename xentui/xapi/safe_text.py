"""Peer text made safe to show: no byte a peer sends reaches a terminal raw.

Everything a peer controls (HTTP status lines and headers, reply bodies,
xapi error codes and params, SSH banners, host names, file contents read
from a dom0) may hold terminal escape sequences (ESC [ 2 J, OSC 52 clipboard
writes, title changes), bidi overrides that reorder what the admin reads, or
newlines that forge extra log records. `printable` turns every such
character into a visible `\\xNN` / `\\uNNNN` escape; `one_line` also bounds
the length; `markup` additionally escapes Textual/Rich markup (`[`), so a
host named "[blink]x" is shown as typed rather than interpreted.

Pure functions, no imports above the standard library: the simulator, the
connection layer, the CLI and the UI can all use them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# C0, DEL, C1 outright; the rest (bidi controls, zero-width, line/paragraph
# separators, unpaired surrogates) by Unicode category below.
_ALWAYS = re.compile("[\x00-\x1f\x7f-\x9f]")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
DEFAULT_LIMIT = 300


def _escape_char(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return "\\x%02x" % code
    if code <= 0xFFFF:
        return "\\u%04x" % code
    return "\\U%08x" % code


def _needs_escape(char: str) -> bool:
    return bool(_ALWAYS.match(char)) or (ord(char) > 0x7F and unicodedata.category(char) in _UNSAFE_CATEGORIES)


def printable(value: Any) -> str:
    """`value` as text with every control/format character escaped.
    Bytes are decoded as UTF-8 with invalid bytes shown as \\xNN."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "backslashreplace")
    else:
        text = value if isinstance(value, str) else str(value)
    if text.isascii() and _ALWAYS.search(text) is None:
        return text  # the common case: nothing to do
    return "".join(_escape_char(c) if _needs_escape(c) else c for c in text)


def one_line(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """`printable(value)` cut to `limit` characters (with an ellipsis)."""
    text = printable(value)
    if limit and len(text) > limit:
        return text[: max(1, limit - 1)] + "\u2026"
    return text


def markup(value: Any) -> str:
    """`printable(value)` with Textual markup escaped: every `[` becomes `\\[`,
    which Textual's markup parser always reads as a literal bracket (it leaves
    other backslashes alone, so nothing else needs doubling). Without this a
    host named "[$x]" or "[@click=app.quit]" would vanish or act as a tag."""
    return printable(value).replace("[", "\\[")


def multiline(value: Any) -> str:
    """`printable` line by line: our own line breaks stay, every other
    control character (CR included: it would overwrite the line) is escaped.
    Only for texts whose line structure is ours, not the peer's."""
    text = value if isinstance(value, str) else str(value)
    return "\n".join(printable(line) for line in text.split("\n"))


class SafeStream:
    """A text stream wrapper whose `write` passes text through `multiline`:
    for command output that quotes peer text in many places."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        written: int = self._stream.write(multiline(text))
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
