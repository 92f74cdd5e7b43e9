"""Reading how new a host's database copy is (xentui.host.db_copy), from the
state.db files the simulator writes for the stale-db scenario, and from a copy
that lacks the generation file (after an upgrade xapi keeps only state.db)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from xentui.host.access import LocalAccess, SimulatedAccess
from xentui.host.db_copy import ADMIN_COMMAND, GENERATION_PATH, manifest_generation, read_db_copy
from xentui.host.statedb import STATE_DB_PATH, parse_state_db


def _host_root(sim, name: str) -> Path:
    return Path(sim.endpoints.host(name).root)


def test_generations_and_ages_of_the_stale_db_members(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    copies = {name: read_db_copy(SimulatedAccess(_host_root(sim, name)), name) for name in ("xen2", "xen3")}
    for name, copy in copies.items():
        assert copy.known and not copy.error, copy
        # The same count as the manifest of the state.db next to it (xapi writes both per flush).
        db = parse_state_db((_host_root(sim, name) / STATE_DB_PATH.lstrip("/")).read_bytes())
        assert copy.generation == db.generation
        assert copy.source.endswith(GENERATION_PATH)
    # xen3 got the last sync (2 min ago, with new01); xen2's copy is from 15 min ago.
    assert copies["xen3"].generation > copies["xen2"].generation
    now = time.time()
    assert 120 <= now - copies["xen3"].written_at < 900
    assert 900 <= now - copies["xen2"].written_at < 1800


def test_a_copy_without_its_generation_file_is_read_from_the_manifest(start_sim, tmp_path):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    root = tmp_path / "dom0"
    state_db = root / STATE_DB_PATH.lstrip("/")
    state_db.parent.mkdir(parents=True)
    shutil.copy(_host_root(sim, "xen3") / STATE_DB_PATH.lstrip("/"), state_db)
    copy = read_db_copy(LocalAccess(root), "xen3")
    assert copy.generation == parse_state_db(state_db.read_bytes()).generation
    assert copy.source.endswith("(manifest)")
    assert copy.written_at == state_db.stat().st_mtime

    # A generation file that is not a number: the manifest still answers.
    (root / GENERATION_PATH.lstrip("/")).write_text("garbage\n")
    assert read_db_copy(LocalAccess(root), "xen3").generation == copy.generation


def test_an_unreadable_copy_is_unknown_with_the_reason(tmp_path):
    missing = read_db_copy(LocalAccess(tmp_path), "xen4")
    assert not missing.known and missing.generation is None
    assert "state.db" in missing.error
    path = tmp_path / STATE_DB_PATH.lstrip("/")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x1f\x8b\x08 compressed, not XML")
    garbled = read_db_copy(LocalAccess(tmp_path), "xen4")
    assert not garbled.known and "no generation_count" in garbled.error
    # What the admin types at that member's console instead.
    assert GENERATION_PATH in ADMIN_COMMAND and "head -c 300" in ADMIN_COMMAND


def test_manifest_generation_reads_xapis_manifest():
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?><database><manifest><pair key="schema_major_vsn" value="5"/>'
        b'<pair key="schema_minor_vsn" value="786"/><pair key="generation_count" value="170523"/></manifest>'
    )
    assert manifest_generation(head) == 170523
    assert manifest_generation(b"<database><table name='VM'/></database>") is None


def test_age_text_picks_the_unit_and_never_goes_negative():
    from xentui.host.facts import age_text

    assert age_text(-5) == "0 s old"  # a clock step backwards is not "-5 s old"
    assert age_text(89) == "89 s old"
    assert age_text(90) == "2 min old"
    assert age_text(5399) == "90 min old"
    assert age_text(5400) == "1.5 h old"
