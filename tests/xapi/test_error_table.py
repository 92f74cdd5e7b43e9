"""The error table: every code the specs mention has plain words and a next step."""

from __future__ import annotations

import pytest

from xentui.xapi.error_table import EMERGENCY_CODES, Explanation, explain, explain_exception, known_codes
from xentui.xapi.errors import (
    AuthenticationFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    ConnectionRefused,
    HostKeyChanged,
    HostKeyUnknown,
    MalformedReply,
    XapiFailure,
)

REQUIRED = """
HOST_STILL_BOOTING HOST_HAS_NO_MANAGEMENT_IP HOST_ITS_OWN_SLAVE HOST_MASTER_CANNOT_TALK_BACK
HOST_UNKNOWN_TO_MASTER HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR HA_POOL_IS_ENABLED_BUT_HOST_IS_DISABLED
HA_HOST_CANNOT_ACCESS_STATEFILE HA_HEARTBEAT_DAEMON_STARTUP_FAILED HOST_BROKEN INTERNAL_ERROR HOST_IS_SLAVE
HA_IS_ENABLED HA_NOT_ENABLED NOT_IN_EMERGENCY_MODE HOST_IS_LIVE DOMAIN_EXISTS CANNOT_RESET_CONTROL_DOMAIN
VM_BAD_POWER_STATE SESSION_AUTHENTICATION_FAILED SESSION_INVALID HANDLE_INVALID UUID_INVALID
PIF_IS_MANAGEMENT_INTERFACE PIF_HAS_NO_NETWORK_CONFIGURATION SLAVE_REQUIRES_MANAGEMENT_INTERFACE
OTHER_OPERATION_IN_PROGRESS HOST_OFFLINE CANNOT_CONTACT_HOST INVALID_IP_ADDRESS_SPECIFIED
MESSAGE_METHOD_UNKNOWN MESSAGE_PARAMETER_COUNT_MISMATCH HOST_IN_EMERGENCY_MODE VDI_IN_USE VDI_NOT_AVAILABLE
SR_BACKEND_FAILURE HOST_HAS_RESIDENT_VMS REDO_LOG_IS_ENABLED CLUSTERING_ENABLED PIF_UNMANAGED
PIF_ALREADY_BONDED PIF_VLAN_STILL_EXISTS PIF_TUNNEL_STILL_EXISTS PIF_IS_PHYSICAL CANNOT_PLUG_BOND_SLAVE
PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE MAP_DUPLICATE_KEY EVENTS_LOST EVENT_FROM_TOKEN_PARSE_FAILURE
EVENT_SUBSCRIPTION_PARSE_FAILURE INVALID_VALUE FIELD_TYPE_ERROR POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH
""".split()


@pytest.mark.parametrize("code", REQUIRED)
def test_required_codes_are_explained(code):
    assert code in known_codes()
    exp = explain(code, ())
    assert isinstance(exp, Explanation)
    assert exp.title and exp.meaning and exp.next_step
    assert not exp.title.startswith("xapi error ")


def test_still_booting_reads_differently_in_emergency_mode():
    normal = explain("HOST_STILL_BOOTING")
    emergency = explain("HOST_STILL_BOOTING", in_emergency=True)
    assert "wait" in normal.next_step.lower()
    assert "master" in emergency.title.lower()
    assert "emergency transition to master" in emergency.next_step
    assert "not the other way round" in emergency.meaning


def test_internal_error_in_emergency_means_master_unreachable():
    exp = explain("INTERNAL_ERROR", ["Connection failed: refused"], in_emergency=True)
    assert exp.title == "Master unreachable"
    assert "Connection failed: refused" in exp.meaning


def test_params_are_phrased():
    assert "10.0.0.1" in explain("HOST_IS_SLAVE", ["10.0.0.1"]).meaning
    assert (
        "Expected halted, actual running" in explain("VM_BAD_POWER_STATE", ["OpaqueRef:v", "halted", "running"]).meaning
    )
    locked = explain("SR_BACKEND_FAILURE_46", ["", "The VDI is not available"])
    assert locked.title == "Disk still locked by another host"
    assert explain("SR_BACKEND_FAILURE_73", ["", "x"]).title == "Storage error"


def test_unknown_code_keeps_the_code_visible():
    exp = explain("SOMETHING_NEW", ["x"])
    assert "SOMETHING_NEW" in exp.title and "x" in exp.meaning


def test_emergency_codes_are_explained_in_emergency_context():
    for code in EMERGENCY_CODES:
        exp = explain(code, in_emergency=True)
        assert exp.next_step


@pytest.mark.parametrize(
    "exc, code, words",
    [
        (CallTimeout("event.from", 10, "sim host h0"), "timeout", "hung"),
        (ConnectionRefused("xapi: refused"), "refused", "restarting"),
        (AuthenticationFailed("xapi rejected the login for user root"), "auth", "rejected"),
        (HostKeyUnknown("h", 22, "ssh-ed25519", "SHA256:abc", "AAAA"), "hostkey-unknown", "never accepts"),
        (HostKeyChanged("h", 22, "ssh-ed25519", "SHA256:abc", "SHA256:old"), "hostkey-changed", "different"),
        (ConnectFailed("timeout", "no connection within 5 s"), "timeout", "Nothing answered"),
        (ConnectionLost("reset"), "lost", "may or may not"),
        (MalformedReply("garbage"), "malformed", "not valid"),
        (XapiFailure(["HOST_IS_LIVE", "OpaqueRef:h"]), "HOST_IS_LIVE", "alive"),
    ],
)
def test_explain_exception_distinguishes_our_errors(exc, code, words):
    exp = explain_exception(exc)
    assert exp.code == code
    assert words in exp.meaning
    assert exp.next_step


def test_timeout_and_refused_read_differently():
    timeout = explain_exception(CallTimeout("session.login_with_password", 3))
    refused = explain_exception(ConnectionRefused("refused"))
    assert timeout.title != refused.title
    assert "Timed out" == timeout.title and "refused" in refused.title.lower()


ISSUE13 = """
STUNNEL_VERIFY_ERROR TLS_VERIFICATION_NOT_ENABLED_IN_POOL POOL_JOINING_MASTER_CERTIFICATE_NOT_IN_POOL_BUNDLE
POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH POOL_HOSTS_NOT_HOMOGENEOUS POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA
HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY SR_BACKEND_FAILURE_46 SR_BACKEND_FAILURE_47
""".split()


@pytest.mark.parametrize("code", ISSUE13)
def test_issue13_codes_are_explained(code):
    assert code in known_codes()
    exp = explain(code, ())
    assert exp.title and exp.meaning and exp.next_step


def test_stunnel_verify_error_inside_internal_error_is_named():
    # xapi.ml attempt_host_status_check_with_coordinator: internal_error [string_of_exn]
    param = 'INTERNAL_ERROR: [ Stunnel.Stunnel_verify_error("certificate has expired") ]'
    exp = explain("INTERNAL_ERROR", [param], in_emergency=True)
    assert exp.title == "Certificate verification failed (TLS)"
    assert "host-emergency-disable-tls-verification" in exp.next_step
    assert "stunnel's reason: certificate has expired." in exp.meaning
    assert explain("INTERNAL_ERROR", ["Connection failed: no route"], in_emergency=True).title == "Master unreachable"


def test_member_newer_does_not_recommend_promoting_the_newer_member():
    exp = explain("HOST_XAPI_VERSION_HIGHER_THAN_COORDINATOR", ["24.39.0"], in_emergency=True)
    assert "Update the master" in exp.next_step and "prefer the newest" not in exp.next_step
