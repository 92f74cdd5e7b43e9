"""XapiClient(slave_local_fallback=False), how the observer asks a peer its role:
a member says HOST_IS_SLAVE (and where its master is) to the first login
request, so that is all it is asked; a member in emergency mode is refused
login_with_password with its emergency error instead (api_server.ml
callback1), so it still gets the slave-local login that reads that error."""

from __future__ import annotations

import pytest

from tests.xapi.test_xapi_client_sim import SimTcpEndpoint
from xentui.xapi.client import XapiClient
from xentui.xapi.errors import XapiFailure
from xentui.xapi.session_info import SessionKind


def _role_client():
    return XapiClient(call_timeout=2.0, slave_local_fallback=False)


def test_a_member_is_asked_once_and_names_its_master(start_sim):
    sim = start_sim("healthy")
    c = _role_client()
    try:
        with pytest.raises(XapiFailure) as caught:
            c.connect(SimTcpEndpoint(sim, "xen2"), password=sim.endpoints.root_password)
        assert caught.value.code == "HOST_IS_SLAVE"
        assert caught.value.params[0] == sim.endpoints.host("xen1").address == c.master_address
        assert c.calls == 1  # no local login, no emergency question, nothing to log out
    finally:
        c.close()
    # the default client still falls back to a slave-local session on the same member
    full = XapiClient(call_timeout=2.0)
    try:
        info = full.connect(SimTcpEndpoint(sim, "xen2"), password=sim.endpoints.root_password)
        assert info.session_kind is SessionKind.SLAVE_LOCAL and full.calls > 1
    finally:
        full.close()


def test_the_master_logs_in_and_a_member_in_emergency_mode_still_tells_its_error(start_sim):
    sim = start_sim("master-down")  # xen1 (master) is off; xen2 and xen3 are in emergency mode
    c = _role_client()
    try:
        info = c.connect(SimTcpEndpoint(sim, "xen2"), password=sim.endpoints.root_password)
        assert info.session_kind is SessionKind.SLAVE_LOCAL and c.in_emergency
        assert c.emergency_reason is not None and c.emergency_reason[0]
    finally:
        c.close()
    healthy = start_sim("healthy")
    m = _role_client()
    try:
        info = m.connect(SimTcpEndpoint(healthy, "xen1"), password=healthy.endpoints.root_password)
        assert info.session_kind is SessionKind.PASSWORD
    finally:
        m.close()
