"""Gather a host's ground truth without xapi: one call, never raising.

Reads pool.conf, the inventory and state.db, asks the kernel about the
management bridge, checks the xapi process, and probes every other host the
database knows (plus the master named in pool.conf). Each piece becomes a
`Fact` with its source and the time it was true; a failure becomes a Fact with
`error` set, because during an outage a partial picture is worth more than an
exception.
"""

from __future__ import annotations

import json
import os
import stat
import time
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar, Union

from xentui.xapi.model import RECORD_FIELDS

from .access import AccessError, HostAccess
from .fact_memo import FactMemo, files_identity
from .facts import Fact, GroundTruth, Inventory, LinkState, PeerProbe, PoolRole, StateDbHost
from .inventory import INVENTORY_PATH, parse_inventory
from .iplink import IpLinkError, ip_addr_argv, ip_link_argv, parse_ip_addr_json, parse_ip_link_json
from .pool_conf import POOL_CONF_PATH, parse_pool_conf
from .probes import DEFAULT_PROBE_TIMEOUT, HTTPS_PORT, Peer, PortFor, default_port_for, probe_peers
from .statedb import STATE_DB_PATH, parse_state_db
from .xapi_installed import SOURCE as INSTALLED_XAPI_SOURCE
from .xapi_installed import InstalledXapiCache, check_installed_xapi
from .xapi_process import check_xapi_running

FILE_TIMEOUT = 10.0  # state.db can be tens of MB over a slow SSH link
COMMAND_TIMEOUT = 3.0

Clock = Callable[[], float]
T = TypeVar("T")


