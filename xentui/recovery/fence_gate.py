"""The fence gate: one rule for every step that resets or starts a dead host's VMs.

declare-dead, power-state-reset and start-vms make xapi forget that VMs run
on a host, or start them elsewhere; clear-vdi-locks removes the disk locks a
host holds. If that host is not really off, a VM runs twice and its disks
are corrupted. So each of them runs only while the
host is attested as powered off by the operator (`fenced:HOST`) AND silent
right now (`silent:HOST`), on every path: a fresh run, a resumed run, the
wizard, a step built by hand.

The executor adds these checks from the step's kind and the live pool,
whatever the step's declaration lists, so a declaration that forgot them
(or one written before the rule) cannot open the gate.
"""

from __future__ import annotations

from typing import List, Tuple

from xentui.recovery.plan import Step
from xentui.recovery.preconditions import Fenced, Precondition, Silent
from xentui.recovery.situation import Situation

FENCE_GATED_KINDS = ("declare-dead", "power-state-reset", "start-vms", "clear-vdi-locks")


def gated_hosts(step: Step, sit: Situation) -> Tuple[str, ...]:
    """The hosts whose fence must hold before `step` runs."""
    if step.kind not in FENCE_GATED_KINDS:
        return ()
    names: List[str] = list(step.requires_fenced)
    if step.kind in ("declare-dead", "clear-vdi-locks"):  # the dead host / the holder of the disk locks
        names.append(step.params.get("host", ""))
    elif step.kind == "power-state-reset":
        names.append(step.params.get("host", ""))
        # The host the VM is resident on now, whatever the step says: that is
        # the one that must be off for the reset to be safe.
        uuid = step.params.get("vm_uuid", "")
        vm = next((v for v in sit.snap.vms.values() if v.uuid == uuid), None) if uuid else None
        host = sit.snap.hosts.get(vm.resident_on) if vm is not None else None
        if host is not None:
            names.append(host.name_label)
    return tuple(dict.fromkeys(n for n in names if n))


def gate(step: Step, sit: Situation) -> Tuple[Precondition, ...]:
    """The gate's preconditions: Fenced(HOST) and Silent(HOST) for each gated host."""
    out: List[Precondition] = []
    for name in gated_hosts(step, sit):
        host = sit.snap.host_by_name(name)
        out += [Fenced(name), Silent(name, host.address if host is not None else "?")]
    return tuple(out)


def gate_ids(step: Step, sit: Situation) -> Tuple[str, ...]:
    """The precondition ids of the gate ("fenced:HOST", "silent:HOST")."""
    return tuple(p.id for p in gate(step, sit))
