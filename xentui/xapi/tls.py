"""Certificate and key fingerprints in the one format admins compare by eye.

OpenSSH prints "SHA256:<base64 without padding>"; openssl prints hex pairs.
We print the OpenSSH form everywhere and accept both when pinning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

_HEX_RE = re.compile(r"^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$")


def sha256_fingerprint(blob: bytes) -> str:
    """'SHA256:<base64 without padding>' of `blob` (a DER certificate or SSH key blob)."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def parse_fingerprint(text: str) -> bytes:
    """The 32-byte SHA-256 digest named by 'SHA256:<base64>' or hex (with or
    without colons). ValueError with a one-line message otherwise."""
    value = text.strip()
    body = value[len("SHA256:") :] if value.upper().startswith("SHA256:") else value
    if _HEX_RE.match(body):
        return bytes.fromhex(body.replace(":", ""))
    try:
        digest = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        raise ValueError(f"invalid SHA256 fingerprint {text!r} (expected SHA256:<base64> or 64 hex digits)")
    return digest


def fingerprint_matches(expected: str, blob: bytes) -> bool:
    return parse_fingerprint(expected) == hashlib.sha256(blob).digest()
