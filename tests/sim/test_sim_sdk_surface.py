"""The generic xapi surface every client relies on, through the real XenAPI SDK
against the simulator: get_all_records_where, Async.* tasks and task.cancel,
allowed_operations, VM.get_allowed_VBD_devices, host_cpu / cpu_info /
software_version / capabilities, VM_guest_metrics, /rrd_updates, xapi-ssl.pem."""

from __future__ import annotations

import http.client
import os
import stat
import xml.etree.ElementTree as ET

import pytest

from tests.sim.sessions import failure, make_tcp_session, wait_until
from xentui.sim import dom0_files


@pytest.fixture
def pool(start_sim):
    sim = start_sim("healthy")
    ep = sim.endpoints.host("xen1")
    session = make_tcp_session(ep.address, ep.port)
    session.login_with_password("root", sim.endpoints.root_password)
    yield sim, session.xenapi, session
    session.logout()


# --- get_all_records_where (db_filter_parse.mly, db_filter.ml eval_expr) ----------------


def test_get_all_records_where_speaks_xapis_filter_language_for_every_class(pool):
    sim, x, _ = pool
    vms = x.VM.get_all_records()
    running = {r for r, v in vms.items() if v["power_state"] == "Running" and not v["is_control_domain"]}
    got = x.VM.get_all_records_where('field "power_state"="Running" and not field "is_control_domain"="true"')
    assert set(got) == running and got[next(iter(running))] == vms[next(iter(running))]
    # namespaced columns as state.db names them; literals on either side
    assert set(x.VM.get_all_records_where('"spare01" = field "name__label"')) == set(x.VM.get_by_name_label("spare01"))
    # `and` and `or` share one precedence level, left-associative: (true or true) and false
    assert x.host.get_all_records_where("true or true and false") == {}
    assert len(x.host.get_all_records_where("true or (true and false)")) == 3
    assert len(x.host.get_all_records_where('not (field "enabled" = "false")')) == 3
    # every class has it, the new ones too
    for cls in (
        "pool",
        "host",
        "host_metrics",
        "host_cpu",
        "PIF",
        "network",
        "SR",
        "PBD",
        "VDI",
        "VBD",
        "VIF",
        "VM_metrics",
        "VM_guest_metrics",
        "task",
    ):
        assert set(getattr(x, cls).get_all_records_where("true")) == set(getattr(x, cls).get_all()), cls
    # sets and maps compare as the database stores them (s-expressions)
    sr = x.SR.get_all()[0]
    x.SR.set_tags(sr, ["a b"])
    assert list(x.SR.get_all_records_where('field "tags" = "(\'a b\')"')) == [sr]
    # a bad expression or an unknown column fails the call
    assert failure(x.VM.get_all_records_where, 'field "name__label" = ')[0] == "INTERNAL_ERROR"
    assert failure(x.VM.get_all_records_where, 'field "name_label" = "x"')[0] == "INTERNAL_ERROR"


# --- Async.* and task (taskHelper.ml, xapi_task.ml) ----------------------------------------


def test_async_call_returns_a_task_that_progresses_and_completes(pool):
    sim, x, _ = pool
    spare = x.VM.get_by_name_label("spare01")[0]
    xen2 = x.host.get_by_name_label("xen2")[0]
    task = x.Async.VM.start_on(spare, xen2, False, False)
    rec = x.task.get_record(task)
    assert rec["name_label"] == "Async.VM.start_on" and rec["status"] in ("pending", "success")
    assert rec["resident_on"] == x.pool.get_master(x.pool.get_all()[0])
    wait_until(lambda: x.task.get_status(task) != "pending", what="task done")
    rec = x.task.get_record(task)
    assert rec["status"] == "success" and rec["progress"] == 1.0 and rec["error_info"] == []
    assert rec["result"] == "" and rec["allowed_operations"] == []
    assert str(rec["finished"]) >= str(rec["created"])
    assert x.VM.get_resident_on(spare) == xen2
    # a call with a result: "<value>...</value>" as Xmlrpc.to_string writes it
    task = x.Async.host.get_management_interface(xen2)
    wait_until(lambda: x.task.get_status(task) == "success", what="result")
    assert x.task.get_result(task) == "<value>%s</value>" % x.host.get_management_interface(xen2)
    # a failure: status failure, error_info = the error
    task = x.Async.VM.start_on(spare, xen2, False, False)
    wait_until(lambda: x.task.get_status(task) == "failure", what="failure")
    assert x.task.get_error_info(task) == ["VM_BAD_POWER_STATE", spare, "halted", "running"]
    x.task.destroy(task)
    assert task not in x.task.get_all()
    # only calls xapi flags `Async exist as Async.*
    assert failure(x.Async.VM.get_record, spare) == ["MESSAGE_METHOD_UNKNOWN", "Async.VM.get_record"]
    assert failure(x.Async.pool.emergency_transition_to_master)[0] == "MESSAGE_METHOD_UNKNOWN"


