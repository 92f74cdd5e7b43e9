"""PIF.*: re-addressing, forgetting stale NICs, scanning for new ones."""

from __future__ import annotations

from typing import Any

from xentui.sim.errors import ApiError
from xentui.sim.handlers._common import NULL_REF, check_ref, forward_to_host, ha_enabled, make
from xentui.sim.pif_sync import device_position, management_bridge, update_management_flags
from xentui.sim.xapi_host import CallContext, valid_ipv4


def reconfigure_ip(ctx: CallContext, pif: Any, mode: Any, IP: Any, netmask: Any, gateway: Any, DNS: Any) -> str:
    db = ctx.need_db()
    pif = check_ref(db, "PIF", pif)
    record = db.get_record("PIF", pif)
    mode, IP, netmask, gateway, DNS = (str(x) for x in (mode, IP, netmask, gateway, DNS))
    if mode not in ("None", "DHCP", "Static"):
        raise ApiError("INVALID_VALUE", "mode", mode)
    # message_forwarding.ml: do_op_on PIF.host first; xapi_pif.ml's checks run there
    target = forward_to_host(ctx, record["host"])
    if not record.get("managed", True):
        raise ApiError("PIF_UNMANAGED", pif)
    # xapi_pif.ml reconfigure_ip: unless this is a static configuration identical in mode, IP,
    # netmask and gateway (only DNS changes), assert_no_protection_enabled: an attached PIF
    # with HA on -> HA_IS_ENABLED (DHCP -> DHCP included)
    same_static = (
        mode == "Static"
        and record.get("ip_configuration_mode") == "Static"
        and IP == record.get("IP")
        and netmask == record.get("netmask")
        and gateway == record.get("gateway")
    )
    if not same_static and record.get("currently_attached") and ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    if mode == "Static":  # IP and netmask are required and must be IPv4 addresses (any address)
        for param, value in (("IP", IP), ("netmask", netmask)):
            if not valid_ipv4(value):
                raise ApiError("INVALID_IP_ADDRESS_SPECIFIED", param)
    # every mode: a non-empty IP, netmask or gateway must be a valid IPv4 address
    for param, value in (("IP", IP), ("netmask", netmask), ("gateway", gateway)):
        if value and not valid_ipv4(value):
            raise ApiError("INVALID_IP_ADDRESS_SPECIFIED", param)
    if mode == "None" and record.get("management") and record.get("primary_address_type", "IPv4") == "IPv4":
        raise ApiError("PIF_IS_MANAGEMENT_INTERFACE", pif)
    dns = ",".join(d for d in DNS.split(",") if d and valid_ipv4(d.strip()))
    # DHCP: the values given are written, then (attached) update_pif_address reads the lease
    # back from the device; the simulator's lease is the address the PIF had.
    dhcp = mode == "DHCP" and record.get("currently_attached")
    db.update(
        "PIF",
        pif,
        ip_configuration_mode=mode,
        IP=record.get("IP", "") if dhcp else IP,
        netmask=record.get("netmask", "") if dhcp else netmask,
        gateway=record.get("gateway", "") if dhcp else gateway,
        DNS=dns,
    )
    if record.get("management") and mode == "Static" and IP == target.machine.address:
        target.machine.has_ip = True
        target.rebind()
        target.files_changed()
        target.world.notify()
    return ""


def forget(ctx: CallContext, pif: Any) -> str:
    db = ctx.need_db()
    pif = check_ref(db, "PIF", pif)
    record = db.get_record("PIF", pif)
    # message_forwarding.ml PIF.forget: do_op_on PIF.host first (HOST_OFFLINE /
    # CANNOT_CONTACT_HOST), then xapi_pif.ml's checks run on that host
    target = forward_to_host(ctx, record["host"])
    if record.get("management"):
        raise ApiError("PIF_IS_MANAGEMENT_INTERFACE", pif)
    if record.get("bond_slave_of") not in (None, "", NULL_REF):
        raise ApiError("PIF_ALREADY_BONDED", pif)
    if record.get("VLAN_slave_of"):
        raise ApiError("PIF_VLAN_STILL_EXISTS", pif)
    if record.get("currently_attached") and ha_enabled(db):
        raise ApiError("HA_IS_ENABLED")
    # forget_internal: a managed PIF is brought down first (nm.ml bring_pif_down destroys its
    # network's bridge). If that bridge carries the host's address, the address goes with it.
    if record.get("managed", True):
        network: Any = record.get("network")
        bridge = db.get_field("network", network, "bridge") if db.exists("network", network) else ""
        machine = target.machine
        if bridge and bridge == getattr(machine, "ip_bridge", target.management_interface) and machine.has_ip:
            machine.has_ip = False
            target.rebind()
            target.files_changed()
            target.world.notify()
    metrics: Any = record.get("metrics")
    db.destroy("PIF", pif)
    if db.exists("PIF_metrics", metrics):
        db.destroy("PIF_metrics", metrics)
    return ""


