"""The installed xapi's version (`rpm -q --qf %{VERSION} xapi-core`), gathered
on members: what xapi.ml attempt_host_status_check_with_coordinator compares
with the coordinator's xapi_build, and what lasts after the member's stored
error changes (recovery/newer_member.py)."""

from __future__ import annotations

import pytest

from xentui.host.access import SimulatedAccess
from xentui.host.gather import gather_ground_truth
from xentui.host.xapi_installed import check_installed_xapi, parse_rpm_version
from xentui.sim.dom0_files import render_pool_conf, write_host_files

INVENTORY = {"INSTALLATION_UUID": "u", "CONTROL_DOMAIN_UUID": "d", "MANAGEMENT_INTERFACE": ""}


def _root(tmp_path, role, xapi_version):
    master = "127.0.0.61" if role == "slave" else ""
    write_host_files(tmp_path, pool_conf=render_pool_conf(role, master), inventory=INVENTORY, xapi_version=xapi_version)
    return SimulatedAccess(tmp_path)


def test_rpm_version_parsed_and_garbage_refused():
    assert parse_rpm_version(b"24.39.0\n") == "24.39.0"
    for bad in (b"", b"package xapi-core is not installed", b"24", b"x.y.z"):
        with pytest.raises(ValueError):
            parse_rpm_version(bad)


def test_a_member_reports_its_installed_xapi(tmp_path):
    truth = gather_ground_truth(_root(tmp_path, "slave", "24.39.0"), probe_timeout=0.2, now=lambda: 2e9)
    assert truth.installed_xapi is not None and truth.installed_xapi.value == "24.39.0"
    assert truth.installed_xapi.source.endswith("rpm -q xapi-core")


def test_not_asked_on_a_master_and_one_line_when_not_installed(tmp_path):
    truth = gather_ground_truth(_root(tmp_path / "m", "master", "24.39.0"), probe_timeout=0.2)
    assert truth.installed_xapi is None  # a coordinator is compared with nobody
    fact = check_installed_xapi(_root(tmp_path / "s", "slave", ""), lambda: 2e9)
    assert fact.value is None and fact.error == "package xapi-core is not installed"


def test_asked_again_only_when_the_package_database_changed(tmp_path):
    # rpm opens and locks its database: a member's look every 10 s must not start it every time.
    from xentui.host.xapi_installed import InstalledXapiCache

    access = _root(tmp_path, "slave", "24.39.0")
    runs = []
    run = access.run

    def counting(argv, timeout=3.0):
        runs.append(list(argv))
        return run(argv, timeout)

    access.run = counting
    cache = InstalledXapiCache()
    assert cache.read(access, lambda: 2e9).value == "24.39.0"
    assert cache.read(access, lambda: 2e9).value == "24.39.0"
    assert len(runs) == 1
    write_host_files(
        tmp_path, pool_conf=render_pool_conf("slave", "127.0.0.61"), inventory=INVENTORY, xapi_version="24.40.1"
    )
    assert cache.read(access, lambda: 2e9).value == "24.40.1"
    assert len(runs) == 2
