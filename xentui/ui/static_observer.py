"""An Observer stand-in that serves prepared Observations (tests, snapshots, benchmarks).

Same surface as `xentui.recovery.observer.Observer` for what the UI uses:
`observe()`, `follow(on_observation, stop)` and `close()`. `push()` makes a
following UI receive a new observation, as a live event would.
"""

from __future__ import annotations

import threading
from typing import Callable, List, Optional

from xentui.recovery.observation import Observation


class StaticObserver:
    def __init__(self, observation: Observation, *, delay: float = 0.0) -> None:
        self._current = observation
        self._delay = delay  # seconds observe() blocks, to imitate a slow or hung master
        self._lock = threading.Lock()
        self._listeners: List[Callable[[Observation], None]] = []
        self.observe_calls = 0
        self.closed = False

    def observe(self) -> Observation:
        self.observe_calls += 1
        if self._delay:
            threading.Event().wait(self._delay)
        with self._lock:
            return self._current

    def follow(self, on_observation: Callable[[Observation], None], stop: threading.Event) -> None:
        with self._lock:
            self._listeners.append(on_observation)
            current = self._current
        on_observation(current)
        stop.wait()
        with self._lock:
            self._listeners.remove(on_observation)

    def push(self, observation: Observation) -> None:
        with self._lock:
            self._current = observation
            listeners = list(self._listeners)
        for listener in listeners:
            listener(observation)

    def close(self) -> None:
        self.closed = True

    @property
    def current(self) -> Optional[Observation]:
        return self._current
