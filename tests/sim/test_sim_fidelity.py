"""One focused test per xapi rule the simulator reproduces (xapi-semantics.md §1-§8),
each citing the xen-api source it was checked against (HEAD of the mirror)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import xmlrpc.client

import pytest

from tests.sim.sessions import (
    TimeoutTransport,
    UnixHTTPConnection,
    UnixTransport,
    failure,
    make_tcp_session,
    make_unix_session,
    wait_until,
)
from xentui.sim import dom0_files
from xentui.sim.clock import Timings
from xentui.sim.dispatch import EMERGENCY_CALLS


def raw_tcp(ep, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy(
        f"http://{ep.address}:{ep.port}/", transport=TimeoutTransport(timeout), allow_none=True
    )


def raw_unix(path, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(str(path), timeout), allow_none=True)


def post(ep, path: str, body: bytes, unix: bool = False, content_type: str = "application/json"):
    conn = UnixHTTPConnection(ep.socket, 5.0) if unix else http.client.HTTPConnection(ep.address, ep.port, timeout=5.0)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def jsonrpc(ep, method: str, params: list, version: str = "1.0", rid=7, unix: bool = False):
    doc = {"method": method, "params": params, "id": rid}
    if version == "2.0":
        doc["jsonrpc"] = "2.0"
    status, body = post(ep, "/jsonrpc", json.dumps(doc).encode(), unix=unix)
    assert status == 200, body
    return json.loads(body)


def login_master(sim, name="xen1"):
    ep = sim.endpoints.host(name)
    s = make_tcp_session(ep.address, ep.port)
    s.login_with_password("root", sim.endpoints.root_password)
    return s


def local_unix(sim, name):
    s = make_unix_session(sim.endpoints.host(name).socket)
    s.slave_local_login_with_password("root", "ignored on the unix socket")
    return s


def conn_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("xapi-conn-"))


# --- §1.3 dispatch, §7.2 -----------------------------------------------------------


def test_timed_out_calls_to_a_hung_master_do_not_pile_up_server_threads(start_sim):
    # A client that gives up closes its connection; the server must notice (httpd.Request.is_closed)
    # both in the hung listener and in a slave's master-connection wait (Db_globs retry forever).
    sim = start_sim("master-hung")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    baseline = conn_threads()
    for _ in range(6):
        with pytest.raises((socket.timeout, TimeoutError, OSError)):
            raw_tcp(master, timeout=0.2).session.login_with_password("root", "xenroot")
        with pytest.raises((socket.timeout, TimeoutError, OSError)):
            raw_unix(slave.socket, timeout=0.2).session.login_with_password("root", "x")  # waits for the master
    wait_until(lambda: conn_threads() <= baseline, timeout=5.0, what="server threads to be released")


def test_emergency_error_is_raised_before_everything_even_list_methods(start_sim):
    # api_server.ml callback1: `if !slave_emergency_mode && not emergency_call then raise ...`
    # comes before forwarding, the arity check and system.listMethods (not an emergency call).
    sim = start_sim("master-down")
    xen2 = sim.endpoints.host("xen2")
    for proxy in (raw_tcp(xen2), raw_unix(xen2.socket)):
        assert proxy.system.listMethods()["ErrorDescription"][0] in ("HOST_STILL_BOOTING", "INTERNAL_ERROR")
        assert proxy.VM.get_all("OpaqueRef:x", "extra")["ErrorDescription"] == sim.proc("xen2").emergency_error.details
    assert sim.proc("xen2").emergency
    assert local_unix(sim, "xen2").xenapi.host.is_in_emergency_mode() is True


def test_parameter_count_mismatch_params(start_sim):
    # gen_server.ml: parameter_count_mismatch_failure __call "<params without defaults>"
    # (string_of_int (List.length __params - 1 if the call takes a session)); __call is the
    # name as sent (underscore form too).
    sim = start_sim("healthy")
    ep = sim.endpoints.host("xen1")
    raw = raw_tcp(ep)
    ref = login_master(sim)._session
    assert raw.VM_get_record(ref)["ErrorDescription"] == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM_get_record", "1", "0"]
    assert raw.VM.get_record()["ErrorDescription"] == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_record", "1", "-1"]
    assert raw.session.login_with_password("root")["ErrorDescription"] == [
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        "session.login_with_password",
        "2",
        "1",
    ]


def test_host_is_slave_params_come_from_the_database_in_the_session_check(start_sim):
    # xapi_session.ml login_with_password: HOST_IS_SLAVE [Pool_role.get_master_address ()] (pool.conf);
    # session_check.ml Non_master_login_on_slave: HOST_IS_SLAVE [Host.get_address (Pool.get_master)] (DB).
    sim = start_sim("healthy")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    s = login_master(sim)
    host = s.xenapi.pool.get_master(s.xenapi.pool.get_all()[0])
    with sim.world.lock:
        sim.proc("xen1").db.set_field("host", host, "address", "127.0.0.99")
    assert raw_tcp(slave).session.login_with_password("root", "xenroot")["ErrorDescription"] == [
        "HOST_IS_SLAVE",
        master.address,
    ]
    assert raw_tcp(slave).VM.get_all(s._session)["ErrorDescription"] == ["HOST_IS_SLAVE", "127.0.0.99"]


def test_session_authentication_failed_params(start_sim):
    # xapi_session.ml: do_local_auth -> [uname; PAM message]; slave_login_common ->
    # [host_str; "Pool credentials invalid"] with host_str = the host ref (slave_login) or
    # "localhost" (slave_local_login); no delay for pool-secret failures.
    sim = start_sim("healthy")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    raw = raw_tcp(master)
    assert raw.session.login_with_password("root", "bad")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED",
        "root",
        "Authentication failure",
    ]
    t0 = time.monotonic()
    assert raw.session.slave_login("OpaqueRef:h", "wrong")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED",
        "OpaqueRef:h",
        "Pool credentials invalid",
    ]
    assert raw_tcp(slave).session.slave_local_login("wrong")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED",
        "localhost",
        "Pool credentials invalid",
    ]
    assert time.monotonic() - t0 < 0.5
    assert raw_tcp(slave).session.slave_local_login_with_password("admin", "bad")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED",
        "admin",
        "Authentication failure",
    ]


def test_unix_socket_is_preauthenticated_root(start_sim):
    # xapi_session.ml: Context.preauth = `root on the unix socket: login_with_password skips
    # authentication (and HOST_IS_SLAVE: the call is forwarded), slave_local_login_with_password
    # skips do_local_auth.
    sim = start_sim("healthy")
    slave = sim.endpoints.host("xen2")
    u = make_unix_session(slave.socket)
    u.login_with_password("nobody", "nothing")
    assert u.xenapi.VM.get_all()
    local = make_unix_session(slave.socket)
    local.slave_local_login_with_password("nobody", "nothing")
    assert local.xenapi.host.is_in_emergency_mode() is False


def test_logout_and_local_logout(start_sim):
    # xapi_session.ml logout destroys the DB session; local_logout removes the Xapi_local_session;
    # afterwards Session_check answers SESSION_INVALID [ref].
    sim = start_sim("healthy")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    s = login_master(sim)
    ref = s._session
    s.xenapi.session.logout()
    assert raw_tcp(master).pool.get_all(ref)["ErrorDescription"] == ["SESSION_INVALID", ref]
    local = make_tcp_session(slave.address, slave.port)
    local.slave_local_login_with_password("root", sim.endpoints.root_password)
    local_ref = local._session
    assert local.xenapi.host.is_in_emergency_mode() is False
    local.logout()  # the SDK uses session.local_logout for slave_local logins
    assert raw_tcp(slave).host.is_in_emergency_mode(local_ref)["ErrorDescription"] == ["SESSION_INVALID", local_ref]


# --- §1.4 emergency calls that exist ------------------------------------------------------


def test_internal_emergency_calls_answer_in_emergency_mode(start_sim):
    # datamodel_host.ml signatures; xapi_host.ml / xapi_ha.ml behaviour.
    sim = start_sim("master-down")
    l2 = local_unix(sim, "xen2")
    x = l2.xenapi
    assert x.host.ha_xapi_healthcheck() is True
    assert "<system-status-capabilities>" in x.host.get_system_status_capabilities("OpaqueRef:any")
    assert x.host.signal_networking_change() == ""
    assert x.host.emergency_reset_server_certificate() == ""
    # best-effort DB update; the master is gone: INTERNAL_ERROR after disabling locally
    assert failure(x.host.emergency_disable_tls_verification)[0] == "INTERNAL_ERROR"
    # 24.19 writes the database with no `try` around it: it fails without a master
    assert failure(x.host.emergency_reenable_tls_verification)[0] == "INTERNAL_ERROR"
    assert x.host.emergency_clear_mandatory_guidance() == ""
    # published in 25.34.0 (datamodel_lifecycle.ml): a 24.19 xapi has no such call; in
    # emergency mode the unknown name meets the emergency check first
    assert failure(x.host.update_firewalld_service_status) == sim.proc("xen2").emergency_error.details
    # two-phase commit bookkeeping (Xapi_ha.propose/commit/abort_new_master)
    assert failure(x.host.commit_new_master, "127.0.0.9")[0] == "HA_ABORT_NEW_MASTER"
    x.host.propose_new_master("127.0.0.9", False)
    assert failure(x.host.propose_new_master, "127.0.0.8", True)[0] == "HA_ABORT_NEW_MASTER"
    x.host.abort_new_master("127.0.0.9")
    x.host.propose_new_master("127.0.0.8", True)
    # shutdown_agent: xapi stops after 1 s and is not restarted
    x.host.shutdown_agent()
    wait_until(lambda: not sim.proc("xen2").up, timeout=3.0, what="xapi to stop")
    time.sleep(0.3)
    assert not sim.proc("xen2").up
    table = sim.world.methods
    assert all(table.lookup(name) is not None for name in EMERGENCY_CALLS)


# --- §1.5 / §2 recovery calls -------------------------------------------------------------


def test_emergency_transition_refuses_when_ha_armed_locally(start_sim):
    # xapi_pool.ml emergency_transition_to_master / emergency_reset_master: Localdb ha_armed -> HA_IS_ENABLED []
    sim = start_sim("master-down-ha")
    x = local_unix(sim, "xen2").xenapi
    assert failure(x.pool.emergency_transition_to_master) == ["HA_IS_ENABLED"]
    assert failure(x.pool.emergency_reset_master, "127.0.0.1") == ["HA_IS_ENABLED"]


def test_recover_slaves_semantics(start_sim):
    # xapi_pool.ml recover_slaves: every host but localhost; emergency_reset_master(my DB address)
    # per host `with _ -> ()`; already-pointing hosts are a no-op that counts (become_another_masters_slave).
    sim = start_sim("healthy")
    s = login_master(sim)
    by_name = {s.xenapi.host.get_name_label(h): h for h in s.xenapi.host.get_all()}
    with sim.world.lock:
        sim.proc("xen3").ha_armed = True  # emergency_reset_master refuses HA_IS_ENABLED: skipped
    starts = {n: sim.proc(n).starts for n in ("xen1", "xen2", "xen3")}
    recovered = s.xenapi.pool.recover_slaves()
    assert recovered == [by_name["xen2"]]
    assert not sim.proc("xen2").fuse_pending  # already our slave: nothing to restart
    sim.faults.partition("xen1", "xen2")  # unreachable: silently skipped
    assert s.xenapi.pool.recover_slaves() == []
    assert {n: sim.proc(n).starts for n in starts} == starts


def test_declare_dead_checks_liveness_by_asking_the_host(start_sim):
    # xapi_host.ml precheck_destroy_declare_dead: is_host_alive (live=false is definitive; else
    # pool.is_slave, any exception = dead) then `self = me` -> HOST_IS_LIVE [host]; declare_dead
    # resets the resident non-control-domain VMs and sets enabled=false.
    sim = start_sim("healthy")
    s = login_master(sim)
    hosts = {s.xenapi.host.get_name_label(h): h for h in s.xenapi.host.get_all()}
    assert failure(s.xenapi.host.declare_dead, hosts["xen1"]) == ["HOST_IS_LIVE", hosts["xen1"]]
    assert failure(s.xenapi.host.declare_dead, hosts["xen3"]) == ["HOST_IS_LIVE", hosts["xen3"]]
    sim.faults.power_off("xen3")
    assert s.xenapi.host_metrics.get_live(s.xenapi.host.get_metrics(hosts["xen3"])) is True
    s.xenapi.host.declare_dead(hosts["xen3"])
    assert s.xenapi.host.get_enabled(hosts["xen3"]) is False
    resident = s.xenapi.host.get_resident_VMs(hosts["xen3"])
    assert all(s.xenapi.VM.get_is_control_domain(vm) for vm in resident)


def test_timings_are_xapis_constants():
    # constants.ml fuse_time 10; xapi_globs.ml host_heartbeat_interval 30, host_assumed_dead_interval
    # 600, pool_db_sync_interval 300, emergency_reboot_delay_base/extra 60/120; xapi.ml hello
    # retries 5 / db_globs permanent_master_failure_retry_interval 60; db_backend.ml db_FLUSH_TIMER 2.
    t = Timings()
    assert (t.fuse, t.heartbeat, t.host_dead, t.db_sync) == (10.0, 30.0, 600.0, 300.0)
    assert (t.emergency_restart_base, t.emergency_restart_extra) == (60.0, 120.0)
    assert (t.hello_retry_temporary, t.hello_retry_permanent, t.login_failure_delay, t.db_flush) == (
        5.0,
        60.0,
        5.0,
        2.0,
    )
    assert t.pam_fail_delay == 2.0  # pam_unix's default fail delay (system-auth without nodelay)


# --- §4.2 wire: JSON-RPC through the real dispatch, UTF-8 ------------------------------------


def _normalise_xml_ints(value):
    """XML-RPC sends int64 as decimal strings; JSON-RPC as numbers (ocaml-rpc `Intlit`)."""
    if isinstance(value, dict):
        return {k: _normalise_xml_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_xml_ints(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def test_jsonrpc_v1_and_v2_through_the_real_dispatch(start_sim):
    # api_server.ml jsoncallback/callback1: V2 failures become {code: 1, message: code, data: params}
    # (error_code_lit = 1L); V1 failures are the [code, params...] list (ocaml-rpc json_of_response).
    sim = start_sim("healthy")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    v1 = jsonrpc(master, "session.login_with_password", ["root", "xenroot"], "1.0", rid=1)
    assert set(v1) == {"result", "error", "id"} and v1["error"] is None and v1["id"] == 1
    v2 = jsonrpc(master, "session.login_with_password", ["root", "xenroot"], "2.0", rid="a")
    assert set(v2) == {"jsonrpc", "result", "id"} and v2["jsonrpc"] == "2.0" and v2["id"] == "a"
    ref = v1["result"]
    assert ref.startswith("OpaqueRef:")
    by_json = jsonrpc(master, "VM.get_all_records", [ref], "2.0")["result"]
    by_xml = login_master(sim).xenapi.VM.get_all_records()
    assert _normalise_xml_ints(by_json) == _normalise_xml_ints(
        {
            r: {k: (v.value if isinstance(v, xmlrpc.client.DateTime) else v) for k, v in rec.items()}
            for r, rec in by_xml.items()
        }
    )
    some = next(iter(by_json.values()))
    assert isinstance(some["memory_static_max"], int) and isinstance(some["power_state"], str)
    # HOST_IS_SLAVE on a slave over TCP, both versions
    assert jsonrpc(slave, "session.login_with_password", ["root", "xenroot"], "1.0") == {
        "result": None,
        "error": ["HOST_IS_SLAVE", master.address],
        "id": 7,
    }
    assert jsonrpc(slave, "session.login_with_password", ["root", "xenroot"], "2.0") == {
        "jsonrpc": "2.0",
        "error": {"code": 1, "message": "HOST_IS_SLAVE", "data": [master.address]},
        "id": 7,
    }
    # unknown method, bad session
    assert jsonrpc(master, "VM.frobnicate", [ref], "1.0")["error"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert jsonrpc(master, "VM.get_all", ["OpaqueRef:nope"], "2.0")["error"] == {
        "code": 1,
        "message": "SESSION_INVALID",
        "data": ["OpaqueRef:nope"],
    }


def test_jsonrpc_emergency_error_uses_jsoncallbacks_fixed_shape(start_sim):
    # api_server.ml: callback1 *raises* the emergency error; jsoncallback's handler answers
    # Jsonrpc.string_of_response ~version:V2 (Rpc.failure (Enum (err :: params))) with the default
    # id Int 0, whatever the request's version and id.
    sim = start_sim("master-down")
    xen2 = sim.endpoints.host("xen2")
    error = sim.proc("xen2").emergency_error.details
    for version in ("1.0", "2.0"):
        assert jsonrpc(xen2, "session.login_with_password", ["root", "xenroot"], version, rid=42) == {
            "jsonrpc": "2.0",
            "error": error,
            "id": 0,
        }
    # an emergency call is dispatched normally
    login = jsonrpc(xen2, "session.slave_local_login_with_password", ["root", "xenroot"], "1.0", rid=5)
    assert login["error"] is None and login["id"] == 5
    assert jsonrpc(xen2, "host.is_in_emergency_mode", [login["result"]], "1.0")["result"] is True


def test_invalid_utf8_parameters(start_sim):
    # gen_server.ml dispatch_call: any parameter that is not valid UTF-8 ->
    # INVALID_VALUE ["Invalid UTF-8 string in parameter"; s], raised outside the dispatcher.
    # Yojson passes invalid bytes and lone low-surrogate escapes through (and rejects a lone
    # high surrogate); Xmlm rejects invalid UTF-8 in XML, so XML-RPC gets an HTTP error.
    sim = start_sim("healthy")
    master = sim.endpoints.host("xen1")
    body = b'{"method": "session.login_with_password", "params": ["r\xffoot", "x"], "id": 3}'
    status, reply = post(master, "/jsonrpc", body)
    assert status == 200
    assert reply == b'{"jsonrpc":"2.0","error":["INVALID_VALUE","Invalid UTF-8 string in parameter","r\xffoot"],"id":0}'
    status, reply = post(master, "/jsonrpc", b'{"method": "VM.get_all", "params": ["\\udd00"], "id": 1}')
    # Yojson's utf8_of_code writes the lone surrogate U+DD00 as ED B4 80, echoed back as-is
    assert (
        reply
        == b'{"jsonrpc":"2.0","error":["INVALID_VALUE","Invalid UTF-8 string in parameter","\xed\xb4\x80"],"id":0}'
    )

    status, _ = post(master, "/jsonrpc", b'{"method": "VM.get_all", "params": ["\\ud800"], "id": 1}')
    assert status >= 400
    xml = (
        b'<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName>'
        b"<params><param><value>r\xffoot</value></param><param><value>x</value></param></params></methodCall>"
    )
    status, _ = post(master, "/", xml, content_type="text/xml")
    assert status >= 400


# --- §4.3 event.from -----------------------------------------------------------------


def test_event_from_wire_order_adds_then_mods_then_dels(start_sim):
    # xapi_event.ml from_inner: [] |> events_of `del deletes |> events_of `_mod mods |> events_of `add
    # creates, each consing onto the list: adds come first on the wire, then mods, then dels; an
    # object created and deleted since the token is not reported (collect_events).
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    token = x.event_from(["network"], "", 0.0)["token"]
    existing = x.network.get_all()[0]
    db = sim.proc("xen1").db
    with sim.world.lock:
        gone = db.create("network", name_label="gone", bridge="xenbr9")
    token = x.event_from(["network"], token, 0.0)["token"]
    with sim.world.lock:
        fresh = db.create("network", name_label="fresh", bridge="xenbr7")
        db.set_field("network", existing, "name_description", "changed")
        db.destroy("network", gone)
        flash = db.create("network", name_label="flash", bridge="xenbr8")
        db.destroy("network", flash)
    events = x.event_from(["network"], token, 1.0)["events"]
    assert [(e["operation"], e["ref"]) for e in events] == [("add", fresh), ("mod", existing), ("del", gone)]


# --- §2 PIF.scan, state.db --------------------------------------------------------------


def test_pif_scan_keys_devices_by_name_not_mac(start_sim):
    # xapi_pif.ml scan: refresh_all rewrites the MAC of a PIF whose device (found by its xenbrN
    # position) now has another MAC; devices_not_yet_represented_by_pifs compares device NAMES.
    sim = start_sim("replaced-nics-same-names")
    s = login_master(sim)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    before = sorted(s.xenapi.host.get_PIFs(xen3))
    s.xenapi.PIF.scan(xen3)
    assert sorted(s.xenapi.host.get_PIFs(xen3)) == before
    macs = {n.device: n.mac for n in sim.world.machines["xen3"].nics}
    for pif in before:
        assert s.xenapi.PIF.get_MAC(pif) == macs[s.xenapi.PIF.get_device(pif)]
    assert [s.xenapi.PIF.get_device(p) for p in before if s.xenapi.PIF.get_management(p)] == ["eth0"]


def test_master_state_db_is_flushed_periodically_and_rows_carry_their_generations(start_sim):
    # db_backend.ml db_FLUSH_TIMER = 2 s: the master rewrites state.db when dirty; a slave's copy
    # only changes at the pool_db_sync_interval push. Rows carry __ctime/__mtime (db_xml.ml).
    sim = start_sim("healthy")
    assert sim.flush_files()
    s = login_master(sim)
    vm = s.xenapi.VM.get_by_name_label("web01")[0]
    s.xenapi.VM.set_name_description(vm, "flushed by the master")
    master_db = sim.endpoints.host("xen1").root + "/" + dom0_files.STATE_DB
    slave_db = sim.endpoints.host("xen2").root + "/" + dom0_files.STATE_DB
    wait_until(
        lambda: "flushed%.by%.the%.master" in open(master_db, encoding="utf-8").read(),
        timeout=5.0,
        what="the master's periodic DB flush",
    )
    assert "flushed%.by%.the%.master" not in open(slave_db, encoding="utf-8").read()
    text = open(master_db, encoding="utf-8").read()
    assert '__ctime="1" __mtime="1"' not in text or text.count("__mtime=") > 1
    with sim.world.lock:
        row_mtimes = {sim.proc("xen1").db._tables["VM"].rows[vm].modified}
    assert any(f'ref="{vm}" __ctime=' in text and f'__mtime="{m}"' in text for m in row_mtimes)


def test_fast_state_db_renderer_matches_the_reference(start_sim):
    # dom0_files._row (fast path) must produce exactly dom0_files._row_reference's text.
    sim = start_sim("healthy")
    tables = sim.proc("xen1").db.tables()
    tables["VM"]["OpaqueRef:odd"] = dict(
        next(iter(tables["VM"].values())),
        name_label="a b%c\t<&>\"'\\",
        tags=["x y", "q'\\"],
        other_config={"k k": "v\nv", "e": ""},
    )
    for cls, rows in tables.items():
        for ref, record in rows.items():
            assert dom0_files._row(cls, ref, record, 5) == dom0_files._row_reference(cls, ref, record, 5)


def test_unknown_methods_go_through_the_session_check_first(start_sim):
    # gen_server.ml `| func ->` fallthrough: system.isAlive:* echoes its first parameter; any other
    # unknown call with parameters is Host.call_extension: Session_check on the first parameter,
    # then Xapi_extensions.find_extension -> MESSAGE_METHOD_UNKNOWN [name]; without parameters
    # unknown_rpc_failure.
    sim = start_sim("healthy")
    master = sim.endpoints.host("xen1")
    raw = raw_tcp(master)
    ref = login_master(sim)._session
    assert getattr(raw, "VM.frobnicate")("hello")["ErrorDescription"] == ["SESSION_INVALID", "hello"]
    assert getattr(raw, "VM.frobnicate")(ref)["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert getattr(raw, "VM.frobnicate")()["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert getattr(raw, "system.isAlive:abc")("ping") == {"Status": "Success", "Value": "ping"}


def test_role_change_takes_effect_only_at_the_restart(start_sim):
    # xapi_pool_transition.ml set_role writes pool.conf only; Pool_role.get_role caches the role
    # read at start-up (xapi-aux/pool_role.ml), so a demoted master keeps acting as master (logins,
    # pool.is_slave = false) until the fuse (Xapi_fuse, 10 s) restarts it.
    sim = start_sim("healthy", time_scale=0.1)  # fuse = 1 s real
    ep = sim.endpoints
    master, other = ep.host("xen1"), ep.host("xen2")
    local = make_tcp_session(master.address, master.port)
    local.slave_local_login_with_password("root", ep.root_password)
    assert local.xenapi.pool.emergency_reset_master(other.address) == ""
    assert open(master.root + "/etc/xensource/pool.conf").read() == "slave:" + other.address
    assert sim.proc("xen1").conf_role == "slave" and sim.proc("xen1").role == "master"
    s = login_master(sim)  # still a master: no HOST_IS_SLAVE yet
    assert local.xenapi.pool.is_slave(s.xenapi.pool.get_master(s.xenapi.pool.get_all()[0])) is False
    # calling it again is not a no-op yet (the running role is still master)
    assert local.xenapi.pool.emergency_reset_master(other.address) == ""
    wait_until(lambda: sim.proc("xen1").role == "slave", timeout=5.0, what="the fuse restart")


def test_pif_calls_are_forwarded_before_their_checks(start_sim):
    # message_forwarding.ml PIF.forget / reconfigure_ip: do_op_on PIF.host (check_live ->
    # HOST_OFFLINE; connection failure -> CANNOT_CONTACT_HOST) before xapi_pif.ml's checks run
    # on that host; a forwarded call meets the target's emergency-mode check.
    sim = start_sim("healthy")
    s = login_master(sim)
    xen3 = s.xenapi.host.get_by_name_label("xen3")[0]
    mgmt = s.xenapi.host.get_management_interface(xen3)
    assert failure(s.xenapi.PIF.forget, mgmt) == ["PIF_IS_MANAGEMENT_INTERFACE", mgmt]
    sim.faults.restart_xapi("xen3", immediate=True)
    with sim.world.lock:
        sim.proc("xen3").emergency = True  # as while its hello has not succeeded yet
        error = sim.proc("xen3").emergency_error.details
    assert failure(s.xenapi.PIF.forget, mgmt) == error
    sim.faults.power_off("xen3")
    assert failure(s.xenapi.PIF.forget, mgmt) == ["CANNOT_CONTACT_HOST", xen3]
    with sim.world.lock:
        db = sim.proc("xen1").db
        db.set_field("host_metrics", db.get_field("host", xen3, "metrics"), "live", False)
    assert failure(s.xenapi.PIF.reconfigure_ip, mgmt, "None", "", "", "", "") == ["HOST_OFFLINE", xen3]


# --- issue 11 item 5: VM.start_on preconditions -------------------------------------

# Tests that write host_metrics.live themselves: no heartbeat or liveness pass may undo it.
STILL_LIVENESS = Timings(heartbeat=1e9, host_dead=1e9)


def test_vm_start_on_checks_in_xapis_order_with_real_memory_accounting(start_sim):
    """message_forwarding.ml VM.start_on: the VM operation check, then mark_vbds
    (xapi_vbd_helpers.ml valid_operations: VDI_IN_USE), then reserve_memory_for_vm ->
    xapi_vm_helpers.ml assert_can_boot_here: HOST_NOT_LIVE [] (assert_host_is_live),
    HOST_DISABLED [host], VM_REQUIRES_SR [vm; sr] (assert_can_see_SRs), VM_REQUIRES_NETWORK
    [vm; net] (xapi_network_attach_helpers.ml assert_can_see_named_networks), then
    assert_enough_memory_available: HOST_NOT_ENOUGH_FREE_MEMORY [required; available], both
    from memory_check.ml (total - host overhead - dynamic_min+overhead of every resident VM,
    dom0 included; required = dynamic_min + Memory_model overhead)."""
    from xentui.sim import memory

    sim = start_sim("healthy", timings=STILL_LIVENESS)
    s = login_master(sim)
    x = s.xenapi
    spare = x.VM.get_by_name_label("spare01")[0]
    web01 = x.VM.get_by_name_label("web01")[0]
    xen2 = x.host.get_by_name_label("xen2")[0]
    db = sim.world.procs["xen1"].db
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(spare)[0])
    net = x.VIF.get_network(x.VM.get_VIFs(spare)[0])
    sr = x.VDI.get_SR(vdi)
    with sim.world.lock:
        # every precondition broken at once: the first in xapi's order wins, one by one
        stolen = db.create("VBD", VM=web01, VDI=vdi, device="xvdb", userdevice="1", mode="RW", currently_attached=True)
        db.set_field("host_metrics", db.get_field("host", xen2, "metrics"), "live", False)
        db.set_field("host", xen2, "enabled", False)
        pbd = db.find("PBD", SR=sr, host=xen2)[0]
        db.set_field("PBD", pbd, "currently_attached", False)
        for pif in db.find("PIF", host=xen2, network=net):
            db.set_field("PIF", pif, "network", "OpaqueRef:NULL")
        db.set_field("host_metrics", db.get_field("host", xen2, "metrics"), "memory_total", 4 * 1024**3)
    assert failure(x.VM.start_on, spare, xen2, False, False) == ["VDI_IN_USE", vdi]
    with sim.world.lock:
        db.destroy("VBD", stolen)
    assert failure(x.VM.start_on, spare, xen2, False, False) == ["HOST_NOT_LIVE"]
    with sim.world.lock:
        db.set_field("host_metrics", db.get_field("host", xen2, "metrics"), "live", True)
    assert failure(x.VM.start_on, spare, xen2, False, False) == ["HOST_DISABLED", xen2]
    with sim.world.lock:
        db.set_field("host", xen2, "enabled", True)
    assert failure(x.VM.start_on, spare, xen2, False, False) == ["VM_REQUIRES_SR", spare, sr]
    with sim.world.lock:
        db.set_field("PBD", pbd, "currently_attached", True)
    assert failure(x.VM.start_on, spare, xen2, False, False) == ["VM_REQUIRES_NETWORK", spare, net]
    with sim.world.lock:
        for pif in db.find("PIF", host=xen2, network="OpaqueRef:NULL"):
            db.set_field("PIF", pif, "network", net)
    code, required, available = failure(x.VM.start_on, spare, xen2, False, False)
    record = x.VM.get_record(spare)
    assert code == "HOST_NOT_ENOUGH_FREE_MEMORY"
    assert int(required) == int(record["memory_dynamic_min"]) + memory.overhead_mib(record) * memory.MIB
    used = sum(
        int(v["memory_dynamic_min"]) + int(v["memory_overhead"])
        for v in (x.VM.get_record(r) for r in x.host.get_resident_VMs(xen2))
    )
    assert int(available) == max(0, 4 * 1024**3 - int(x.host.get_memory_overhead(xen2)) - used)
    # with the memory back the VM starts there and the host's free memory shrinks by what it uses
    with sim.world.lock:
        db.set_field("host_metrics", db.get_field("host", xen2, "metrics"), "memory_total", 256 * 1024**3)
    free_before = memory.host_free_memory(db, xen2)
    x.VM.start_on(spare, xen2, False, False)
    assert x.VM.get_resident_on(spare) == xen2
    assert x.VM.get_scheduled_to_be_resident_on(spare) == "OpaqueRef:NULL"
    assert int(x.host_metrics.get_memory_free(x.host.get_metrics(xen2))) == free_before - int(required)


# --- issue 11: recovery-critical paths as xapi has them ------------------------------


def _inventory(sim, name) -> str:
    from pathlib import Path

    return (Path(sim.endpoints.host(name).root) / "etc" / "xensource-inventory").read_text()


def test_local_management_reconfigure_writes_any_name_and_assigns_no_address(start_sim):
    """xapi_host.ml local_management_reconfigure -> change_management_interface;
    xapi_mgmt_iface.ml change / run / on_dom0_networking_change. Outside emergency mode:
    NOT_IN_EMERGENCY_MODE (Api_errors.pool_not_in_emergency_mode). In emergency mode
    the name goes into the inventory unchecked, only the HTTP listener is restarted,
    no address is assigned, and on a member the on_dom0_networking_change tail waits
    for the master's database: no reply. The address comes back only by what brings
    it back on a real host: the link returning, or networkd re-applying its config
    (toolstack restart, reboot) when only the address was lost."""
    healthy = start_sim("healthy")
    x2 = local_unix(healthy, "xen2").xenapi
    assert failure(x2.host.local_management_reconfigure, "xenbr0") == ["NOT_IN_EMERGENCY_MODE"]

    sim = start_sim("no-management-ip")
    ep = sim.endpoints.host("xen2")
    short = make_unix_session(ep.socket, timeout=0.3)
    short.slave_local_login_with_password("root", "x")
    with pytest.raises(socket.timeout):
        short.xenapi.host.local_management_reconfigure("nosuchbr7")
    assert "MANAGEMENT_INTERFACE='nosuchbr7'" in _inventory(sim, "xen2")
    assert not sim.world.machines["xen2"].has_ip
    # the link is still down: a toolstack restart (networkd re-applies) brings nothing back
    sim.faults.restart_xapi("xen2", immediate=True)
    assert sim.proc("xen2").emergency_error.details == ["HOST_HAS_NO_MANAGEMENT_IP"]
    sim.faults.restore_management_ip("xen2")  # the link returns...
    assert sim.world.machines["xen2"].has_ip
    # ...but xapi looks for the address on the inventory's interface, which now names nothing
    wait_until(lambda: sim.proc("xen2").emergency_error.code == "HOST_HAS_NO_MANAGEMENT_IP", what="still waiting")
    with sim.world.lock:
        sim.proc("xen2").management_interface = "xenbr0"
    wait_until(lambda: not sim.proc("xen2").emergency, what="rejoined once the inventory names xenbr0 again")

    # only the address gone, link fine: xe-toolstack-restart (networkd re-applies) repairs it
    sim.faults.flush_management_ip("xen2")
    sim.faults.restart_xapi("xen2", immediate=True)
    assert sim.world.machines["xen2"].has_ip
    wait_until(lambda: not sim.proc("xen2").emergency, what="rejoined after the toolstack restart")


def test_a_member_has_no_database_of_its_own(start_sim):
    """api_server.ml callback1 serves a TCP call on a member locally; context.ml
    default_database sends a member's DB calls to the master (Db_ref.Remote), so
    listing calls are answered from the master's database; but xapi_event.ml
    from_inner reads Db_backend.make (), the member's own never-populated in-memory
    database: DBCache_NotFound ("missing table", ...) -> INTERNAL_ERROR (exnHelper.ml).
    Over the unix socket the call is forwarded to the master and works."""
    sim = start_sim("healthy")
    ep = sim.endpoints.host("xen2")
    tcp = make_tcp_session(ep.address, ep.port)
    tcp.slave_local_login_with_password("root", sim.endpoints.root_password)
    details = failure(tcp.xenapi.event_from, ["host"], "", 0.0)
    assert details[:3] == ["INTERNAL_ERROR", "missing table", "host"]
    assert len(tcp.xenapi.host.get_all()) == 3  # via the master's database
    unix = make_unix_session(ep.socket)
    unix.login_with_password("root", "x")
    assert "events" in unix.xenapi.event_from(["host"], "", 0.0)


def test_ha_armed_master_without_statefile_stays_in_emergency_until_emergency_ha_disable(start_sim):
    """xapi_ha.ml on_server_restart (xapi.ml start_ha, before the role branch): with
    localdb ha.armed and the statefile unreachable, emergency mode with
    HA_HOST_CANNOT_ACCESS_STATEFILE, retried every 10 s, for a master too (it has no
    master to ask whether HA is still on). A soft emergency_ha_disable leaves it armed;
    a hard one ends the loop and the start-up carries on as master, without a restart."""
    sim = start_sim("healthy")
    with sim.world.lock:
        for name in ("xen1", "xen2", "xen3"):
            sim.proc(name).ha_armed = True
        db = sim.proc("xen1").db
        for pool in db.refs("pool"):
            db.set_field("pool", pool, "ha_enabled", True)
    sim.faults.lose_statefile()
    sim.faults.restart_xapi("xen1", immediate=True)
    master = sim.proc("xen1")
    assert master.conf_role == "master" and master.emergency
    assert master.emergency_error.details == ["HA_HOST_CANNOT_ACCESS_STATEFILE"]
    starts = master.starts
    x = local_unix(sim, "xen1").xenapi
    x.host.emergency_ha_disable(True)  # soft: still armed, still looping
    tries = master.ha_start_attempts
    wait_until(lambda: master.ha_start_attempts >= tries + 2, what="two more 10 s retries")
    assert master.emergency and master.starts == starts
    assert failure(x.pool.get_all)[0] == "HA_HOST_CANNOT_ACCESS_STATEFILE"
    x.host.emergency_ha_disable(False)
    wait_until(lambda: not master.emergency and master.db is not None, what="start-up carries on as master")
    assert master.starts == starts and master.is_master


def test_a_hung_peer_blocks_the_calls_that_reach_it(start_sim):
    """No timeout on the master's inter-host calls (stunnel idle 12 h):
    xapi_pool.ml recover_slaves (a sequential loop via do_op_on_localsession_nolivecheck),
    xapi_host.ml declare_dead -> is_host_alive -> ask_host_if_it_is_a_slave, and
    xapi.ml check_no_other_masters. The client gives up; xapi carries on when the peer
    answers again; no server thread is left behind."""
    sim = start_sim("healthy")
    ep = sim.endpoints.host("xen1")
    s = make_tcp_session(ep.address, ep.port, timeout=0.3)
    s.login_with_password("root", sim.endpoints.root_password)
    xen2 = s.xenapi.host.get_by_name_label("xen2")[0]
    with sim.world.lock:
        sim.proc("xen3").set_role("slave", "127.0.0.99")  # xen3 comes after xen2 in the loop
    sim.faults.restart_xapi("xen3", immediate=True)
    before = conn_threads()
    sim.faults.hang("xen2")
    with pytest.raises(socket.timeout):
        s.xenapi.pool.recover_slaves()
    assert sim.proc("xen3").conf_master_address == "127.0.0.99"  # waits behind the hung xen2
    with pytest.raises(socket.timeout):
        s.xenapi.host.declare_dead(xen2)
    web02 = login_master(sim).xenapi.VM.get_by_name_label("web02")[0]  # resident on xen2
    with pytest.raises(socket.timeout):  # message_forwarding.ml power_state_reset: is_host_alive
        s.xenapi.VM.power_state_reset(web02)
    sim.faults.unhang("xen2")
    # xapi carried on: xen3 repointed at the master; xen2 answered pool.is_slave: alive
    wait_until(lambda: sim.proc("xen3").conf_master_address == ep.address, what="recover_slaves carried on")
    fresh = login_master(sim)
    assert fresh.xenapi.host.get_enabled(xen2) is True
    assert fresh.xenapi.VM.get_power_state(web02) == "Running"  # HOST_IS_LIVE in the end
    wait_until(lambda: conn_threads() <= before + 1, what="blocked server threads released")
    # a promoted master's start-up waits in check_no_other_masters for a hung host
    sim.faults.hang("xen3")
    sim.faults.restart_xapi("xen1", immediate=True)
    assert any("check_no_other_masters" in line for line in sim.world.log[-20:])


def test_promotion_marks_every_host_live_for_the_dead_host_interval(start_sim):
    """db_gc.ml check_host_liveness (single_pass at database start): the heartbeat
    table of a new master is empty, so every host, the dead one included, gets a fresh
    host_assumed_dead_interval timer and live=true until it runs out. declare_dead
    then has to contact the host (is_host_alive) to find it dead."""
    sim = start_sim("master-down", timings=Timings(host_dead=300.0))
    x2 = local_unix(sim, "xen2").xenapi
    x2.pool.emergency_transition_to_master()
    wait_until(
        lambda: sim.proc("xen2").is_master and sim.proc("xen2").db is not None and sim.proc("xen2").up, what="promoted"
    )
    s = login_master(sim, "xen2")
    xen1 = s.xenapi.host.get_by_name_label("xen1")[0]
    metrics = s.xenapi.host.get_metrics(xen1)
    assert s.xenapi.host_metrics.get_live(metrics) is True  # powered off, yet live
    s.xenapi.host.declare_dead(xen1)  # contacted: connection refused -> dead
    assert s.xenapi.host.get_enabled(xen1) is False
    wait_until(
        lambda: s.xenapi.host_metrics.get_live(metrics) is False,
        timeout=15,
        what="live=false once the interval ran out",
    )


def test_designate_new_master_two_phase_commit(start_sim):
    """message_forwarding.ml designate_new_master (with_pool_operation: one at a time;
    do_op_on: HOST_OFFLINE); xapi_pool.ml designate_new_master; xapi_pool_transition.ml
    attempt_two_phase_commit_of_new_master: propose_new_master is an emergency call (an
    emergency-mode peer agrees); the proposal is recorded on every peer; a failure in
    phase 2 leaves the new master broken (it restarts into HOST_BROKEN)."""
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    hosts = {x.host.get_name_label(h): h for h in x.host.get_all()}
    pool = x.pool.get_all()[0]
    db = sim.proc("xen1").db
    with sim.world.lock:
        db.set_field("pool", pool, "current_operations", {"OpaqueRef:other": "designate_new_master"})
    assert failure(x.pool.designate_new_master, hosts["xen2"]) == ["DESIGNATE_NEW_MASTER_IN_PROGRESS"]
    with sim.world.lock:
        db.set_field("pool", pool, "current_operations", {})
        db.set_field("host_metrics", db.get_field("host", hosts["xen2"], "metrics"), "live", False)
    assert failure(x.pool.designate_new_master, hosts["xen2"]) == ["HOST_OFFLINE", hosts["xen2"]]
    with sim.world.lock:
        db.set_field("host_metrics", db.get_field("host", hosts["xen2"], "metrics"), "live", True)
    # phase 2 failure: xen3 agreed in phase 1, then is gone when told to commit
    sim.proc("xen2").between_commit_phases = lambda: sim.faults.power_off("xen3")
    with sim.world.lock:  # xen3 in emergency mode: propose/commit are emergency calls
        sim.proc("xen3").emergency = True
    x.pool.designate_new_master(hosts["xen2"])
    assert x.pool.get_current_operations(pool) == {}
    address2 = sim.endpoints.host("xen2").address
    assert sim.proc("xen1").proposed_master[0] == address2
    wait_until(lambda: sim.proc("xen2").emergency_error.code == "HOST_BROKEN", what="xen2 broken")
    assert sim.proc("xen2").conf_role == "broken"


def test_pool_hello_and_member_reentry(start_sim):
    """xapi_pool.ml hello: Host.address updated; talk-back (pool.is_slave, no retry)
    failing -> cannot_talk_back, stored as HOST_MASTER_CANNOT_TALK_BACK [my ip]
    (xapi.ml attempt_host_status_check_with_coordinator); enabled=false until the
    member's own consider_enabling_host (xapi_host_helpers.ml); live=true only when
    HA is off. A member in server_run_in_emergency_mode rejoins at its next periodic
    restart, not when the cause goes away."""
    sim = start_sim("healthy", timings=Timings(enable_after_hello=10**6))
    s = login_master(sim)
    x = s.xenapi
    xen2 = x.host.get_by_name_label("xen2")[0]
    db = sim.proc("xen1").db
    with sim.world.lock:
        db.set_field("host", xen2, "address", "127.0.0.250")
    sim.faults.block_one_way("xen1", "xen2")
    sim.faults.restart_xapi("xen2", immediate=True)
    assert sim.proc("xen2").emergency_error.details == [
        "HOST_MASTER_CANNOT_TALK_BACK",
        sim.endpoints.host("xen2").address,
    ]
    assert x.host.get_address(xen2) == sim.endpoints.host("xen2").address
    sim.faults.unblock_one_way("xen1", "xen2")
    wait_until(lambda: not sim.proc("xen2").emergency, what="hello")
    assert x.host.get_enabled(xen2) is False  # until xen2 enables itself
    # with HA on, hello leaves live alone
    metrics = x.host.get_metrics(xen2)
    with sim.world.lock:
        db.set_field("host_metrics", metrics, "live", False)
        for pool in db.refs("pool"):
            db.set_field("pool", pool, "ha_enabled", True)
        sim.proc("xen1").last_heartbeat[xen2] = sim.clock.now() - 10**6
    sim.faults.restart_xapi("xen2", immediate=True)
    assert x.host_metrics.get_live(metrics) is False
    # an emergency-mode member (broken) rejoins only at its periodic restart
    with sim.world.lock:
        for pool in db.refs("pool"):
            db.set_field("pool", pool, "ha_enabled", False)
        sim.proc("xen3").set_role("broken")
    sim.faults.restart_xapi("xen3", immediate=True)
    starts = sim.proc("xen3").starts
    with sim.world.lock:
        sim.proc("xen3").set_role("slave", sim.endpoints.host("xen1").address)
    assert sim.proc("xen3").emergency_error.details == ["HOST_BROKEN"]
    wait_until(
        lambda: sim.proc("xen3").starts > starts and not sim.proc("xen3").emergency,
        what="rejoined at the periodic restart",
    )


# --- issue 11 item 9: the smaller points ---------------------------------------------


def test_pif_forget_brings_the_pifs_bridge_down(start_sim):
    """xapi_pif.ml forget -> forget_internal: a managed PIF goes through nm.ml
    bring_pif_down first, which destroys its network's bridge (destroy_bridges,
    Net.Bridge.destroy). A stale PIF that shares the bridge carrying the host's
    address takes the address with it; one on another bridge does not."""
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    xen2 = x.host.get_by_name_label("xen2")[0]
    pifs = {x.PIF.get_device(p): p for p in x.host.get_PIFs(xen2)}
    net0, net1 = x.PIF.get_network(pifs["eth0"]), x.PIF.get_network(pifs["eth1"])
    db = sim.proc("xen1").db
    with sim.world.lock:  # stale rows as a NIC swap leaves them, one on each bridge
        stale0 = db.create(
            "PIF",
            device="eth9",
            host=xen2,
            network=net0,
            MAC="02:00:00:00:00:99",
            physical=True,
            currently_attached=False,
            managed=True,
        )
        stale1 = db.create(
            "PIF",
            device="eth8",
            host=xen2,
            network=net1,
            MAC="02:00:00:00:00:98",
            physical=True,
            currently_attached=False,
            managed=True,
        )
    x.PIF.forget(stale1)
    assert sim.world.machines["xen2"].has_ip
    x.PIF.forget(stale0)  # xenbr0 is destroyed: xen2's management address is gone
    assert not sim.world.machines["xen2"].has_ip
    assert sim.proc("xen2").tcp_listeners is None


def test_emergency_reset_master_resolves_names_and_ipv6(start_sim):
    """xapi_pool.ml emergency_reset_master: Helpers.gethostbyname (helpers.ml) resolves
    the argument with getaddrinfo, the inventory's address family first, then the other;
    an address literal of either family passes; an unknown name fails with Failure
    "Couldn't resolve hostname: <name>" (INTERNAL_ERROR on the wire)."""
    sim = start_sim("healthy")
    s = local_unix(sim, "xen2")
    s.xenapi.pool.emergency_reset_master("xen3")
    assert sim.proc("xen2").conf_master_address == sim.world.machines["xen3"].address
    s.xenapi.pool.emergency_reset_master("fe80:0:0::1")
    assert sim.proc("xen2").conf_master_address == "fe80::1"  # Unix.string_of_inet_addr form
    assert failure(s.xenapi.pool.emergency_reset_master, "no-such-host.example") == [
        "INTERNAL_ERROR",
        'Failure("Couldn\'t resolve hostname: no-such-host.example")',
    ]


def test_pif_reconfigure_ip_checks_ha_and_validates_every_mode(start_sim):
    """xapi_pif.ml reconfigure_ip: unless mode, IP, netmask and gateway are an unchanged
    static configuration, assert_no_protection_enabled (attached PIF + HA -> HA_IS_ENABLED,
    DHCP to DHCP included); Static needs IP and netmask to be IPv4 addresses
    (Helpers.assert_is_valid_ip: any address, not only a contiguous mask); in every mode a
    non-empty IP, netmask or gateway must be valid (INVALID_IP_ADDRESS_SPECIFIED [field])."""
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    xen2 = x.host.get_by_name_label("xen2")[0]
    pifs = {x.PIF.get_device(p): p for p in x.host.get_PIFs(xen2)}
    mgmt, eth1 = pifs["eth0"], pifs["eth1"]
    rec = x.PIF.get_record(mgmt)
    db = sim.proc("xen1").db
    with sim.world.lock:
        db.set_field("pool", db.refs("pool")[0], "ha_enabled", True)
    assert failure(x.PIF.reconfigure_ip, mgmt, "DHCP", "", "", "", "") == ["HA_IS_ENABLED"]
    # only DNS changes on an unchanged static configuration: allowed with HA on
    x.PIF.reconfigure_ip(mgmt, "Static", rec["IP"], rec["netmask"], rec["gateway"], "10.0.0.53")
    assert x.PIF.get_DNS(mgmt) == "10.0.0.53"
    with sim.world.lock:
        db.set_field("pool", db.refs("pool")[0], "ha_enabled", False)
    assert failure(x.PIF.reconfigure_ip, eth1, "DHCP", "not-an-ip", "", "", "") == [
        "INVALID_IP_ADDRESS_SPECIFIED",
        "IP",
    ]
    assert failure(x.PIF.reconfigure_ip, eth1, "None", "", "", "10.0.0.300", "") == [
        "INVALID_IP_ADDRESS_SPECIFIED",
        "gateway",
    ]
    assert failure(x.PIF.reconfigure_ip, eth1, "Static", "10.1.0.2", "", "", "") == [
        "INVALID_IP_ADDRESS_SPECIFIED",
        "netmask",
    ]
    x.PIF.reconfigure_ip(eth1, "Static", "10.1.0.2", "255.0.255.0", "", "")  # any IPv4 address
    assert failure(x.PIF.reconfigure_ip, mgmt, "None", "", "", "", "") == ["PIF_IS_MANAGEMENT_INTERFACE", mgmt]


def test_management_reconfigure_checks_in_xapis_order(start_sim):
    """message_forwarding.ml Host.management_reconfigure: do_op_on the PIF's host first
    (HOST_OFFLINE for a host that is not live); then xapi_host.ml management_reconfigure:
    HA_IS_ENABLED, then for a managed PIF assert_usable_for_management (bond slave,
    PIF_HAS_NO_NETWORK_CONFIGURATION), and only then "already the management PIF: nothing
    to do" — so the checks apply to the current management PIF too."""
    sim = start_sim("healthy", timings=STILL_LIVENESS)
    s = login_master(sim)
    x = s.xenapi
    xen2 = x.host.get_by_name_label("xen2")[0]
    mgmt = x.host.get_management_interface(xen2)
    db = sim.proc("xen1").db
    pool = db.refs("pool")[0]
    with sim.world.lock:
        db.set_field("pool", pool, "ha_enabled", True)
        db.set_field("PIF", mgmt, "ip_configuration_mode", "None")
        metrics = db.get_field("host", xen2, "metrics")
        db.set_field("host_metrics", metrics, "live", False)
    assert failure(x.host.management_reconfigure, mgmt) == ["HOST_OFFLINE", xen2]
    with sim.world.lock:
        db.set_field("host_metrics", metrics, "live", True)
    assert failure(x.host.management_reconfigure, mgmt) == ["HA_IS_ENABLED"]
    with sim.world.lock:
        db.set_field("pool", pool, "ha_enabled", False)
    assert failure(x.host.management_reconfigure, mgmt) == ["PIF_HAS_NO_NETWORK_CONFIGURATION", mgmt]
    with sim.world.lock:
        db.set_field("PIF", mgmt, "ip_configuration_mode", "Static")
    assert x.host.management_reconfigure(mgmt) == ""  # already the management PIF


