"""Back up the pool database after the recovery (what xe pool-dump-database does)."""

from __future__ import annotations

from xentui.recovery import audit as au
from xentui.recovery.plan import Confirm, Step
from xentui.recovery.preconditions import IsMaster
from xentui.recovery.step_context import StepContext, StepRunner, master_of
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import Host


def declare(master: Host) -> Step:
    return Step(
        id="backup-db",
        title="Back up the pool database",
        why="After a recovery the database is the only record of the pool's configuration.",
        changes="Writes a copy of the pool database to a file (nothing in the pool changes).",
        risk="none",
        risk_text="None.",
        xe=("xe pool-dump-database file-name=/root/pool-db-$(date +%F).xml",),
        calls=("HTTP GET /pool/xmldbdump (what xe pool-dump-database uses)",),
        preconditions=(IsMaster(master.name_label),),
        verify="The backup file exists and parses as a xapi database.",
        on_failure="Copy /var/lib/xcp/state.db from the master by hand.",
        confirm=Confirm.NONE,
        target_host=master.name_label,
        phase="later",
        params={"master": master.name_label},
    )


def action(ex: StepRunner, ctx: StepContext) -> None:
    from xentui.recovery.backup import backup_pool_database

    master = master_of(ctx)
    target_dir = au.default_state_dir() / "backups"
    result = backup_pool_database(ex.observer, target_dir, run_id=ex.run_id, on_master=(master == ctx.sit.this_name))
    ctx.notes.append(result.how)
    ctx.scratch["backup"] = result


def verify(ex: StepRunner, ctx: StepContext) -> str:
    # backup_pool_database parsed the file it wrote: that is the verification
    result = ctx.scratch["backup"]
    return f"{result.path} ({result.objects} objects, verified by parsing)"


STEP = StepKind("backup-db", declare=declare, action=action, verify=verify)
