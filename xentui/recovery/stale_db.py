"""Which member to promote when the master is gone: the one whose database copy is newest.

Each member's copy of the pool database is as old as the old master's last
sync to it: the master's pool_db_backup_thread sends it to one member at a
time, waiting `pool_db_sync_interval` (300 s) before each
(ocaml/xapi/pool_db_backup.ml), so with N members a copy can be up to N x 5
minutes old and the copies differ. `pool.emergency_transition_to_master`
makes the promoted member's copy the pool's database: what the others' copies
have and it lacks is lost. So, of the members that survive, promote the one
whose copy has the highest generation count (every database write bumps it;
xapi itself starts from the highest, ocaml/database/db_connections.ml choose).

`promotion_choice` decides, `rule_stale_db_choice` says it as the
STALE_DB_CHOICE finding, and `aim_promotion` gives the plan's promote step
the chosen host and words; promotion runs at the promoted host's own console
(preconditions.OnConsole).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

from xentui.host.db_copy import ADMIN_COMMAND, DbCopy
from xentui.host.facts import age_text
from xentui.recovery import peers as pv
from xentui.recovery.findings import Code, Finding, Severity
from xentui.recovery.plan import Step
from xentui.recovery.preconditions import OnConsole
from xentui.recovery.situation import Situation
from xentui.xapi.model import Host

SYNC_INTERVAL = 300  # seconds, xapi_globs.ml pool_db_sync_interval


@dataclass(frozen=True)
class PromotionChoice:
    """The member to promote and every surviving member's copy (newest first, unknown last)."""

    recommended: str
    this_host: str
    copies: Tuple[DbCopy, ...]
    at: float  # when the observation was made (ages are counted to it)

    @property
    def best(self) -> DbCopy:
        return next(c for c in self.copies if c.host_name == self.recommended)

    @property
    def unknown(self) -> Tuple[str, ...]:
        return tuple(c.host_name for c in self.copies if not c.known)

    def copy_of(self, name: str) -> Optional[DbCopy]:
        return next((c for c in self.copies if c.host_name == name), None)

    def behind(self, name: str) -> Optional[int]:
        """How many database writes `name`'s copy lacks against the recommended one."""
        mine, best = self.copy_of(name), self.best
        if mine is None or mine.generation is None or best.generation is None:
            return None
        return max(0, best.generation - mine.generation)


def describe_copy(choice: PromotionChoice, copy: DbCopy) -> str:
    """One line: "xen2: generation 117 (14 writes behind xen3), written 15 min old"."""
    if not copy.known:
        return f"{copy.host_name}: generation unknown ({copy.error}); at its console: {ADMIN_COMMAND}"
    age = f", {age_text(choice.at - copy.written_at)}" if copy.written_at is not None else ""
    behind = choice.behind(copy.host_name)
    lag = f" ({behind} writes behind {choice.recommended})" if behind else ""
    newest = " (newest)" if copy.host_name == choice.recommended else ""
    return f"{copy.host_name}: generation {copy.generation}{newest}{lag}{age}"


def _master_gone(s: Situation) -> Optional[Host]:
    """The master this host follows, when it is gone (what MASTER_UNREACHABLE says)."""
    master = s.believed_master
    if s.this_is_master or master is None or s.is_this(master):
        return None
    reach = s.state(master).reach
    if reach in pv.DOWN_REACHES or (reach == pv.NOT_ASKED and (s.emergency or s.pool_calls_hang)):
        return master
    return None


def promotion_choice(s: Situation) -> Optional[PromotionChoice]:
    """The member to promote, when the master is gone and two or more members
    survive; None otherwise. Among copies of equal generation this host wins
    (no console to change); a member whose copy is unknown is never chosen."""
    master = _master_gone(s)
    this = s.this_host
    if master is None or this is None:
        return None
    survivors = [h for h in s.snap.hosts.values() if h.ref != master.ref and not s.is_down(h)]
    if len(survivors) < 2:
        return None
    by_name: Dict[str, DbCopy] = {c.host_name: c for c in s.obs.db_copies}
    copies = [by_name.get(h.name_label) or DbCopy(h.name_label, error="not read") for h in survivors]
    known = [c for c in copies if c.generation is not None]
    if not known:
        best_name = this.name_label
    else:
        best_name = max(known, key=lambda c: (c.generation or 0, c.host_name == this.name_label)).host_name
    ordered = sorted(
        copies,
        key=lambda c: (c.generation is None, -(c.generation or 0), c.host_name != this.name_label, c.host_name),
    )
    return PromotionChoice(best_name, this.name_label, tuple(ordered), s.obs.at)


