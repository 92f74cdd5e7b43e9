"""Run a blocking call so that nobody ever waits for it longer than they want.

Textual thread workers run in asyncio's default executor, and `App.run()`
joins that executor on exit: one worker stuck in a call to a hung master
would keep `q` from quitting. So the blocking call itself runs in a daemon
thread we can abandon, and the worker only waits for it in short slices,
giving up as soon as it is cancelled (which Textual does on exit).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Optional, TypeVar

T = TypeVar("T")


class Abandoned(Exception):
    """The caller stopped waiting; the call may still be running in its daemon thread."""


def call_abandonable(
    fn: Callable[[], T],
    should_stop: Callable[[], bool],
    *,
    poll: float = 0.05,
    name: str = "xentui-call",
    timeout: Optional[float] = None,
) -> T:
    """Run `fn()` in a daemon thread; return its result or re-raise its error.
    Raises `Abandoned` once `should_stop()` is true (checked every `poll` s) or
    after `timeout` seconds."""
    done = threading.Event()
    box: Dict[str, Any] = {}

    def runner() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=runner, name=name, daemon=True)
    thread.start()
    waited = 0.0
    while not done.wait(poll):
        waited += poll
        if should_stop() or (timeout is not None and waited >= timeout):
            raise Abandoned(name)
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
