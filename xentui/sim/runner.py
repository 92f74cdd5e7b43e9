"""Simulator: a whole pool served from one process (see sim-contract.md).

with Simulator.start("master-down", tmp_path, time_scale=0.01) as sim:
    sim.endpoints.hosts[1].socket   # the survivor's unix socket
    sim.faults.power_on("xen1")
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

from xentui.sim import scenario_faults
from xentui.sim import scenarios as scenario_data
from xentui.sim.clock import SimClock, Timings
from xentui.sim.faults import Faults
from xentui.sim.handlers import custom_methods
from xentui.sim.host_files import HostFiles, clone_with_origin
from xentui.sim.methods import MethodTable, generated_methods
from xentui.sim.world import Machine, Nic, World
from xentui.sim.xapi_host import XapiHost

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

ENDPOINTS_FILE = "endpoints.json"


@dataclass
class HostEndpoint:
    name: str
    uuid: str
    address: str
    port: int
    socket: str
    root: str


@dataclass
class Endpoints:
    scenario: str
    console: str
    root_password: str
    hosts: List[HostEndpoint] = field(default_factory=list)

    def host(self, name: str) -> HostEndpoint:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Endpoints":
        return cls(
            scenario=data["scenario"],
            console=data["console"],
            root_password=data["root_password"],
            hosts=[HostEndpoint(**h) for h in data["hosts"]],
        )

    @classmethod
    def load(cls, state_dir: Path) -> "Endpoints":
        return cls.from_dict(json.loads((Path(state_dir) / ENDPOINTS_FILE).read_text(encoding="utf-8")))


def _write_private(path: Path, text: str) -> None:
    """endpoints.json holds the pool's root password: 0600 whatever the
    umask, replaced atomically (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


def _host_endpoints(
    spec: scenario_data.Scenario, world: World[XapiHost], machines: Dict[str, Machine]
) -> List[HostEndpoint]:
    """Where each host's xapi listens (a port bound at start may differ from the one asked for)."""
    return [
        HostEndpoint(
            name=h.name,
            uuid=h.uuid,
            address=h.address,
            port=world.procs[h.name].port,
            socket=str(world.procs[h.name].socket_path),
            root=str(machines[h.name].root),
        )
        for h in spec.hosts
    ]


class Simulator:
    def __init__(self, world: World[XapiHost], scenario: scenario_data.Scenario, endpoints: Endpoints) -> None:
        self.world = world
        self.clock = world.clock
        self.faults = Faults(world)
        self.scenario = scenario
        self.endpoints = endpoints
        self.state_dir = world.state_dir
        self._stopped = False

    # --- construction ----------------------------------------------------------

    @classmethod
    def start(
        cls,
        scenario: str,
        state_dir: Path,
        port: int = 0,
        time_scale: float = 1.0,
        seed: int = 0,
        timings: Optional[Timings] = None,
    ) -> "Simulator":
        spec = scenario_data.load(scenario, seed)
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        clock = SimClock(time_scale)
        world: World[XapiHost] = World(
            clock,
            timings or Timings(),
            state_dir,
            root_password=spec.root_password,
            pool_secret="pool-secret-" + spec.name,
            seed=seed,
        )
        table = MethodTable()
        for method in generated_methods():
            table.register(method)
        for method in custom_methods():
            table.register(method)
        world.methods = table
        files = HostFiles()
        world.on_stop.append(files.stop)
        world.files = files
        now = clock.now()
        db = scenario_data.build_database(spec, now, seed)
        db.now = clock.now
        host_refs = scenario_data.host_refs_of(db)
        # Physical truth: the Running VMs' domains really run where the DB says.
        machines: Dict[str, Machine] = {}
        for host in spec.hosts:
            nics = [Nic("eth%d" % i, mac) for i, mac in enumerate(host.macs)]
            root = state_dir / host.name
            dom0 = db.get_field("host", host_refs[host.name], "control_domain")
            machines[host.name] = Machine(
                name=host.name,
                uuid=host.uuid,
                address=host.address,
                root=root,
                nics=nics,
                original_nics=list(nics),
                control_domain_uuid=db.get_field("VM", dom0, "uuid"),
            )
            world.machines[host.name] = machines[host.name]
        by_ref = {ref: name for name, ref in host_refs.items()}
        for vm, record in db.records("VM").items():
            if record["is_control_domain"] or record["power_state"] not in ("Running", "Paused"):
                continue
            resident = by_ref.get(record["resident_on"])
            if resident is not None:
                db.set_field("VM", vm, "domid", machines[resident].start_domain(record["uuid"]))
        # Every member holds the last backup the master pushed.
        sync_age = float(spec.data.get("last_sync_age", 0))
        backup = clone_with_origin(db)
        ha = bool(spec.data.get("ha"))
        master_address = machines[spec.master].address
        for host in spec.hosts:
            is_master = host.name == spec.master
            host_port = port or _free_port(host.address)
            proc = XapiHost(
                world,
                machines[host.name],
                role="master" if is_master else "slave",
                master_address="" if is_master else master_address,
                local_db=db if is_master else backup,
                port=host_port,
                ha_armed=ha,
            )
            proc.backup_time = now - sync_age
            proc.local_db_is_live = is_master
            proc.files_hook = files.write
            proc.db_flush_hook = files.queue_db
            world.procs[host.name] = proc
        # Changes the master made after its last push: missing from every backup.
        srs = scenario_data.srs_of(db)
        networks = db.refs("network")
        for extra in spec.data.get("after_sync", []):
            scenario_data.create_vm(
                db,
                spec,
                seed,
                {"name": extra["vm"], "host": extra.get("host"), "sr": extra.get("sr")},
                host_refs,
                srs,
                networks,
            )
            vm = db.by_name_label("VM", extra["vm"])[0]
            if extra.get("host"):
                db.set_field("VM", vm, "domid", machines[extra["host"]].start_domain(db.get_field("VM", vm, "uuid")))
        endpoints = Endpoints(
            scenario=spec.name,
            console=spec.console,
            root_password=spec.root_password,
            hosts=_host_endpoints(spec, world, machines),
        )
        sim = cls(world, spec, endpoints)
        try:
            with world.lock:
                scenario_faults.prepare_pool(world, spec.data)
                world.scheduler.start()
                world.procs[spec.master].start()
                for host in spec.hosts:
                    world.procs[host.name].start()
                for step in spec.steps:
                    sim.apply_step(step)
                # Preparation gives resulting states: members that said hello have
                # finished their start-up (consider_enabling_host) too.
                for host in spec.hosts:
                    proc = world.procs[host.name]
                    if proc.up and proc.role == "slave" and not proc.emergency:
                        proc.consider_enabling_host()
            sim.endpoints.hosts = _host_endpoints(spec, world, machines)
            # Every host's files must exist before anyone is told the pool is up:
            # endpoints.json is the ready signal for `sim serve` users, and tests and
            # the demo read pool.conf and state.db right after start().
            sim.flush_files()
            _write_private(state_dir / ENDPOINTS_FILE, sim.endpoints.to_json())
        except BaseException:
            sim.stop()
            raise
        return sim

    def apply_step(self, step: List[Any]) -> None:
        """Scenario preparation: a fault or an admin action, applied as its resulting state."""
        action, args = str(step[0]), [str(a) for a in step[1:]]
        world = self.world
        if action == "transition_to_master":
            proc = world.procs[args[0]]
            proc.just_became_master = not proc.is_master
            proc.set_role("master")
            proc.instant_hello = True
            proc.restart(gap=0, reason="emergency_transition_to_master")
        elif action == "reset_master":
            proc = world.procs[args[0]]
            proc.set_role("slave", world.machines[args[1]].address)
            proc.instant_hello = True
            proc.restart(gap=0, reason="emergency_reset_master")
        elif action == "recover_slaves":
            proc = world.procs[args[0]]
            db = cast("Database", proc.db)  # a master's: recover_slaves runs on the master
            me = proc.host_ref_in(db)
            for ref in db.refs("host"):
                if ref == me:
                    continue
                reach = world.reach(proc.name, db.get_field("host", ref, "address"))
                if reach.ok and reach.target is not None and not reach.target.ha_armed:  # (ok: a target)
                    if not (reach.target.role == "slave" and reach.target.master_address == proc.machine.address):
                        reach.target.set_role("slave", proc.machine.address)
                        reach.target.instant_hello = True
                        reach.target.restart(gap=0, reason="recover_slaves")
        elif action in ("power_on", "restart_xapi"):
            getattr(self.faults, action)(*args, immediate=True)
        elif hasattr(self.faults, action) and not action.startswith("_"):
            getattr(self.faults, action)(*args)
        elif action in scenario_faults.STEPS:
            scenario_faults.STEPS[action](self, *args)
        else:
            raise scenario_data.ScenarioError(f"unknown scenario step {action!r}")

    # --- use -------------------------------------------------------------------

    def flush_files(self, timeout: float = 30.0) -> bool:
        """Wait until every host's state.db reflects the current state."""
        with self.world.lock:
            pass  # let a timer that is changing the world finish queueing its writes
        return self.world.files.flush(timeout) if self.world.files is not None else True

    def proc(self, host: str) -> XapiHost:
        return self.world.procs[host]

    def status(self) -> List[Dict[str, Any]]:
        out = []
        with self.world.lock:
            for name, proc in self.world.procs.items():
                machine = proc.machine
                out.append(
                    {
                        "name": name,
                        "address": machine.address,
                        "powered": machine.powered,
                        "hung": machine.hung,
                        "has_ip": machine.has_ip,
                        "xapi_up": proc.up,
                        # pool.conf (what the host will run as after its next start) ...
                        "role": proc.conf_role,
                        "master_address": proc.conf_master_address,
                        # ... and what the running xapi uses (Pool_role's cached role)
                        "running_role": proc.role,
                        "running_master_address": proc.master_address,
                        "emergency": proc.emergency,
                        "emergency_error": proc.emergency_error.details if proc.emergency else [],
                        "ha_armed": proc.ha_armed,
                        "domains": sorted(machine.domains),
                    }
                )
        return out

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        world = self.world
        with world.lock:
            world.stopped = True
            world.notify()
        world.scheduler.stop()
        for callback in world.on_stop:
            callback()
        for proc in list(world.procs.values()):
            with world.lock:
                proc.up = False
                proc.incarnation += 1
            proc.close_listeners()
            with world.lock:
                proc._write_pid(False)
                if proc.db is not None:
                    proc.db.close()
        with world.lock:
            world.notify()

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
