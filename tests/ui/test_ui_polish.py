"""UI polish: the open-recovery banner, xapi calls in the log screen (never a
password), --read-only changes nothing, and the 80x24 size guard."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from tests.ui import ui_fixtures as fx
from tests.ui.ui_helpers import screen_text, wait_for
from xentui.recovery.audit import RUN_END, RUN_START, STEP_END, STEP_START, AuditLog
from xentui.ui import viewmodel as vm
from xentui.ui.actions import actions_for
from xentui.ui.app import XenTuiApp
from xentui.ui.static_observer import StaticObserver
from xentui.xapi.client import is_read_only

HINT_2_OF_4 = "Recovery in progress (step 2 of 4 done) - press r to continue"


def make_app(obs=None, **kw) -> XenTuiApp:
    observer = StaticObserver(obs or fx.master_down())
    kw.setdefault("clock", lambda: fx.FIXED_NOW)
    return XenTuiApp(lambda: observer, **kw)


def write_open_run(path: Path, *, ended: bool = False) -> None:
    """A wizard run that did 2 of its 4 steps, then the SSH session dropped mid-step 3."""
    audit = AuditLog(path)
    t = time.time() - 600
    audit.record("old-run", RUN_START, ts=t - 9000, inputs={"steps": ["x"]})
    audit.record("old-run", RUN_END, ts=t - 8000, outcome="healthy")
    audit.record("run-1", RUN_START, ts=t, inputs={"steps": ["fence", "ha-off", "promote", "recover-members"]})
    for i, step in enumerate(("fence", "ha-off")):
        audit.record("run-1", STEP_START, ts=t + i, step_id=step, outcome="started")
        audit.record("run-1", STEP_END, ts=t + i + 0.5, step_id=step, outcome="done" if i == 0 else "skipped")
    audit.record("run-1", STEP_START, ts=t + 5, step_id="promote", outcome="started")
    if ended:
        audit.record("run-1", RUN_END, ts=t + 9, outcome="healthy")


async def ready(app, pilot) -> None:
    assert await wait_for(pilot, lambda: app.observation is not None)
    await pilot.pause()


# --- 1. an open recovery run is on the dashboard at once ------------------------


def test_recovery_in_progress_counts_steps_of_the_open_run_only(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_open_run(path)
    status = vm.recovery_in_progress(AuditLog(path).records())
    assert (status.run_id, status.done, status.total) == ("run-1", 2, 4)
    assert vm.recovery_hint(status) == HINT_2_OF_4
    assert vm.recovery_hint(status, "F9", read_only=True).endswith("press F9 to see it")
    ended = tmp_path / "ended.jsonl"
    write_open_run(ended, ended=True)
    assert vm.recovery_in_progress(AuditLog(ended).records()) is None
    assert vm.recovery_in_progress([]) is None


@pytest.mark.parametrize("obs_name", ["master_down", "healthy"])
async def test_dashboard_banner_says_recovery_in_progress(tmp_path, obs_name):
    path = tmp_path / "audit.jsonl"
    write_open_run(path)
    app = make_app(getattr(fx, obs_name)(), audit_path=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        assert await wait_for(pilot, lambda: HINT_2_OF_4 in screen_text(app), timeout=3), screen_text(app)
        if obs_name == "healthy":
            assert "OK Pool healthy" not in screen_text(app)  # not "OK" while a recovery is half done
        log_text = "\n".join(app.log_lines)
        assert "run run-1" in log_text


async def test_no_recovery_hint_when_the_run_ended_healthy(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_open_run(path, ended=True)
    app = make_app(audit_path=path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        text = screen_text(app)
        assert "Press r to start recovery" in text and "Recovery in progress" not in text


# --- 2. the log screen shows this run's xapi calls, never a password -------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_log_screen_shows_xapi_calls_and_never_the_password(start_sim):
    from xentui.xapi.client import XapiClient
    from xentui.xapi.errors import XapiFailure
    from xentui.xapi.targets import parse_target
    from xentui.xapi.transport import open_endpoint

    password = "Sekr3t-Pa55-xyzzy"
    sim = start_sim("healthy")
    collect = _Collect()
    logging.getLogger("xentui").addHandler(collect)
    app = make_app(fx.healthy())

    def login_and_calls() -> None:
        # The unix socket logs local root in with any password: ours goes over the wire.
        client = XapiClient(call_timeout=2.0)
        try:
            client.connect(open_endpoint(parse_target(f"sim:{sim.state_dir}/xen1")), password=password)
            client.call("pool.get_all")
            client.call("VM.get_by_name_label", password)  # an argument that must not be logged
            with pytest.raises(XapiFailure):
                client.call("no_such_class.no_such_method", password)
        finally:
            client.close()

    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await ready(app, pilot)
            await pilot.press("4")
            assert await wait_for(pilot, lambda: "Log of this run" in screen_text(app), timeout=3)
            await asyncio.get_running_loop().run_in_executor(None, login_and_calls)
            widget = app.screen.query_one("#log")
            assert await wait_for(pilot, lambda: "call no_such_class" in "\n".join(widget.lines), timeout=3)
            shown = "\n".join(widget.lines)
            assert "call session.login_with_password" in shown, shown
            assert "call pool.get_all" in shown and "s ok" in shown, shown
            assert "call VM.get_by_name_label" in shown, shown
            assert "call no_such_class.no_such_method" in shown and " failure " in shown, shown
            assert password not in shown
            assert "OpaqueRef" not in shown
    finally:
        logging.getLogger("xentui").removeHandler(collect)
    calls = [r for r in collect.records if r.getMessage().startswith("call ")]
    assert len(calls) >= 4
    for record in collect.records:
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        assert password not in text
        assert "OpaqueRef:" not in text or "OpaqueRef:NULL" in text


# --- 3. --read-only: every key pressed, nothing changed -------------------------

# What a recovery changes, per host (the emergency flag is left out: a member
# enters emergency mode on its own as the simulated minutes pass).
STABLE_FIELDS = (
    "address",
    "powered",
    "has_ip",
    "xapi_up",
    "role",
    "master_address",
    "running_role",
    "running_master_address",
    "ha_armed",
    "domains",
)


def pool_state(sim) -> dict:
    """The simulator's own view of every host (pool.conf role and master, the
    running role, HA, domains) plus the pool.conf files on the hosts' disks."""
    state = {}
    for status in sim.status():
        state[status["name"]] = tuple(status[f] for f in STABLE_FIELDS)
    for host in sim.endpoints.hosts:
        pool_conf = Path(host.root) / "etc/xensource/pool.conf"
        state[(host.name, "pool.conf")] = pool_conf.read_text() if pool_conf.exists() else None
    return state


