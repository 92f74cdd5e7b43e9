"""Parsing xapi's state.db: a hand-written file in xapi's exact shape, the typed
pool model built from it, robustness, and streaming of large files."""

from __future__ import annotations

import io
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xentui.host.statedb import (
    StateDbError,
    api_field_name,
    decode_map,
    decode_set,
    parse_sexpr,
    parse_state_db,
)
from xentui.sim.dom0_files import marshal_map, marshal_set, render_state_db
from xentui.xapi.model import NULL_REF, PoolSnapshot

# What xapi writes (db_xml.ml): one line in reality; split here for reading, the
# whitespace between elements is ignored by XML. Values are Xml_spaces-protected
# (%. for spaces), sets/maps are s-expressions, namespaced fields use "__", the
# one-to-many sets (host.resident_VMs, host.PIFs, SR.PBDs...) are stale/empty on
# disk because xapi rebuilds them on load, and there is a table and a column this
# reader has never heard of.
SAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?><database><manifest>
<pair key="schema_major_vsn" value="5"/><pair key="schema_minor_vsn" value="786"/>
<pair key="generation_count" value="170523"/></manifest>
<table name="Bond"/>
<table name="Frobnicator"><row ref="OpaqueRef:f1" __ctime="1" __mtime="1" _ref="OpaqueRef:f1" wobble="(('a'%.'b'))"/></table>
<table name="PBD">
<row ref="OpaqueRef:pbd-a" __ctime="20" __mtime="170100" SR="OpaqueRef:sr-nfs" _ref="OpaqueRef:pbd-a" currently_attached="true" device_config="(('server'%.'127.0.0.50')%.('serverpath'%.'/export/xen')%.('nfsversion'%.'4.1'))" host="OpaqueRef:host-a" other_config="()" uuid="9a0c8d4e-1c7e-4d45-9a49-3f6f5f7e0a01"/>
<row ref="OpaqueRef:pbd-b" __ctime="21" __mtime="170101" SR="OpaqueRef:sr-nfs" _ref="OpaqueRef:pbd-b" currently_attached="false" device_config="(('server'%.'127.0.0.50')%.('serverpath'%.'/export/xen'))" host="OpaqueRef:host-b" other_config="()" uuid="9a0c8d4e-1c7e-4d45-9a49-3f6f5f7e0a02"/>
</table>
<table name="PIF">
<row ref="OpaqueRef:pif-a" __ctime="10" __mtime="160000" DNS="127.0.0.53" IP="127.0.0.11" IPv6="()" MAC="aa:bb:cc:00:00:0a" MTU="1500" VLAN="-1" VLAN_master_of="OpaqueRef:NULL" VLAN_slave_of="()" _ref="OpaqueRef:pif-a" bond_master_of="()" bond_slave_of="OpaqueRef:NULL" currently_attached="true" device="eth0" disallow_unplug="false" gateway="127.0.0.1" host="OpaqueRef:host-a" ip_configuration_mode="Static" ipv6_configuration_mode="None" management="true" managed="true" metrics="OpaqueRef:pifm-a" netmask="255.255.255.0" network="OpaqueRef:net0" other_config="()" physical="true" primary_address_type="IPv4" properties="(('gro'%.'on'))" uuid="1f0e6a2b-0000-4000-8000-00000000000a"/>
<row ref="OpaqueRef:pif-b" __ctime="11" __mtime="160001" DNS="" IP="127.0.0.12" IPv6="()" MAC="aa:bb:cc:00:00:0b" MTU="9000" VLAN="-1" VLAN_master_of="OpaqueRef:NULL" VLAN_slave_of="()" _ref="OpaqueRef:pif-b" bond_master_of="()" bond_slave_of="OpaqueRef:NULL" currently_attached="true" device="eth0" disallow_unplug="false" gateway="" host="OpaqueRef:host-b" ip_configuration_mode="DHCP" ipv6_configuration_mode="None" management="true" metrics="OpaqueRef:pifm-b" netmask="255.255.255.0" network="OpaqueRef:net0" other_config="()" physical="true" primary_address_type="IPv4" properties="()" uuid="1f0e6a2b-0000-4000-8000-00000000000b"/>
</table>
<table name="PIF_metrics">
<row ref="OpaqueRef:pifm-a" __ctime="10" __mtime="10" _ref="OpaqueRef:pifm-a" carrier="true" device_id="100e" device_name="82540EM%.Gigabit%.Ethernet%.Controller" duplex="true" io__read_kbs="0." io__write_kbs="12.5" last_updated="20261124T21:40:11Z" other_config="()" pci_bus_path="0000:00:03.0" speed="1000" uuid="5e1b" vendor_id="8086" vendor_name="Intel%.Corporation"/>
<row ref="OpaqueRef:pifm-b" __ctime="11" __mtime="11" _ref="OpaqueRef:pifm-b" carrier="false" duplex="false" io__read_kbs="0." io__write_kbs="0." other_config="()" speed="0" uuid="5e1c" vendor_name=""/>
</table>
<table name="SR">
<row ref="OpaqueRef:sr-nfs" __ctime="19" __mtime="19" PBDs="()" VDIs="()" _ref="OpaqueRef:sr-nfs" content_type="" name__description="NFS%.SR%.[127.0.0.50:/export/xen]" name__label="NFS%.storage" other_config="(('auto-scan'%.'true'))" physical_size="1099511627776" physical_utilisation="53687091200" shared="true" sm_config="()" tags="()" type="nfs" uuid="c2a8" virtual_allocation="107374182400"/>
</table>
<table name="VDI">
<row ref="OpaqueRef:vdi-web" __ctime="30" __mtime="30" SR="OpaqueRef:sr-nfs" VBDs="()" _ref="OpaqueRef:vdi-web" name__label="web%.disk%.0" read_only="false" sharable="false" type="user" uuid="d00d" virtual_size="21474836480"/>
</table>
<table name="VM">
<row ref="OpaqueRef:dom0-a" __ctime="5" __mtime="170000" HVM__shadow_multiplier="1." VBDs="()" VCPUs__max="4" _ref="OpaqueRef:dom0-a" domid="0" is_a_snapshot="false" is_a_template="false" is_control_domain="true" memory__static_max="4294967296" name__label="Control%.domain%.on%.host:%.xcp-a" other_config="(('storage_driver_domain'%.'OpaqueRef:dom0-a'))" power_state="Running" resident_on="OpaqueRef:host-a" tags="()" uuid="00000000-0000-4000-8000-0000000000a0"/>
<row ref="OpaqueRef:dom0-b" __ctime="6" __mtime="170001" VCPUs__max="4" _ref="OpaqueRef:dom0-b" domid="0" is_a_snapshot="false" is_a_template="false" is_control_domain="true" memory__static_max="4294967296" name__label="Control%.domain%.on%.host:%.xcp-b" power_state="Running" resident_on="OpaqueRef:host-b" uuid="00000000-0000-4000-8000-0000000000b0"/>
<row ref="OpaqueRef:vm-web" __ctime="40" __mtime="170500" VCPUs__max="2" _ref="OpaqueRef:vm-web" affinity="OpaqueRef:host-a" blocked_operations="()" domid="7" ha_restart_priority="restart" is_a_snapshot="false" is_a_template="false" is_control_domain="false" memory__static_max="2147483648" name__label="web%.(prod)%.100%%" other_config="(('note'%.'it\\'s%.fine'))" power_state="Running" resident_on="OpaqueRef:host-a" tags="('prod'%.'web%.tier')" uuid="7e57-web" xentui_future_field="whatever"/>
<row ref="OpaqueRef:vm-db" __ctime="41" __mtime="170501" VCPUs__max="8" _ref="OpaqueRef:vm-db" domid="3" is_a_snapshot="false" is_a_template="false" is_control_domain="false" memory__static_max="8589934592" name__label="db" power_state="Running" resident_on="OpaqueRef:host-b" tags="()" uuid="7e57-db"/>
<row ref="OpaqueRef:vm-off" __ctime="42" __mtime="42" VCPUs__max="1" _ref="OpaqueRef:vm-off" domid="-1" is_a_template="false" is_control_domain="false" name__label="old%_box" power_state="Halted" resident_on="OpaqueRef:NULL" uuid="7e57-off"/>
<row ref="OpaqueRef:tmpl" __ctime="2" __mtime="2" _ref="OpaqueRef:tmpl" is_a_template="true" is_default_template="true" name__label="Debian%.Bookworm%.12" power_state="Halted" resident_on="OpaqueRef:NULL" uuid="7e57-tmpl"/>
</table>
<table name="host">
<row ref="OpaqueRef:host-a" __ctime="3" __mtime="170400" API_version__major="2" API_version__minor="21" API_version__vendor="XenSource" PBDs="()" PIFs="()" _ref="OpaqueRef:host-a" address="127.0.0.11" control_domain="OpaqueRef:dom0-a" enabled="true" hostname="xcp-a" memory__overhead="1048576" metrics="OpaqueRef:hm-a" name__label="xcp-a" resident_VMs="()" software_version="(('product_version'%.'8.2.1')%.('xapi'%.'1.249')%.('platform_version'%.'3.2.1'))" uuid="aaaaaaaa-0000-4000-8000-000000000001"/>
<row ref="OpaqueRef:host-b" __ctime="4" __mtime="170401" API_version__major="2" API_version__minor="21" PBDs="()" PIFs="()" _ref="OpaqueRef:host-b" address="127.0.0.12" control_domain="OpaqueRef:dom0-b" enabled="true" hostname="xcp-b" metrics="OpaqueRef:hm-b" name__label="xcp-b" resident_VMs="('OpaqueRef:stale')" software_version="(('product_version'%.'8.2.1')%.('xapi'%.'1.249'))" uuid="bbbbbbbb-0000-4000-8000-000000000002"/>
</table>
<table name="host_metrics">
<row ref="OpaqueRef:hm-a" __ctime="3" __mtime="170400" _ref="OpaqueRef:hm-a" last_updated="20261124T21:45:00Z" live="false" memory__free="1073741824" memory__total="34359738368" other_config="()" uuid="hm-a"/>
<row ref="OpaqueRef:hm-b" __ctime="4" __mtime="170401" _ref="OpaqueRef:hm-b" last_updated="20261124T21:45:02Z" live="true" memory__free="2147483648" memory__total="34359738368" other_config="()" uuid="hm-b"/>
</table>
<table name="message"/>
<table name="network">
<row ref="OpaqueRef:net0" __ctime="8" __mtime="8" MTU="1500" PIFs="()" VIFs="()" _ref="OpaqueRef:net0" bridge="xenbr0" name__label="Pool-wide%.network%.associated%.with%.eth0" other_config="()" uuid="ne70"/>
</table>
<table name="pool">
<row ref="OpaqueRef:pool" __ctime="1" __mtime="170300" _ref="OpaqueRef:pool" default_SR="OpaqueRef:sr-nfs" ha_enabled="false" ha_statefiles="()" master="OpaqueRef:host-a" name__label="prod%.pool" other_config="(('memory-ratio-hvm'%.'0.25'))" uuid="b001"/>
</table>
<table name="session"/><table name="task"/>
</database>"""


@pytest.fixture(scope="module")
def parsed():
    return parse_state_db(SAMPLE)


def test_manifest_and_tables(parsed):
    assert parsed.generation == 170523
    assert parsed.schema_version == (5, 786)
    assert set(parsed.tables) >= {
        "pool",
        "host",
        "host_metrics",
        "pif",
        "pif_metrics",
        "network",
        "vm",
        "sr",
        "pbd",
        "vdi",
        "frobnicator",
        "bond",
        "session",
    }
    assert "VM" in parsed.table_names and "host" in parsed.table_names


def test_values_are_typed_like_the_api(parsed):
    web = parsed.tables["vm"]["OpaqueRef:vm-web"]
    assert web["name_label"] == "web (prod) 100%"
    assert web["VCPUs_max"] == 2 and web["memory_static_max"] == 2147483648 and web["domid"] == 7
    assert web["is_a_template"] is False and web["is_control_domain"] is False
    assert web["tags"] == ["prod", "web tier"]
    assert web["other_config"] == {"note": "it's fine"}
    assert web["blocked_operations"] == {}
    assert web["resident_on"] == "OpaqueRef:host-a"
    assert web["xentui_future_field"] == "whatever"  # unknown fields stay strings
    assert "_ref" not in web and "__ctime" not in web and "ref" not in web
    assert parsed.tables["vm"]["OpaqueRef:vm-off"]["name_label"] == "old  box"  # legacy %_
    host = parsed.tables["host"]["OpaqueRef:host-a"]
    assert host["API_version_major"] == 2 and host["memory_overhead"] == 1048576
    assert host["software_version"]["xapi"] == "1.249"
    pifm = parsed.tables["pif_metrics"]["OpaqueRef:pifm-a"]
    assert pifm["io_write_kbs"] == 12.5 and pifm["carrier"] is True and pifm["speed"] == 1000
    assert pifm["device_name"] == "82540EM Gigabit Ethernet Controller"
    assert parsed.tables["frobnicator"]["OpaqueRef:f1"] == {"wobble": "(('a' 'b'))"}


def test_one_to_many_sets_are_rebuilt_like_xapi(parsed):
    hosts = parsed.tables["host"]
    assert hosts["OpaqueRef:host-a"]["resident_VMs"] == ["OpaqueRef:dom0-a", "OpaqueRef:vm-web"]
    assert hosts["OpaqueRef:host-b"]["resident_VMs"] == ["OpaqueRef:dom0-b", "OpaqueRef:vm-db"]  # stale ref gone
    assert hosts["OpaqueRef:host-a"]["PIFs"] == ["OpaqueRef:pif-a"]
    assert parsed.tables["sr"]["OpaqueRef:sr-nfs"]["PBDs"] == ["OpaqueRef:pbd-a", "OpaqueRef:pbd-b"]
    assert parsed.tables["sr"]["OpaqueRef:sr-nfs"]["VDIs"] == ["OpaqueRef:vdi-web"]
    assert parsed.tables["network"]["OpaqueRef:net0"]["PIFs"] == ["OpaqueRef:pif-a", "OpaqueRef:pif-b"]


def test_pool_snapshot_from_state_db(parsed):
    snap = PoolSnapshot.from_records(parsed.tables)
    assert snap.pool.name_label == "prod pool" and snap.pool.master == "OpaqueRef:host-a"
    assert snap.pool.ha_enabled is False and snap.pool.default_sr == "OpaqueRef:sr-nfs"
    assert snap.master.name_label == "xcp-a"
    a, b = snap.host_by_name("xcp-a"), snap.host_by_name("xcp-b")
    assert (a.address, b.address) == ("127.0.0.11", "127.0.0.12")
    assert a.live is False and b.live is True  # host_metrics joined
    assert a.product_version == "8.2.1" and a.xapi_version == "1.249"
    assert a.api_version_minor == 21
    assert set(a.resident_vms) == {"OpaqueRef:dom0-a", "OpaqueRef:vm-web"}
    assert [v.name_label for v in snap.guest_vms()] == ["db", "old  box", "web (prod) 100%"]
    assert [v.name_label for v in snap.vms_on(a.ref)] == ["web (prod) 100%"]
    assert snap.vm_count_by_host() == {a.ref: 1, b.ref: 1}
    assert snap.vms["OpaqueRef:vm-off"].resident_on == NULL_REF
    assert snap.vms["OpaqueRef:dom0-a"].is_control_domain and not snap.vms["OpaqueRef:dom0-a"].is_guest
    pif = snap.management_pif(a.ref)
    assert (pif.device, pif.ip, pif.mtu, pif.vlan, pif.carrier) == ("eth0", "127.0.0.11", 1500, -1, True)
    assert snap.management_pif(b.ref).carrier is False and snap.management_pif(b.ref).mtu == 9000
    assert snap.network_of(pif).bridge == "xenbr0"
    assert [p.sr for p in snap.pbds_of(b.ref)] == ["OpaqueRef:sr-nfs"]
    assert snap.pbds["OpaqueRef:pbd-a"].device_config["server"] == "127.0.0.50"
    assert snap.pbds["OpaqueRef:pbd-b"].currently_attached is False
    sr = snap.srs["OpaqueRef:sr-nfs"]
    assert sr.shared and sr.physical_size == 1099511627776 and sr.pbds == ("OpaqueRef:pbd-a", "OpaqueRef:pbd-b")
    assert [h.name_label for h in snap.hosts_not_live()] == ["xcp-a"]


def test_sexpr_reader_matches_xapi_lexer():
    assert parse_sexpr("()") == []
    assert decode_set("('a' \"b c\" sym)") == ["a", "b c", "sym"]
    assert decode_map("(('k\\\\' 'v\\'q') ('x' ''))") == {"k\\": "v'q", "x": ""}
    assert parse_sexpr("( ; comment\n 'a')") == ["a"]


def test_field_names():
    assert api_field_name("name__label") == "name_label"
    assert api_field_name("API_version__vendor_implementation") == "API_version_vendor_implementation"
    assert api_field_name("resident_on") == "resident_on"


def test_undecodable_typed_value_keeps_the_raw_string():
    db = SAMPLE.replace(b'VCPUs__max="8"', b'VCPUs__max="eight"').replace(
        b"tags=\"('prod'%.'web%.tier')\"", b'tags="(unclosed"'
    )
    tables = parse_state_db(db).tables
    assert tables["vm"]["OpaqueRef:vm-db"]["VCPUs_max"] == "eight"
    assert tables["vm"]["OpaqueRef:vm-web"]["tags"] == "(unclosed"
    PoolSnapshot.from_records(tables)  # the model tolerates it


@pytest.mark.parametrize("bad", [b"", b"<database><table name='VM'>", b"not xml", b"<other/>"])
def test_broken_files_raise_state_db_error(bad):
    with pytest.raises(StateDbError):
        parse_state_db(bad)


def test_large_database_streams_without_keeping_the_xml_tree():
    vms = {
        "OpaqueRef:%08d" % i: {
            "uuid": "u%d" % i,
            "name_label": "vm %d" % i,
            "power_state": "Running",
            "resident_on": "OpaqueRef:h",
            "other_config": {"k%d" % j: "v" for j in range(10)},
            "tags": ["a", "b"],
            "VCPUs_max": 2,
        }
        for i in range(5000)
    }
    data = render_state_db({"VM": vms, "host": {"OpaqueRef:h": {"uuid": "h"}}}, 1)
    assert len(data) > 1_500_000
    tracemalloc.start()
    try:
        parsed = parse_state_db(io.BytesIO(data))
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(parsed.tables["vm"]) == 5000
    assert len(parsed.tables["host"]["OpaqueRef:h"]["resident_VMs"]) == 5000
    # Memory beyond the result itself: an ElementTree of this file alone would be
    # about 3.5 times its size; streaming keeps the transient overhead small.
    assert peak - current < len(data) / 4


_xml_text = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff").filter(
    lambda c: c in "\t\n\r" or ord(c) >= 0x20
)  # what XML (hence state.db) can carry


@given(
    st.lists(st.text(_xml_text, max_size=8), max_size=5),
    st.dictionaries(st.text(_xml_text, min_size=1, max_size=6), st.text(_xml_text, max_size=6), max_size=4),
)
def test_fast_paths_agree_with_the_general_reader(items, pairs):
    written_set, written_map = marshal_set(items), marshal_map(pairs)
    assert decode_set(written_set) == parse_sexpr(written_set) == items
    assert decode_map(written_map) == {k: v for k, v in parse_sexpr(written_map)} == pairs


def test_the_fast_set_and_map_patterns_accept_exactly_what_the_plain_ones_do():
    """The unrolled quoted-atom pattern is an optimisation only: same matches, same atoms."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from xentui.host import statedb

    plain_q = r"'(?:[^'\\]|\\.)*'"
    plain_set = re.compile(r"\((?:%s(?: %s)*)?\)" % (plain_q, plain_q), re.DOTALL)
    plain_map = re.compile(r"\((?:\(%s %s\)(?: \(%s %s\))*)?\)" % ((plain_q,) * 4), re.DOTALL)
    plain_atom = re.compile(r"'((?:[^'\\]|\\.)*)'", re.DOTALL)

    @settings(max_examples=400, deadline=None)
    @given(st.text(alphabet="'\\() ab\n", max_size=30))
    def check(text):
        assert bool(statedb._WRITTEN_SET.fullmatch(text)) == bool(plain_set.fullmatch(text))
        assert bool(statedb._WRITTEN_MAP.fullmatch(text)) == bool(plain_map.fullmatch(text))
        assert statedb._ATOM.findall(text) == plain_atom.findall(text)

    check()
