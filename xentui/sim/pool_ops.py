"""The pool-operation lock (xapi_pool_helpers.ml `with_pool_operation`).

`assert_operation_valid`, then the operation goes into pool.current_operations
for as long as it runs. A blocking operation in progress refuses every other
blocking one with its own "<OP>_IN_PROGRESS" error (blocking_ops_table); with
nothing in progress, ha_enable is refused with HA_IS_ENABLED when HA is on and
ha_disable with HA_NOT_ENABLED when it is off. Waiting operations (certificate
exchange, eject, ...) are not modelled.
"""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from typing import TYPE_CHECKING, Iterator

from xentui.sim.errors import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

BLOCKING = {
    "ha_enable": "HA_ENABLE_IN_PROGRESS",
    "ha_disable": "HA_DISABLE_IN_PROGRESS",
    "cluster_create": "CLUSTER_CREATE_IN_PROGRESS",
    "designate_new_master": "DESIGNATE_NEW_MASTER_IN_PROGRESS",
    "tls_verification_enable": "TLS_VERIFICATION_ENABLE_IN_PROGRESS",
    "configure_repositories": "CONFIGURE_REPOSITORIES_IN_PROGRESS",
    "sync_updates": "SYNC_UPDATES_IN_PROGRESS",
    "sync_bundle": "SYNC_BUNDLE_IN_PROGRESS",
    "apply_updates": "APPLY_UPDATES_IN_PROGRESS",
}


def assert_operation_valid(db: "Database", pool: str, op: str) -> None:
    current = db.get_field("pool", pool, "current_operations")
    for running in current.values():
        if running in BLOCKING:
            raise ApiError(BLOCKING[running])
    ha = bool(db.get_field("pool", pool, "ha_enabled"))
    if op == "ha_enable" and ha:
        raise ApiError("HA_IS_ENABLED")
    if op == "ha_disable" and not ha:
        raise ApiError("HA_NOT_ENABLED")


@contextlib.contextmanager
def pool_operation(db: "Database", pool: str, op: str) -> Iterator[str]:
    """Hold `op` in pool.current_operations while the body runs (removed whatever happens)."""
    assert_operation_valid(db, pool, op)
    task = "OpaqueRef:" + str(uuidlib.uuid4())
    current = db.get_field("pool", pool, "current_operations")
    current[task] = op
    db.set_field("pool", pool, "current_operations", current)
    try:
        yield task
    finally:
        if db.exists("pool", pool):
            current = db.get_field("pool", pool, "current_operations")
            current.pop(task, None)
            db.set_field("pool", pool, "current_operations", current)
