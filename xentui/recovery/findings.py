"""Findings: what is wrong with the pool, in stable codes and plain words.

Diagnosis (`xentui.recovery.diagnosis`) produces these from a live snapshot,
the ground truth and probes; `xentui status`, the dashboard and the plan
builder consume them. Codes are part of our interface (JSON output, audit
log, tests): never rename one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple


class Severity(enum.IntEnum):
    """Ordered so that `max()` gives the worst. Exit codes of `xentui status`
    map OK->0, WARNING->1, CRITICAL->2."""

    OK = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Code(str, enum.Enum):
    POOL_HEALTHY = "POOL_HEALTHY"
    EMERGENCY_MODE = "EMERGENCY_MODE"
    MASTER_UNREACHABLE = "MASTER_UNREACHABLE"
    HA_ARMED = "HA_ARMED"
    TWO_MASTERS = "TWO_MASTERS"
    MEMBER_UNREACHABLE = "MEMBER_UNREACHABLE"
    VMS_ON_DEAD_HOST = "VMS_ON_DEAD_HOST"
    ORPHANED_MEMBER = "ORPHANED_MEMBER"
    NO_MANAGEMENT_IP = "NO_MANAGEMENT_IP"
    STALE_PIF = "STALE_PIF"
    PBD_UNPLUGGED = "PBD_UNPLUGGED"
    XAPI_DOWN = "XAPI_DOWN"
    NOT_XAPI = "NOT_XAPI"  # something answers where xapi should, but not as xapi
    VERSION_SKEW = "VERSION_SKEW"
    DEFAULT_SR_INVALID = "DEFAULT_SR_INVALID"
    HOST_DISABLED = "HOST_DISABLED"
    # Issue 13 (recovery/rules_failures.py):
    TLS_VERIFY_FAILED = "TLS_VERIFY_FAILED"
    TLS_VERIFY_OFF = "TLS_VERIFY_OFF"  # a host that stopped verifying while its pool verifies
    HA_ARMED_MISMATCH = "HA_ARMED_MISMATCH"
    VDI_LOCKED = "VDI_LOCKED"
    STALE_DB_CHOICE = "STALE_DB_CHOICE"  # which member's database copy is newest (recovery/stale_db.py)
    HOST_REBUILT = "HOST_REBUILT"  # recovery/rules_rejoin.py: a reinstalled host at a record's address
    # The workload (needs the run's audit record, see recovery.run_record):
    VMS_NOT_RESTARTED = "VMS_NOT_RESTARTED"
    VMS_LEFT_DOWN = "VMS_LEFT_DOWN"


@dataclass(frozen=True)
class Finding:
    code: Code
    severity: Severity
    summary: str  # one line, plain words, fits 76 columns where possible
    explanation: str = ""  # what it means and what to do next
    host: str = ""  # name_label of the host it is about ("" = pool-wide)
    evidence: Tuple[str, ...] = ()  # each item says what was seen and where
    data: Dict[str, str] = field(default_factory=dict, compare=False)  # machine-readable extras

    def to_json(self) -> Dict[str, Any]:
        return {
            "code": self.code.value,
            "severity": self.severity.label,
            "host": self.host,
            "summary": self.summary,
            "explanation": self.explanation,
            "evidence": list(self.evidence),
            "data": dict(self.data),
        }
