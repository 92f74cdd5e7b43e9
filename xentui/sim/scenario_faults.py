"""Scenario steps for the failures of issue 13, applied as their resulting state.

Each step is what an admin or an incident left behind: a pool bundle emptied
by an upgrade, an expired certificate, a member whose HA flag was disarmed
locally, a member updated before its coordinator, VDI attach keys left by a
crashed host, a pending mandatory guidance, members holding database copies of
different ages. `STEPS` maps the step name used in the scenario JSON to its
function (runner.Simulator.apply_step looks here after its own steps).

`prepare_pool` runs before any xapi starts: every host trusts every host's
internal certificate (a pool that was healthy), and the scenario's
`tls_verification` ("on"/"off", default: the simulator's usual "on" without
touching the database) sets the local flag and the database fields.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Protocol

from xentui.sim import scenarios as scenario_data
from xentui.sim import sm_locks, tls_state
from xentui.sim.dispatch import CallContext
from xentui.sim.handlers.vm import reset_power_state
from xentui.sim.host_files import clone_with_origin

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.faults import Faults
    from xentui.sim.world import World
    from xentui.sim.xapi_host import XapiHost


class SimulatorView(Protocol):
    """runner.Simulator as the steps use it (runner.py imports this module)."""

    @property
    def world(self) -> World[XapiHost]: ...

    @property
    def scenario(self) -> scenario_data.Scenario: ...

    @property
    def faults(self) -> Faults: ...


def prepare_pool(world: Any, data: Dict[str, Any]) -> None:
    procs = list(world.procs.values())
    for proc in procs:
        tls_state.trust_everywhere(procs, proc.tls)
    master = next(p for p in procs if p.is_master)
    db = master.local_db
    # the SAN admits every host's initiator name (a pool that worked)
    world.san_initiators.update(str(db.get_field("host", h, "iscsi_iqn")) for h in db.refs("host"))
    setting = data.get("tls_verification")
    if setting is None:
        return
    enabled = str(setting).lower() in ("on", "true", "1", "yes")
    for proc in procs:
        proc.tls_verification = enabled
    for pool in db.refs("pool"):
        db.set_field("pool", pool, "tls_verification_enabled", enabled)
    for host in db.refs("host"):
        db.set_field("host", host, "tls_verification_enabled", enabled)


def _restart(sim: SimulatorView, host: str) -> None:
    proc = sim.world.procs[host]
    proc.instant_hello = True
    proc.restart(gap=0, reason="scenario")


def _master_db(sim: SimulatorView) -> Any:
    for proc in sim.world.procs.values():
        if proc.is_master and proc.db is not None:
            return proc, proc.db
    raise ValueError("no running master")


def _host_ref(sim: SimulatorView, host: str) -> str:
    _, db = _master_db(sim)
    ref: str = db.by_name_label("host", host)[0]
    return ref


def empty_pool_bundle(sim: SimulatorView, host: str) -> None:
    """The 8.2 -> 8.3 upgrade case: certs-pool/ holds the files, the generated
    bundle is empty; xapi restarts and verifies against nothing."""
    sim.world.procs[host].tls.bundle = set()
    _restart(sim, host)


def expire_certificate(sim: SimulatorView, host: str) -> None:
    """`host`'s internal certificate is past its notAfter (members restart and meet it)."""
    sim.world.procs[host].tls.internal.expired = True
    for name, proc in sim.world.procs.items():
        if name != host and proc.up and not proc.is_master:
            _restart(sim, name)


def tls_never_enabled(sim: SimulatorView) -> None:
    """A pool upgraded from 8.2 where nobody ran pool-enable-tls-verification:
    no host verifies, no pool bundle was ever generated, the database says off."""
    for proc in sim.world.procs.values():
        proc.tls_verification = False
        proc.tls.bundle = set()
    _, db = _master_db(sim)
    for pool in db.refs("pool"):
        db.set_field("pool", pool, "tls_verification_enabled", False)
    for host in db.refs("host"):
        db.set_field("host", host, "tls_verification_enabled", False)


def weak_internal_key(sim: SimulatorView, host: str) -> None:
    """`host`'s pool certificate (xapi-pool-tls.pem, what members verify through
    SNI "pool") has a 1024-bit RSA key, trusted by every bundle: members verifying
    it at their next start fail with OpenSSL's X509_V_ERR_EE_KEY_TOO_SMALL (the
    members restart and meet it, as for an expired certificate)."""
    sim.world.procs[host].tls.internal.key_bits = 1024
    for name, proc in sim.world.procs.items():
        if name != host and proc.up and not proc.is_master:
            _restart(sim, name)


def weak_server_key(sim: SimulatorView, host: str) -> None:
    """An old install's xapi-ssl.pem with a 1024-bit RSA key."""
    sim.world.procs[host].tls.server.key_bits = 1024


def disarm_ha_locally(sim: SimulatorView, host: str) -> None:
    """localdb ha.armed=false on `host` (an emergency HA disable there, or a
    failed HA enable) while pool.ha_enabled stays true; xapi restarts."""
    sim.world.procs[host].ha_armed = False
    _restart(sim, host)


