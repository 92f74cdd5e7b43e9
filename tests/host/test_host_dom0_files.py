"""Every dom0 file renderer (xentui/sim/dom0_files.py) round-trips through the
parser xentui.host uses on real hosts, including awkward strings."""

from __future__ import annotations

import json
import os
import stat
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xentui.host.facts import InterfaceAddress, PoolRole
from xentui.host.inventory import parse_inventory, parse_inventory_pairs
from xentui.host.iplink import parse_ip_addr_json
from xentui.host.pool_conf import PoolConfError, parse_pool_conf
from xentui.host.statedb import parse_state_db, unprotect
from xentui.sim import dom0_files
from xentui.sim.dom0_files import (
    render_inventory,
    render_ip_addr_json,
    render_pool_conf,
    render_state_db,
    write_host_files,
)

OCAML_SPACE = " \t\n\r\x0c"

# Characters XML 1.0 can carry at all (xapi's state.db is XML); everything else is fair game:
# quotes, backslashes, parentheses, '%', whitespace, non-ASCII, astral planes.
xml_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or ord(c) >= 0x20
)
awkward = st.one_of(
    st.text(xml_chars, max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "()",
            "('a' 'b')",
            "it's",
            'say "hi"',
            "%.",
            "%%",
            "%_",
            "\\",
            "a\\'b",
            "  lead",
            "trail  ",
            "tab\there",
            "line\nbreak",
            "crlf\r\n",
            "ünïcödé ☃ 🐧",
        ]
    ),
)
nonempty = awkward.filter(bool)


# --- pool.conf -------------------------------------------------------------------


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
        lambda a: a.strip(OCAML_SPACE) == a
    )
)
def test_pool_conf_slave_round_trip(address):
    text = render_pool_conf("slave", address)
    assert text == "slave:" + address  # xapi's Pool_role.string_of: no newline
    assert parse_pool_conf(text) == PoolRole("slave", address)


@pytest.mark.parametrize("role", ["master", "broken"])
def test_pool_conf_plain_roles(role):
    assert render_pool_conf(role) == role
    assert parse_pool_conf(role) == PoolRole(role)
    assert parse_pool_conf(" %s\n" % role) == PoolRole(role)  # xapi trims


def test_pool_conf_ipv6_master_keeps_colons():
    assert parse_pool_conf("slave:fd00::1\n") == PoolRole("slave", "fd00::1")


@pytest.mark.parametrize("text", ["", "slave", "master:1.2.3.4", "Master", "primary"])
def test_pool_conf_rejects_what_xapi_rejects(text):
    with pytest.raises(PoolConfError):
        parse_pool_conf(text)


def test_pool_conf_renderer_refuses_nonsense():
    with pytest.raises(ValueError):
        render_pool_conf("slave", "")
    with pytest.raises(ValueError):
        render_pool_conf("coordinator")


# --- inventory ---------------------------------------------------------------------

inventory_keys = st.text(string.ascii_uppercase + string.digits + "_", min_size=1, max_size=20)
inventory_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=40
).filter(lambda v: v.strip(OCAML_SPACE) == v)


@given(st.dictionaries(inventory_keys, inventory_values, max_size=12))
def test_inventory_round_trip(fields):
    text = render_inventory(fields)
    assert parse_inventory_pairs(text) == tuple(fields.items())


def test_inventory_real_layout_and_typed_fields():
    fields = {
        "PRIMARY_DISK": "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001",
        "PRODUCT_VERSION": "8.2.1",
        "CONTROL_DOMAIN_UUID": "4a1b0c2e-0000-4000-8000-000000000001",
        "MANAGEMENT_ADDRESS_TYPE": "IPv4",
        "BUILD_NUMBER": "release/yangtze/master/58",
        "INSTALLATION_UUID": "7c9a1f35-0000-4000-8000-000000000002",
        "MANAGEMENT_INTERFACE": "xenbr0",
        "CURRENT_INTERFACES": "xenbr0",
    }
    text = render_inventory(fields)
    assert "MANAGEMENT_INTERFACE='xenbr0'\n" in text
    inv = parse_inventory(text)
    assert inv.installation_uuid == fields["INSTALLATION_UUID"]
    assert inv.control_domain_uuid == fields["CONTROL_DOMAIN_UUID"]
    assert inv.management_interface == "xenbr0"
    assert inv.product_version == "8.2.1"
    assert dict(inv.raw) == fields


