"""Pilot tests at 80x25, keyboard only, against the simulator through the
real Observer (several scenarios), the demo panel, and the connect screen
(including the SSH host-key confirmation flow against a real sshd)."""

from __future__ import annotations

import time

import pytest

from tests.ui.ui_helpers import screen_text, wait_for
from xentui.ui.app import XenTuiApp
from xentui.ui.demo import DemoControl

SIZE = (80, 25)


def observer_for(sim, host=None, **kw):
    from xentui.recovery.observer import Observer
    from xentui.xapi.targets import parse_target

    target = parse_target(f"sim:{sim.state_dir}/{host or sim.endpoints.console}")
    kw.setdefault("call_timeout", 1.0)
    kw.setdefault("connect_timeout", 1.0)
    kw.setdefault("probe_timeout", 0.3)
    return Observer(target, **kw)


def sim_app(sim, **kw) -> XenTuiApp:
    read_only = kw.get("read_only", False)
    return XenTuiApp(lambda: observer_for(sim, read_only=read_only), target_label=f"sim {sim.endpoints.console}", **kw)


async def first_observation(app, pilot, timeout=20.0):
    """The first look with the peers' answers (follow() draws the look before the peer logins)."""
    assert await wait_for(
        pilot, lambda: app.observation is not None and not app.observation.peers_pending, timeout=timeout
    ), screen_text(app)
    await pilot.pause()


async def open_connect_screen(app, pilot):
    await pilot.press("5")
    assert await wait_for(
        pilot,
        lambda: type(app.screen).__name__ == "ConnectScreen" and app.screen.query_one("#targets").has_focus,
        timeout=3,
    )
    await pilot.pause()


SCREEN_KEYS = [
    ("2", "Virtual machines"),
    ("3", "Network interfaces"),
    ("4", "Log of this run"),
    ("5", "Connect to a pool host"),
    ("question_mark", "Help - xentui keys"),
    ("1", "(* = this host)"),
]


@pytest.mark.parametrize(
    "scenario,expected",
    [
        ("master-down", ["EMERGENCY MODE", "Master xen1 at", "Press r to start recovery", "YES"]),
        ("master-hung", ["POOL MASTER NOT ANSWERING", "Master xen1 at"]),
        ("no-management-ip", ["EMERGENCY MODE", "NONE (no address", "is cut off from master xen1"]),
        ("healthy", ["OK Pool healthy", "(xapi)"]),
    ],
)
async def test_dashboard_and_every_screen_against_the_simulator(start_sim, scenario, expected):
    sim = start_sim(scenario)
    app = sim_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        assert await wait_for(pilot, lambda: all(n in screen_text(app) for n in expected), timeout=15), screen_text(app)
        text = screen_text(app)
        for host in sim.endpoints.hosts:
            assert host.name in text
        for key, needle in SCREEN_KEYS:
            await pilot.press(key)
            shown = await wait_for(pilot, lambda needle=needle: needle in screen_text(app), timeout=5)
            assert shown, (key, screen_text(app))
        started = time.monotonic()
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=2)
        assert time.monotonic() - started < 1.0


async def test_r_opens_the_recovery_wizard_and_esc_comes_back(start_sim):
    sim = start_sim("master-down")
    app = sim_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        assert await wait_for(pilot, lambda: "Press r to start recovery" in screen_text(app), timeout=10)
        await pilot.press("r")
        assert await wait_for(pilot, lambda: type(app.screen).__name__ in ("RecoveryWizard", "PlanScreen"), timeout=5)
        assert "Promote xen2" in screen_text(app), screen_text(app)
        for _ in range(3):
            if type(app.screen).__name__ == "DashboardScreen":
                break
            await pilot.press("escape")
            await pilot.pause(0.2)
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=5)
        assert "recovery plan:" in "\n".join(app.log_lines)


async def test_management_ip_shown_from_host_files_when_xapi_is_in_emergency(start_sim):
    sim = start_sim("master-down")
    console = next(h for h in sim.endpoints.hosts if h.name == sim.endpoints.console)
    app = sim_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        assert await wait_for(pilot, lambda: "(host files)" in screen_text(app), timeout=10)
        assert console.address in screen_text(app)


async def test_vms_on_the_dead_master_are_flagged(start_sim):
    sim = start_sim("master-down")
    app = sim_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        await pilot.press("2")
        assert await wait_for(pilot, lambda: "DEAD HOST" in screen_text(app), timeout=10), screen_text(app)


async def test_q_quits_at_once_while_the_master_hangs(start_sim):
    sim = start_sim("master-hung")
    app = XenTuiApp(lambda: observer_for(sim, call_timeout=30.0), target_label="sim")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)  # observer calls are now blocked on the hung master
        await pilot.press("2")
        assert await wait_for(
            pilot, lambda: "Virtual machines" in screen_text(app) or type(app.screen).__name__ == "VmsScreen", timeout=1
        )
        started = time.monotonic()
        await pilot.press("q")
        assert await wait_for(pilot, lambda: not app.is_running, timeout=2)
    assert time.monotonic() - started < 1.0