def test_ha_start_up_loop_runs_before_hello_and_soft_disable_keeps_the_host_armed(start_sim):
    """xapi.ml: start_ha (Xapi_ha.on_server_restart) runs for every role before the role
    branch, so an armed host with no statefile reports HA_HOST_CANNOT_ACCESS_STATEFILE,
    never its Pool.hello error. xapi_ha.ml emergency_ha_disable: soft stops the daemon but
    leaves localdb ha.armed true (the loop goes on after a restart); hard clears it."""
    sim = start_sim("master-down-ha")
    xen3 = sim.proc("xen3")
    assert xen3.emergency and xen3.emergency_error.details == ["HA_HOST_CANNOT_ACCESS_STATEFILE"]
    s = local_unix(sim, "xen3")
    s.xenapi.host.emergency_ha_disable(True)
    assert xen3.ha_armed
    sim.apply_step(["restart_xapi", "xen3"])
    assert sim.proc("xen3").emergency_error.details == ["HA_HOST_CANNOT_ACCESS_STATEFILE"]
    s = local_unix(sim, "xen3")
    s.xenapi.host.emergency_ha_disable(False)
    assert not sim.proc("xen3").ha_armed


def test_pool_enable_ha_checks_and_its_lock(start_sim):
    """message_forwarding.ml enable_ha -> xapi_pool_helpers.ml with_pool_operation: a
    blocking pool operation in progress refuses it with that operation's *_IN_PROGRESS,
    HA on with HA_IS_ENABLED. xapi_ha.ml enable: REQUIRED_PIF_IS_UNPLUGGED [pifs] for
    disallow_unplug PIFs not attached, HOST_OFFLINE, then the statefile SR
    (xha_statefile.ml check_sr_can_host_statefile: SR_NO_PBDS for an explicit SR some host
    cannot see; with no SR given, the first that passes, else CANNOT_CREATE_STATE_FILE)."""
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    db = sim.proc("xen1").db
    pool = db.refs("pool")[0]
    with sim.world.lock:
        db.set_field("pool", pool, "current_operations", {"OpaqueRef:other": "designate_new_master"})
    assert failure(x.pool.enable_ha, [], {}) == ["DESIGNATE_NEW_MASTER_IN_PROGRESS"]
    with sim.world.lock:
        db.set_field("pool", pool, "current_operations", {})
        pif = db.find("PIF", device="eth1")[0]
        db.update("PIF", pif, disallow_unplug=True, currently_attached=False)
    assert failure(x.pool.enable_ha, [], {}) == ["REQUIRED_PIF_IS_UNPLUGGED", pif]
    with sim.world.lock:
        db.update("PIF", pif, disallow_unplug=False)
    local = [r for r, v in x.SR.get_all_records().items() if not v["shared"]][0]
    assert failure(x.pool.enable_ha, [local], {}) == ["SR_NO_PBDS", local]
    x.pool.enable_ha([], {})
    assert x.pool.get_current_operations(pool) == {}  # the lock is released
    statefile = x.pool.get_ha_statefiles(pool)[0]
    assert x.VDI.get_type(statefile) == "ha_statefile" and x.SR.get_shared(x.VDI.get_SR(statefile))
    assert failure(x.pool.enable_ha, [], {}) == ["HA_IS_ENABLED"]


