"""The steps for VDI_LOCKED: clear a dead host's disk locks, then start its VMs.

From the VDI_LOCKED findings (rules_failures.rule_vdi_locked) and the pool as
observed: for each host that is down and still named in a halted VM's disk
locks, one clear-vdi-locks step (behind its fence). The VMs whose every lock
such a step clears are handed to the existing start-vms step, behind the
same hosts' fence: their disks were attached on the dead host when it went
down, so they ran there.

A lock xentui cannot tie to a host of the pool that is down (a host no longer
in the pool, an `activating` key alone) has no host to fence: it gets a note
with the manual command, never a step, and its VM is not started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

from xentui.recovery.findings import Code, Finding
from xentui.recovery.plan import Step
from xentui.recovery.situation import Situation
from xentui.recovery.step_kind import StepKind
from xentui.xapi.model import SM_ACTIVATING, VDI, VM, Host


@dataclass(frozen=True)
class LockPlan:
    steps: Tuple[Step, ...] = ()
    vms: Tuple[VM, ...] = ()  # to start once the locks are gone
    fence: Tuple[str, ...] = ()  # hosts whose fence the start must hold too
    notes: Tuple[str, ...] = ()


def plan_lock_clearing(
    s: Situation, findings: Sequence[Finding], master: Host, kinds: Mapping[str, StepKind]
) -> LockPlan:
    vdis_by_uuid = {v.uuid: v for v in s.snap.vdis.values()}
    vms_by_uuid = {v.uuid: v for v in s.snap.vms.values()}
    per_holder: Dict[str, Dict[str, Tuple[VDI, List[VM]]]] = {}
    holders: Dict[str, Host] = {}
    startable: List[VM] = []
    notes: List[str] = []
    for f in findings:
        if f.code is not Code.VDI_LOCKED:
            continue
        vm = vms_by_uuid.get(f.data.get("vm_uuid", ""))
        if vm is None:
            continue
        blocked: List[str] = []
        mine: List[Tuple[Host, VDI]] = []
        for uuid in (u for u in f.data.get("vdi_uuids", "").split(",") if u):
            vdi = vdis_by_uuid.get(uuid)
            if vdi is None:
                continue
            dead = [h for h in (s.snap.hosts.get(r) for r in vdi.lock_holders()) if h is not None and s.is_down(h)]
            gone = [r for r in vdi.lock_holders() if r not in s.snap.hosts]
            if gone or (vdi.activating and not dead):
                blocked.append(_manual(vdi, gone))
            mine.extend((h, vdi) for h in dead)
        if blocked:
            notes.append(
                f"{vm.name_label}: a lock names no host of the pool that could be fenced, so xentui does not "
                "clear it and does not start the VM. Make sure no host uses the disk, then on the master: "
                + "; ".join(blocked)
            )
            mine = []
        for host, vdi in mine:
            holders[host.name_label] = host
            entry = per_holder.setdefault(host.name_label, {}).setdefault(vdi.uuid, (vdi, []))
            if vm not in entry[1]:
                entry[1].append(vm)
        if mine and vm.power_state == "Halted" and vm not in startable:
            startable.append(vm)
    steps = tuple(
        kinds["clear-vdi-locks"](holders[name], master, list(per_holder[name].values())) for name in sorted(holders)
    )
    return LockPlan(steps, tuple(startable), tuple(sorted(holders)), tuple(notes))


def _manual(vdi: VDI, gone: Sequence[str]) -> str:
    keys = [f"host_{r}" for r in gone] + ([SM_ACTIVATING] if vdi.activating else [])
    return "; ".join(f"xe vdi-param-remove uuid={vdi.uuid} param-name=sm-config param-key={k}" for k in keys)