def scan(ctx: CallContext, host: Any) -> str:
    """Xapi_pif.scan (ocaml/xapi/xapi_pif.ml), forwarded to `host`:

    1. refresh_all: every physical PIF is matched to a NIC by *position* (the N of its
       network's bridge xenbrN; get_physical_pif_device) and its device name and MAC are
       rewritten from that NIC (refresh_internal's maybe_update_database "device"/"MAC");
    2. a PIF is created only for a device NAME no physical PIF has (devices are compared
       by name, not by MAC: set_difference device_to_mac_table pif_to_device_table);
    3. update_management_flags from the inventory's MANAGEMENT_INTERFACE.

    So after a NIC/motherboard swap that keeps the device names, the existing PIFs just
    get the new MACs: no second eth0 PIF is created. When interface-rename gave the new
    NICs new names (eth2, eth3), no device sits at the old positions: the old PIFs keep
    their device and MAC (stale), and eth2/eth3 get new PIFs on xenbr2/xenbr3."""
    db = ctx.need_db()
    host = check_ref(db, "host", host)
    target = forward_to_host(ctx, host)
    nics = list(target.machine.nics)
    mac_of = {nic.device: nic.mac.lower() for nic in nics}
    # networkd's device_to_position_table (sort_based_on_ethx): ethN is at position N
    device_at = {device_position(nic.device): nic.device for nic in nics if device_position(nic.device) is not None}
    # 1. refresh_all
    for pif in db.find("PIF", host=host):
        record = db.get_record("PIF", pif)
        if not record.get("physical"):
            continue
        device: Any = record.get("device")
        network: Any = record.get("network")
        bridge = db.get_field("network", network, "bridge") if db.exists("network", network) else ""
        if bridge.startswith("xenbr") and bridge[5:].isdigit():
            # no device at that position (a replaced NIC under a new name): keep the old name
            device = device_at.get(int(bridge[5:]), device)
        changes = {}
        if device != record.get("device"):
            changes["device"] = device
        mac = mac_of.get(device)  # Net.Interface.get_mac fails for a gone device: MAC kept
        if mac is not None and mac != str(record.get("MAC", "")).lower():
            changes["MAC"] = mac
        if changes:
            db.update("PIF", pif, **changes)
    # 2. PIFs for devices not yet represented (by name)
    represented = {db.get_field("PIF", p, "device") for p in db.find("PIF", host=host, physical=True)}
    for nic in nics:
        if nic.device in represented:
            continue
        # introduce_internal: bridge_naming_convention device pos_opt
        pos = device_position(nic.device)
        bridge = "xenbr%d" % pos if pos is not None else "br" + nic.device
        networks = db.find("network", bridge=bridge)
        network = (
            networks[0]
            if networks
            else db.create(
                "network",
                name_label="Pool-wide network associated with " + nic.device,
                bridge=bridge,
                MTU=1500,
                managed=True,
            )
        )
        # carrier as the monitor thread reports it moments later: the NIC is present
        metrics = db.create("PIF_metrics", carrier=True, speed=0, duplex=False, device_name=nic.device)
        management = bridge == management_bridge(target.management_interface)  # is_my_management_pif
        db.create(
            "PIF",
            device=nic.device,
            host=host,
            network=network,
            MAC=nic.mac.lower(),
            MTU=1500,
            VLAN=-1,
            metrics=metrics,
            physical=True,
            currently_attached=management,
            ip_configuration_mode="None",
            management=management,
            managed=True,
            primary_address_type="IPv4",
            ipv6_configuration_mode="None",
            IP="",
            netmask="",
            gateway="",
            DNS="",
        )
    # 3.
    update_management_flags(db, host, target.management_interface)
    return ""


def plug(ctx: CallContext, pif: Any) -> str:
    db = ctx.need_db()
    pif = check_ref(db, "PIF", pif)
    record = db.get_record("PIF", pif)
    target = forward_to_host(ctx, record["host"])
    if not any(n.mac.lower() == str(record.get("MAC", "")).lower() for n in target.machine.nics):
        raise ApiError("INTERNAL_ERROR", "Device %s with MAC %s not found" % (record.get("device"), record.get("MAC")))
    db.set_field("PIF", pif, "currently_attached", True)
    metrics: Any = record.get("metrics")
    if db.exists("PIF_metrics", metrics):
        db.set_field("PIF_metrics", metrics, "carrier", True)
    return ""


def unplug(ctx: CallContext, pif: Any) -> str:
    db = ctx.need_db()
    pif = check_ref(db, "PIF", pif)
    record = db.get_record("PIF", pif)
    forward_to_host(ctx, record["host"])  # forwarded first, checks on the host
    if record.get("management"):
        raise ApiError("PIF_IS_MANAGEMENT_INTERFACE", pif)
    db.set_field("PIF", pif, "currently_attached", False)
    return ""


METHODS = [
    make("PIF.reconfigure_ip", ("self", "mode", "IP", "netmask", "gateway", "DNS"), reconfigure_ip),
    make("PIF.forget", ("self",), forget),
    make("PIF.scan", ("host",), scan),
    make("PIF.plug", ("self",), plug),
    make("PIF.unplug", ("self",), unplug),
]
