"""pool.enable_ha with the HA statefile unreachable, as xapi 24.19 (tag v24.19.2,
ocaml/) answers it, through the real XenAPI SDK."""

from __future__ import annotations

from tests.sim.sessions import failure, login


def test_enable_ha_with_the_statefile_lost_fails_on_its_attach_and_leaves_ha_off(start_sim):
    """xapi_ha.ml `enable`: the SR checks pass (xha_statefile.ml
    check_sr_can_host_statefile: every host has the SR plugged), find_or_create
    picks (or creates) the statefile VDI, Db.Pool.set_ha_statefiles records it, then
    attach_statefiles cannot attach it: VDI_NOT_AVAILABLE [the VDI's ref] (its uuid
    from v26.7). Nothing is undone and ha_enabled stays false; never
    CANNOT_CREATE_STATE_FILE, which is only for "no SR can hold one". Once the
    statefile is back the same VDI is reused and HA comes on."""
    sim = start_sim("healthy")
    s = login(sim, "xen1")
    x = s.xenapi
    pool = x.pool.get_all()[0]
    san = x.SR.get_by_name_label("SAN")[0]
    sim.faults.lose_statefile()
    code, *params = failure(x.pool.enable_ha, [san], {})
    assert code == "VDI_NOT_AVAILABLE", [code, *params]
    statefile = x.pool.get_ha_statefiles(pool)
    assert params == statefile and len(statefile) == 1
    assert x.VDI.get_type(statefile[0]) == "ha_statefile" and x.VDI.get_SR(statefile[0]) == san
    assert x.pool.get_ha_enabled(pool) is False
    assert not any(sim.proc(h).ha_armed for h in ("xen1", "xen2", "xen3"))
    assert x.pool.get_current_operations(pool) == {}  # the pool-operation lock is released
    # no SR given: the same (the first SR that can hold a statefile)
    assert failure(x.pool.enable_ha, [], {}) == ["VDI_NOT_AVAILABLE"] + statefile

    sim.faults.restore_statefile()
    x.pool.enable_ha([san], {})
    assert x.pool.get_ha_enabled(pool) is True
    assert x.pool.get_ha_statefiles(pool) == statefile  # reused, not a second one
