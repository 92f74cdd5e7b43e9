"""Built for size: a look at a live pool parses only state.db's host table;
the whole pool is parsed from state.db only when xapi cannot list it, and a
re-parse is skipped while the file is unchanged."""

from __future__ import annotations

from xentui.host.gather import PartialTables, StateDbCache
from xentui.host.statedb import parse_state_db
from xentui.recovery.observer import Observer
from xentui.xapi.targets import parse_target


def _state_db(sim, host):
    return (sim.state_dir / host / "var" / "lib" / "xcp" / "state.db").read_bytes()


def test_hosts_only_cache_parses_the_host_table_alone(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    data = _state_db(sim, "xen1")
    tables = StateDbCache(hosts_only=True).parse(data)
    full = parse_state_db(data).tables
    assert isinstance(tables, PartialTables) and set(tables) == {"host"}
    assert {r: (h["uuid"], h["name_label"], h["address"]) for r, h in tables["host"].items()} == {
        r: (h["uuid"], h["name_label"], h["address"]) for r, h in full["host"].items()
    }


def test_cache_reuses_the_parse_while_the_file_is_unchanged(start_sim):
    sim = start_sim("healthy")
    sim.flush_files(10)
    data = _state_db(sim, "xen1")
    cache = StateDbCache()
    first = cache.parse(data)
    assert cache.parse(bytes(data)) is first
    assert cache.parse(data + b" ") is not first


def test_live_look_keeps_only_hosts_and_fallback_parses_the_whole_pool(start_sim):
    live = start_sim("healthy")
    live.flush_files(10)
    with Observer(parse_target(f"sim:{live.state_dir}/xen1"), call_timeout=2.0, probe_timeout=0.3) as observer:
        obs = observer.observe()
    assert obs.snapshot_source.startswith("xapi")
    assert isinstance(obs.ground_truth.state_db.value, PartialTables)

    down = start_sim("master-down")
    down.flush_files(10)
    with Observer(parse_target(f"sim:{down.state_dir}/xen2"), call_timeout=1.0, probe_timeout=0.3) as observer:
        obs = observer.observe()
    assert obs.snapshot_source.startswith("state.db")
    assert not isinstance(obs.ground_truth.state_db.value, PartialTables)
    assert len(obs.snapshot.guest_vms()) >= 3 and len(obs.snapshot.hosts) == 2
