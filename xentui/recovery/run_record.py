"""What one recovery run's audit records say, for resuming it correctly.

A run that was killed (or stopped by a full disk) leaves the pool half
changed. The pool's state alone cannot tell "VMs halted because we reset
them and died before starting them" from "VMs an admin shut down": after
`host.declare_dead` both are Halted and resident nowhere. So the run writes
its baseline workload (which VMs ran where at the first observation) before
it changes anything, and notes what it deliberately leaves down; a resumed
run (CLI or wizard) reads them back here and plans from the pool's state
plus this record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from xentui.recovery import audit as au

if TYPE_CHECKING:  # pragma: no cover
    from xentui.recovery.observation import Observation

BASELINE = "baseline"  # audit record kind: the workload at the run's first observation
LEFT_DOWN = "left-down"  # NOTE outcome: VMs a step deliberately did not start (inputs["vms"])
POWER_STATE_RESET = "power-state-reset"  # NOTE outcome: VMs whose power state was reset

RUNNING = ("Running", "Paused")


@dataclass(frozen=True)
class BaselineVM:
    uuid: str
    name: str
    host: str  # name_label of the host it was resident on
    power_state: str

    def to_json(self) -> Dict[str, Any]:
        return {"uuid": self.uuid, "name": self.name, "host": self.host, "power_state": self.power_state}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "BaselineVM":
        return cls(
            str(data.get("uuid", "")),
            str(data.get("name", "")),
            str(data.get("host", "")),
            str(data.get("power_state", "")),
        )


@dataclass(frozen=True)
class RunRecord:
    """The parts of one run's audit records a resumed run plans from."""

    run_id: str = ""
    has_baseline: bool = False
    baseline: Tuple[BaselineVM, ...] = ()  # guest VMs Running/Paused at the first observation
    baseline_down: Tuple[str, ...] = ()  # hosts that did not answer at the first observation
    baseline_source: str = ""  # "state.db (as of ...)", "xapi event.from"
    reset_vm_uuids: Tuple[str, ...] = ()  # power state reset by this run
    left_down: Dict[str, str] = field(default_factory=dict)  # uuid -> why it was not started
    progress: Dict[str, str] = field(default_factory=dict)  # step id -> last outcome
    read_only: bool = False

    def workload_on(self, hosts: Iterable[str]) -> Tuple[BaselineVM, ...]:
        names = set(hosts)
        return tuple(v for v in self.baseline if v.host in names)

    @property
    def done_ids(self) -> Tuple[str, ...]:
        return tuple(k for k, v in self.progress.items() if v in ("done", "skipped"))


def from_records(records: Sequence[au.AuditRecord], run_id: str) -> RunRecord:
    """The record of `run_id` ("" gives an empty record)."""
    if not run_id:
        return RunRecord()
    mine = [r for r in records if r.run_id == run_id]
    baseline: Tuple[BaselineVM, ...] = ()
    down: Tuple[str, ...] = ()
    source = ""
    has_baseline = False
    resets: List[str] = []
    left: Dict[str, str] = {}
    read_only = False
    for rec in mine:
        if rec.kind == BASELINE and not has_baseline:  # the first one is the incident's
            has_baseline = True
            baseline = tuple(BaselineVM.from_json(v) for v in rec.inputs.get("vms") or () if isinstance(v, dict))
            down = tuple(str(h) for h in rec.inputs.get("down_hosts") or ())
            source = str(rec.inputs.get("source", ""))
        elif rec.kind == au.NOTE and rec.inputs.get("reset_vm_uuids"):
            resets.extend(u for u in rec.inputs["reset_vm_uuids"] if u not in resets)
        elif rec.kind == au.NOTE and rec.outcome == LEFT_DOWN:
            for v in rec.inputs.get("vms") or ():
                if isinstance(v, dict) and v.get("uuid"):
                    left[str(v["uuid"])] = str(v.get("reason", ""))
        elif rec.kind == au.RUN_START and rec.inputs.get("read_only"):
            read_only = True
    return RunRecord(
        run_id=run_id,
        has_baseline=has_baseline,
        baseline=baseline,
        baseline_down=down,
        baseline_source=source,
        reset_vm_uuids=tuple(resets),
        left_down=left,
        progress=au.progress_from_audit(mine),
        read_only=read_only,
    )


def baseline_inputs(observation: "Observation") -> Optional[Dict[str, Any]]:
    """The baseline record's inputs for an observation (None without a pool
    database: nothing can be said about the workload, so nothing is written
    and the next observation that has one gives the baseline)."""
    from xentui.recovery.situation import Situation

    if observation.snapshot is None:
        return None
    s = Situation(observation)
    vms = []
    for v in s.snap.guest_vms():
        if v.power_state not in RUNNING:
            continue
        host = s.snap.hosts.get(v.resident_on)
        vms.append(
            BaselineVM(v.uuid, v.name_label, host.name_label if host is not None else "", v.power_state).to_json()
        )
    return {"vms": vms, "down_hosts": [h.name_label for h in s.down_hosts()], "source": observation.snapshot_source}


def record_baseline(
    audit: au.AuditLog, run_id: str, observation: "Observation", records: Sequence[au.AuditRecord]
) -> bool:
    """Write the run's baseline unless it has one. True if one exists after."""
    if from_records(records, run_id).has_baseline:
        return True
    inputs = baseline_inputs(observation)
    if inputs is None:
        return False
    names = sorted({f"{v['name']} on {v['host']}" for v in inputs["vms"] if v["host"] in inputs["down_hosts"]})
    audit.record(
        run_id,
        BASELINE,
        host=observation.this_host_name,
        inputs=inputs,
        outcome="recorded",
        detail="workload at the first observation"
        + (": on hosts that do not answer: " + ", ".join(names) if names else ""),
    )
    return True


# Steps re-run on resume when the re-built plan still lists them, even if
# recorded as done: they only check or copy (cheap, idempotent), or the plan
# lists them only while their effect is missing (a start-vms that started
# some VMs and died keeps the rest to do).
RERUN_WHEN_PLANNED = ("plug-pbds", "check-default-sr", "backup-db", "start-vms", "declare-dead", "power-state-reset")
