"""Connecting to a target from the connect screen (Textual-free).

Steps, each with a clear message and nothing the user typed lost:
  1. parse and validate the target text (bad IP, bad name, bad port);
  2. for SSH, open the connection once: an unknown host key stops here and
     its SHA256 fingerprint is shown; only an explicit F8 retries with that
     exact fingerprint accepted (never automatically); a changed key refuses;
  3. build an Observer and observe once: a wrong password, a refused or
     silent xapi is reported from the observation's connection state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from xentui.xapi.errors import AuthenticationFailed, ConnectFailed, HostKeyChanged, HostKeyUnknown, XapiError

if TYPE_CHECKING:
    from xentui.xapi.targets import Target


@dataclass(frozen=True)
class ConnectOutcome:
    kind: str  # "ok" | "invalid" | "hostkey-unknown" | "hostkey-changed" | "auth" | "unknown-host" | "failed"
    message: str
    fingerprint: str = ""
    key_type: str = ""
    observer: Any = None
    observation: Any = None
    target: Any = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


STATE_MESSAGES = {
    "auth-failed": "Wrong user name or password: xapi refused the login. Check the password and press Enter.",
    "refused": "Connection refused: xapi is not listening there (host down or xapi stopped).",
    "timed-out": "No answer in time: the host or its xapi does not respond.",
    "hostkey-unknown": "The SSH host key is not known yet.",
    "hostkey-changed": "The SSH host key CHANGED. Refusing to connect (possible man in the middle).",
    "lost": "The connection was lost.",
    "not-xapi": "This is not xapi, or xapi answered with something unreadable.",
    "xapi-error": "xapi answered with an error.",
}


_USERINFO_PASSWORD = re.compile(r"^((?:[a-z]+://)?[^@/:]*):[^@]*@")


def redact(message: str, text: str) -> str:
    """A password typed into the target (user:secret@host) must never be
    shown or logged: replace every copy of the text in `message`."""
    cleaned = _USERINFO_PASSWORD.sub(r"\1:***@", text.strip())
    if cleaned == text.strip():
        return message
    return (
        message.replace(repr(text), repr(cleaned))
        .replace(repr(text.strip()), repr(cleaned))
        .replace(text.strip(), cleaned)
    )


def parse(text: str, **overrides: Any) -> Target:
    from xentui.xapi.targets import parse_target

    return parse_target(text.strip() or None, **overrides)


def connect(
    text: str,
    password: Optional[str],
    *,
    accept_fingerprint: Optional[str] = None,
    make_observer: Optional[Callable[..., Any]] = None,
    overrides: Optional[Dict[str, Any]] = None,
    read_only: bool = False,
) -> ConnectOutcome:
    try:
        target = parse(text, **(overrides or {}))
    except ValueError as exc:
        return ConnectOutcome("invalid", f"Invalid target: {redact(str(exc), text)}")
    if target.kind == "ssh":
        outcome = _preflight_ssh(target, accept_fingerprint)
        if outcome is not None:
            return outcome
    if make_observer is None:
        from xentui.recovery.observer import Observer

        make_observer = Observer
    try:
        observer = make_observer(target, password=password or None, read_only=read_only)
        observation = observer.observe()
    except XapiError as exc:
        return ConnectOutcome("failed", f"Could not connect: {exc}", target=target)
    state = observation.connection.state
    if state in ("connected", "emergency"):
        return ConnectOutcome(
            "ok", f"Connected to {target.label} ({state}).", observer=observer, observation=observation, target=target
        )
    observer.close()
    message = STATE_MESSAGES.get(state, f"Could not connect ({state}).")
    if observation.connection.detail:
        message += f"\n{observation.connection.detail}"
    return ConnectOutcome("auth" if state == "auth-failed" else "failed", message, target=target)


def _preflight_ssh(target: Target, accept_fingerprint: Optional[str]) -> Optional[ConnectOutcome]:
    from xentui.xapi.transport import open_endpoint

    try:
        endpoint = open_endpoint(target, accept_host_key=accept_fingerprint)
    except HostKeyUnknown as exc:
        return ConnectOutcome(
            "hostkey-unknown",
            f"Unknown SSH host key for {exc.host}:{exc.port}.\n{exc.key_type} {exc.fingerprint}\n"
            "Compare it with the host's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub);\n"
            "press F8 to trust it, Esc to leave it untrusted.",
            fingerprint=exc.fingerprint,
            key_type=exc.key_type,
            target=target,
        )
    except HostKeyChanged as exc:
        return ConnectOutcome(
            "hostkey-changed",
            f"SSH host key CHANGED for {exc.host}:{exc.port}: "
            f"now {exc.key_type} {exc.fingerprint}. Refusing to connect.",
            target=target,
        )
    except AuthenticationFailed as exc:
        return ConnectOutcome("auth", f"SSH login refused: {exc}", target=target)
    except ConnectFailed as exc:
        if exc.reason == "dns":
            return ConnectOutcome("unknown-host", f"Unknown host: {target.host} does not resolve.", target=target)
        return ConnectOutcome("failed", f"Could not connect: {exc.message}", target=target)
    except XapiError as exc:
        return ConnectOutcome("failed", f"Could not connect: {exc}", target=target)
    endpoint.close()
    return None
