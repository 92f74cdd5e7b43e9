"""A real socket whose bytes travel over an SSH channel.

Python's ssl wraps real sockets only, while TLS to another host of the pool
has to ride inside the SSH connection (the SSH host forwards to the peer's
port 443, as xapi's own stunnel reaches it). A socketpair carries it: the
caller gets one end, and two threads copy between the other end and the
channel until either side closes.
"""

from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Tuple, Type

_CHUNK = 65536


def socket_over_channel(
    channel: Any,
    name: str = "xentui-channel",
    channel_errors: Tuple[Type[BaseException], ...] = (OSError, EOFError),
) -> socket.socket:
    """The near end of a socketpair joined to `channel` (a paramiko Channel or
    anything with recv/sendall/close). Closing the returned socket closes the
    channel; the channel's end of file reaches the socket as its end of file.
    `channel_errors`: what the channel raises once its connection is gone
    (paramiko adds SSHException); the pumps then just end."""
    near, far = socket.socketpair()
    channel.settimeout(None)  # the pumps wait as long as the caller's socket lives
    errors: Tuple[Type[BaseException], ...] = (OSError, EOFError, *channel_errors)

    def to_channel() -> None:
        try:
            _copy(far.recv, channel.sendall, errors)
        finally:
            # The caller closed its end (or the channel failed): end both.
            try:
                channel.close()
            except errors:
                pass  # the SSH connection is gone already
            far.close()

    def from_channel() -> None:
        try:
            _copy(channel.recv, far.sendall, errors)
        finally:
            try:
                far.shutdown(socket.SHUT_WR)  # the peer is done: the caller reads end of file
            except OSError:
                pass

    threading.Thread(target=to_channel, name=f"{name}-out", daemon=True).start()
    threading.Thread(target=from_channel, name=f"{name}-in", daemon=True).start()
    return near


def _copy(recv: Callable[[int], bytes], send: Callable[[bytes], Any], errors: Tuple[Type[BaseException], ...]) -> None:
    """Copy until end of file, or until either side fails with one of `errors`."""
    try:
        while True:
            data = recv(_CHUNK)
            if not data:
                return
            send(data)
    except errors:
        pass