EXTRA_WIZARD_KEYS = ((), ("f8",), ("y",), ("down",))


async def test_read_only_every_key_changes_nothing(start_sim, tmp_path):
    from tests.ui.test_ui_sim import observer_for
    from tests.ui.test_wizard_fakes import OperatorStuck, operator_keys

    sim = start_sim("master-down")
    audit_path = tmp_path / "audit.jsonl"
    before = pool_state(sim)
    assert before[("xen2", "pool.conf")], before
    collect = _Collect()
    logging.getLogger("xentui").addHandler(collect)
    app = XenTuiApp(
        lambda: observer_for(sim, read_only=True),
        target_label="sim",
        read_only=True,
        audit_path=audit_path,
        time_scale=0.01,
    )
    pressed = []
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            # Each screen's own keys on that screen, then the global ones once (from the
            # dashboard, where a recovery would start).
            plan = [
                (number, action)
                for number, scope in (
                    ("1", "dashboard"),
                    ("2", "vms"),
                    ("3", "network"),
                    ("4", "log"),
                    ("5", "connect"),
                )
                for action in actions_for(scope, read_only=True)
            ]
            plan += [("1", action) for action in actions_for("app", read_only=True) if action.id != "app.quit"]
            for number, action in plan:
                await pilot.press(number)
                await pilot.press(action.keys.split(",")[0])
                pressed.append(action.id)
                await pilot.press("escape", "escape")
            # The recovery: r opens the wizard read-only; walk it with every key it uses.
            await pilot.press("escape", "1")
            assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=3)
            await pilot.press("r")
            assert await wait_for(pilot, lambda: type(app.screen).__name__ == "RecoveryWizard", timeout=10), (
                screen_text(app)
            )
            assert app.screen.read_only
            wizard = app.screen
            # The keys an operator who agrees with the plan presses (the wizard tests'
            # operator), plus F8 / y / Down on every page, for 40 rounds.
            for round_no in range(40):
                try:
                    keys = operator_keys(wizard) if wizard.is_mounted and wizard.page.lines else None
                except OperatorStuck:
                    keys = ["escape"]
                await pilot.press(*(keys or []), *EXTRA_WIZARD_KEYS[round_no % len(EXTRA_WIZARD_KEYS)])
                pressed.extend(keys or [])
                await pilot.pause(0.05)
            await pilot.pause(0.3)
    finally:
        logging.getLogger("xentui").removeHandler(collect)
    assert len(pressed) >= 20, pressed
    assert pool_state(sim) == before
    # No recovery was attempted: no run, no attestation, no checks; any step "ran" read-only.
    records = AuditLog(audit_path).records()
    kinds = {r.kind for r in records}
    assert not kinds & {RUN_START, "attest-fenced", "check"}, kinds
    assert all(r.outcome == "read-only" for r in records if r.kind == STEP_END)
    assert all(r.inputs.get("read_only") is True for r in records if r.kind == STEP_START)
    # Every xapi call this run made only read (or opened / closed a session).
    methods = {r.getMessage().split()[1] for r in collect.records if r.getMessage().startswith("call ")}
    assert methods
    writes = {m for m in methods if not (is_read_only(m) or m.startswith("session."))}
    assert not writes, writes


# --- 4. the size guard: 80x24 is enough, one less is not -----------------------


@pytest.mark.parametrize("size", [(79, 24), (80, 23)])
async def test_too_small_screen_below_80x24(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        assert await wait_for(
            pilot, lambda: f"Terminal too small: {size[0]}x{size[1]}" in screen_text(app), timeout=3
        ), screen_text(app)
        assert "needs at least 80x24" in screen_text(app)


@pytest.mark.parametrize("read_only", [False, True])
async def test_dashboard_fits_80x24_with_the_whole_key_hint(tmp_path, read_only):
    path = tmp_path / "audit.jsonl"
    write_open_run(path)
    for audit_path, hint in (
        (None, "Press r to " + ("show the recovery plan" if read_only else "start recovery")),
        (path, vm.recovery_hint(vm.RecoveryInProgress("run-1", 2, 4), "r", read_only)),
    ):
        app = make_app(audit_path=audit_path or tmp_path / "none.jsonl", read_only=read_only)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(app, pilot)
            text = screen_text(app)
            lines = text.splitlines()
            assert "Terminal too small" not in text
            assert f">> {hint} <<" in text, text
            assert lines[0].lstrip().startswith("xentui")
            assert "r Recover" in lines[23] and "q Quit" in lines[23], lines[23]
            assert any("xcp-c" in line for line in lines), text  # every host row is visible
