"""No byte a peer sends reaches the terminal raw (issue 10): the shared
escaping helper, and the places that show peer text (CLI status, UI
widgets, the wizard's pages, the incident report, the audit log)."""

from __future__ import annotations

import json

from rich.text import Text
from textual.content import Content

from tests.sim.sessions import make_unix_session
from xentui.cli import main
from xentui.xapi.safe_text import markup, multiline, one_line, printable

HOSTILE_NAME = "evil\x9b2J\u202e[b]x[/b]"  # C1 CSI, a bidi override, markup: all legal in XML
RAW = ("\x1b", "\x9b", "\u202e", "\x07", "\r", "\x85", "\x7f")


def _clean(text: str) -> bool:
    return not any(raw in text for raw in RAW)


def test_printable_escapes_every_control_and_format_character():
    assert printable("plain ascii [ok]") == "plain ascii [ok]"
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("\x9b\x85\x7f\u202e\u200b\u2028") == "\\x9b\\x85\\x7f\\u202e\\u200b\\u2028"
    assert printable("line\nnext\r") == "line\\x0anext\\x0d"
    assert printable(b"bytes \xff\x1b") == "bytes \\xff\\x1b"
    assert printable("accents stay: é ü 日本") == "accents stay: é ü 日本"
    assert one_line("x" * 500, 10) == "x" * 9 + "\u2026"
    assert multiline("a\x1b\nb\r") == "a\\x1b\nb\\x0d"


def test_markup_is_shown_as_typed_in_textual():
    for text in ("[b]bold[/b]", "[$var]", "[@click=app.quit]q", "a\\[b]c", "x\\"):
        assert Content.from_markup(markup(text)).plain == text
    assert Content.from_markup(markup(HOSTILE_NAME)).plain == printable(HOSTILE_NAME)


def test_ui_widgets_show_peer_text_escaped_and_never_as_markup():
    from xentui.ui.widgets import _fit_cell, _plain

    cell = _fit_cell("[b]x[/b]\x1b[2J", 40)
    assert isinstance(cell, Text) and cell.plain == "[b]x[/b]\\x1b[2J"
    styled = _fit_cell(Text("a\x9bb", style="green"), 40)
    assert styled.plain == "a\\x9bb" and str(styled.style) == "green"
    title = _plain(f"Selected host: {HOSTILE_NAME}")
    assert isinstance(title, Text) and _clean(title.plain) and "[b]x[/b]" in title.plain


def test_wizard_pages_escape_controls():
    from xentui.ui.wizard.page import Page, console_text, fit

    assert _clean(console_text(HOSTILE_NAME)) and "\\x9b" in console_text(HOSTILE_NAME)
    assert _clean(fit("host " + HOSTILE_NAME, 60))
    assert _clean(Page().add("Start VMs on " + HOSTILE_NAME).plain())


def test_incident_report_and_audit_log_hold_no_raw_controls(tmp_path):
    from xentui.recovery.audit import AuditLog, AuditRecord
    from xentui.recovery.report import render_report

    log = AuditLog(tmp_path / "audit.jsonl")
    record = AuditRecord(
        ts=1.0,
        run_id="r1",
        kind="step-end",
        step_id="start-vms",
        host=HOSTILE_NAME,
        outcome="failed",
        detail=f"xapi error INTERNAL_ERROR{HOSTILE_NAME}",
    )
    log.append(record)
    raw = (tmp_path / "audit.jsonl").read_bytes()
    assert raw.isascii()  # ensure_ascii: C1 and bidi controls are \u-escaped in the file
    assert log.records()[0].host == HOSTILE_NAME  # and read back exactly
    report = render_report(log.records(), ())
    assert _clean(report) and "evil\\x9b2J" in report


def test_status_text_escapes_a_hostile_host_name(start_sim, capsys):
    sim = start_sim("healthy")
    session = make_unix_session(sim.endpoints.host("xen1").socket)
    session.login_with_password("root", "", "1.1", "test")
    try:
        host = session.xenapi.host.get_by_name_label("xen3")[0]
        session.xenapi.host.set_name_label(host, HOSTILE_NAME)
        pool = session.xenapi.pool.get_all()[0]
        session.xenapi.pool.set_name_label(pool, "pool\x85" + HOSTILE_NAME)
    finally:
        session.xenapi.session.logout()
    main(["status", f"sim:{sim.state_dir}/xen1"])
    out, err = capsys.readouterr()
    assert _clean(out + err), out
    assert "evil\\x9b2J\\u202e[b]x[/b]"[:16] in out  # the name, escaped, cut to its column
    main(["status", f"sim:{sim.state_dir}/xen1", "--json"])
    out, _ = capsys.readouterr()
    assert out.isascii()
    assert any(h["name"] == HOSTILE_NAME for h in json.loads(out)["hosts"])  # JSON keeps the real name
