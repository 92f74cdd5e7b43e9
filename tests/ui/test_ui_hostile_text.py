"""No byte a peer sends reaches the terminal raw, in the console UI (issue 10).

A pool whose every peer-provided string is hostile - host, VM, pool, network
and PIF device names, xapi's emergency reason and error detail, findings,
file-read errors - holding terminal escape sequences, C1 controls, bidi
overrides and Textual/Rich markup, is fed through the real app (headless,
Textual pilot). On every screen (1-5, host details, the recovery plan or
wizard) the rendered frame must hold none of those characters raw, show
them escaped (\\x1b, \\u202e ...), and show markup as the literal text typed
rather than interpret it.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import List

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.host.facts import Fact
from xentui.recovery.findings import Code, Finding, Severity
from xentui.ui.app import XenTuiApp
from xentui.ui.static_observer import StaticObserver
from xentui.xapi.model import PoolSnapshot

# Raw characters that must never be in a rendered frame: ESC (CSI/OSC
# sequences), BEL, CR, the 8-bit CSI/OSC/NEL, DEL, bidi overrides/isolates,
# zero-width and line/paragraph separators.
RAW = ("\x1b", "\x07", "\r", "\x08", "\x9b", "\x9d", "\x85", "\x7f", "\u202e", "\u2066", "\u200b", "\u2028")
# Each hostile value: a markup tag that would vanish (or act) if interpreted,
# then escapes. Short, so that 24-column table cells still show the start.
EVIL = "[b]\x1b[2J\x9b\u202e\x07\x85"
# What EVIL's start must look like on screen: the tag as typed, ESC escaped.
SHOWN = "[b]\\x1b[2J"

SIZE = (200, 60)  # wide: every column shows enough of each name to check it


def _evil(text: str) -> str:
    return f"{text}{EVIL}"


def hostile_observation():
    """fx.master_down() with every string a peer controls made hostile."""
    records = fx.pool_records(extra_stale_pif=True)
    for record in records["host"].values():
        record["name_label"] = _evil(record["name_label"])
        record["hostname"] = _evil(record["hostname"])
    for record in records["vm"].values():
        record["name_label"] = _evil(record["name_label"])
    for record in records["network"].values():
        record["name_label"] = _evil(record["name_label"])
    for record in records["pif"].values():
        record["device"] = _evil(record["device"])
    for record in records["pool"].values():
        record["name_label"] = _evil("pool")
    base = fx.master_down()
    this_host = _evil(fx.CONSOLE_HOST)
    findings = (
        Finding(
            Code.MASTER_UNREACHABLE,
            Severity.CRITICAL,
            _evil("master unreachable "),
            explanation=_evil("why "),
            host=_evil("xcp-a"),
            evidence=(_evil("probe "),),
            data={"master_name": _evil("xcp-a"), "master_address": "127.0.0.11", "since": str(fx.FIXED_NOW - 420)},
        ),
        Finding(Code.EMERGENCY_MODE, Severity.CRITICAL, _evil("emergency "), host=this_host),
        Finding(Code.VMS_ON_DEAD_HOST, Severity.WARNING, _evil("vms "), host=_evil("xcp-a"), data={"count": "3"}),
        Finding(
            Code.STALE_PIF, Severity.INFO, _evil("stale pif "), host=_evil("xcp-a"), data={"pif_uuid": "pif-xcp-a-eth2"}
        ),
    )
    ground_truth = dataclasses.replace(
        base.ground_truth,
        state_db=Fact(records, "/var/lib/xcp/state.db", fx.FIXED_NOW - 240),
        xapi_running=Fact(None, "/var/run/xapi.pid", fx.FIXED_NOW - 2, error=_evil("pid file ")),
    )
    return dataclasses.replace(
        base,
        snapshot=PoolSnapshot.from_records(records),
        ground_truth=ground_truth,
        connection=dataclasses.replace(
            base.connection, detail=_evil("INTERNAL_ERROR "), label=_evil("local "), limits=(_evil("limit "),)
        ),
        emergency=dataclasses.replace(
            base.emergency, reason_code=_evil("INTERNAL_ERROR"), reason_params=(_evil("Connection refused "),)
        ),
        this_host_name=this_host,
        findings=findings,
    )


def _frame_problems(text: str) -> List[str]:
    return [repr(raw) for raw in RAW if raw in text]


async def _check(app, pilot, where: str, must_show: str = SHOWN) -> str:
    await pilot.pause()
    text = screen_text(app)
    assert not _frame_problems(text), (where, _frame_problems(text), text)
    # The hostile text IS on screen (so the check above looked at it), escaped,
    # with its markup shown as typed.
    assert must_show in text, (where, text)
    return text


async def test_hostile_pool_text_is_shown_escaped_on_every_screen(tmp_path):
    observer = StaticObserver(hostile_observation())
    app = XenTuiApp(lambda: observer, clock=lambda: fx.FIXED_NOW, audit_path=tmp_path / "audit.jsonl", read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        # The whole dashboard drawn: the hosts table, the banner's reason and the
        # top bar's connection label (each repaints on its own under load).
        assert await wait_for(
            pilot, lambda: all(part in screen_text(app) for part in ("127.0.0.13", "xapi says", "local " + SHOWN))
        )
        text = await _check(app, pilot, "dashboard")
        for needle in (
            "xcp-a" + SHOWN,
            "master unreachable " + SHOWN,
            "pool" + SHOWN,
            "eth0" + SHOWN,
            "local " + SHOWN,
        ):
            assert needle in text, (needle, text)
        reason = next(line for line in text.splitlines() if "xapi says" in line)
        assert "\\x1b[2" in reason, reason  # xapi's error string, escaped
        # A core log record quoting the peer (the log screen shows them).
        logging.getLogger("xentui.transport").warning("peer said %s", EVIL)
        for key, title in (
            ("2", "Virtual machines"),
            ("3", "Network interfaces"),
            ("4", "Log of this run"),
            ("5", "Connect to a pool host"),
        ):
            await pilot.press(key)
            shown = await wait_for(pilot, lambda title=title: title in screen_text(app), timeout=3)
            assert shown, (key, screen_text(app))
            # The log and connect screens quote the pool's text only in the top bar.
            text = await _check(app, pilot, f"screen {key}")
            # Table columns are fixed and cut long names: their start is enough.
            if key == "2":
                assert "a-vm00[b]" in text, text
            if key == "3":
                assert "eth0[b" in text, text
            if key == "4":
                assert await wait_for(pilot, lambda: "peer said " + SHOWN in screen_text(app), timeout=3), screen_text(
                    app
                )
        await pilot.press("1")
        assert await wait_for(pilot, lambda: "Findings" in screen_text(app), timeout=3)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: "Resident VMs" in screen_text(app), timeout=3)
        text = await _check(app, pilot, "details")
        assert "Host details: xcp-a" + SHOWN in text, text
        assert "a-vm00" + SHOWN in text, text
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: "Findings" in screen_text(app), timeout=3)
        await pilot.press("r")
        assert await wait_for(
            pilot, lambda: type(app.screen).__name__ in ("RecoveryWizard", "PlanScreen"), timeout=10
        ), screen_text(app)
        await _check(app, pilot, type(app.screen).__name__, must_show="\\x1b[2J")
        if type(app.screen).__name__ == "RecoveryWizard":
            # Each step's page names hosts: walk them read-only.
            wizard = app.screen
            await pilot.press("enter")
            for _ in wizard.plan.steps:
                await _check(app, pilot, f"wizard {wizard.state.value}", must_show="\\x1b[2J")
                await pilot.press("down")
        # And the log, which quotes the plan's step ids and any error.
        await pilot.press("escape", "escape", "4")
        await pilot.pause()
        assert not _frame_problems(screen_text(app))


@pytest.mark.parametrize("value", [EVIL, "[@click=app.quit]q[/]", "[link=http://x]y[/link]", "\x1b]52;c;AAAA\x07"])
async def test_hostile_markup_in_a_host_name_is_text(value):
    # A name that is a Textual action tag or an OSC 52 clipboard write is
    # shown as the characters it is, and the app keeps running.
    records = fx.pool_records()
    records["host"]["OpaqueRef:host-xcp-a"]["name_label"] = value
    obs = dataclasses.replace(fx.healthy(), snapshot=PoolSnapshot.from_records(records))
    app = XenTuiApp(lambda: StaticObserver(obs), clock=lambda: fx.FIXED_NOW)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: "127.0.0.13" in screen_text(app))
        text = screen_text(app)
        assert not _frame_problems(text), text
        shown = value.replace("\x1b", "\\x1b").replace("\x07", "\\x07").replace("\x9b", "\\x9b")
        assert shown.split("\u202e")[0].split("\\x85")[0] in text, text
        assert app.is_running
