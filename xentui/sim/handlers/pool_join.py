"""pool.join of a (re)installed host, pool.enable_tls_verification, host.set_iscsi_iqn.

Follows xapi 24.19 (ocaml/xapi/xapi_pool.ml):
- join / join_force -> join_common: log in to the coordinator (unverified),
  pre_join_checks in their order (the ones a rebuilt former member can meet
  are modelled: management interface, HA on either side, joining itself, other
  hosts known, running VMs, pending mandatory guidance on either side, host
  compatibility, homogeneity unless forced, shared SRs, management
  VLAN, API version, DB schema, TLS verification), then the host record is
  created on the coordinator (create_or_get_host_on_master, keyed by uuid: a
  reinstall has a new uuid, so a new record; the old one stays) and the joiner
  becomes the coordinator's slave (Xapi_pool_transition.become_another_masters_slave:
  pool.conf, then xapi restarts). The PBDs of the pool's shared SRs are created
  for it, unplugged; plugging an iSCSI one needs the SAN to admit its IQN.
- enable_tls_verification (message_forwarding.ml: pool operation
  tls_verification_enable; Cert_distrib.exchange_certificates_in_pool contacts
  every host, so a dead record makes it fail; then every host verifies).
- host.set_iscsi_iqn (message_forwarding.ml do_op_on the host: HOST_OFFLINE /
  CANNOT_CONTACT_HOST; then xapi_host.ml): INVALID_VALUE for ""; iscsi_iqn and
  other_config:iscsi_iqn.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from xentui.sim import host_facts, tls_state
from xentui.sim.db import Database
from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import NULL_REF, check_ref, forward_to_host, host_proc, make, the_pool
from xentui.sim.pool_ops import pool_operation
from xentui.sim.xapi_host import CallContext, XapiHost, internal_error_connection


def _management_pif(db: "Database", host: Optional[str]) -> str:
    pifs = db.find("PIF", host=host, management=True)
    if not pifs:
        # assert_management_interface_exists
        raise ApiError("HOST_STILL_BOOTING")
    ref: str = pifs[0]
    return ref


def _homogeneity_key(software_version: Dict[str, Any]) -> Any:
    # assert_hosts_homogeneous: xapi version, brand (or platform name), git id, linux pack
    brand = software_version.get("product_brand") or software_version.get("platform_name", "")
    return (
        software_version.get("xapi", ""),
        brand,
        software_version.get("git_id", ""),
        "installed" if "xs:linux" in software_version else "not present",
    )


def _compatibility_key(software_version: Dict[str, Any]) -> Any:
    # assert_hosts_compatible: (PLATFORM_VERSION, PRODUCT_BRAND or PLATFORM_NAME), None when absent
    brand = software_version.get("product_brand") or software_version.get("platform_name")
    return (software_version.get("platform_version"), brand)


def pre_join_checks(joiner: XapiHost, db: "Database", me: str, master: XapiHost, rdb: "Database", force: bool) -> None:
    rmaster: Any = master.host_ref_in(rdb)  # None (not in its own db) fails in the lookups below
    _management_pif(db, me)
    if bool(db.get_field("pool", the_pool(db), "ha_enabled")):
        raise ApiError("HA_IS_ENABLED")  # ha_is_not_enable_on_me
    if bool(rdb.get_field("pool", the_pool(rdb), "ha_enabled")):
        raise ApiError("HA_IS_ENABLED")  # ha_is_not_enable_on_the_distant_pool
    if master is joiner:  # assert_not_joining_myself
        raise ApiError("OPERATION_NOT_ALLOWED", "Host cannot join its own pool")
    if len(db.refs("host")) > 1:
        raise ApiError("POOL_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS")
    running = [
        vm
        for vm in db.refs("VM")
        if not db.get_field("VM", vm, "is_control_domain") and db.get_field("VM", vm, "power_state") != "Halted"
    ]
    if running:
        raise ApiError("POOL_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS")
    # assert_no_host_pending_mandatory_guidance: the joiner, then the remote coordinator
    if db.get_field("host", me, "pending_guidances"):
        raise ApiError("HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", me)
    if rdb.get_field("host", rmaster, "pending_guidances"):
        raise ApiError("HOST_PENDING_MANDATORY_GUIDANCES_NOT_EMPTY", rmaster)
    # assert_hosts_compatible (even with force): platform_version and brand / platform name
    if _compatibility_key(dict(db.get_field("host", me, "software_version") or {})) != _compatibility_key(
        dict(rdb.get_field("host", rmaster, "software_version") or {})
    ):
        raise ApiError("POOL_HOSTS_NOT_COMPATIBLE")
    if not force:
        mine = dict(db.get_field("host", me, "software_version") or {})
        theirs = dict(rdb.get_field("host", rmaster, "software_version") or {})
        if _homogeneity_key(mine) != _homogeneity_key(theirs):
            raise ApiError("POOL_HOSTS_NOT_HOMOGENEOUS", "Software version differs")
        my_vendor = dict(db.get_field("host", me, "cpu_info") or {}).get("vendor")
        their_vendor = dict(rdb.get_field("host", rmaster, "cpu_info") or {}).get("vendor")
        if my_vendor != their_vendor:
            raise ApiError("POOL_HOSTS_NOT_HOMOGENEOUS", "CPUs differ")
    if any(db.get_field("SR", sr, "shared") for sr in db.refs("SR")):
        raise ApiError("POOL_JOINING_HOST_CANNOT_CONTAIN_SHARED_SRS")
    my_vlan = int(db.get_field("PIF", _management_pif(db, me), "VLAN"))
    their_vlan = int(rdb.get_field("PIF", _management_pif(rdb, rmaster), "VLAN"))
    if my_vlan != their_vlan:
        raise ApiError("POOL_JOINING_HOST_MANAGEMENT_VLAN_DOES_NOT_MATCH", str(my_vlan), str(their_vlan))
    mine_api = (db.get_field("host", me, "API_version_major"), db.get_field("host", me, "API_version_minor"))
    their_api = (
        rdb.get_field("host", rmaster, "API_version_major"),
        rdb.get_field("host", rmaster, "API_version_minor"),
    )
    if mine_api != their_api:
        raise ApiError("POOL_JOINING_HOST_MUST_HAVE_SAME_API_VERSION", "%s.%s" % mine_api, "%s.%s" % their_api)
    my_schema = dict(db.get_field("host", me, "software_version") or {}).get("db_schema", "")
    their_schema = dict(rdb.get_field("host", rmaster, "software_version") or {}).get("db_schema", "")
    if not my_schema or not their_schema or my_schema != their_schema:
        raise ApiError("POOL_JOINING_HOST_MUST_HAVE_SAME_DB_SCHEMA", my_schema, their_schema)
    if bool(db.get_field("pool", the_pool(db), "tls_verification_enabled")) != bool(
        rdb.get_field("pool", the_pool(rdb), "tls_verification_enabled")
    ):
        raise ApiError("POOL_JOINING_HOST_TLS_VERIFICATION_MISMATCH")


def _create_host_on_master(joiner: XapiHost, db: "Database", me: str, rdb: "Database") -> str:
    """create_or_get_host_on_master and the joiner's PIFs; the coordinator's shared
    SRs get a PBD for the new host (unplugged until it plugs them)."""
    found = rdb.find("host", uuid=joiner.machine.uuid)
    if found:
        return found[0]
    record = db.get_record("host", me)
    total = int(db.get_field("host_metrics", record["metrics"], "memory_total"))
    metrics = rdb.create("host_metrics", memory_total=total, memory_free=total, live=True)
    host = rdb.create(
        "host",
        uuid=record["uuid"],
        name_label=record["name_label"],
        hostname=record["hostname"],
        address=joiner.machine.address,
        enabled=False,
        metrics=metrics,
        memory_overhead=record.get("memory_overhead", 0),
        API_version_major=record.get("API_version_major"),
        API_version_minor=record.get("API_version_minor"),
        API_version_vendor=record.get("API_version_vendor"),
        edition=record.get("edition"),
        sched_policy=record.get("sched_policy"),
        iscsi_iqn=record.get("iscsi_iqn", ""),
        other_config=dict(record.get("other_config") or {}),
        tls_verification_enabled=bool(record.get("tls_verification_enabled")),
    )
    host_facts.fill_host(rdb, host)
    dom0 = db.get_record("VM", record["control_domain"])
    fields = {
        k: v
        for k, v in dom0.items()
        if k
        in (
            "uuid",
            "name_label",
            "is_control_domain",
            "power_state",
            "domid",
            "VCPUs_max",
            "domain_type",
            "memory_static_min",
            "memory_static_max",
            "memory_dynamic_min",
            "memory_dynamic_max",
            "memory_target",
            "memory_overhead",
        )
    }
    rdb.set_field("host", host, "control_domain", rdb.create("VM", resident_on=host, **fields))
    bridges = {str(rdb.get_field("network", n, "bridge")): n for n in rdb.refs("network")}
    for pif in db.find("PIF", host=me):
        p = db.get_record("PIF", pif)
        network = bridges.get("xenbr" + str(p["device"])[3:]) if str(p["device"]).startswith("eth") else None
        rdb.create(
            "PIF",
            uuid=p["uuid"],
            device=p["device"],
            host=host,
            network=network or NULL_REF,
            MAC=p["MAC"],
            MTU=p["MTU"],
            VLAN=p["VLAN"],
            physical=True,
            currently_attached=p["currently_attached"],
            management=p["management"],
            managed=True,
            ip_configuration_mode=p["ip_configuration_mode"],
            IP=p["IP"],
            netmask=p["netmask"],
            gateway=p.get("gateway", ""),
            DNS=p.get("DNS", ""),
            primary_address_type="IPv4",
            ipv6_configuration_mode="None",
        )
    # update_non_vm_metadata: the joiner's own (local) SRs come along with their PBDs
    for sr in db.refs("SR"):
        if not db.get_field("SR", sr, "shared"):
            r = db.get_record("SR", sr)
            new_sr = rdb.create(
                "SR",
                uuid=r["uuid"],
                name_label=r["name_label"],
                type=r["type"],
                shared=False,
                content_type=r["content_type"],
                physical_size=r["physical_size"],
            )
            for pbd in db.find("PBD", SR=sr):
                rdb.create(
                    "PBD",
                    host=host,
                    SR=new_sr,
                    currently_attached=db.get_field("PBD", pbd, "currently_attached"),
                    device_config=dict(db.get_field("PBD", pbd, "device_config")),
                )
    for sr in list(rdb.refs("SR")):
        if rdb.get_field("SR", sr, "shared"):
            template = next(iter(rdb.find("PBD", SR=sr)), None)
            config = dict(rdb.get_field("PBD", template, "device_config")) if template else {}
            rdb.create("PBD", host=host, SR=sr, currently_attached=False, device_config=config)
    return host


def _join(ctx: CallContext, master_address: Any, master_username: Any, master_password: Any, force: bool) -> str:
    joiner = ctx.proc
    db = ctx.need_db()
    me = joiner.host_ref_in(db)
    if me is None:
        raise ApiError("HOST_STILL_BOOTING")
    reach = ctx.world.reach(joiner.name, str(master_address))
    if not reach.ok or reach.target is None:
        raise internal_error_connection(reach.describe(str(master_address)))
    master = reach.target
    if master.emergency:
        raise master.emergency_error
    if not master.is_master or master.db is None:
        raise ApiError("HOST_IS_SLAVE", master.master_address)
    if str(master_username) != "root" or str(master_password) != ctx.world.root_password:
        raise ApiError("SESSION_AUTHENTICATION_FAILED", str(master_username), "Authentication failure")
    rdb = master.db
    pre_join_checks(joiner, db, me, master, rdb, force)
    # Pool.exchange_certificates_on_join: each side trusts the other's internal certificate
    on_master = CallContext.on_master(master, ctx.transport)
    pool_procs = [p for p in (host_proc(on_master, h) for h in rdb.refs("host")) if p is not None]
    tls_state.trust_everywhere(pool_procs + [joiner], joiner.tls)
    for proc in pool_procs:
        tls_state.trust_everywhere([joiner], proc.tls)
    _create_host_on_master(joiner, db, me, rdb)
    joiner.note("pool.join: becoming the slave of %s" % master.machine.address)
    joiner.set_role("slave", master.machine.address)
    joiner.light_fuse()
    ctx.world.notify()
    return ""


def join(ctx: CallContext, master_address: Any, master_username: Any, master_password: Any) -> Any:
    return _join(ctx, master_address, master_username, master_password, force=False)


def join_force(ctx: CallContext, master_address: Any, master_username: Any, master_password: Any) -> Any:
    return _join(ctx, master_address, master_username, master_password, force=True)


def enable_tls_verification(ctx: CallContext) -> str:
    db = ctx.need_db()
    with pool_operation(db, the_pool(db), "tls_verification_enable"):
        procs = []
        for host in sorted(db.refs("host")):
            proc = host_proc(ctx, host)
            if proc is None:  # exchange_certificates_in_pool: the host must answer
                raise internal_error_connection("No route to host: %s:443" % db.get_field("host", host, "address"))
            procs.append(proc)
        for proc in procs:
            tls_state.trust_everywhere(procs, proc.tls)
        for proc in procs:
            proc.tls_verification = True
        for host in db.refs("host"):
            db.set_field("host", host, "tls_verification_enabled", True)
        db.set_field("pool", the_pool(db), "tls_verification_enabled", True)
    ctx.world.notify()
    return ""


def set_iscsi_iqn(ctx: CallContext, host: Any, value: Any) -> str:
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    value = str(value)
    # message_forwarding.ml set_iscsi_iqn: do_op_on the host (check_live: HOST_OFFLINE;
    # a failed connection: CANNOT_CONTACT_HOST); xapi_host.ml then checks the value there.
    forward_to_host(ctx, host)
    if value == "":
        raise ApiError("INVALID_VALUE", "value", value)
    other = dict(db.get_field("host", host, "other_config") or {})
    other["iscsi_iqn"] = value
    db.update("host", host, iscsi_iqn=value, other_config=other)
    return ""


METHODS = [
    make("pool.join", ("master_address", "master_username", "master_password"), join),
    make("pool.join_force", ("master_address", "master_username", "master_password"), join_force),
    make("pool.enable_tls_verification", (), enable_tls_verification),
    make("host.set_iscsi_iqn", ("host", "value"), set_iscsi_iqn),
]
