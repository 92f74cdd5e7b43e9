"""The end state of the designate-dead-record and rejoin-rebuilt scenarios,
checked through the real XenAPI SDK over the master's unix socket: every host
live and enabled, one master, nobody in emergency mode, the VMs that ran
before still running, and the scenario's fault gone."""

from __future__ import annotations

from typing import Dict, List

from tests.ui.test_wizard_sim import sdk_session

SAN_IQN_PREFIX = "iqn."


def running_vms(sim, console: str) -> List[str]:
    """uuids of the guest VMs running now (before the recovery), per the master's database."""
    with sim.world.lock:
        proc = sim.world.procs[console]
        db = proc.db
        return sorted(
            rec["uuid"]
            for rec in db.records("VM").values()
            if not rec.get("is_control_domain") and rec.get("power_state") == "Running"
        )


def host_iqns(sim, console: str) -> Dict[str, str]:
    with sim.world.lock:
        db = sim.world.procs[console].db
        return {rec["name_label"]: rec.get("iscsi_iqn", "") for rec in db.records("host").values()}


def assert_pool_healthy(sim, master_name: str, hosts: List[str], vms_before: List[str]) -> Dict[str, str]:
    """Returns {host name: uuid} of the pool's hosts."""
    session = sdk_session(sim, master_name)
    try:
        api = session.xenapi
        pool = api.pool.get_all()[0]
        master = api.pool.get_master(pool)
        assert api.host.get_name_label(master) == master_name
        assert api.host.is_in_emergency_mode() is False
        records = api.host.get_all_records()
        names = sorted(r["name_label"] for r in records.values())
        assert names == sorted(hosts), names
        for rec in records.values():
            assert rec["enabled"] is True, rec["name_label"]
            assert api.host_metrics.get_live(rec["metrics"]) is True, rec["name_label"]
            for pbd in rec["PBDs"]:
                assert api.PBD.get_currently_attached(pbd) is True, (rec["name_label"], pbd)
        for uuid in vms_before:
            assert api.VM.get_power_state(api.VM.get_by_uuid(uuid)) == "Running", uuid
        assert pool_ha_off(api, pool)
        uuids = {r["name_label"]: r["uuid"] for r in records.values()}
    finally:
        session.xenapi.session.logout()
    for name in hosts:  # each follows the master, as its own xapi says (ground truth)
        proc = sim.world.procs[name]
        assert proc.up and not proc.emergency, name
        assert proc.role == ("master" if name == master_name else "slave"), (name, proc.role)
    assert sim.world.double_starts == []
    return uuids


def pool_ha_off(api, pool) -> bool:
    return api.pool.get_ha_enabled(pool) is False
