"""The incident report shows where xentui stopped (Plan.stop, e.g. a member
newer than its coordinator): from the wizard's plan, or from the run-end
"stopped" record `recover --run` writes."""

from __future__ import annotations

from xentui.recovery import audit as au
from xentui.recovery.audit import AuditRecord
from xentui.recovery.report import render_report, write_report

STOP = (
    "xen2 runs xapi 24.39.0; its coordinator xen1 runs xapi 24.19.2. xapi refuses a member newer than "
    "its coordinator (HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR).",
    "Update the coordinator first (xen1).",
    "Nothing was changed.",
)
TITLE = "## Stopped: xentui planned nothing that changes the pool"


def test_the_plans_stop_is_in_the_report(tmp_path):
    path = write_report([], (), tmp_path / "r" / "incident.md", stop=STOP)
    text = path.read_text()
    assert TITLE in text
    for line in STOP:
        assert f"- {line}" in text
    assert text.index(TITLE) < text.index("## Actions")
    assert "No step was executed." in text


def test_the_stop_recorded_by_recover_run_is_in_the_report():
    records = [
        AuditRecord(ts=100.0, run_id="run-1", kind=au.RUN_START, outcome="started"),
        AuditRecord(ts=101.0, run_id="run-1", kind=au.RUN_END, outcome="stopped", detail=" ".join(STOP)),
    ]
    text = render_report(records, (), generated_at=200.0)
    assert TITLE in text and f"- {' '.join(STOP)}" in text
    assert "outcome: **stopped**" in text


def test_no_stop_no_section():
    records = [AuditRecord(ts=100.0, run_id="run-1", kind=au.RUN_END, outcome="healthy", detail="already healthy")]
    assert "Stopped" not in render_report(records, (), generated_at=200.0)
