"""The first look's xapi work, started before the rest of a command loads.

`xentui status` imports the recovery layer (the observer, the diagnosis and
its rules) before it can show anything, while the longest wait of its look is
xapi building the pool snapshot: on a 2,000-VM pool 6 MB that the master
assembles and encodes for a tenth of a second or more, and on a dom0 the
imports are slower still. So the command opens its endpoint, logs in and asks
for the snapshot first (`SnapshotHeadStart.begin`), then imports the rest;
xapi works on the answer meanwhile. The observer takes the login and the
answer over (`Observer(head_start=...)`) instead of asking again.

It is the same work the observer's own look does (`XapiClient.connect`, then
`load_snapshot` under the call timeout), in a daemon thread, so a hung master
never holds the command or its exit. The snapshot is asked for only when the
login found a usable pool session (no emergency mode, no hung master); the
observer then checks the emergency state as usual.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING, Optional

from xentui.xapi.client import XapiClient

if TYPE_CHECKING:
    from xentui.xapi.endpoint import XapiEndpoint
    from xentui.xapi.model import PoolSnapshot


class SnapshotHeadStart:
    """A login and a pool snapshot on their way, for one observer to take."""

    def __init__(self, endpoint: XapiEndpoint, client: XapiClient) -> None:
        self.endpoint = endpoint
        self._client = client
        self._login: concurrent.futures.Future[XapiClient] = concurrent.futures.Future()
        self._snapshot: concurrent.futures.Future[Optional[PoolSnapshot]] = concurrent.futures.Future()
        self._taken = False

    @classmethod
    def begin(
        cls,
        endpoint: XapiEndpoint,
        *,
        username: str,
        password: str,
        call_timeout: float,
        label: str = "",
        target_text: str = "",
    ) -> "SnapshotHeadStart":
        """Log in and ask for the snapshot in a daemon thread; returns at once."""
        head_start = cls(endpoint, XapiClient(call_timeout=call_timeout))

        def work() -> None:
            client = head_start._client
            try:
                client.connect(endpoint, username=username, password=password, label=label, target_text=target_text)
            except Exception as exc:  # noqa: BLE001 - handed to the taker, raised there
                client.close(close_endpoint=False, logout=False)
                head_start._login.set_exception(exc)
                head_start._snapshot.set_result(None)
                return
            head_start._login.set_result(client)
            if client.in_emergency or client.master_unresponsive:
                head_start._snapshot.set_result(None)  # the observer's look says why
                return
            try:
                # Imported here, after the login: the pool model is ~10 ms of
                # imports that the login need not wait for.
                from xentui.xapi.live import load_snapshot

                head_start._snapshot.set_result(load_snapshot(client, timeout=call_timeout))
            except Exception as exc:  # noqa: BLE001 - handed to the taker, raised there
                head_start._snapshot.set_exception(exc)

        threading.Thread(target=work, name="xentui-head-start", daemon=True).start()
        return head_start

    def client(self) -> XapiClient:
        """The logged-in client, once the login is done; raises what the
        login raised (XapiError and subclasses)."""
        self._taken = True
        return self._login.result()

    def snapshot(self) -> Optional[PoolSnapshot]:
        """The snapshot once it is in; None when it was not asked for (the
        login found emergency mode or a hung master, or failed); raises what
        `load_snapshot` raised. Each call waits at most as long as the call's
        own deadline, which the thread is bound by."""
        return self._snapshot.result()

    def abandon(self) -> Optional[threading.Thread]:
        """Nobody takes it over: log out once the work is done, in a daemon
        thread (returned; None when it was taken over or abandoned already),
        so that a hung master never holds the caller."""
        if self._taken:
            return None
        self._taken = True

        def close_when_done() -> None:
            concurrent.futures.wait([self._snapshot])
            if self._login.exception() is None:
                self._client.close(close_endpoint=False)

        closer = threading.Thread(target=close_when_done, name="xentui-head-start-close", daemon=True)
        closer.start()
        return closer