def test_task_cancel_before_the_work_starts(pool):
    sim, x, _ = pool
    sim.world.task_start_delay = 1e9  # the work waits: the task stays pending until cancelled
    spare = x.VM.get_by_name_label("spare01")[0]
    task = x.Async.VM.start(spare, False, False)
    assert x.task.get_status(task) == "pending" and x.task.get_allowed_operations(task) == ["cancel"]
    x.task.cancel(task)
    assert "cancel" in x.task.get_current_operations(task).values()
    # the waiting work notices at its cancellation point
    wait_until(lambda: x.task.get_status(task) != "pending", what="cancelled")
    rec = x.task.get_record(task)
    assert rec["status"] == "cancelled" and rec["error_info"] == ["TASK_CANCELLED", task]
    assert x.VM.get_power_state(spare) == "Halted"
    # cancelling a finished task changes nothing
    x.task.cancel(task)
    assert x.task.get_status(task) == "cancelled"


# --- allowed_operations -------------------------------------------------------------------


def test_allowed_operations_follow_power_state_enabled_and_attachment(pool):
    sim, x, _ = pool
    spare = x.VM.get_by_name_label("spare01")[0]
    web01 = x.VM.get_by_name_label("web01")[0]
    xen2 = x.host.get_by_name_label("xen2")[0]
    assert "start" in x.VM.get_allowed_operations(spare)
    assert "clean_shutdown" not in x.VM.get_allowed_operations(spare)
    assert "clean_shutdown" in x.VM.get_allowed_operations(web01)
    assert "start" not in x.VM.get_allowed_operations(web01)
    vdi = x.VBD.get_VDI(x.VM.get_VBDs(spare)[0])
    assert "destroy" in x.VDI.get_allowed_operations(vdi)
    x.VM.start_on(spare, xen2, False, False)
    assert "clean_shutdown" in x.VM.get_allowed_operations(spare)
    assert "destroy" not in x.VDI.get_allowed_operations(vdi)  # attached now
    # hosts: reboot/shutdown only once disabled (xapi_host_helpers.ml)
    assert "reboot" not in x.host.get_allowed_operations(xen2)
    x.host.disable(xen2)
    assert {"reboot", "shutdown"} <= set(x.host.get_allowed_operations(xen2))
    x.host.enable(xen2)
    # SRs: destroy/forget only with every PBD unplugged
    sr = x.VDI.get_SR(vdi)
    assert "forget" not in x.SR.get_allowed_operations(sr)


def test_get_allowed_vbd_devices_skips_the_used_ones(pool):
    _, x, _ = pool
    spare = x.VM.get_by_name_label("spare01")[0]
    devices = x.VM.get_allowed_VBD_devices(spare)
    assert "0" not in devices and devices[0] == "1" and devices[-1] == "254"  # xvda is userdevice 0
    assert x.VM.get_allowed_VIF_devices(spare) == [str(n) for n in range(1, 16)]  # VIF device "0" is used


# --- what a host writes about itself ------------------------------------------------------


