"""Messages workers post to the app. Workers never touch widgets; the
handlers of these messages own every state change."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from xentui.recovery.observation import Observation


class ObservationArrived(Message):
    def __init__(self, observation: Observation, origin: str) -> None:
        super().__init__()
        self.observation = observation
        self.origin = origin  # "observe" | "follow"


class ObserverReady(Message):
    """The observer (and, in the demo, the simulator) is up."""

    def __init__(self, observer: Any, description: str) -> None:
        super().__init__()
        self.observer = observer
        self.description = description


class LogLine(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class DemoFaultApplied(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ConnectFinished(Message):
    """The connect screen's attempt ended (`outcome` is a connecting.ConnectOutcome)."""

    def __init__(self, outcome: Any) -> None:
        super().__init__()
        self.outcome = outcome