def test_inventory_renderer_refuses_newlines():
    with pytest.raises(ValueError):
        render_inventory({"A": "x\ny"})


# --- state.db ------------------------------------------------------------------------

vm_records = st.fixed_dictionaries(
    {
        "uuid": st.uuids().map(str),
        "name_label": awkward,
        "name_description": awkward,
        "power_state": st.sampled_from(["Halted", "Running", "Paused", "Suspended"]),
        "is_a_template": st.booleans(),
        "VCPUs_max": st.integers(-(2**63), 2**63 - 1),
        "memory_static_max": st.integers(0, 2**40),
        "HVM_shadow_multiplier": st.floats(allow_nan=False, allow_infinity=False),
        "tags": st.lists(awkward, max_size=4),
        "other_config": st.dictionaries(nonempty, awkward, max_size=4),
        "platform": st.dictionaries(nonempty, awkward, max_size=2),
        "resident_on": st.just("OpaqueRef:NULL"),
    }
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.uuids().map(lambda u: "OpaqueRef:%s" % u), vm_records, max_size=4), st.integers(0, 2**40))
def test_state_db_round_trip(vms, generation):
    parsed = parse_state_db(render_state_db({"VM": vms}, generation))
    assert parsed.generation == generation
    assert parsed.tables["vm"] == {ref: dict(rec, VBDs=[], VIFs=[]) for ref, rec in vms.items()}


def test_state_db_empty_sets_and_maps():
    db = {
        "SR": {
            "OpaqueRef:s": {
                "uuid": "s",
                "name_label": "",
                "tags": [],
                "sm_config": {},
                "other_config": {},
                "shared": True,
                "physical_size": 0,
            }
        }
    }
    rec = parse_state_db(render_state_db(db, 1)).tables["sr"]["OpaqueRef:s"]
    assert rec["tags"] == [] and rec["sm_config"] == {} and rec["other_config"] == {}
    assert rec["shared"] is True and rec["physical_size"] == 0 and rec["name_label"] == ""


def test_state_db_shape_follows_xapi():
    rows = {
        "OpaqueRef:h1": {
            "uuid": "u1",
            "name_label": "host one",
            "API_version_major": 2,
            "memory_overhead": 1024,
            "software_version": {"product_version": "8.2.1"},
            "enabled": True,
        }
    }
    text = render_state_db({"host": rows, "session": {"OpaqueRef:s": {"uuid": "x"}}}, 42).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?><database><manifest>')
    assert '<pair key="generation_count" value="42"/>' in text
    # ref first, then the generation stamps, then the columns in name order, _ref included
    assert (
        '<row ref="OpaqueRef:h1" __ctime="42" __mtime="42" API_version__major="2" '
        '_ref="OpaqueRef:h1" enabled="true" memory__overhead="1024" name__label="host%.one" '
        "software_version=\"(('product_version'%.'8.2.1'))\" uuid=\"u1\"/>"
    ) in text
    assert '<table name="session"/>' in text  # never persisted, as in xapi
    assert text.index('<table name="VM"') < text.index('<table name="host"')  # StringMap order


def test_protect_and_unprotect_are_inverse_and_match_xapi():
    assert dom0_files.protect("a b\tc\nd\re%f") == "a%.b%tc%nd%re%%f"
    assert unprotect("a%.b%tc%nd%re%%f") == "a b\tc\nd\re%f"
    assert unprotect("old%_style") == "old  style"  # CA-268761 backward compatibility
    assert unprotect("%%.") == "%."


def test_state_db_attribute_escaping_survives_xml_specials():
    db = {"network": {"OpaqueRef:n": {"uuid": "n", "name_label": "<&\"'>", "bridge": "xenbr0"}}}
    rec = parse_state_db(render_state_db(db, 0)).tables["network"]["OpaqueRef:n"]
    assert rec["name_label"] == "<&\"'>"


