"""Issue 13 scenarios seen through the observer (real XenAPI SDK against the
simulator): the findings name xapi's real error."""

from __future__ import annotations

import pytest

from xentui.recovery.findings import Code, Severity
from xentui.recovery.observer import Observer
from xentui.sim.runner import Simulator
from xentui.xapi.targets import parse_target

SCALE = 0.01

# scenario -> (console host, {(code, host)} that must be among the findings, words a summary must hold)
EXPECTED = {
    "tls-verify-fail": (
        "xen2",
        {(Code.EMERGENCY_MODE, "xen2"), (Code.TLS_VERIFY_FAILED, "xen2")},
        "self signed certificate",
    ),
    "ha-armed-mismatch": ("xen1", {(Code.HA_ARMED_MISMATCH, "xen3")}, "HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED"),
    "member-newer": ("xen2", {(Code.EMERGENCY_MODE, "xen2"), (Code.VERSION_SKEW, "xen2")}, "newer xapi"),
    "host-left-disabled": ("xen1", {(Code.HOST_DISABLED, "xen2"), (Code.PBD_UNPLUGGED, "xen2")}, "disabled"),
    "designate-dead-record": ("xen2", {(Code.MEMBER_UNREACHABLE, "xen1")}, "xen1"),
    "vdi-locked": ("xen1", {(Code.VDI_LOCKED, "xen3")}, "SR_BACKEND_FAILURE_46 The VDI is not available"),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_issue13_scenario_findings(scenario, tmp_path):
    console, must, words = EXPECTED[scenario]
    with Simulator.start(scenario, state_dir=tmp_path, time_scale=SCALE) as sim:
        assert sim.flush_files(10.0)
        observer = Observer(parse_target(f"sim:{tmp_path}"), call_timeout=2.0, probe_timeout=0.5)
        try:
            obs = observer.observe()
        finally:
            observer.close()
    assert obs.this_host_name == console
    got = {(f.code, f.host) for f in obs.findings}
    assert must <= got, [f.summary for f in obs.findings]
    assert any(words in f.summary for f in obs.findings if (f.code, f.host) in must)
    assert not any(f.code is Code.POOL_HEALTHY for f in obs.findings)
    assert max(f.severity for f in obs.findings) >= Severity.WARNING