def rule_stale_db_choice(s: Situation) -> List[Finding]:
    choice = promotion_choice(s)
    if choice is None:
        return []
    rec, this = choice.recommended, choice.this_host
    best = choice.best
    here = rec == this
    if best.known:
        age = f", {age_text(choice.at - best.written_at)}" if best.written_at is not None else ""
        newest = "newest known" if choice.unknown else "newest"
        summary = f"Promote {rec}{' (this host)' if here else ''}: {newest} database copy (gen {best.generation}{age})"
    else:
        summary = f"Which member's database copy is newest is unknown; {this} is suggested"
    lost = choice.behind(this)
    if here:
        advice = f"{rec} is this console: the plan promotes it."
    else:
        advice = (
            f"This console is {this}: run xentui on {rec}'s console to promote it there. Promoting {this} "
            f"instead loses {lost if lost is not None else 'the'} database writes {rec} has and {this} lacks "
            "(e.g. VMs created or moved since)."
        )
    if choice.unknown:
        advice += (
            f" Not known here: {', '.join(choice.unknown)} (xentui reads only the copies it can reach); "
            f"on each, '{ADMIN_COMMAND.split('   #')[0]}' shows its generation: if one is higher, promote that one."
        )
    return [
        Finding(
            Code.STALE_DB_CHOICE,
            Severity.INFO if here and not choice.unknown else Severity.WARNING,
            summary,
            "The promoted member's copy of the pool database becomes the pool's database. Each copy is as "
            "old as the old master's last sync to it: the master sends its database to one member every "
            f"{SYNC_INTERVAL} s in turn (pool_db_backup.ml), so the copies differ. " + advice,
            host=rec,
            evidence=tuple(describe_copy(choice, c) + (f" [{c.source}]" if c.source else "") for c in choice.copies),
            data={
                "recommended": rec,
                "this_host": this,
                "generations": ",".join(
                    f"{c.host_name}={c.generation if c.generation is not None else '?'}" for c in choice.copies
                ),
                "unknown": ",".join(choice.unknown),
            },
        )
    ]


RULES = (rule_stale_db_choice,)


# --- the plan ---------------------------------------------------------------------


def aim_promotion(s: Situation, this: Host, wanted: str = "") -> Tuple[Host, str]:
    """(host to promote, plan note) for the plan builder: the member with the
    newest copy, or `wanted` (the operator's choice) when it is a surviving
    member, and a note naming every member's copy; (this, "") when there is
    no choice to make."""
    choice = promotion_choice(s)
    if choice is None:
        return this, ""
    name = wanted if choice.copy_of(wanted) is not None else choice.recommended
    target = s.snap.host_by_name(name) or this
    lines = "; ".join(describe_copy(choice, c) for c in choice.copies)
    note = f"Database copies of the surviving members: {lines}."
    if choice.recommended != this.name_label and name != this.name_label:
        note += (
            f" To promote {this.name_label} anyway (its copy is older), choose it at the promote step "
            f"(recover: --promote {this.name_label})."
        )
    return target, note


def explain_promotion(step: Step, s: Situation) -> Step:
    """The promote step with the choice in its words and options (the member
    with the newest copy, or this console's host, when they differ), and the
    console check when the member to promote is not this host."""
    choice = promotion_choice(s)
    name = step.params.get("host", step.target_host)
    if choice is None or choice.copy_of(name) is None:
        return step
    rec, best = choice.recommended, choice.best
    if name == rec and best.known:
        why = (
            f" Of the surviving members, {name} holds the newest copy of the pool database "
            f"(generation {best.generation}); see the note on each member's copy."
        )
    elif name == rec:
        why = f" No member's database generation could be read; {name} is this console."
    else:
        lost = choice.behind(name)
        count = f"{lost} " if lost is not None else ""
        why = (
            f" You chose {name} over {rec}, whose copy is newer: the {count}database writes {rec} has "
            f"and {name} lacks are lost (e.g. VMs created or moved since its last sync)."
        )
        step = replace(step, risk_text=f"{step.risk_text} {name}'s database copy lacks {count}writes {rec}'s has.")
    pre = step.preconditions
    if name != choice.this_host:
        pre = pre + (OnConsole(name),)
    options = (rec, choice.this_host) if rec != choice.this_host else ()
    return replace(step, why=step.why + why, preconditions=pre, choice=options)