def _guard(step: Callable[[], Fact[T]], source: str, now: Clock) -> Fact[T]:
    """Run one gathering step; a bug or surprise becomes an error fact, not an exception."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - gather_ground_truth promises never to raise
        return Fact(None, source, now(), error="%s: %s" % (type(exc).__name__, exc))


def _read_fact(access: HostAccess, path: str, parse: Callable[[bytes], T], now: Clock) -> Fact[T]:
    source = access.describe(path)
    try:
        data, mtime = access.read_file(path, FILE_TIMEOUT)
    except AccessError as exc:
        return Fact(None, source, now(), error=str(exc))
    try:
        return Fact(parse(data), source, mtime)
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported, never raised
        return Fact(None, source, mtime, error="%s: %s" % (type(exc).__name__, exc))


def read_pool_role(access: HostAccess, now: Clock = time.time) -> Fact[PoolRole]:
    return _read_fact(access, POOL_CONF_PATH, lambda b: parse_pool_conf(b.decode("utf-8", "replace")), now)


def read_inventory(access: HostAccess, now: Clock = time.time) -> Fact[Inventory]:
    return _read_fact(access, INVENTORY_PATH, lambda b: parse_inventory(b.decode("utf-8", "replace")), now)


class StateDbCache:
    """The last parsed state.db, reused while the file's bytes stay the same
    (xapi rewrites it only when the database changed): following a 2,000-VM
    pool then costs one read, not one parse, per look. Keeps a checksum, not
    the bytes.

    `hosts_only=True` parses just the host table (found by its tags, a few
    ms for a 13 MB file) and marks the result `PartialTables`: enough for the
    peer list while xapi answers live; a caller that needs the whole pool
    (xapi does not list it) reads the file again with a full cache."""

    def __init__(self, *, hosts_only: bool = False) -> None:
        self.hosts_only = hosts_only
        self._key: Optional[Tuple[int, int]] = None
        self._tables: Optional[Dict[str, Any]] = None
        # read_state_db: the fact read when the file last had a given identity.
        self.memo: FactMemo[Dict[str, Any]] = FactMemo()

    def parse(self, data: bytes) -> Dict[str, Any]:
        key = (len(data), zlib.crc32(data))
        if key != self._key or self._tables is None:
            hosts = _host_table_fragment(data) if self.hosts_only else None
            if hosts is not None:
                self._tables = PartialTables(parse_state_db(hosts, keep={"host": RECORD_FIELDS["host"]}).tables)
            else:
                # Only the tables and fields the pool model keeps (PoolSnapshot.from_records).
                self._tables = parse_state_db(data, keep=RECORD_FIELDS).tables
            self._key = key
        return self._tables


class PartialTables(Dict[str, Any]):
    """Parsed state.db tables holding the host table only (StateDbCache(hosts_only=True))."""


def _host_table_fragment(data: bytes) -> Optional[bytes]:
    """`<database><table name="host">...</table></database>`, or None when the
    file does not have that shape (then the whole file is parsed)."""
    start = data.find(b'<table name="host">')
    end = data.find(b"</table>", start) if start >= 0 else -1
    if start < 0 or end < 0 or data.find(b"<database", 0, start) < 0:
        return None
    return b"<database>" + data[start : end + len(b"</table>")] + b"</database>"


def read_state_db(
    access: HostAccess, now: Clock = time.time, cache: Optional[StateDbCache] = None
) -> Fact[Dict[str, Any]]:
    """state.db's tables. With a cache, a file whose identity (device, inode,
    size, mtime in ns; accesses that can tell it) is unchanged since the last
    read is not read again: following a 64-host pool would otherwise read and
    checksum 13 MB on every look."""
    if cache is None:
        return _read_fact(access, STATE_DB_PATH, StateDbCache().parse, now)
    identity = files_identity(access, (STATE_DB_PATH,))
    fact = cache.memo.unchanged(identity)
    if fact is None:
        fact = _read_fact(access, STATE_DB_PATH, cache.parse, now)
        cache.memo.remember(identity, fact)
    return fact


def read_management_link(access: HostAccess, inventory: Fact[Inventory], now: Clock = time.time) -> Fact[LinkState]:
    if not inventory.ok or inventory.value is None:  # ok implies a value
        return Fact(None, "ip -j addr show", now(), error="management interface unknown: inventory unreadable")
    bridge = inventory.value.management_interface
    if not bridge:
        return Fact(None, "ip -j addr show", now(), error="MANAGEMENT_INTERFACE is empty (management disabled)")
    argv = ip_addr_argv(bridge)
    source = "%s: %s" % (access.describe(), " ".join(argv))
    try:
        rc, out, err = access.run(argv, COMMAND_TIMEOUT)
    except AccessError as exc:
        return Fact(None, source, now(), error=str(exc))
    observed = now()
    if rc != 0:
        message = err.decode("utf-8", "replace").strip() or "exit code %d" % rc
        return Fact(None, source, observed, error=message)
    try:
        return Fact(parse_ip_addr_json(out.decode("utf-8", "replace"), bridge), source, observed)
    except IpLinkError as exc:
        return Fact(None, source, observed, error=str(exc))


def read_links(access: HostAccess, now: Clock = time.time) -> Fact[Tuple[LinkState, ...]]:
    """Every link of the host (`ip -j link show`): the NICs that really exist."""
    argv = ip_link_argv()
    source = "%s: %s" % (access.describe(), " ".join(argv))
    try:
        rc, out, err = access.run(argv, COMMAND_TIMEOUT)
    except AccessError as exc:
        return Fact(None, source, now(), error=str(exc))
    observed = now()
    if rc != 0:
        return Fact(None, source, observed, error=err.decode("utf-8", "replace").strip() or "exit code %d" % rc)
    try:
        return Fact(parse_ip_link_json(out.decode("utf-8", "replace")), source, observed)
    except IpLinkError as exc:
        return Fact(None, source, observed, error=str(exc))


def state_db_hosts(tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> List[StateDbHost]:
    hosts = []
    for ref, rec in sorted((tables.get("host") or {}).items()):
        hosts.append(
            StateDbHost(ref, str(rec.get("uuid", "")), str(rec.get("name_label", "")), str(rec.get("address", "")))
        )
    return hosts


def peers_to_probe(pool_role: Fact[PoolRole], inventory: Fact[Inventory], state_db: Fact[Dict[str, Any]]) -> List[Peer]:
    """Every host in state.db except this one, plus pool.conf's master if it is not among them."""
    me = inventory.value.installation_uuid if inventory.ok and inventory.value is not None else ""
    peers: List[Peer] = []
    seen = set()
    if state_db.ok and state_db.value is not None:
        for host in state_db_hosts(state_db.value):
            if host.uuid == me or not host.address or host.address in seen:
                continue
            seen.add(host.address)
            peers.append(Peer(host.name_label or host.uuid, host.address))
    if pool_role.ok and pool_role.value is not None and pool_role.value.role == "slave":
        master = pool_role.value.master_address
        if master and master not in seen:
            peers.append(Peer("master (pool.conf)", master))
    return peers


