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
import XenAPI

from conftest import TimeoutTransport, UnixHTTPConnection, UnixTransport, make_tcp_session, make_unix_session, wait_until
from xentui.sim import dom0_files
from xentui.sim.clock import Timings
from xentui.sim.dispatch import EMERGENCY_CALLS


def failure(call, *args):
    with pytest.raises(XenAPI.Failure) as info:
        call(*args)
    return info.value.details


def raw_tcp(ep, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy(f"http://{ep.address}:{ep.port}/", transport=TimeoutTransport(timeout),
                                     allow_none=True)


def raw_unix(path, timeout: float = 5.0):
    return xmlrpc.client.ServerProxy("http://localhost/", transport=UnixTransport(str(path), timeout),
                                     allow_none=True)


def post(ep, path: str, body: bytes, unix: bool = False, content_type: str = "application/json"):
    conn = (UnixHTTPConnection(ep.socket, 5.0) if unix
            else http.client.HTTPConnection(ep.address, ep.port, timeout=5.0))
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
        "MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "2", "1"]


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
        "HOST_IS_SLAVE", master.address]
    assert raw_tcp(slave).VM.get_all(s._session)["ErrorDescription"] == ["HOST_IS_SLAVE", "127.0.0.99"]


def test_session_authentication_failed_params(start_sim):
    # xapi_session.ml: do_local_auth -> [uname; PAM message]; slave_login_common ->
    # [host_str; "Pool credentials invalid"] with host_str = the host ref (slave_login) or
    # "localhost" (slave_local_login); no delay for pool-secret failures.
    sim = start_sim("healthy")
    master, slave = sim.endpoints.host("xen1"), sim.endpoints.host("xen2")
    raw = raw_tcp(master)
    assert raw.session.login_with_password("root", "bad")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"]
    t0 = time.monotonic()
    assert raw.session.slave_login("OpaqueRef:h", "wrong")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", "OpaqueRef:h", "Pool credentials invalid"]
    assert raw_tcp(slave).session.slave_local_login("wrong")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", "localhost", "Pool credentials invalid"]
    assert time.monotonic() - t0 < 0.5
    assert raw_tcp(slave).session.slave_local_login_with_password("admin", "bad")["ErrorDescription"] == [
        "SESSION_AUTHENTICATION_FAILED", "admin", "Authentication failure"]


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
    assert x.host.emergency_reenable_tls_verification() == ""
    assert x.host.emergency_clear_mandatory_guidance() == ""
    assert x.host.update_firewalld_service_status() == ""
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
    assert (t.hello_retry_temporary, t.hello_retry_permanent, t.login_failure_delay, t.db_flush) == (5.0, 60.0, 5.0, 2.0)
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
        {r: {k: (v.value if isinstance(v, xmlrpc.client.DateTime) else v) for k, v in rec.items()}
         for r, rec in by_xml.items()})
    some = next(iter(by_json.values()))
    assert isinstance(some["memory_static_max"], int) and isinstance(some["power_state"], str)
    # HOST_IS_SLAVE on a slave over TCP, both versions
    assert jsonrpc(slave, "session.login_with_password", ["root", "xenroot"], "1.0") == {
        "result": None, "error": ["HOST_IS_SLAVE", master.address], "id": 7}
    assert jsonrpc(slave, "session.login_with_password", ["root", "xenroot"], "2.0") == {
        "jsonrpc": "2.0", "error": {"code": 1, "message": "HOST_IS_SLAVE", "data": [master.address]}, "id": 7}
    # unknown method, bad session
    assert jsonrpc(master, "VM.frobnicate", [ref], "1.0")["error"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert jsonrpc(master, "VM.get_all", ["OpaqueRef:nope"], "2.0")["error"] == {
        "code": 1, "message": "SESSION_INVALID", "data": ["OpaqueRef:nope"]}


def test_jsonrpc_emergency_error_uses_jsoncallbacks_fixed_shape(start_sim):
    # api_server.ml: callback1 *raises* the emergency error; jsoncallback's handler answers
    # Jsonrpc.string_of_response ~version:V2 (Rpc.failure (Enum (err :: params))) with the default
    # id Int 0, whatever the request's version and id.
    sim = start_sim("master-down")
    xen2 = sim.endpoints.host("xen2")
    error = sim.proc("xen2").emergency_error.details
    for version in ("1.0", "2.0"):
        assert jsonrpc(xen2, "session.login_with_password", ["root", "xenroot"], version, rid=42) == {
            "jsonrpc": "2.0", "error": error, "id": 0}
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
    assert reply == b'{"jsonrpc":"2.0","error":["INVALID_VALUE","Invalid UTF-8 string in parameter","\xed\xb4\x80"],"id":0}'

    status, _ = post(master, "/jsonrpc", b'{"method": "VM.get_all", "params": ["\\ud800"], "id": 1}')
    assert status >= 400
    xml = (b'<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName>'
           b'<params><param><value>r\xffoot</value></param><param><value>x</value></param></params></methodCall>')
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
    wait_until(lambda: "flushed%.by%.the%.master" in open(master_db, encoding="utf-8").read(), timeout=5.0,
               what="the master's periodic DB flush")
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
    tables["VM"]["OpaqueRef:odd"] = dict(next(iter(tables["VM"].values())), name_label="a b%c\t<&>\"'\\",
                                         tags=["x y", "q'\\"], other_config={"k k": "v\nv", "e": ""})
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