# --- issue 11 item 10: the generic surface -------------------------------------------


def test_generic_surface_follows_the_datamodel_and_db_filter(start_sim):
    """ocaml/database/db_filter_parse.mly: `and`/`or` one precedence level, left-assoc,
    `not` tighter, columns by their database names; datamodel.ml `call`'s default flags
    [`Session; `Async]: Async.<call> exists exactly for calls that do not say
    ~flags:[`Session] (VM.start_on yes, pool.emergency_transition_to_master and
    VM.get_allowed_VBD_devices no); taskHelper.ml complete: progress 1.0, result as
    Xmlrpc.to_string, allowed_operations []. (Details: tests/sim/test_sim_sdk_surface.py.)"""
    sim = start_sim("healthy")
    s = login_master(sim)
    x = s.xenapi
    assert x.host.get_all_records_where("false or true and false") == {}
    assert len(x.host.get_all_records_where('field "name__label" = "xen1" or field "name__label" = "xen2"')) == 2
    spare = x.VM.get_by_name_label("spare01")[0]
    assert failure(x.Async.VM.get_allowed_VBD_devices, spare)[0] == "MESSAGE_METHOD_UNKNOWN"
    task = x.Async.VM.start(spare, False, False)
    wait_until(lambda: x.task.get_status(task) == "success", what="task done")
    assert x.task.get_progress(task) == 1.0 and x.task.get_allowed_operations(task) == []


# --- issue 10: the pid file names a real `xapi` process --------------------------------


def test_pid_file_names_a_live_xapi_process_while_xapi_runs(start_sim):
    """xapi_main.ml: `Unixext.pidfile_write "/var/run/xapi.pid"` at start-up, in the
    process systemd runs (xapi.ml `watchdog` no longer forks: a restart is a new
    process, scripts/xapi.service Restart=on-failure); scripts/xapi.service
    ExecStopPost removes the file when xapi stops. xsconsole's IsXAPIRunning
    (XSConsoleData.py) believes it only if /proc/<pid>/exe is named `xapi`."""
    import os

    sim = start_sim("healthy")
    pid_file = sim.state_dir / "xen2" / dom0_files.XAPI_PID
    first = int(pid_file.read_text())
    assert os.path.basename(os.readlink(f"/proc/{first}/exe")) == "xapi"
    proc = sim.proc("xen2")
    with sim.world.lock:
        proc.restart(gap=0)
    second = int(pid_file.read_text())
    assert second != first and os.path.basename(os.readlink(f"/proc/{second}/exe")) == "xapi"
    with sim.world.lock:
        proc.stop("test")
    assert not pid_file.exists()