def as_port_for(port_for: Union[PortFor, Mapping[str, int], None]) -> PortFor:
    """A callable from a callable, an {address: port} mapping (default 80) or None."""
    if port_for is None:
        return default_port_for
    if isinstance(port_for, Mapping):
        table = dict(port_for)
        return lambda address: int(table.get(address, default_port_for(address)))
    return port_for


def ports_from_endpoints(path: Union[str, Path]) -> Dict[str, int]:
    """{address: xapi port} from a simulator's endpoints.json (hosts: [{address, port}])."""
    # O_NONBLOCK: a FIFO put there opens at once and is refused, instead of blocking the read.
    fd = os.open(str(path), os.O_RDONLY | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path}: not a regular file; refused")
    with os.fdopen(fd, "rb") as handle:
        doc = json.loads(handle.read().decode("utf-8"))
    return {str(h["address"]): int(h["port"]) for h in doc.get("hosts", ()) if h.get("address")}


def gather_ground_truth(
    access: HostAccess,
    *,
    port_for: Union[PortFor, Mapping[str, int], None] = None,
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT,
    now: Clock = time.time,
    state_db_cache: Optional[StateDbCache] = None,
    installed_xapi_cache: Optional[InstalledXapiCache] = None,
) -> GroundTruth:
    """Everything this host can tell without xapi. Never raises for host trouble."""
    pool_role = _guard(lambda: read_pool_role(access, now), POOL_CONF_PATH, now)
    inventory = _guard(lambda: read_inventory(access, now), INVENTORY_PATH, now)
    state_db = _guard(lambda: read_state_db(access, now, state_db_cache), STATE_DB_PATH, now)
    link = _guard(lambda: read_management_link(access, inventory, now), "ip -j addr show", now)
    xapi_running = _guard(lambda: check_xapi_running(access, now, COMMAND_TIMEOUT), "xapi pid", now)
    links = _guard(lambda: read_links(access, now), "ip -j link show", now)
    installed_xapi: Optional[Fact[str]] = None
    if pool_role.ok and pool_role.value is not None and pool_role.value.role == "slave":
        # members only: the coordinator's xapi is the reference the member is compared with
        read = installed_xapi_cache.read if installed_xapi_cache is not None else check_installed_xapi
        installed_xapi = _guard(lambda: read(access, now, COMMAND_TIMEOUT), INSTALLED_XAPI_SOURCE, now)
    peers = peers_to_probe(pool_role, inventory, state_db)
    try:
        # A real pool (no port map): xapi's port 80, and stunnel's 443 where 80 is
        # closed to the network (https-only, the default since XenServer 9).
        fallback = HTTPS_PORT if port_for is None else None
        probes = probe_peers(
            peers, port_for=as_port_for(port_for), timeout=probe_timeout, now=now, fallback_port=fallback
        )
    except Exception as exc:  # noqa: BLE001 - e.g. out of file descriptors
        probes = tuple(PeerProbe(p.name, p.address, 0, "error", 0.0, now(), "probe failed: %s" % exc) for p in peers)
    return GroundTruth(
        host_root=access.describe(),
        pool_role=pool_role,
        inventory=inventory,
        state_db=state_db,
        management_link=link,
        xapi_running=xapi_running,
        peers=probes,
        gathered_at=now(),
        links=links,
        installed_xapi=installed_xapi,
    )
