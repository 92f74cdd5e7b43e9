"""Exceptions of the connection layer.

The split that matters to an admin during an outage is *why* a call did not
succeed: the host refused the connection (xapi down, host off), the host
accepted and never answered (hung master: `CallTimeout`), xapi answered with
an error (`XapiFailure`), or we never got as far as xapi (SSH host key, auth).
Callers branch on these classes, never on message text.
"""

from __future__ import annotations

from typing import Sequence, Tuple


class XapiError(Exception):
    """Base of everything the connection layer raises."""


class ConnectFailed(XapiError):
    """Could not open a connection to xapi. `reason` is a stable keyword:
    "refused", "timeout", "unreachable", "dns", "ssh", "tls", "auth", "hostkey-unknown",
    "hostkey-changed", "channel-refused", "closed"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ConnectionRefused(ConnectFailed):
    def __init__(self, message: str) -> None:
        super().__init__("refused", message)


class CallTimeout(XapiError):
    """The peer accepted (or the call was sent) but no answer came in time.
    This is the signature of a hung master or a slave blocked on its master."""

    def __init__(self, method: str, seconds: float, where: str = "", received: int = 0) -> None:
        super().__init__(
            f"{method}: no answer from {where or 'xapi'} within {seconds:g} s"
            + (f" (only {received} bytes of a reply)" if received else "")
        )
        self.method = method
        self.seconds = seconds
        self.where = where
        # Bytes of the reply that did arrive: > 0 means a peer that answers
        # too slowly (dripping, endless), not a silent hung xapi.
        self.received = received


class ConnectionLost(XapiError):
    """An established connection died mid-call (xapi restarted, SSH dropped)."""


class MalformedReply(XapiError):
    """xapi (or something pretending to be it) sent a reply we cannot parse."""


class XapiFailure(XapiError):
    """xapi answered `Status: Failure` with `ErrorDescription = [code, *params]`."""

    def __init__(self, details: Sequence[str]) -> None:
        details = [str(d) for d in details] or ["INTERNAL_ERROR"]
        self.code: str = details[0]
        self.params: Tuple[str, ...] = tuple(details[1:])
        super().__init__(f"{self.code} {list(self.params)}" if self.params else self.code)

    @property
    def details(self) -> Tuple[str, ...]:
        return (self.code,) + self.params


class AuthenticationFailed(ConnectFailed):
    """xapi said SESSION_AUTHENTICATION_FAILED, or SSH auth was rejected."""

    def __init__(self, message: str) -> None:
        super().__init__("auth", message)


class HostKeyUnknown(ConnectFailed):
    """The SSH server's key is not in known_hosts. Never auto-accepted: the
    caller shows `fingerprint` and may call `accept_host_key` explicitly."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, key_base64: str) -> None:
        super().__init__(
            "hostkey-unknown",
            f"unknown SSH host key for {host}:{port}: {key_type} {fingerprint}",
        )
        self.host = host
        self.port = port
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.key_base64 = key_base64


class HostKeyChanged(ConnectFailed):
    """The SSH server's key differs from the one in known_hosts."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, expected: str) -> None:
        super().__init__(
            "hostkey-changed",
            f"SSH host key for {host}:{port} CHANGED: now {key_type} {fingerprint}, known as {expected}",
        )
        self.host = host
        self.port = port
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.expected = expected


class ReplyTooLarge(MalformedReply):
    """The reply grew past the size cap: no real pool needs that much, so
    the peer is broken or hostile. Raised before the excess is kept."""

    def __init__(self, where: str, method: str, limit: int) -> None:
        size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
        super().__init__(f"{where or 'xapi'}: the reply to {method} exceeds {size} (not xapi, or a broken one)")
        self.where = where
        self.method = method
        self.limit = limit
