"""xapi Failures as raised inside the simulator.

A handler raises ApiError; the wire layer turns it into xapi's
{"Status": "Failure", "ErrorDescription": [code, *params]} envelope (never an
XML-RPC fault, because xapi never sends one)."""

from __future__ import annotations

from typing import List, Tuple


class ApiError(Exception):
    """A xapi Failure: ErrorDescription = [code, *params] (all strings)."""

    def __init__(self, code: str, *params: object) -> None:
        self.code: str = str(code)
        self.params: Tuple[str, ...] = tuple(str(p) for p in params)
        super().__init__(self.code, *self.params)

    @property
    def details(self) -> List[str]:
        return [self.code, *self.params]

    def __repr__(self) -> str:
        return f"ApiError({', '.join(repr(d) for d in self.details)})"

    def __str__(self) -> str:
        return f"{self.code}: {list(self.params)}"


class WireError(Exception):
    """A request the server could not decode (bad XML / JSON); answered with HTTP 4xx/5xx."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status
