"""The Textual-free core of the UI: view model, action registry, config."""

from __future__ import annotations

import dataclasses

import pytest

from tests.ui import ui_fixtures as fx
from xentui.recovery.observation import EmergencyState
from xentui.ui import actions as act
from xentui.ui import viewmodel as vm
from xentui.ui.config import load_config, parse_small_toml
from xentui.ui.profile import CP437, console_safe, detect_profile

NOW = fx.FIXED_NOW


def test_banner_master_down_names_master_reason_since_and_key():
    banner = vm.banner(fx.master_down(), NOW, recover_key="r")
    assert banner.level == "emergency"
    assert "EMERGENCY MODE" in banner.title
    text = "\n".join(banner.lines)
    assert "xcp-a" in text and "127.0.0.11" in text
    assert "since 03:23" in text or "since" in text and "7 min ago" in text
    assert "the master could not be reached" in text  # INTERNAL_ERROR in plain words
    assert banner.key_hint == "Press r to start recovery"


def test_banner_hung_master_without_emergency_says_not_answering():
    banner = vm.banner(fx.master_hung(), NOW)
    assert banner.level == "emergency"
    assert banner.title == "POOL MASTER NOT ANSWERING: master xcp-a is unreachable"
    assert any("not in emergency mode yet" in line for line in banner.lines)


def test_banner_no_management_ip_reason_in_plain_words():
    banner = vm.banner(fx.no_management_ip(), NOW)
    assert "no management IP address" in "\n".join(banner.lines)


def test_banner_healthy_is_calm_and_read_only_changes_the_hint():
    assert vm.banner(fx.healthy(), NOW).level == "ok"
    assert "show the recovery plan" in vm.banner(fx.master_down(), NOW, read_only=True).key_hint


def test_banner_claims_no_health_while_the_peers_are_not_asked_yet():
    import dataclasses

    pending = dataclasses.replace(fx.healthy(), peers_pending=True)
    shown = vm.banner(pending, NOW)
    assert shown.level == "info" and "healthy" not in shown.title.lower() and "asking" in shown.title


def test_banner_uses_first_seen_when_nothing_dates_the_trouble():
    obs = fx.master_down()
    obs = dataclasses.replace(
        obs,
        emergency=EmergencyState(True, "HOST_STILL_BOOTING"),
        findings=tuple(dataclasses.replace(f, data={}) for f in obs.findings),
    )
    text = "\n".join(vm.banner(obs, NOW, first_seen=NOW - 120).lines)
    assert "noticed" in text and "2 min ago" in text


def test_host_rows_mark_this_host_master_and_probe_states():
    rows = {r.name: r for r in vm.host_rows(fx.master_down())}
    assert rows["xcp-a"].is_master and rows["xcp-a"].state == "refused" and rows["xcp-a"].state_source == "probe"
    assert rows["xcp-b"].is_this_host and rows["xcp-b"].emergency == "YES"
    assert rows["xcp-c"].state == "answers"
    assert [r.name for r in vm.host_rows(fx.master_down())][0] == "xcp-a"  # master first
    live = {r.name: r for r in vm.host_rows(fx.healthy())}
    assert live["xcp-a"].state == "live" and live["xcp-a"].state_source == "xapi"
    assert live["xcp-a"].vm_count == 3 and live["xcp-a"].xapi_version == "25.6.0"


def test_management_from_xapi_when_live_else_host_files_with_age():
    live = vm.management(fx.healthy(), NOW)
    assert live.source.startswith("xapi") and dict(live.rows)["IP address"] == "127.0.0.12"
    files = vm.management(fx.master_down(), NOW)
    rows = dict(files.rows)
    assert files.source.startswith("host files") and "state.db" in files.source
    assert rows["IP address"] == "127.0.0.12" and rows["Netmask"].startswith("255.0.0.0")
    assert rows["Bridge"] == "xenbr0" and rows["Device"] == "eth0" and rows["DNS"] == "127.0.0.53"
    assert rows["MAC"] == "02:00:7f:00:00:0c" and rows["Carrier"].startswith("yes")


def test_management_without_address_says_none_and_keeps_configured_ip():
    mgmt = vm.management(fx.no_management_ip(), NOW)
    rows = dict(mgmt.rows)
    assert not mgmt.ok
    assert rows["IP address"].startswith("NONE")
    assert rows["Configured"].startswith("127.0.0.12")


def test_vm_rows_flag_vms_on_the_dead_host_only():
    rows = vm.vm_rows(fx.master_down())
    dead = {r.name for r in rows if r.on_dead_host}
    assert dead == {"a-vm00", "a-vm01", "a-vm02"}
    assert not any(r.on_dead_host for r in vm.vm_rows(fx.healthy()))
    assert all(not r.name.startswith("Control domain") for r in rows)


def test_pif_rows_mark_stale_pifs_from_findings():
    rows = vm.pif_rows(fx.master_down())
    stale = [(r.host, r.device) for r in rows if r.stale]
    assert stale == [("xcp-a", "eth2")]


def test_findings_sorted_most_severe_first():
    severities = [f.severity for f in vm.sorted_findings(fx.master_down())]
    assert severities == sorted(severities, reverse=True)