async def test_demo_panel_injects_a_fault_and_the_dashboard_follows(tmp_path):
    demo = DemoControl("healthy", state_dir=tmp_path / "demo", time_scale=0.01)
    from xentui.commands.ui import _demo_opener

    app = XenTuiApp(_demo_opener(demo, read_only=False), target_label="DEMO", demo=demo)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await first_observation(app, pilot)
            assert "DEMO" in screen_text(app) and "OK Pool healthy" in screen_text(app)
            await pilot.press("d")
            assert await wait_for(pilot, lambda: "DEMO: inject or clear a fault" in screen_text(app), timeout=3)
            assert "DEMO" in screen_text(app).splitlines()[0]  # the marker stays on the panel's top bar
            # Move to "Hang xen1 (accepts, never answers)" by keyboard only.
            table = app.screen.query_one("#faults")
            for _ in range(20):
                if "Hang xen1" in str(table.get_row_at(table.cursor_row)[0]):
                    break
                await pilot.press("down")
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: "demo: Hang xen1" in "\n".join(app.log_lines), timeout=5)
            await pilot.press("escape")
            assert await wait_for(
                pilot, lambda: "NOT ANSWERING" in screen_text(app) or "hung" in screen_text(app), timeout=20
            ), screen_text(app)
            assert "DEMO" in screen_text(app)
            await pilot.press("q")
    finally:
        demo.stop()


async def test_connect_screen_invalid_ip_keeps_what_was_typed(start_sim):
    sim = start_sim("healthy")
    app = sim_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        await open_connect_screen(app, pilot)
        await pilot.press("down", "enter")  # "Another host: type it below" -> the target field
        await pilot.press(*"root@[::zz]")
        await pilot.press("enter")  # -> password field
        await pilot.press(*"secret", "enter")
        assert await wait_for(pilot, lambda: "Invalid target" in screen_text(app), timeout=5), screen_text(app)
        target = app.screen.query_one("#target")
        password = app.screen.query_one("#password")
        assert target.value == "root@[::zz]" and password.value == "secret"
        assert "secret" not in screen_text(app)  # a password is never shown


async def test_connect_screen_wrong_password_then_right_one(start_sim):
    sim = start_sim("healthy")
    app = XenTuiApp(lambda: observer_for(sim), target_label="sim", follow=False)
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        await open_connect_screen(app, pilot)
        await pilot.press("down", "enter")
        master = next(h for h in sim.endpoints.hosts if h.name == "xen1")
        target_text = f"http://{master.address}:{master.port}"  # xapi over TCP: a password login
        app.screen.query_one("#target").value = target_text
        await pilot.press("enter", *"wrong", "enter")
        assert await wait_for(pilot, lambda: any("connect: " in line for line in app.log_lines), timeout=15)
        result = next(line for line in app.log_lines if "connect: " in line)
        assert "connect: auth" in result, result
        text = screen_text(app)
        assert "Wrong user name or password" in text
        assert app.screen.query_one("#password").value == "wrong"  # nothing typed is lost
        assert app.screen.query_one("#target").value == target_text
        # Correct it and connect: the dashboard comes back with the new observer.
        app.screen.query_one("#password").value = sim.endpoints.root_password
        app.screen.query_one("#password").focus()
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", timeout=15)
        assert "connect: ok" in "\n".join(app.log_lines)


async def test_connect_screen_ssh_host_key_needs_explicit_f8(start_sim, sshd_server, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("", encoding="ascii")
    sim = start_sim("healthy")
    app = XenTuiApp(
        lambda: observer_for(sim),
        target_label="sim",
        follow=False,
        connect_overrides={
            "identity": str(sshd_server.client_key_path),
            "known_hosts": str(empty_known_hosts),
            "accepted_known_hosts": str(tmp_path / "accepted_known_hosts"),
        },
    )
    async with app.run_test(size=SIZE) as pilot:
        await first_observation(app, pilot)
        await open_connect_screen(app, pilot)
        await pilot.press("down", "enter")
        await pilot.press(*f"{sshd_server.user}@127.0.0.1:{sshd_server.port}", "enter", "enter")
        assert await wait_for(pilot, lambda: "Unknown SSH host key" in screen_text(app), timeout=15), screen_text(app)
        assert "SHA256:" in screen_text(app)
        assert not (tmp_path / "accepted_known_hosts").exists()  # nothing trusted without F8
        await pilot.press("enter")  # Enter alone never trusts the key
        assert await wait_for(pilot, lambda: "Unknown SSH host key" in screen_text(app), timeout=15)
        assert not (tmp_path / "accepted_known_hosts").exists()
        await pilot.press("f8")
        assert await wait_for(
            pilot,
            lambda: "Unknown SSH host key" not in screen_text(app) and "Connecting" not in screen_text(app),
            timeout=20,
        ), screen_text(app)
        accepted = (tmp_path / "accepted_known_hosts").read_text(encoding="ascii")
        assert f"[127.0.0.1]:{sshd_server.port}" in accepted
