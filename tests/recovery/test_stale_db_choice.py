"""stale-db: with the master gone and two members left, recommend promoting the
member whose database copy is newest, say how stale each is, and aim the plan's
promote step at it (ocaml/xapi/pool_db_backup.ml: one member synced every 300 s
in turn; ocaml/database/db_connections.ml choose: the highest generation wins)."""

from __future__ import annotations

import re
from dataclasses import replace

from xentui.host.db_copy import GENERATION_PATH, DbCopy
from xentui.recovery.findings import Code, Severity
from xentui.recovery.observer import Observer
from xentui.recovery.plan_builder import build_plan
from xentui.recovery.preconditions import CheckContext, OnConsole
from xentui.recovery.rules import run_rules
from xentui.recovery.situation import Situation
from xentui.xapi.targets import parse_target


def minutes_old(text: str, after: str) -> int:
    """The age shown right after `after` ("... 15 min old"). The copies keep
    ageing on the real clock while a slow machine runs the test, so the tests
    accept the scenario's age plus a few minutes, not one exact value."""
    match = re.search(re.escape(after) + r" (\d+) min old", text)
    assert match is not None, (after, text)
    return int(match.group(1))


def observe(sim, host: str):
    observer = Observer(parse_target(f"sim:{sim.state_dir}/{host}"), call_timeout=2.0, probe_timeout=0.5)
    try:
        return observer.observe()
    finally:
        observer.close()


def finding(obs):
    found = [f for f in obs.findings if f.code is Code.STALE_DB_CHOICE]
    assert len(found) == 1, [f.code for f in obs.findings]
    return found[0]


def test_from_the_stale_member_the_plan_promotes_the_fresh_one(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen2")
    copies = {c.host_name: c for c in obs.db_copies}
    assert copies["xen3"].generation > copies["xen2"].generation
    f = finding(obs)
    assert f.severity is Severity.WARNING and f.host == "xen3"
    assert f.summary.startswith("Promote xen3: newest database copy (gen %d" % copies["xen3"].generation)
    assert "run xentui on xen3's console" in f.explanation and "300 s" in f.explanation
    behind = copies["xen3"].generation - copies["xen2"].generation
    assert f"Promoting xen2 instead loses {behind} database writes" in f.explanation
    # How stale each is: generation, writes behind, age; and where it was read.
    newest = next(e for e in f.evidence if e.startswith(f"xen3: generation {copies['xen3'].generation} (newest),"))
    assert 2 <= minutes_old(newest, "(newest),") <= 4, newest
    older = next(e for e in f.evidence if e.startswith(f"xen2: generation {copies['xen2'].generation} ({behind} "))
    assert 15 <= minutes_old(older, "writes behind xen3),") <= 17, older
    assert all(GENERATION_PATH in e for e in f.evidence)
    assert f.data["recommended"] == "xen3" and f.data["unknown"] == ""

    plan = build_plan(obs)
    ids = [s.id for s in plan.steps]
    assert "promote:xen3" in ids and "promote:xen2" not in ids
    promote = next(s for s in plan.steps if s.id == "promote:xen3")
    assert "xen3 holds the newest copy of the pool database" in promote.why
    assert any(isinstance(p, OnConsole) and p.host == "xen3" for p in promote.preconditions)
    assert promote.choice == ("xen3", "xen2") and promote.target_host == "xen3"  # the wizard asks, xen3 suggested
    assert any("Database copies of the surviving members: xen3: generation" in n for n in plan.notes)
    # Run from xen2, the live check refuses and says where to go.
    check = OnConsole("xen3").check(CheckContext(Situation(obs)))
    assert not check.ok and "run xentui on xen3's console" in check.detail


def test_the_operator_may_promote_the_stale_member_knowing_what_is_lost(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen2")
    copies = {c.host_name: c for c in obs.db_copies}
    behind = copies["xen3"].generation - copies["xen2"].generation
    plan = build_plan(obs)
    assert any("choose it at the promote step (recover: --promote xen2)" in n for n in plan.notes)
    chosen = build_plan(obs, promote="xen2")
    promote = next(s for s in chosen.steps if s.kind == "promote")
    assert promote.id == "promote:xen2" and promote.choice == ("xen3", "xen2")
    assert f"You chose xen2 over xen3, whose copy is newer: the {behind} database writes" in promote.why
    assert not any(isinstance(p, OnConsole) for p in promote.preconditions)
    assert any(s.id == "reset-master:xen3" for s in chosen.steps)
    # A name that is no surviving member changes nothing.
    assert next(s for s in build_plan(obs, promote="xen1").steps if s.kind == "promote").id == "promote:xen3"


def test_on_the_fresh_member_it_promotes_itself(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen3")
    f = finding(obs)
    assert f.severity is Severity.INFO and f.summary.startswith("Promote xen3 (this host)")
    plan = build_plan(obs)
    promote = next(s for s in plan.steps if s.kind == "promote")
    assert promote.id == "promote:xen3"
    assert not any(isinstance(p, OnConsole) for p in promote.preconditions)
    assert promote.choice == ()  # nothing to decide: this console holds the newest copy
    assert OnConsole("xen3").check(CheckContext(Situation(obs))).ok
    assert any(s.id == "reset-master:xen2" for s in plan.steps)


def test_unknown_copies_are_named_with_how_to_find_them(start_sim):
    """A real pool: xentui cannot read another member's files. The copy is
    "unknown", the finding says what to type at that member's console, and
    the plan keeps this host (a member whose copy is unknown is never chosen)."""
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen2")
    mine = next(c for c in obs.db_copies if c.host_name == "xen2")
    blind = replace(obs, db_copies=(mine, DbCopy("xen3", error="xentui reaches only this host's files")), findings=())
    blind = replace(blind, findings=run_rules(blind))
    f = finding(blind)
    assert f.host == "xen2" and f.severity is Severity.WARNING
    assert "newest known" in f.summary and f.data["unknown"] == "xen3"
    assert f"cat {GENERATION_PATH}" in f.explanation
    assert any(e.startswith("xen3: generation unknown") for e in f.evidence)
    promote = next(s for s in build_plan(blind).steps if s.kind == "promote")
    assert promote.id == "promote:xen2"


def test_equal_copies_keep_this_host_and_one_survivor_needs_no_choice(start_sim):
    sim = start_sim("stale-db")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen2")
    same = tuple(replace(c, generation=500) for c in obs.db_copies)
    tie = replace(obs, db_copies=same, findings=())
    f = finding(replace(tie, findings=run_rules(tie)))
    assert f.host == "xen2" and f.severity is Severity.INFO

    master_down = start_sim("master-down")  # one survivor: nothing to choose
    assert master_down.flush_files(10.0)
    alone = observe(master_down, "xen2")
    assert not [x for x in alone.findings if x.code is Code.STALE_DB_CHOICE]


def test_a_live_pool_reads_no_copies(start_sim):
    sim = start_sim("healthy")
    assert sim.flush_files(10.0)
    obs = observe(sim, "xen1")
    assert obs.snapshot_source.startswith("xapi") and obs.db_copies == ()
