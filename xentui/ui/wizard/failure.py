"""What went wrong with a step, and what to try, in plain words.

The executor reports a failed or refused step as a `StepResult` whose
`detail` may carry a xapi error code (e.g. "HA_IS_ENABLED"); the shared
error table (`xentui.xapi.error_table`) turns that into the same words the
CLI and the dashboard use. The step's own `on_failure` text says what to try
for this particular step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.executor import StepResult
    from xentui.recovery.plan import Step

_CODE = re.compile(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b")


@dataclass(frozen=True)
class FailureText:
    headline: str  # one line: what happened
    meaning: str  # plain words
    try_next: Tuple[str, ...]  # what to try, most specific first
    code: str = ""


def xapi_code_in(detail: str) -> Tuple[str, Tuple[str, ...]]:
    """The first known xapi error code in `detail`, with the words after it as params."""
    try:
        from xentui.xapi.error_table import known_codes
    except ImportError:  # the table is a shared contract; degrade to raw text without it
        return "", ()
    known = set(known_codes())
    for match in _CODE.finditer(detail or ""):
        code = match.group(1)
        if code in known or code.startswith("SR_BACKEND_FAILURE"):
            rest = detail[match.end() :].strip(" :[]()'\",")
            params = tuple(p.strip(" '\"[]") for p in re.split(r"[,;]\s*", rest) if p.strip(" '\"[]"))
            return code, params[:3]
    return "", ()


def describe_failure(step: Step, result: StepResult, *, in_emergency: bool = False) -> FailureText:
    """Plain words for a failed / refused / interrupted step."""
    status = getattr(result, "status", "failed")
    detail = (getattr(result, "detail", "") or "").strip()
    code, params = xapi_code_in(detail)
    tries = []
    meaning = detail or "No details were reported."
    headline = {
        "refused": "Not run: a live check before the step failed. Nothing was changed.",
        "failed": "The step did not complete.",
        "skipped": "The step was skipped.",
        "interrupted": "The step was interrupted.",
    }.get(status, f"The step ended with status '{status}'.")
    if code:
        from xentui.xapi.error_table import explain

        expl = explain(code, params, in_emergency=in_emergency)
        headline = f"{headline} xapi said {code}: {expl.title}."
        meaning = expl.meaning
        if detail and code not in (detail.split() or [""])[0:1]:
            meaning = f"{expl.meaning} ({detail})"
        if expl.next_step:
            tries.append(expl.next_step)
    on_failure = getattr(step, "on_failure", "")
    if on_failure:
        tries.insert(0, on_failure)
    if status == "refused":
        tries.append("Fix what the failed check says, then press R to check again.")
    else:
        tries.append("Press R to check the preconditions again and retry, or Esc to review the plan.")
    return FailureText(headline=headline, meaning=meaning, try_next=tuple(tries), code=code)


def describe_exception(exc: BaseException) -> str:
    """One line for an exception that escaped the executor (it should not)."""
    from xentui.recovery.audit import AuditLogError

    if isinstance(exc, AuditLogError):
        return str(exc)  # already the one line: "audit log not writable: ...; nothing further was changed"
    try:
        from xentui.xapi.error_table import explain_exception
    except ImportError:
        return f"{type(exc).__name__}: {exc}"
    expl = explain_exception(exc)
    if expl.code == "error":  # not a connection or xapi error: say what it is
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    code = f"{expl.code}: " if expl.code and expl.code not in ("error",) else ""
    return f"{code}{expl.title}. {expl.meaning} {expl.next_step}".strip()
