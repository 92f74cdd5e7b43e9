"""What a host's xapi writes about itself at start (dbsync_slave.ml refresh_localhost_info,
create_misc.ml make_software_version / create_host_cpuinfo): host.software_version,
host.capabilities, host.cpu_info and one host_cpu row per logical CPU.

Values are those of an XCP-ng 8.3 host running xapi 24.19 (the version the
simulator reports); nothing from a newer xapi.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List

if TYPE_CHECKING:  # pragma: no cover
    from xentui.sim.db import Database

XAPI_VERSION = "24.19"
CPU_COUNT = 16
CPU_VENDOR = "GenuineIntel"
CPU_MODELNAME = "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"
CPU_SPEED = "2394.374"
CPU_FAMILY = "6"
CPU_MODEL = "106"
CPU_STEPPING = "6"
CPU_FLAGS = (
    "fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse sse2 ht syscall nx "
    "lm constant_tsc rep_good nopl nonstop_tsc cpuid pni pclmulqdq monitor est ssse3 fma cx16 sse4_1 "
    "sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch fsgsbase bmi1 "
    "avx2 bmi2 erms avx512f avx512dq rdseed adx avx512cd sha_ni avx512bw avx512vl"
)
# CPU_policy.to_string: dash-separated 32-bit words, as xenopsd reports them
FEATURES_PV = "1fc9cbf5-f6f83203-2991cbf5-00000123-00000007-f1bf07a9-00000000-00000000-00000000-00000000"
FEATURES_HVM = "1fcbfbff-f7fa3223-2d93fbff-00000523-0000000f-f1bf0fab-00000000-00000000-00000000-00000000"
# Xen's physinfo capabilities string, split on spaces by refresh_localhost_info.
CAPABILITIES = ("xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64")


def software_version(hostname: str) -> Dict[str, str]:
    """Xapi_globs.software_version () @ v6d's version @ make_software_version's own keys."""
    return {
        "product_version": "8.3.0",
        "product_version_text": "8.3",
        "product_version_text_short": "8.3",
        "platform_name": "XCP",
        "platform_version": "3.4.0",
        "product_brand": "XCP-ng",
        "xapi": XAPI_VERSION,
        "build_number": "cloud",
        "hostname": "localhost",
        "date": "2024-07-09",
        "xapi_build": XAPI_VERSION + ".2",
        "xen": "4.17.4-3",
        "linux": "4.19.0+1",
        "xencenter_min": "2.21",
        "xencenter_max": "2.21",
        "network_backend": "openvswitch",
        "db_schema": "5.775",
    }


def cpu_info() -> Dict[str, str]:
    """create_misc.ml create_host_cpuinfo: the keys xapi 24.19 writes."""
    return {
        "cpu_count": str(CPU_COUNT),
        "socket_count": "1",
        "threads_per_core": "2",
        "vendor": CPU_VENDOR,
        "speed": CPU_SPEED,
        "modelname": CPU_MODELNAME,
        "family": CPU_FAMILY,
        "model": CPU_MODEL,
        "stepping": CPU_STEPPING,
        "flags": CPU_FLAGS,
        "features_pv": FEATURES_PV,
        "features_hvm": FEATURES_HVM,
        "features_hvm_host": FEATURES_HVM,
        "features_pv_host": FEATURES_PV,
    }


def create_host_cpus(db: "Database", host: str) -> List[str]:
    """One host_cpu row per logical CPU, as create_host_cpuinfo recreates them."""
    return [
        db.create(
            "host_cpu",
            host=host,
            number=i,
            vendor=CPU_VENDOR,
            speed=int(float(CPU_SPEED)),
            modelname=CPU_MODELNAME,
            family=int(CPU_FAMILY),
            model=int(CPU_MODEL),
            stepping=CPU_STEPPING,
            flags=CPU_FLAGS,
            features="",
            utilisation=0.0,
        )
        for i in range(CPU_COUNT)
    ]


def fill_host(db: "Database", host: str) -> None:
    """Everything refresh_localhost_info writes about the host itself."""
    hostname = str(db.get_field("host", host, "hostname"))
    db.update(
        "host", host, software_version=software_version(hostname), capabilities=list(CAPABILITIES), cpu_info=cpu_info()
    )
    create_host_cpus(db, host)


def create_guest_metrics(db: "Database", vm: str) -> str:
    """What the guest agent of a running Linux guest with PV tools reports
    (xapi_guest_agent.ml): one VM_guest_metrics row, VM.guest_metrics pointing at it.
    Xapi_vm_helpers.delete_guest_metrics drops the stale one first, as a VM start does."""
    old = db.get_field("VM", vm, "guest_metrics")
    if db.exists("VM_guest_metrics", old):
        db.destroy("VM_guest_metrics", old)
    vifs = db.get_field("VM", vm, "VIFs")
    networks = {}
    for vif in vifs:
        device = db.get_field("VIF", vif, "device")
        networks[f"{device}/ip"] = networks[f"{device}/ipv4/0"] = "10.0.0.%d" % (
            int(str(db.get_field("VM", vm, "uuid"))[:4], 16) % 250 + 2
        )
    ref = db.create(
        "VM_guest_metrics",
        os_version={
            "name": "Debian GNU/Linux 12 (bookworm)",
            "distro": "debian",
            "major": "12",
            "minor": "5",
            "uname": "6.1.0-18-amd64",
        },
        PV_drivers_version={"major": "8", "minor": "3", "micro": "0", "build": "1"},
        PV_drivers_up_to_date=True,
        PV_drivers_detected=True,
        live=True,
        memory={},
        disks={},
        networks=networks,
        other={"has-vendor-device": "0", "feature-suspend": "1"},
        can_use_hotplug_vbd="yes",
        can_use_hotplug_vif="yes",
        last_updated=db.now(),
    )
    db.set_field("VM", vm, "guest_metrics", ref)
    return ref
