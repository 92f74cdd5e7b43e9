"""Each simulated host's state.db.generation, as xapi writes it (xen-api ocaml/).

- ocaml/database/backend_xml.ml `flush`: every flush writes state.db (do_flush_xml)
  and then state.db.generation holding the manifest's generation count
  (do_flush_gen, Parse_db_conf.generation_filename = path ^ ".generation").
- ocaml/xapi/pool_db_backup.ml `pool_db_backup_thread` / `fetch_database_backup`:
  a member's copy is written (Db_connections.flush) when the master's sync
  reaches it, one member per `pool_db_sync_interval`: the file's mtime is that time.
"""

from __future__ import annotations

import time
from pathlib import Path

from xentui.host.statedb import parse_state_db

STATE_DB = Path("var/lib/xcp/state.db")
GENERATION = Path("var/lib/xcp/state.db.generation")


def _files(sim, name):
    root = Path(sim.endpoints.host(name).root)
    return parse_state_db((root / STATE_DB).read_bytes()), root / GENERATION


def test_every_host_writes_the_generation_of_its_state_db(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    for name in ("xen2", "xen3"):
        db, generation = _files(sim, name)
        assert int(generation.read_text()) == db.generation
    # Each copy is as old as the sync that wrote it (the scenario: 15 min and 2 min ago).
    _, xen2 = _files(sim, "xen2")
    _, xen3 = _files(sim, "xen3")
    assert xen2.stat().st_mtime < xen3.stat().st_mtime < time.time() - 100


def test_a_sync_rewrites_only_the_member_it_reaches(start_sim):
    # time_scale 1: the periodic sync (every 300 s) does not fire while the test looks.
    sim = start_sim("healthy", time_scale=1.0)
    assert sim.flush_files(10.0)
    master = sim.proc("xen1")
    before = {name: _files(sim, name)[1].stat().st_mtime_ns for name in ("xen2", "xen3")}
    with sim.world.lock:
        master.db.set_field("pool", master.db.refs("pool")[0], "name_description", "changed")
        reached = master.sync_turn
        master.push_backups(next_in_turn=True)
    assert sim.flush_files(10.0)
    members = [ref for ref in master.db.refs("host") if ref != master.host_ref_in(master.db)]
    reached_name = master.db.get_field("host", members[reached % len(members)], "name_label")
    other = "xen3" if reached_name == "xen2" else "xen2"
    db, generation = _files(sim, reached_name)
    assert int(generation.read_text()) == db.generation == master.db.generation
    assert generation.stat().st_mtime_ns != before[reached_name]
    assert _files(sim, other)[1].stat().st_mtime_ns == before[other]
    assert int(_files(sim, other)[1].read_text()) < master.db.generation