@pytest.mark.parametrize(
    "seconds,text", [(0, "just now"), (42, "42 s"), (420, "7 min"), (7300, "2 h 1 min"), (3 * 86400, "3 d")]
)
def test_format_age(seconds, text):
    assert vm.format_age(seconds) == text


def test_top_bar_markers():
    bar = vm.top_bar(fx.master_down(), NOW, read_only=True)
    assert (bar.pool, bar.host, bar.role, bar.marker, bar.read_only) == ("prod-pool", "xcp-b", "member", "local", True)
    assert vm.top_bar(fx.master_down(), NOW, demo=True).marker == "DEMO"


# --- action registry ---------------------------------------------------------------


def test_every_action_has_a_unique_id_a_scope_and_keys():
    ids = [a.id for a in act.ACTIONS]
    assert len(ids) == len(set(ids))
    for action in act.ACTIONS:
        assert action.scope in act.SCOPES and action.keys and action.description and action.help
        assert action.id.split(".")[0] == action.scope or action.scope == "app"


def test_required_keys_are_bound():
    keys = {k for a in act.ACTIONS for k in a.keys.split(",")}
    for key in (
        "question_mark",
        "f1",
        "slash",
        "q",
        "f5",
        "f8",
        "escape",
        "enter",
        "right",
        "left",
        "1",
        "2",
        "3",
        "4",
        "5",
        "r",
        "d",
    ):
        assert key in keys, key
    assert all("shift+tab" not in a.keys for a in act.ACTIONS)


def test_demo_only_actions_hidden_outside_demo_and_keymap_display():
    assert "app.demo" not in {a.id for a in act.actions_for("app")}
    assert "app.demo" in {a.id for a in act.actions_for("app", demo=True)}
    assert act.display_keys(act.action_by_id("app.quit"), {"app.quit": "q,ctrl+q"}) == "q, Ctrl+Q"
    assert act.display_keys(act.action_by_id("app.help"), {}) == "?, F1"


def test_key_displays_are_console_safe():
    for action in act.ACTIONS:
        assert console_safe(act.display_keys(action, {})), action.id


# --- config ------------------------------------------------------------------------


CONFIG = """
# comment
[keys]
"app.quit" = "q,ctrl+q"   # inline comment
"no.such" = "x"

[[profiles]]
name = "lab"
target = "ssh:root@127.0.0.12"
"""


def test_config_keys_profiles_and_problems(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    assert config.keys == {"app.quit": "q,ctrl+q"}
    assert config.profiles[0].name == "lab" and config.profiles[0].target == "ssh:root@127.0.0.12"
    assert any("no.such" in p for p in config.problems)
    assert load_config(tmp_path / "missing.toml").keys == {}
    path.write_text("[keys\n", encoding="utf-8")
    assert load_config(path).problems


def test_small_toml_fallback_matches_tomllib():
    tomllib = pytest.importorskip("tomllib")
    assert parse_small_toml(CONFIG) == tomllib.loads(CONFIG)
    with pytest.raises(ValueError):
        parse_small_toml("key = [1, 2]")


# --- console profile -----------------------------------------------------------------


def test_profile_detection_and_cp437():
    assert detect_profile(env={"TERM": "linux"}).basic
    assert detect_profile(basic_flag=True, env={"TERM": "xterm"}).reason == "--basic"
    assert not detect_profile(env={"TERM": "xterm-256color"}).basic
    assert "═" in CP437 and "│" in CP437 and "⏎" not in CP437 and "▁" not in CP437 and "⭘" not in CP437


# --- background calls and the command line ---------------------------------------------


def test_call_abandonable_returns_raises_and_abandons():
    import threading
    import time

    from xentui.ui.background import Abandoned, call_abandonable

    assert call_abandonable(lambda: 42, lambda: False) == 42
    with pytest.raises(ZeroDivisionError):
        call_abandonable(lambda: 1 / 0, lambda: False)
    release = threading.Event()
    started = time.monotonic()
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(Abandoned):
        call_abandonable(lambda: release.wait(30), stop.is_set)  # a call that would hang for 30 s
    assert time.monotonic() - started < 1.0
    release.set()


def test_ui_command_arguments_and_connect_overrides(tmp_path):
    import argparse

    from xentui.commands import ui as ui_command

    parser = argparse.ArgumentParser()
    ui_command.configure(parser)
    args = parser.parse_args(["--demo", "--read-only", "--basic", "--identity", str(tmp_path / "id")])
    assert args.demo == "master-down" and args.read_only and args.basic and args.target is None
    assert ui_command._connect_overrides(args)["identity"] == str(tmp_path / "id")
    args = parser.parse_args(["ssh://root@127.0.0.12", "--demo", "healthy"])
    assert ui_command.run(args) == 2  # TARGET and --demo together
    assert ui_command.run(parser.parse_args(["--demo", "no-such-scenario"])) == 2


def test_a_password_typed_into_the_target_is_never_shown():
    from xentui.ui.connecting import connect

    outcome = connect("ssh://root:hunter2@127.0.0.12", None)
    assert outcome.kind == "invalid" and "hunter2" not in outcome.message
    outcome = connect("root:hunter2@127.0.0.12", None)
    assert outcome.kind == "invalid" and "hunter2" not in outcome.message