def upgrade_xapi(sim: SimulatorView, host: str, version: str) -> None:
    """The member was updated (to `version`) before its coordinator and rebooted."""
    sim.world.procs[host].xapi_version = str(version)
    _restart(sim, host)


def lock_vdis(sim: SimulatorView, host: str, activating: str = "") -> None:
    """`host` had its VMs' disks attached (sm's host_<ref> keys); `activating`
    names one VM whose activation was interrupted (the key leaked)."""
    _, db = _master_db(sim)
    ref = _host_ref(sim, host)
    for vm in db.find("VM", resident_on=ref):
        if db.get_field("VM", vm, "is_control_domain"):
            continue
        name = db.get_field("VM", vm, "name_label")
        sm_locks.mark_attached(db, vm, ref, activating=(name == activating))


def reset_vms_without_declare_dead(sim: SimulatorView, host: str) -> None:
    """The admin ran `xe vm-reset-powerstate --force` on each VM of the dead
    host instead of host-declare-dead: the VMs are Halted, sm's
    host-post-declare-dead hook never ran, the attach keys stay."""
    master, db = _master_db(sim)
    ref = _host_ref(sim, host)
    ctx = CallContext.on_master(master, "unix")
    for vm in list(db.find("VM", resident_on=ref)):
        if not db.get_field("VM", vm, "is_control_domain"):
            reset_power_state(ctx, vm)


def pending_guidance(sim: SimulatorView, host: str, guidance: str = "reboot_host") -> None:
    """An update left mandatory guidance pending on `host`, and it is disabled."""
    _, db = _master_db(sim)
    ref = _host_ref(sim, host)
    db.update("host", ref, pending_guidances=[str(guidance)], enabled=False)


def unplug_pbd(sim: SimulatorView, host: str, sr: str) -> None:
    _, db = _master_db(sim)
    ref = _host_ref(sim, host)
    sr_ref = db.by_name_label("SR", sr)[0]
    for pbd in db.find("PBD", host=ref, SR=sr_ref):
        db.set_field("PBD", pbd, "currently_attached", False)


def disable_host(sim: SimulatorView, host: str) -> None:
    _, db = _master_db(sim)
    db.set_field("host", _host_ref(sim, host), "enabled", False)


def rebuild_host(sim: SimulatorView, host: str) -> None:
    """`host` (powered off) was reinstalled: a new host uuid, a new IQN, a new
    stand-alone pool of its own with TLS verification on (a fresh 8.3 install),
    its own local SR; then it boots. The old record stays in the pool."""
    world = sim.world
    machine, proc = world.machines[host], world.procs[host]
    new_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "xentui-sim/reinstall/" + machine.uuid))
    spec = scenario_data.from_data(
        {
            "name": "%s-%s-reinstall" % (sim.scenario.name, host),
            "console": host,
            "root_password": sim.scenario.root_password,
            "hosts": [host],
            "nics": len(machine.nics),
            "local_srs": True,
        }
    )
    spec.hosts[0].uuid = new_uuid
    spec.hosts[0].address = machine.address
    spec.hosts[0].macs = [nic.mac for nic in machine.nics]
    db = scenario_data.build_database(spec, world.clock.now())
    db.now = world.clock.now
    for pool in db.refs("pool"):
        db.set_field("pool", pool, "tls_verification_enabled", True)
    me = db.refs("host")[0]
    db.set_field("host", me, "tls_verification_enabled", True)
    machine.uuid = new_uuid
    machine.control_domain_uuid = str(db.get_field("VM", db.get_field("host", me, "control_domain"), "uuid"))
    for entry in sim.scenario.hosts:
        if entry.name == host:
            entry.uuid = new_uuid
    proc.set_role("master")
    proc.local_db = db
    proc.local_db_is_live = True
    proc.ha_armed = False
    proc.tls = tls_state.fresh(new_uuid)
    proc.tls_verification = True
    sim.faults.power_on(host, immediate=True)


def sync_backup_to(sim: SimulatorView, host: str) -> None:
    """Pool_db_backup's turn came for `host` (and only for it): it now holds
    the master's current database."""
    master, db = _master_db(sim)
    proc = sim.world.procs[host]
    proc.receive_backup(clone_with_origin(db), sender=master.machine.address)


def age_backup(sim: SimulatorView, host: str, seconds: str) -> None:
    """`host`'s copy was written `seconds` ago."""
    proc = sim.world.procs[host]
    proc.backup_time = sim.world.clock.now() - float(seconds)
    proc.files_changed()


STEPS: Dict[str, Callable[..., None]] = {
    fn.__name__: fn
    for fn in (
        empty_pool_bundle,
        expire_certificate,
        tls_never_enabled,
        weak_internal_key,
        weak_server_key,
        disarm_ha_locally,
        upgrade_xapi,
        lock_vdis,
        reset_vms_without_declare_dead,
        pending_guidance,
        unplug_pbd,
        disable_host,
        rebuild_host,
        sync_backup_to,
        age_backup,
    )
}


def step_names() -> List[str]:
    return sorted(STEPS)
