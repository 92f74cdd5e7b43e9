"""The VDI lock fix xentui runs is what sm's resetvdis.py does, and the
simulator lets the real XenAPI SDK do it (vdi-locked scenario).

sm, libs/sm/resetvdis.py reset_vdi (what `resetvdis.py single <VDI> --force`
runs): VDI.get_by_uuid, VDI.get_record, then for each `host_<ref>` key of
sm_config VDI.remove_from_sm_config(vdi, key); without --force it first asks
the holder through host.call_plugin(.., "on-slave", "is_open", ..), which a
powered-off host cannot answer. It never touches `activating`: sm's
blktap2.py VDI._add_tag adds that key with VDI.add_to_sm_config, which raises
MAP_DUPLICATE_KEY when a crashed activation leaked it. xen-api: datamodel.ml
VDI.sm_config is RW, so xapi generates add_to_/remove_from_sm_config;
ocaml/database/db_cache_impl.ml process_structured_field_locked: AddMapLegacy
(the master's API calls) raises Duplicate_key for an existing key
(MAP_DUPLICATE_KEY), RemoveMap is db_cache_types.ml remove_from_map, a filter:
removing a missing key is no error.
"""

from __future__ import annotations

import pytest
import XenAPI

from tests.sim.sessions import make_tcp_session
from xentui.sim import sm_locks


def _login(sim, name):
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def _reset_vdi_force(api, vdi_uuid):
    """resetvdis.reset_vdi(session, vdi_uuid, force=True), call for call."""
    vdi_ref = api.VDI.get_by_uuid(vdi_uuid)
    vdi_rec = api.VDI.get_record(vdi_ref)
    cleared = []
    for key in vdi_rec["sm_config"]:
        if key.startswith("host_"):
            host_ref = key[len("host_") :]
            api.host.get_record(host_ref)  # the holder is still in the pool
            api.VDI.remove_from_sm_config(vdi_ref, key)
            cleared.append(key)
    return cleared


def test_resetvdis_single_force_then_raw_remove_of_activating_lets_the_vm_start(start_sim):
    sim = start_sim("vdi-locked")
    s = _login(sim, "xen1")
    api = s.xenapi
    try:
        xen3 = api.host.get_by_name_label("xen3")[0]
        app02 = api.VM.get_by_name_label("app02")[0]
        vdi = api.VBD.get_VDI(api.VM.get_VBDs(app02)[0])
        uuid = api.VDI.get_uuid(vdi)
        assert sorted(api.VDI.get_sm_config(vdi)) == sorted([f"host_{xen3}", sm_locks.ACTIVATING])
        # sm's next activation attempt meets the leaked key: MAP_DUPLICATE_KEY
        with pytest.raises(XenAPI.Failure) as dup:
            api.VDI.add_to_sm_config(vdi, sm_locks.ACTIVATING, "True")
        assert dup.value.details[0] == "MAP_DUPLICATE_KEY" and sm_locks.ACTIVATING in dup.value.details
        assert _reset_vdi_force(api, uuid) == [f"host_{xen3}"]
        # resetvdis leaves `activating`: the start still fails
        with pytest.raises(XenAPI.Failure) as still:
            api.VM.start(app02, False, False)
        assert still.value.details[0] == "SR_BACKEND_FAILURE_46"
        api.VDI.remove_from_sm_config(vdi, sm_locks.ACTIVATING)
        assert api.VDI.get_sm_config(vdi) == {}
        # removing a key that is not there is not an error (db_cache_types.ml remove_from_map)
        api.VDI.remove_from_sm_config(vdi, sm_locks.ACTIVATING)
        api.VM.start(app02, False, False)
        assert api.VM.get_power_state(app02) == "Running"
    finally:
        s.logout()