def test_host_cpu_cpu_info_capabilities_software_version_and_guest_metrics(pool):
    _, x, _ = pool
    host = x.host.get_by_name_label("xen1")[0]
    rec = x.host.get_record(host)
    info = rec["cpu_info"]
    assert int(info["cpu_count"]) == len(rec["host_CPUs"]) > 0
    for key in (
        "socket_count",
        "threads_per_core",
        "vendor",
        "speed",
        "modelname",
        "family",
        "model",
        "stepping",
        "flags",
        "features_pv",
        "features_hvm",
        "features_pv_host",
        "features_hvm_host",
    ):
        assert key in info, key
    cpus = [x.host_cpu.get_record(c) for c in rec["host_CPUs"]]
    assert sorted(int(c["number"]) for c in cpus) == list(range(len(cpus)))
    assert all(c["host"] == host and c["vendor"] == info["vendor"] for c in cpus)
    assert "hvm-3.0-x86_64" in rec["capabilities"]
    sv = rec["software_version"]
    assert sv["xapi"] == "24.19" and sv["product_brand"] == "XCP-ng"
    for key in (
        "product_version",
        "platform_name",
        "platform_version",
        "xapi_build",
        "xen",
        "linux",
        "xencenter_min",
        "xencenter_max",
        "network_backend",
        "db_schema",
    ):
        assert key in sv, key
    web01 = x.VM.get_by_name_label("web01")[0]
    gm = x.VM_guest_metrics.get_record(x.VM.get_guest_metrics(web01))
    assert gm["PV_drivers_detected"] is True and gm["os_version"]["distro"] == "debian"
    assert "0/ip" in gm["networks"]


# --- /rrd_updates (rrdd_http_handler.ml, rrd_updates.ml) ---------------------------------


def _get(ep, path):
    conn = http.client.HTTPConnection(ep.address, ep.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_rrd_updates_in_xport_format_with_xapis_query_parameters(pool):
    sim, x, session = pool
    ep = sim.endpoints.host("xen1")
    sid = session._session
    status, ctype, body = _get(ep, f"/rrd_updates?session_id={sid}&start=-60&host=true")
    assert status == 200 and ctype == "text/xml"
    doc = ET.fromstring(body)
    meta = doc.find("meta")
    legend = [e.text for e in meta.find("legend")]
    host_uuid = x.host.get_uuid(x.host.get_by_name_label("xen1")[0])
    web01 = x.VM.get_uuid(x.VM.get_by_name_label("web01")[0])
    assert f"AVERAGE:host:{host_uuid}:memory_total_kib" in legend
    assert f"AVERAGE:vm:{web01}:memory" in legend  # vm_uuid defaults to every VM running here
    assert int(meta.find("step").text) == 5 and int(meta.find("columns").text) == len(legend)
    rows = doc.find("data").findall("row")
    assert len(rows) == int(meta.find("rows").text) > 0
    times = [int(r.find("t").text) for r in rows]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(len(r.findall("v")) == len(legend) for r in rows)
    # host=false (the default) and one VM only; a coarser archive for an old start
    status, _, body = _get(ep, f"/rrd_updates?session_id={sid}&start=0&interval=3600&vm_uuid={web01}&json=true")
    import json

    doc = json.loads(body)
    assert status == 200 and doc["meta"]["step"] == 86400
    assert all(e.startswith(f"AVERAGE:vm:{web01}:") for e in doc["meta"]["legend"])
    # `start` is required; no session -> 401; only AVERAGE archives exist (use_min_max off)
    assert _get(ep, f"/rrd_updates?session_id={sid}")[0] == 400
    assert _get(ep, "/rrd_updates?start=0")[0] == 401
    assert _get(ep, f"/rrd_updates?session_id={sid}&start=0&cf=MAX")[0] == 500


# --- etc/xensource/xapi-ssl.pem ------------------------------------------------------------


def test_each_host_has_its_xapi_ssl_pem(pool):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    sim, _, _ = pool
    seen = set()
    for ep in sim.endpoints.hosts:
        path = os.path.join(ep.root, dom0_files.XAPI_SSL_PEM)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o400
        data = open(path, "rb").read()
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE") :])
        assert cert.subject.rfc4514_string() == f"CN={ep.name}"
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert key.key_size == 2048
        seen.add(cert.fingerprint(cert.signature_hash_algorithm))
    assert len(seen) == len(sim.endpoints.hosts)
