"""Hand-written xapi calls: logins, pool roles, recovery and repair.

Each module exposes `METHODS`, a list of `Method`s; `custom_methods()` gathers
them. They override generated accessors of the same name."""

from __future__ import annotations

from typing import List

from xentui.sim.methods import Method


def custom_methods() -> List[Method]:
    from xentui.sim.handlers import (
        certificates,
        event,
        host,
        host_internal,
        pbd,
        pif,
        pool,
        pool_join,
        session,
        task,
        vm,
    )

    methods: List[Method] = []
    # certificates after host_internal: its emergency_reset_server_certificate wins
    for module in (session, pool, pool_join, host, host_internal, certificates, vm, pif, pbd, event, task):
        methods.extend(module.METHODS)
    return methods