# --- ip -j addr show ------------------------------------------------------------------


def test_ip_addr_json_has_iproute2_shape_and_round_trips():
    text = render_ip_addr_json(
        "xenbr0", "AA:BB:CC:00:00:01", "UP", [("inet", "127.0.0.11", 24), ("inet6", "fe80::1", 64)]
    )
    assert text.endswith("\n") and "\n" not in text[:-1]
    doc = json.loads(text)
    assert list(doc[0]) == [
        "ifindex",
        "ifname",
        "flags",
        "mtu",
        "qdisc",
        "operstate",
        "group",
        "txqlen",
        "link_type",
        "address",
        "broadcast",
        "addr_info",
    ]
    assert list(doc[0]["addr_info"][0]) == [
        "family",
        "local",
        "prefixlen",
        "broadcast",
        "scope",
        "label",
        "valid_life_time",
        "preferred_life_time",
    ]
    assert doc[0]["addr_info"][0]["broadcast"] == "127.0.0.255"
    link = parse_ip_addr_json(text, "xenbr0")
    assert (link.ifname, link.mac, link.operstate, link.carrier) == ("xenbr0", "aa:bb:cc:00:00:01", "UP", True)
    assert link.addresses == (InterfaceAddress("inet", "127.0.0.11", 24), InterfaceAddress("inet6", "fe80::1", 64))
    assert link.ipv4 == (InterfaceAddress("inet", "127.0.0.11", 24),)


def test_ip_addr_json_without_carrier_or_address():
    link = parse_ip_addr_json(render_ip_addr_json("xenbr0", "aa:bb:cc:00:00:02", "UP", [], carrier=False))
    assert (link.operstate, link.carrier, link.addresses) == ("DOWN", False, ())
    assert "NO-CARRIER" in json.loads(render_ip_addr_json("x", "m", "UP", [], carrier=False))[0]["flags"]


# --- write_host_files -------------------------------------------------------------------


def test_write_host_files_paths_and_atomic_replacement(tmp_path):
    inventory = {"INSTALLATION_UUID": "u", "CONTROL_DOMAIN_UUID": "d", "MANAGEMENT_INTERFACE": "xenbr0"}
    link = dict(ifname="xenbr0", mac="aa:bb:cc:00:00:03", operstate="UP", addresses=[("inet", "127.0.0.12", 8)])
    write_host_files(
        tmp_path,
        pool_conf=render_pool_conf("slave", "127.0.0.11"),
        inventory=inventory,
        state_db_tables={"pool": {"OpaqueRef:p": {"uuid": "p"}}},
        db_generation=3,
        link=link,
    )
    assert (tmp_path / "etc/xensource/pool.conf").read_text() == "slave:127.0.0.11"
    assert parse_inventory((tmp_path / "etc/xensource-inventory").read_text()).management_interface == "xenbr0"
    assert parse_state_db((tmp_path / "var/lib/xcp/state.db").read_bytes()).generation == 3
    assert stat.S_IMODE(os.stat(tmp_path / "var/lib/xcp/state.db").st_mode) == 0o600
    assert (
        parse_ip_addr_json((tmp_path / "var/lib/xentui-sim/ip-addr.json").read_text()).ipv4[0].address == "127.0.0.12"
    )
    before = os.stat(tmp_path / "etc/xensource/pool.conf").st_ino

    # Second write: state.db kept (None), bridge gone, pool.conf replaced by rename (new inode).
    write_host_files(tmp_path, pool_conf="master", inventory=inventory, state_db_tables=None, link=None)
    assert (tmp_path / "etc/xensource/pool.conf").read_text() == "master"
    assert os.stat(tmp_path / "etc/xensource/pool.conf").st_ino != before
    assert (tmp_path / "var/lib/xcp/state.db").exists()
    assert not (tmp_path / "var/lib/xentui-sim/ip-addr.json").exists()
    leftovers = [p.name for p in tmp_path.rglob(".*")]
    assert leftovers == []  # no temporary files left behind
